//! An inventory against a policy's `[sbom]` section (and Rego rules that apply to sbom).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use sealrun_policy::Policy;

use crate::{Inventory, OsvDb, SbomError};

/// One reason the SBOM does not satisfy the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The policy key that was violated, e.g. `sbom.max_cvss`, `sbom.licenses.deny`,
    /// `rules.NAME`.
    pub rule: String,
    /// The package's purl (or `name@version`); empty for document-level findings.
    pub package: String,
    /// One sentence naming the package, the fact and the policy file and key.
    pub message: String,
}

/// The outcome of [`check`]: `passed` exactly when there are no findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub passed: bool,
    pub findings: Vec<Finding>,
}

impl Report {
    /// One finding per line, then `passed` or `refused: N finding(s)`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&f.message);
            out.push('\n');
        }
        if self.passed {
            out.push_str("passed\n");
        } else {
            let n = self.findings.len();
            out.push_str(&format!("refused: {n} finding{}\n", if n == 1 { "" } else { "s" }));
        }
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("report serialises to JSON")
    }
}

/// How messages name the policy: the file name of the document it was loaded from.
fn policy_label(policy: &Policy) -> String {
    match policy.chain().first() {
        Some(p) if p.starts_with("library:") => p.clone(),
        Some(p) => Path::new(p)
            .file_name()
            .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned()),
        None => "(policy)".to_string(),
    }
}

/// Checks `inv` against `policy`: the required format, each component's license (allow /
/// deny lists), denied purls, vulnerabilities above `max_cvss` (with `osv`), and Rego rules
/// (`[sbom].rules` and `[[rules]]` that apply to sbom; `input` is [`Inventory::to_json`]).
/// Everything that cannot be established counts against the SBOM: a component without a
/// license under an allow list, an unscorable vulnerability under `max_cvss`, `max_cvss`
/// without an OSV database, a Rego rule that fails to evaluate.
///
/// `file` components (the files of a model, say) are not license-checked: they are parts
/// of the subject, whose packages carry the license.
pub fn check(inv: &Inventory, policy: &Policy, osv: Option<&OsvDb>) -> Report {
    let p = policy_label(policy);
    let sbom = &policy.sbom;
    let mut findings = Vec::new();
    let mut add = |rule: &str, package: &str, message: String| {
        findings.push(Finding {
            rule: rule.to_string(),
            package: package.to_string(),
            message,
        })
    };

    if !sbom.formats.is_empty() && !sbom.formats.contains(&inv.format) {
        let wanted: Vec<&str> = sbom.formats.iter().map(|f| f.as_str()).collect();
        add(
            "sbom.formats",
            "",
            format!(
                "{} is {}, but policy {p}:[sbom].formats requires one of {}",
                inv.origin,
                inv.format.as_str(),
                wanted.join(", ")
            ),
        );
    }

    let license_rules = !sbom.licenses.allow.is_empty() || !sbom.licenses.deny.is_empty();
    for c in &inv.components {
        let pkg = c.label();
        if license_rules && c.kind != "file" {
            match &c.licenses {
                None if !sbom.licenses.allow.is_empty() => add(
                    "sbom.licenses.allow",
                    &pkg,
                    format!("{pkg} declares no license (policy {p}:[sbom].licenses.allow requires an allowed one)"),
                ),
                None => {}
                Some(expr) => {
                    if let Err(why) = sbom.license_allowed(expr) {
                        let rule = if why.contains("sbom.licenses.deny") {
                            "sbom.licenses.deny"
                        } else if why.contains("sbom.licenses.allow") {
                            "sbom.licenses.allow"
                        } else {
                            "sbom.licenses"
                        };
                        add(rule, &pkg, format!("{pkg}: {why} (policy {p}:[{}])", rule));
                    }
                }
            }
        }
        if let Some(purl) = &c.purl {
            if let Some(pattern) = sbom.purl_denied(purl) {
                add(
                    "sbom.deny_purls",
                    &pkg,
                    format!("{purl} matches `{pattern}` denied by policy {p}:[sbom].deny_purls"),
                );
            }
        }
    }

    if let Some(max) = sbom.max_cvss {
        match osv {
            None => add(
                "sbom.max_cvss",
                "",
                format!(
                    "no OSV database to check vulnerabilities against policy {p}:[sbom].max_cvss = {max:.1} \
                     (set [sbom].osv_dir or pass --osv-dir)"
                ),
            ),
            Some(db) => {
                for c in &inv.components {
                    let Some(purl) = &c.purl else { continue };
                    for v in db.affecting(purl) {
                        let score = v.cvss.unwrap_or(f64::NAN);
                        if !sbom.cvss_exceeds(score) {
                            continue;
                        }
                        let why = match v.cvss {
                            Some(s) => format!("CVSS {s:.1} ≥ {max:.1} allowed by policy {p}:[sbom].max_cvss"),
                            None => format!(
                                "CVSS unknown ({}), so above {max:.1} allowed by policy {p}:[sbom].max_cvss",
                                match &v.vector {
                                    Some(vec) => format!("cannot score `{vec}`"),
                                    None => "no CVSS 3 vector".to_string(),
                                }
                            ),
                        };
                        add("sbom.max_cvss", purl, format!("{purl} is affected by {} ({why})", v.id));
                    }
                }
            }
        }
    }

    for f in rego_findings(inv, policy, &p) {
        findings.push(f);
    }

    Report {
        passed: findings.is_empty(),
        findings,
    }
}

