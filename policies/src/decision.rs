//! The outcome of an evaluation: every rule checked, which failed, expected vs found.

use serde::{Deserialize, Serialize};

/// One rule that an evaluation checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// The policy key the rule comes from, e.g. `attestation.snp.measurements`.
    pub rule: String,
    pub passed: bool,
    pub expected: String,
    pub found: String,
}

/// The result of appraising evidence or a request against the policy. `allowed` is true
/// only when every check passed; the checks are kept so a refusal can say why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    pub checks: Vec<Check>,
}

impl Decision {
    pub(crate) fn new() -> Self {
        Decision {
            allowed: true,
            checks: Vec::new(),
        }
    }

    pub(crate) fn check(&mut self, rule: &str, passed: bool, expected: impl Into<String>, found: impl Into<String>) {
        self.allowed &= passed;
        self.checks.push(Check {
            rule: rule.to_string(),
            passed,
            expected: expected.into(),
            found: found.into(),
        });
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// One line per check: `ok   rule: found` or `FAIL rule: expected …, found …`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str(if self.allowed { "allowed\n" } else { "refused\n" });
        for c in &self.checks {
            if c.passed {
                out.push_str(&format!("  ok   {}: {}\n", c.rule, c.found));
            } else {
                out.push_str(&format!(
                    "  FAIL {}: expected {}, found {}\n",
                    c.rule, c.expected, c.found
                ));
            }
        }
        out
    }
}
