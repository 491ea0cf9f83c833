//! sealrun-policy: the policy document security teams write, test and explain.
//!
//! One TOML file per deployment says what the model server may do (`[sandbox]`), who may
//! sign it (`[trust]`), what its SBOM may contain (`[sbom]`), which machines may run it
//! (`[attestation]`), when its key may be released (`[keys]`) and which Rego rules apply
//! (`[[rules]]`).
//!
//! ```
//! let p = sealrun_policy::Policy::from_str(
//!     "version = 1\nextends = \"library:model-server-strict\"\n[sandbox.net]\ntcp_bind = [9000]\n",
//!     "example.toml",
//! ).unwrap();
//! assert_eq!(p.sandbox.net.tcp_bind, vec![9000]);
//! assert!(p.digest().starts_with("sha256:"));
//! println!("{}", sealrun_policy::explain(&p).to_text());
//! ```
//!
//! Loading: [`Policy::from_file`], [`Policy::from_str`], [`Policy::library`]. Errors
//! ([`PolicyError`]) name the file, line and column, the key path, what was expected and
//! found, and suggest the nearest valid key or value for typos.
//!
//! `extends = "library:NAME"` or a path (relative to the including file) is resolved
//! recursively; the including file wins: tables merge key by key, scalars override, and
//! **lists (including arrays of tables such as `[[sandbox.devices]]`) are replaced as a
//! whole, never appended**. [`Policy::chain`] records the files involved.
//!
//! The loaded policy is normalised (sorted, deduplicated, defaults explicit, sizes in
//! bytes); [`Policy::canonical_json`] is its RFC 8785 form and [`Policy::digest`] the
//! sha256 of that, which is what gets attested. Relative file paths (trusted roots, keys,
//! CAs, OSV directory, Rego files) are made absolute against the file that names them
//! before merging, so they are part of the digest as absolute paths; the contents of
//! those files are not.

// PolicyError carries the location, key path, expected, found and suggestion by value so
// callers can match on them; it is only built on the (cold) refusal path.
#![allow(clippy::result_large_err)]

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod attestation;
mod decision;
mod diff;
mod error;
mod explain;
mod glob;
pub mod keys;
mod library;
mod lint;
mod load;
pub mod names;
mod normalize;
#[cfg(feature = "rego")]
pub mod rego;
pub mod rules;
pub mod sandbox;
pub mod sbom;
pub mod spdx;
pub mod trust;
mod validate;

pub use attestation::{Attestation, SnpClaims, TdxClaims, TeeKind};
pub use decision::{Check, Decision};
pub use diff::{diff, diff_to_text, Change, ChangeKind};
pub use error::{Location, PolicyError};
pub use explain::{explain, Explanation, Statement};
pub use keys::Keys;
pub use lint::{lint, Warning};
pub use rules::Rule;
pub use sandbox::Sandbox;
pub use sbom::Sbom;
pub use trust::Trust;

/// The only document version this crate understands.
pub const VERSION: u32 = 1;

/// A policy document (version 1). After loading, it is the merged, validated and
/// normalised policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "sealrun policy", description = "A sealrun deployment policy, version 1.")]
pub struct Policy {
    /// Must be 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// `library:NAME` or a path relative to this file. Resolved at load time (then None).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    #[serde(default)]
    pub trust: Trust,
    #[serde(default)]
    pub sbom: Sbom,
    #[serde(default)]
    pub sandbox: Sandbox,
    #[serde(default)]
    pub attestation: Attestation,
    #[serde(default)]
    pub keys: Keys,
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// The files this policy was loaded from: the document first, then what it extends.
    #[serde(skip)]
    pub(crate) chain: Vec<String>,
}

impl Policy {
    /// Loads, resolves, validates and normalises the policy in `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let identity = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        let base_dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        load::load(
            text,
            load::Origin {
                label: path.display().to_string(),
                identity,
                base_dir,
                is_library: false,
            },
        )
    }

    /// Loads a policy from text. `origin` names it in errors; if it looks like a file
    /// path, relative `extends` and file paths are resolved against its directory,
    /// otherwise against the current directory.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let base_dir = Path::new(origin)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .and_then(|p| std::path::absolute(p).ok());
        load::load(
            text.to_string(),
            load::Origin {
                label: origin.to_string(),
                identity: origin.to_string(),
                base_dir,
                is_library: false,
            },
        )
    }

    /// Loads a policy shipped in `policies/library/` (`name` without the `library:` prefix).
    pub fn library(name: &str) -> Result<Policy, PolicyError> {
        let name = name.strip_prefix("library:").unwrap_or(name);
        let label = format!("library:{name}");
        let Some(text) = library::get(name) else {
            let names: Vec<String> = library::names().iter().map(|n| format!("library:{n}")).collect();
            return Err(PolicyError::Invalid {
                location: Location {
                    origin: label.clone(),
                    line: 1,
                    column: 1,
                },
                key: "extends".into(),
                expected: format!("one of {}", names.join(", ")),
                found: format!("`{label}`"),
                suggestion: error::nearest(&label, names.iter().map(String::as_str)),
            });
        };
        load::load(
            text.to_string(),
            load::Origin {
                label: label.clone(),
                identity: label,
                base_dir: None,
                is_library: true,
            },
        )
    }

    /// Loads `library:NAME` or a file path, as the `io.sealrun.policy` annotation names it.
    pub fn load_reference(reference: &str) -> Result<Policy, PolicyError> {
        match reference.strip_prefix("library:") {
            Some(name) => Policy::library(name),
            None => Policy::from_file(reference),
        }
    }

    /// Names of the library policies (for `library:NAME`).
    pub fn library_names() -> Vec<&'static str> {
        library::names()
    }

    /// The TOML text of a library policy.
    pub fn library_source(name: &str) -> Option<&'static str> {
        library::get(name)
    }

    /// The files the policy was loaded from: the document first, then each file it
    /// extends in turn (`library:NAME` for library policies).
    pub fn chain(&self) -> &[String] {
        &self.chain
    }

    /// RFC 8785 (JCS) JSON of the normalised policy; what [`Policy::digest`] hashes.
    pub fn canonical_json(&self) -> String {
        // Serialising plain data (strings, integers, finite floats, bools) cannot fail.
        serde_json_canonicalizer::to_string(self).expect("policy serialises to JSON")
    }

    /// `sha256:<hex>` of [`Policy::canonical_json`].
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(self.canonical_json().as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// The JSON Schema of the policy document, generated from the types.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<Policy>();
    sorted(serde_json::to_value(schema).expect("schema serialises to JSON"))
}

/// Keys in sorted order at every level, so the schema text is the same whether or not
/// another crate in the build turns on serde_json's `preserve_order`.
fn sorted(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<(String, serde_json::Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}