/// The policy's own `[[rules]]` plus each `[sbom].rules` module as a rule named
/// `sbom.rules[i]` that applies to sbom, so both run through the policy crate's evaluator.
#[cfg(feature = "rego")]
fn rego_findings(inv: &Inventory, policy: &Policy, p: &str) -> Vec<Finding> {
    use sealrun_policy::rules::{Rule, RuleTarget};
    let applies = policy.rules.iter().any(|r| r.applies_to.contains(&RuleTarget::Sbom));
    if !applies && policy.sbom.rules.is_empty() {
        return Vec::new();
    }
    let mut with_sbom_rules = policy.clone();
    for (i, path) in policy.sbom.rules.iter().enumerate() {
        with_sbom_rules.rules.push(Rule {
            name: format!("sbom.rules[{i}]"),
            path: Some(path.clone()),
            module: None,
            applies_to: vec![RuleTarget::Sbom],
        });
    }
    match sealrun_policy::rego::evaluate(&with_sbom_rules, "sbom", &inv.to_json()) {
        Ok(decision) => decision
            .failures()
            .map(|c| {
                let rule = c
                    .rule
                    .strip_prefix("rules.sbom.rules[")
                    .map_or(c.rule.clone(), |r| format!("sbom.rules[{r}"));
                let key = if rule.starts_with("sbom.rules[") {
                    format!("[sbom].{}", rule.trim_start_matches("sbom."))
                } else {
                    format!("[[rules]] {}", rule.trim_start_matches("rules."))
                };
                Finding {
                    message: format!("{} denied: {} (policy {p}:{key})", inv.origin, c.found),
                    rule,
                    package: String::new(),
                }
            })
            .collect(),
        Err(e) => vec![Finding {
            rule: "rules".into(),
            package: String::new(),
            message: format!("Rego rules of policy {p} could not be evaluated, so the SBOM is refused: {e}"),
        }],
    }
}

#[cfg(not(feature = "rego"))]
fn rego_findings(_inv: &Inventory, policy: &Policy, p: &str) -> Vec<Finding> {
    use sealrun_policy::rules::RuleTarget;
    let applies = policy.rules.iter().any(|r| r.applies_to.contains(&RuleTarget::Sbom));
    if !applies && policy.sbom.rules.is_empty() {
        return Vec::new();
    }
    vec![Finding {
        rule: "rules".into(),
        package: String::new(),
        message: format!("policy {p} has Rego rules for sbom, but this build has no Rego support (feature `rego`)"),
    }]
}

/// The OSV database a policy names in `[sbom].osv_dir` (resolved against the policy file
/// when it is still relative), or `None` when it names none. A directory that cannot be
/// read or a record that does not parse is an error naming it.
pub fn load_osv_for(policy: &Policy) -> Result<Option<OsvDb>, SbomError> {
    let Some(dir) = &policy.sbom.osv_dir else {
        return Ok(None);
    };
    let mut path = PathBuf::from(dir);
    if path.is_relative() {
        if let Some(base) = policy
            .chain()
            .first()
            .filter(|f| !f.starts_with("library:"))
            .and_then(|f| Path::new(f).parent())
        {
            path = base.join(path);
        }
    }
    OsvDb::load_dir(path).map(Some)
}
