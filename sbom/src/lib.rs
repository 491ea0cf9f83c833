//! sealrun-sbom: SBOM documents into one normalised inventory, checked against a policy's
//! `[sbom]` section with offline OSV data.
//!
//! - [`parse`] reads CycloneDX 1.5/1.6 JSON (incl. ML-BOM), SPDX 2.3 JSON and SPDX 3.0.1
//!   JSON-LD into an [`Inventory`].
//! - [`OsvDb`] is an offline OSV database (a directory of OSV JSON records);
//!   [`OsvDb::affecting`] matches a package URL against it.
//! - [`check`] evaluates an inventory against a policy and returns a [`Report`].
//!
//! Components are the document's package entries: CycloneDX `components` (nested ones
//! included), SPDX 2 `packages`, SPDX 3 package elements. SPDX lists the described thing
//! among its packages while CycloneDX names it in `metadata.component`, so the same
//! environment can have one component more in SPDX; [`Inventory::subject`] is the described
//! thing in every format.

use serde::Serialize;

pub use sealrun_policy::sbom::SbomFormat;

mod check;
pub mod cvss;
mod cyclonedx;
mod osv;
mod spdx2;
mod spdx3;
pub mod version;

pub use check::{check, load_osv_for, Finding, Report};
pub use osv::{purl_ecosystem, OsvDb, Purl, Vulnerability};

/// Why an SBOM or OSV record could not be read. Each names the file, the field, what was
/// expected and what was found.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("{origin}: cannot read: {source}")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: invalid JSON: {message}")]
    Json { origin: String, message: String },
    #[error("{origin}: {field}: expected {expected}, found {found}")]
    Field {
        origin: String,
        field: String,
        expected: String,
        found: String,
    },
}

impl SbomError {
    pub(crate) fn field(
        origin: &str,
        field: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        SbomError::Field {
            origin: origin.to_string(),
            field: field.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// What an SBOM describes: the image, model or application it is the bill of materials of.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Subject {
    pub name: Option<String>,
    pub version: Option<String>,
    pub purl: Option<String>,
    /// `(algorithm, lowercase hex)`; algorithms normalised as in [`Component::hashes`].
    pub hashes: Vec<(String, String)>,
}

/// One package (or file, model, data set) listed by the SBOM.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Component {
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    /// The SPDX license expression (concluded before declared; several CycloneDX license
    /// entries joined with `AND`). `None` when the SBOM gives none or says
    /// `NOASSERTION`/`NONE`. A CycloneDX `license.name` is kept verbatim.
    pub licenses: Option<String>,
    /// `(algorithm, lowercase hex)`: `sha256`, `sha512`, `sha3-256`, `blake3`, … (lowercase,
    /// `SHA-256`/`SHA256` → `sha256`).
    pub hashes: Vec<(String, String)>,
    /// CycloneDX component type vocabulary: `library`, `application`, `framework`, `file`,
    /// `machine-learning-model`, `data`, …; SPDX purposes are mapped onto it.
    pub kind: String,
    /// A CycloneDX `modelCard`, or an SPDX 3 AI package with AI profile properties.
    pub has_model_card: bool,
}

impl Component {
    /// How findings name the component: its purl, else `name@version` or the name.
    pub fn label(&self) -> String {
        match (&self.purl, &self.version) {
            (Some(p), _) => p.clone(),
            (None, Some(v)) => format!("{}@{v}", self.name),
            (None, None) => self.name.clone(),
        }
    }
}

/// An SBOM in any supported format, normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    /// Where the document came from (file name), for messages.
    pub origin: String,
    pub format: SbomFormat,
    /// The document's own version string, e.g. `1.6`, `SPDX-2.3`, `3.0.1`.
    pub spec_version: String,
    pub subject: Subject,
    pub components: Vec<Component>,
}

impl Inventory {
    /// Whether the SBOM is about the artefact with this sha256: the subject or a component
    /// carries that sha256 hash. Accepts `sha256:`-prefixed and uppercase hex.
    pub fn binds_to(&self, sha256_hex: &str) -> bool {
        let want = sha256_hex
            .strip_prefix("sha256:")
            .unwrap_or(sha256_hex)
            .to_ascii_lowercase();
        if want.len() != 64 {
            return false;
        }
        self.subject
            .hashes
            .iter()
            .chain(self.components.iter().flat_map(|c| c.hashes.iter()))
            .any(|(alg, hex)| alg == "sha256" && *hex == want)
    }

    /// The inventory as JSON (what Rego rules see as `input`).
    pub fn to_json(&self) -> serde_json::Value {
        // Plain strings, bools and vectors: serialisation cannot fail.
        serde_json::to_value(self).expect("inventory serialises to JSON")
    }
}

