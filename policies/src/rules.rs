//! `[[rules]]`: Rego modules for open-ended checks. This crate validates their shape;
//! evaluation happens where the input lives (SBOM gate, broker).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique name, used in reports.
    pub name: String,
    /// A `.rego` file (relative to the policy file that names it); exclusive with `module`.
    #[serde(default)]
    pub path: Option<String>,
    /// An inline Rego module; exclusive with `path`.
    #[serde(default)]
    pub module: Option<String>,
    /// Which decisions the rule takes part in (at least one).
    pub applies_to: Vec<RuleTarget>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleTarget {
    Trust,
    Sbom,
    Attestation,
    Keys,
}

impl RuleTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleTarget::Trust => "trust",
            RuleTarget::Sbom => "sbom",
            RuleTarget::Attestation => "attestation",
            RuleTarget::Keys => "keys",
        }
    }
}
