//! Sigstore (keyless) bundle verification, offline, through sigstore-verify.
//! (Skeleton: the owner of this file replaces it; the signature of `verify_bundle` is the
//! contract with `oms`.)

use std::path::Path;

/// What the caller requires of the signer.
#[derive(Debug, Clone)]
pub struct SigstorePolicy<'a> {
    /// Certificate SAN (email or URI); `*` matches any run of characters.
    pub identity: &'a str,
    /// OIDC issuer, matched exactly.
    pub issuer: &'a str,
    /// `trusted_root.json`, or a client trust config (`trust_config.json`) holding one.
    pub trusted_root: &'a Path,
    /// Require a transparency-log inclusion proof.
    pub require_tlog: bool,
    /// Require an RFC 3161 timestamp.
    pub require_timestamp: bool,
}

/// What a verified bundle says.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    /// For DSSE bundles: the envelope's payload type and payload (verified).
    pub payload_type: Option<String>,
    pub payload: Option<Vec<u8>>,
    /// The certificate's identity (SAN) and OIDC issuer.
    pub identity: String,
    pub issuer: String,
    /// Unix seconds the signature was made at (tlog integrated time or timestamp).
    pub signed_at: Option<i64>,
}

/// The artifact a message-signature bundle signs (not used for DSSE bundles).
#[derive(Debug, Clone)]
pub enum Artifact<'a> {
    /// DSSE bundle: the payload is inside the envelope.
    Dsse,
    Bytes(&'a [u8]),
    Sha256([u8; 32]),
}

#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    #[error("Sigstore verification is not implemented")]
    NotImplemented,
}

pub fn verify_bundle(
    _bundle_json: &[u8],
    _artifact: Artifact<'_>,
    _policy: &SigstorePolicy<'_>,
) -> Result<VerifiedBundle, SigstoreError> {
    Err(SigstoreError::NotImplemented)
}
