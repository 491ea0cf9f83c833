//! Rego evaluation of `[[rules]]` and `*_test.rego` files through regorus.
//!
//! Every engine holds all of the policy's own rule modules (so a rule may use helpers from
//! another rule's module) and, as data, `data.sealrun.policy` = the normalised policy
//! (the JSON that [`Policy::canonical_json`] hashes). Rule modules named by `path` were
//! made absolute against the policy file that names them when the policy was loaded; a
//! path that is still relative (a policy loaded from text with no directory) is read
//! relative to the current directory. Modules use Rego v1 syntax (`if`, `contains`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use regorus::unstable::{Parser, Rule as RegoRule, RuleHead};
use regorus::{Engine, Value};

use crate::{Decision, Policy};

/// Why Rego could not be loaded or evaluated. Each names the file (or inline rule) involved.
#[derive(Debug, thiserror::Error)]
pub enum RegoError {
    #[error("{path}: cannot read Rego file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A syntax or compile error; `message` is regorus's, with line, column and excerpt.
    #[error("{file}: invalid Rego: {message}")]
    Compile { file: String, message: String },
    #[error("rule `{rule}` ({file}): evaluating `{query}` failed: {message}")]
    Eval {
        rule: String,
        file: String,
        query: String,
        message: String,
    },
    #[error("rule `{rule}` ({file}): expected `{query}` to be a set of strings, found {found}")]
    DenyShape {
        rule: String,
        file: String,
        query: String,
        found: String,
    },
    #[error("applies_to: expected one of trust, sbom, attestation, keys, found `{0}`")]
    UnknownTarget(String),
}

/// The outcome of one `test_*` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoTest {
    pub file: PathBuf,
    /// The rule name, e.g. `test_strict_has_no_caps`.
    pub name: String,
    /// The rule is defined and `true`.
    pub passed: bool,
    /// `true`, `undefined`, the value it evaluated to, or the evaluation error.
    pub detail: String,
}

/// A policy module loaded into the engine: which rule, where it came from, its package.
struct Loaded {
    rule: String,
    file: String,
    package: String,
}

fn compile_err(file: &str, e: impl std::fmt::Display) -> RegoError {
    RegoError::Compile {
        file: file.to_string(),
        message: e.to_string(),
    }
}

/// An engine with `data.sealrun.policy` and every `[[rules]]` module of `policy`.
fn engine_with_policy(policy: &Policy) -> Result<(Engine, Vec<(crate::Rule, Loaded)>), RegoError> {
    let mut engine = Engine::new();
    let origin = policy.chain().first().cloned().unwrap_or_else(|| "policy".into());
    let data = format!(r#"{{"sealrun":{{"policy":{}}}}}"#, policy.canonical_json());
    let data = Value::from_json_str(&data).map_err(|e| compile_err(&origin, e))?;
    engine.add_data(data).map_err(|e| compile_err(&origin, e))?;

    let mut loaded = Vec::new();
    for r in &policy.rules {
        let (file, text) = match (&r.path, &r.module) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path).map_err(|source| RegoError::Read {
                    path: PathBuf::from(path),
                    source,
                })?;
                (path.clone(), text)
            }
            (None, Some(module)) => (
                format!("{origin}: [[rules]] `{}` (inline module)", r.name),
                module.clone(),
            ),
            // Validation refuses a rule with neither; nothing to load.
            (None, None) => continue,
        };
        let package = engine
            .add_policy(file.clone(), text)
            .map_err(|e| compile_err(&file, e))?;
        loaded.push((
            r.clone(),
            Loaded {
                rule: r.name.clone(),
                file,
                package,
            },
        ));
    }
    Ok((engine, loaded))
}

/// Names of the `test_*` rules (not functions) that the most recently added module defines.
fn test_rule_names(engine: &mut Engine, file: &str) -> Result<Vec<String>, RegoError> {
    let Some(module) = engine.get_modules().last() else {
        return Ok(Vec::new());
    };
    let mut names = BTreeSet::new();
    for rule in module.policy.iter() {
        let refr = match rule.as_ref() {
            RegoRule::Spec {
                head: RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. },
                ..
            } => refr,
            RegoRule::Default { refr, .. } => refr,
            _ => continue,
        };
        let parts = Parser::get_path_ref_components(refr).map_err(|e| compile_err(file, e))?;
        // `test_x.y` or `test_x[k]` are not boolean tests; OPA only runs plain names.
        if let [only] = parts.as_slice() {
            if only.text().starts_with("test_") {
                names.insert(only.text().to_string());
            }
        }
    }
    Ok(names.into_iter().collect())
}

