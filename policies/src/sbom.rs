//! `[sbom]`: what the model's SBOM must be and may contain.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::glob::glob_match;
use crate::spdx::{Expression, LicenseTerm};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sbom {
    /// The image must carry an SBOM in at least one of these formats. Empty: no SBOM
    /// is required.
    #[serde(default)]
    pub formats: Vec<SbomFormat>,
    #[serde(default)]
    pub licenses: Licenses,
    /// purl patterns of denied packages; `*` matches any run of characters.
    #[serde(default)]
    pub deny_purls: Vec<String>,
    /// Refuse when a package has a known vulnerability scored above this (CVSS 0..=10).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 10.0))]
    pub max_cvss: Option<f64>,
    /// Offline OSV database directory (relative to the policy file that names it).
    #[serde(default)]
    pub osv_dir: Option<String>,
    /// Rego modules evaluated against the normalised SBOM inventory.
    #[serde(default)]
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum SbomFormat {
    #[serde(rename = "cyclonedx-1.5")]
    CycloneDx15,
    #[serde(rename = "cyclonedx-1.6")]
    CycloneDx16,
    #[serde(rename = "spdx-2.3")]
    Spdx23,
    #[serde(rename = "spdx-3.0")]
    Spdx30,
}

impl SbomFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SbomFormat::CycloneDx15 => "cyclonedx-1.5",
            SbomFormat::CycloneDx16 => "cyclonedx-1.6",
            SbomFormat::Spdx23 => "spdx-2.3",
            SbomFormat::Spdx30 => "spdx-3.0",
        }
    }
}

/// License allow/deny lists. Each entry is one license, optionally with `+` or
/// `WITH exception` (an entry without an exception covers the license with any exception).
/// An empty `allow` allows every license that is not denied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Licenses {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
}

/// Parses a policy list entry: exactly one license term.
pub(crate) fn parse_entry(entry: &str) -> Result<LicenseTerm, String> {
    match Expression::parse(entry)? {
        Expression::License(t) => Ok(t),
        _ => Err(
            "a single license (AND / OR are not meaningful in an allow or deny list; use one entry per license)".into(),
        ),
    }
}

impl Sbom {
    /// Whether a package's SPDX license expression is acceptable: some way to satisfy it
    /// (an `OR` branch, all parts of an `AND`) uses only allowed and no denied licenses.
    /// The error says why not.
    pub fn license_allowed(&self, expression: &str) -> Result<(), String> {
        let expr =
            Expression::parse(expression).map_err(|e| format!("invalid license expression `{expression}`: {e}"))?;
        let ways = expr
            .ways()
            .map_err(|e| format!("license expression `{expression}`: {e}"))?;
        // Entries were validated when the policy was loaded; unparsable ones cannot occur
        // in a loaded policy, and are skipped for hand-built values.
        let allow: Vec<LicenseTerm> = self.licenses.allow.iter().filter_map(|e| parse_entry(e).ok()).collect();
        let deny: Vec<LicenseTerm> = self.licenses.deny.iter().filter_map(|e| parse_entry(e).ok()).collect();
        let mut problems: Vec<String> = Vec::new();
        for way in &ways {
            let mut ok = true;
            for term in way {
                let problem = if deny.iter().any(|d| term.covered_by(d)) {
                    Some(format!("`{term}` is denied by sbom.licenses.deny"))
                } else if !allow.is_empty() && !allow.iter().any(|a| term.covered_by(a)) {
                    Some(format!("`{term}` is not in sbom.licenses.allow"))
                } else {
                    None
                };
                if let Some(p) = problem {
                    ok = false;
                    if !problems.contains(&p) {
                        problems.push(p);
                    }
                }
            }
            if ok {
                return Ok(());
            }
        }
        Err(format!(
            "license `{expression}` cannot be satisfied with allowed licenses: {}",
            problems.join("; ")
        ))
    }

    /// The first `deny_purls` pattern that matches this package URL.
    pub fn purl_denied(&self, purl: &str) -> Option<&str> {
        self.deny_purls.iter().find(|p| glob_match(p, purl)).map(String::as_str)
    }

    /// Whether a vulnerability with this CVSS score is above the policy's threshold.
    /// Without `max_cvss`, no score exceeds it.
    pub fn cvss_exceeds(&self, score: f64) -> bool {
        match self.max_cvss {
            Some(max) => score.is_nan() || score > max,
            None => false,
        }
    }
}