/// Parses an SBOM, detecting its format. `origin` (usually the file name) names it in
/// errors, e.g. `sbom.json: specVersion: expected 1.5 or 1.6, found 1.4`.
pub fn parse(bytes: &[u8], origin: &str) -> Result<Inventory, SbomError> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| SbomError::Json {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    let Some(obj) = doc.as_object() else {
        return Err(SbomError::field(origin, "(document)", "a JSON object", json_kind(&doc)));
    };
    if obj.contains_key("bomFormat") {
        cyclonedx::parse(&doc, origin)
    } else if obj.contains_key("spdxVersion") {
        spdx2::parse(&doc, origin)
    } else if obj.contains_key("@graph") || obj.contains_key("@context") {
        spdx3::parse(&doc, origin)
    } else {
        Err(SbomError::field(
            origin,
            "(document)",
            "a CycloneDX (`bomFormat`), SPDX 2 (`spdxVersion`) or SPDX 3 JSON-LD (`@graph`) document",
            format!("an object with keys {}", keys_preview(obj)),
        ))
    }
}

/// Reads and parses an SBOM file; errors name the path.
pub fn parse_file(path: impl AsRef<std::path::Path>) -> Result<Inventory, SbomError> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| SbomError::Read {
        origin: origin.clone(),
        source,
    })?;
    parse(&bytes, &origin)
}

pub(crate) fn json_kind(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => format!("{b}"),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::String(s) => format!("`{s}`"),
        serde_json::Value::Array(_) => "an array".into(),
        serde_json::Value::Object(_) => "an object".into(),
    }
}

fn keys_preview(obj: &serde_json::Map<String, serde_json::Value>) -> String {
    let keys: Vec<String> = obj.keys().take(6).map(|k| format!("`{k}`")).collect();
    if keys.is_empty() {
        "no keys".into()
    } else {
        keys.join(", ")
    }
}

/// `SHA-256`, `SHA256`, `sha_256` → `sha256`; `SHA3-256`/`SHA3_256` → `sha3-256`.
pub(crate) fn normalise_alg(alg: &str) -> String {
    let a = alg.trim().to_ascii_lowercase().replace('_', "-");
    match a.strip_prefix("sha-") {
        Some(rest) => format!("sha{rest}"),
        None => a,
    }
}

/// `path.key`, or `key` at the document root (empty path).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A string field that may be absent; present but not a string is an error naming it.
pub(crate) fn opt_str<'a>(
    v: &'a serde_json::Value,
    key: &str,
    origin: &str,
    path: &str,
) -> Result<Option<&'a str>, SbomError> {
    match v.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(SbomError::field(origin, join(path, key), "a string", json_kind(other))),
    }
}

/// An array field that may be absent; present but not an array is an error naming it.
pub(crate) fn opt_array<'a>(
    v: &'a serde_json::Value,
    key: &str,
    origin: &str,
    path: &str,
) -> Result<&'a [serde_json::Value], SbomError> {
    match v.get(key) {
        None | Some(serde_json::Value::Null) => Ok(&[]),
        Some(serde_json::Value::Array(a)) => Ok(a),
        Some(other) => Err(SbomError::field(origin, join(path, key), "an array", json_kind(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_unknown_documents() {
        let e = parse(br#"{"hello": 1}"#, "x.json").unwrap_err().to_string();
        assert!(e.starts_with("x.json: (document): expected a CycloneDX"), "{e}");
        assert!(e.contains("`hello`"), "{e}");
        let e = parse(b"[1]", "x.json").unwrap_err().to_string();
        assert_eq!(e, "x.json: (document): expected a JSON object, found an array");
        let e = parse(b"{not json", "x.json").unwrap_err().to_string();
        assert!(e.starts_with("x.json: invalid JSON: "), "{e}");
    }

    #[test]
    fn hash_algorithms_are_normalised() {
        assert_eq!(normalise_alg("SHA-256"), "sha256");
        assert_eq!(normalise_alg("SHA256"), "sha256");
        assert_eq!(normalise_alg("sha256"), "sha256");
        assert_eq!(normalise_alg("SHA3-256"), "sha3-256");
        assert_eq!(normalise_alg("SHA3_512"), "sha3-512");
        assert_eq!(normalise_alg("BLAKE3"), "blake3");
    }

    #[test]
    fn binds_to_matches_subject_or_component_sha256() {
        let h = "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83";
        let mut inv = Inventory {
            origin: "t".into(),
            format: SbomFormat::CycloneDx16,
            spec_version: "1.6".into(),
            subject: Subject::default(),
            components: vec![Component {
                name: "w".into(),
                hashes: vec![("sha1".into(), h.into())],
                ..Default::default()
            }],
        };
        // Same hex under another algorithm does not bind.
        assert!(!inv.binds_to(h));
        inv.subject.hashes.push(("sha256".into(), h.into()));
        assert!(inv.binds_to(h));
        assert!(inv.binds_to(&format!("sha256:{}", h.to_uppercase())));
        assert!(!inv.binds_to(&h[..63]));
    }
}