/// Loads the policy's own `[[rules]]` modules and `test_files` into one engine with
/// `data.sealrun.policy` set, then evaluates every `test_*` rule of the test files.
/// A test passes when its rule is defined and `true`. Tests are returned per file in the
/// order given, rule names sorted. A file that cannot be read or parsed is an error naming it.
pub fn run_tests(policy: &Policy, test_files: &[PathBuf]) -> Result<Vec<RegoTest>, RegoError> {
    let (mut engine, _) = engine_with_policy(policy)?;
    let mut wanted = Vec::new();
    for f in test_files {
        let text = std::fs::read_to_string(f).map_err(|source| RegoError::Read {
            path: f.clone(),
            source,
        })?;
        let label = f.display().to_string();
        let package = engine
            .add_policy(label.clone(), text)
            .map_err(|e| compile_err(&label, e))?;
        for name in test_rule_names(&mut engine, &label)? {
            wanted.push((f.clone(), format!("{package}.{name}"), name));
        }
    }
    let mut out = Vec::new();
    for (file, query, name) in wanted {
        let (passed, detail) = match engine.eval_rule(query) {
            Ok(Value::Bool(true)) => (true, "true".to_string()),
            Ok(Value::Undefined) => (false, "undefined (a body condition did not hold)".to_string()),
            Ok(v) => (
                false,
                format!(
                    "evaluated to {}, expected true",
                    v.to_json_str().unwrap_or_else(|_| format!("{v:?}"))
                ),
            ),
            Err(e) => (false, format!("error: {e}")),
        };
        out.push(RegoTest {
            file,
            name,
            passed,
            detail,
        });
    }
    Ok(out)
}

/// Evaluates the `[[rules]]` of `policy` that apply to `applies_to` (`trust`, `sbom`,
/// `attestation` or `keys`) against `input`. Each rule's module must define a `deny` set
/// of strings; a non-empty set denies. One [`crate::Check`] per rule, named `rules.NAME`, with the
/// deny messages (joined by `; `) as `found`. Rules that share a package share one `deny`
/// set, as in OPA.
pub fn evaluate(policy: &Policy, applies_to: &str, input: &serde_json::Value) -> Result<Decision, RegoError> {
    let target = ["trust", "sbom", "attestation", "keys"]
        .into_iter()
        .find(|t| *t == applies_to)
        .ok_or_else(|| RegoError::UnknownTarget(applies_to.to_string()))?;
    let mut decision = Decision::new();
    let applicable = policy
        .rules
        .iter()
        .any(|r| r.applies_to.iter().any(|t| t.as_str() == target));
    if !applicable {
        return Ok(decision);
    }
    let (mut engine, loaded) = engine_with_policy(policy)?;
    engine.set_input(Value::from(input.clone()));
    for (rule, l) in loaded {
        if !rule.applies_to.iter().any(|t| t.as_str() == target) {
            continue;
        }
        let query = format!("{}.deny", l.package);
        let eval_err = |message: String| RegoError::Eval {
            rule: l.rule.clone(),
            file: l.file.clone(),
            query: query.clone(),
            message,
        };
        let value = engine.eval_rule(query.clone()).map_err(|e| eval_err(e.to_string()))?;
        let shape_err = |v: &Value| RegoError::DenyShape {
            rule: l.rule.clone(),
            file: l.file.clone(),
            query: query.clone(),
            found: v.to_json_str().unwrap_or_else(|_| format!("{v:?}")),
        };
        let messages: Vec<String> = match &value {
            Value::Undefined => Vec::new(),
            Value::Set(set) => set
                .iter()
                .map(|m| match m {
                    Value::String(s) => Ok(s.to_string()),
                    _ => Err(shape_err(&value)),
                })
                .collect::<Result<_, _>>()?,
            other => return Err(shape_err(other)),
        };
        decision.check(
            &format!("rules.{}", l.rule),
            messages.is_empty(),
            "no deny messages",
            if messages.is_empty() {
                "none".to_string()
            } else {
                messages.join("; ")
            },
        );
    }
    Ok(decision)
}
