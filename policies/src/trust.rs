//! `[trust]`: who may sign the model and how the signature must be delivered.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::glob::glob_match;

fn yes() -> bool {
    true
}

/// Sigstore bundle media types accepted when the policy names none.
pub const DEFAULT_MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

fn default_media_types() -> Vec<String> {
    DEFAULT_MEDIA_TYPES.iter().map(|s| s.to_string()).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    #[serde(default)]
    pub signers: Signers,
    /// Bundle media types accepted (the media type is not signed, so it is pinned here).
    #[serde(default = "default_media_types")]
    pub media_types: Vec<String>,
    /// Require a transparency-log inclusion proof for Sigstore bundles.
    #[serde(default = "yes")]
    pub require_tlog: bool,
    /// Require a signed timestamp (RFC 3161) in the bundle.
    #[serde(default)]
    pub require_timestamp: bool,
}

impl Default for Trust {
    fn default() -> Self {
        Trust {
            signers: Signers::default(),
            media_types: default_media_types(),
            require_tlog: true,
            require_timestamp: false,
        }
    }
}

/// Who may sign. A signature from any one listed signer is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signers {
    #[serde(default)]
    pub sigstore: Vec<SigstoreSigner>,
    #[serde(default)]
    pub keys: Vec<KeySigner>,
    #[serde(default)]
    pub certificates: Vec<CertificateSigner>,
}

/// A Sigstore (keyless) signer: the certificate identity and OIDC issuer, verified
/// offline against a pinned trusted root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SigstoreSigner {
    /// Certificate SAN (email or URI). `*` matches any run of characters.
    pub identity: String,
    /// OIDC issuer URL, matched exactly.
    pub issuer: String,
    /// Path of `trusted_root.json` (relative to the policy file that names it).
    pub trusted_root: String,
}

/// A public key signer (OMS `key` bundles).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySigner {
    /// PEM public key (relative to the policy file that names it).
    pub path: String,
    pub algorithm: KeyAlgorithm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    EcdsaP521Sha512,
    Ed25519,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            KeyAlgorithm::EcdsaP384Sha384 => "ecdsa-p384-sha384",
            KeyAlgorithm::EcdsaP521Sha512 => "ecdsa-p521-sha512",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// A certificate signer (OMS `certificate` bundles): the chain must end at this CA.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSigner {
    /// PEM CA certificate (relative to the policy file that names it).
    pub path: String,
}

impl Trust {
    /// Whether a Sigstore certificate with this identity and issuer belongs to a trusted
    /// signer. Returns the matching signer so the caller verifies against its trusted root.
    pub fn allows_sigstore(&self, identity: &str, issuer: &str) -> Option<&SigstoreSigner> {
        self.signers
            .sigstore
            .iter()
            .find(|s| s.issuer == issuer && glob_match(&s.identity, identity))
    }

    /// Whether a bundle of this media type may be considered at all.
    /// Exact match (after trimming blanks): the media type is not signed, so the policy
    /// pins the very string, and a bundle whose media type was altered is refused.
    pub fn accepts_media_type(&self, media_type: &str) -> bool {
        let mt = media_type.trim();
        self.media_types.iter().any(|m| m.trim() == mt)
    }

    /// True when no signer of any kind is configured: nothing can verify.
    pub fn has_no_signers(&self) -> bool {
        self.signers.sigstore.is_empty() && self.signers.keys.is_empty() && self.signers.certificates.is_empty()
    }
}
