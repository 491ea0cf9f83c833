//! Sigstore bundle verification, offline, through `sigstore-verify` 0.15.1.
//!
//! What `sigstore-verify` checks for us (we rely on it and do not repeat it):
//! - bundle structure and media type (v0.1, v0.2, v0.3), and that a v0.2/v0.3 bundle carries
//!   an inclusion proof when tlog verification is on (`sigstore_bundle::validate_bundle_with_options`);
//! - the signing time: every RFC 3161 timestamp present must verify against a TSA of the trusted
//!   root (inside that TSA's validity window), and every Rekor v1 integrated time is
//!   authenticated by its SET before use; at least one verified time must exist;
//! - the Fulcio chain (rustls-webpki) to a CA of the trusted root whose `validFor` covers
//!   *each* verified time, the leaf's validity at each time, and the code-signing EKU;
//! - the leaf's embedded SCT against the trusted root's CT logs;
//! - per tlog entry: the Merkle inclusion proof, the checkpoint signature (a Rekor key of the
//!   trusted root), the SET, and the integrated time inside the leaf's validity and not in
//!   the future;
//! - that each tlog entry's body describes this bundle (signature, certificate or key,
//!   payload hash / artifact digest: the CVE-2022-36056 class);
//! - for DSSE the envelope signature over the PAE, for message signatures the signature over
//!   the artifact and the `messageDigest` against it.
//!
//! What we do ourselves, because `sigstore-verify` does not:
//! - the identity match with `*` globs (it only matches exactly) and the issuer check, with
//!   errors that say expected and found;
//! - `require_timestamp` (it never requires an RFC 3161 timestamp) and a clear error for a
//!   missing inclusion proof under `require_tlog`;
//! - reading a client trust config (`trust_config.json`) as well as a bare trusted root.
//!
//! Known gaps of `sigstore-verify` 0.15.1, not closed here: the DSSE v0.0.1 tlog body's
//! `envelopeHash` is not compared (the payload hash, signature and certificate are); the
//! checkpoint's origin line is not compared with the log; a checkpoint signed by any trusted
//! Rekor key is accepted, not necessarily the key of the entry's `logId`; no revocation
//! (CRL/OCSP) of the Fulcio chain; a DSSE payload type other than `application/vnd.in-toto+json`
//! is refused.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{
    Artifact as SigArtifact, ArtifactDigest, Bundle, DerPublicKey, HashAlgorithm, SignatureContent, Statement,
};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult, Verifier};

/// The error of `sigstore-verify`, carried by [`SigstoreError::Verification`].
pub use sigstore_verify::Error as SigstoreVerifyError;

/// Media type prefix of a client trust config (`trust_config.json`).
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.clienttrustconfig";
/// Media type prefix of a bare trusted root (`trusted_root.json`).
pub const TRUSTED_ROOT_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot";

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

/// What the caller requires of a bundle signed with a managed key (no certificate).
#[derive(Debug, Clone)]
pub struct KeyPolicy<'a> {
    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo): ECDSA P-256/P-384, Ed25519 or RSA.
    pub public_key_pem: &'a str,
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
    /// The certificate's identity (SAN) and OIDC issuer. For a bundle verified with a managed
    /// key: `key:sha256:<hex of the key's SubjectPublicKeyInfo DER>` and an empty issuer.
    pub identity: String,
    pub issuer: String,
    /// Unix seconds the signature was made at (tlog integrated time or timestamp).
    pub signed_at: Option<i64>,
    /// Whether a transparency-log inclusion proof and checkpoint were verified.
    pub tlog_verified: bool,
    /// Unix seconds of each RFC 3161 timestamp and SET-authenticated integrated time.
    pub verified_times: Vec<i64>,
}

/// The artifact a message-signature bundle signs (not used for DSSE bundles).
#[derive(Debug, Clone)]
pub enum Artifact<'a> {
    /// DSSE bundle: the payload is inside the envelope. Binding the in-toto subjects to
    /// actual files is the caller's job (OMS checks them against the model).
    Dsse,
    Bytes(&'a [u8]),
    Sha256([u8; 32]),
}

#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    #[error("trusted root {path}: cannot read: {error}")]
    TrustedRootRead { path: PathBuf, error: std::io::Error },
    #[error("trusted root {path}: {field}: expected {expected}, found {found}")]
    TrustedRootInvalid {
        path: PathBuf,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("bundle: not a Sigstore bundle: {0}")]
    BundleParse(String),
    #[error("bundle {field}: expected {expected}, found {found}")]
    BundleContent {
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("certificate identity (SAN): expected {expected}, found {found}")]
    IdentityMismatch { expected: String, found: String },
    #[error("certificate OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8): expected {expected}, found {found}")]
    IssuerMismatch { expected: String, found: String },
    #[error("public key: expected a PEM PUBLIC KEY, found {0}")]
    PublicKey(String),
    /// A check inside `sigstore-verify` failed; `location` names the bundle field (or the
    /// trusted root) it concerns.
    #[error("{location}: {error}")]
    Verification {
        location: &'static str,
        error: sigstore_verify::Error,
    },
}

/// Read `trusted_root.json`, or the `trustedRoot` of a client trust config, by media type.
pub fn load_trusted_root(path: &Path) -> Result<TrustedRoot, SigstoreError> {
    let bytes = std::fs::read(path).map_err(|error| SigstoreError::TrustedRootRead {
        path: path.to_path_buf(),
        error,
    })?;
    parse_trusted_root(&bytes, path)
}

/// Parse trusted-root bytes; `path` only names the source in errors.
pub fn parse_trusted_root(bytes: &[u8], path: &Path) -> Result<TrustedRoot, SigstoreError> {
    let invalid = |field, expected, found: String| SigstoreError::TrustedRootInvalid {
        path: path.to_path_buf(),
        field,
        expected,
        found,
    };
    let mut doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid("(document)", "JSON", format!("invalid JSON: {e}")))?;
    let media_type = doc.get("mediaType").and_then(|m| m.as_str()).unwrap_or("").to_string();
    // Both documents carry `mediaType` and TrustedRoot's lists default to empty, so parsing a
    // trust config as a root would "succeed" with no authorities: decide by media type.
    let (root, field) = if media_type.starts_with(CLIENT_TRUST_CONFIG_MEDIA_TYPE) {
        let root = doc
            .get_mut("trustedRoot")
            .map(serde_json::Value::take)
            .ok_or_else(|| invalid("trustedRoot", "a trusted root object", "nothing".into()))?;
        (root, "trustedRoot")
    } else if media_type.starts_with(TRUSTED_ROOT_MEDIA_TYPE) {
        (doc, "(document)")
    } else {
        return Err(invalid(
            "mediaType",
            "application/vnd.dev.sigstore.trustedroot… or …clienttrustconfig…",
            format!("{media_type:?}"),
        ));
    };
    let inner_type = root.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    if !inner_type.starts_with(TRUSTED_ROOT_MEDIA_TYPE) {
        return Err(invalid(
            if field == "trustedRoot" {
                "trustedRoot.mediaType"
            } else {
                "mediaType"
            },
            "application/vnd.dev.sigstore.trustedroot…",
            format!("{inner_type:?}"),
        ));
    }
    serde_json::from_value(root).map_err(|e| invalid(field, "a Sigstore trusted root", e.to_string()))
}

/// The Sigstore public-good root embedded in `sigstore-trust-root` 0.15.1 (as of its
/// release; no TUF refresh: sealrun stays offline).
pub fn embedded_production_root() -> TrustedRoot {
    TrustedRoot::from_json(sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
        .expect("the trusted root embedded in sigstore-trust-root parses")
}

/// Verify a keyless (Fulcio) bundle against the trusted root at `policy.trusted_root`.
pub fn verify_bundle(
    bundle_json: &[u8],
    artifact: Artifact<'_>,
    policy: &SigstorePolicy<'_>,
) -> Result<VerifiedBundle, SigstoreError> {
    let root = load_trusted_root(policy.trusted_root)?;
    verify_bundle_with_root(bundle_json, artifact, policy, &root)
}

/// As [`verify_bundle`], with an already-loaded root (`policy.trusted_root` is not read).
pub fn verify_bundle_with_root(
    bundle_json: &[u8],
    artifact: Artifact<'_>,
    policy: &SigstorePolicy<'_>,
    root: &TrustedRoot,
) -> Result<VerifiedBundle, SigstoreError> {
    let bundle = parse_bundle(bundle_json)?;
    check_required_evidence(&bundle, policy.require_tlog, policy.require_timestamp)?;
    if bundle.signing_certificate().is_none() {
        return Err(SigstoreError::BundleContent {
            field: "verificationMaterial",
            expected: "a Fulcio certificate (keyless signature)".into(),
            found: "a public key hint (verify it with a key instead)".into(),
        });
    }

    // The identity glob and issuer are checked below, on the verified result, so that the
    // errors can say expected/found; chain, SCT and tlog stay on (the defaults).
    let mut sv_policy = VerificationPolicy::any_identity();
    if !policy.require_tlog {
        // Still checks each SET and that each entry describes this bundle.
        sv_policy = sv_policy.skip_tlog_unsafe();
    }
    let verifier = Verifier::new(root).map_err(|error| SigstoreError::Verification {
        location: "trusted root",
        error,
    })?;
    let sv_artifact = artifact_for(&bundle, &artifact)?;
    let result = verifier
        .verify(sv_artifact, &bundle, &sv_policy)
        .map_err(|error| verification_error(&bundle, error))?;
    // Fail closed should a future sigstore-verify relax a default.
    if !result.certificate_verified() || !result.sct_verified() {
        return Err(SigstoreError::BundleContent {
            field: "verificationMaterial.certificate",
            expected: "a verified Fulcio chain and SCT".into(),
            found: "sigstore-verify did not verify them".into(),
        });
    }
    if policy.require_tlog && !result.tlog_verified() {
        return Err(SigstoreError::BundleContent {
            field: "verificationMaterial.tlogEntries",
            expected: "a verified inclusion proof".into(),
            found: "sigstore-verify did not verify one".into(),
        });
    }

    let identity = result.identity().map(|i| i.as_str().to_string());
    match &identity {
        Some(found) if glob_match(policy.identity, found) => {}
        found => {
            return Err(SigstoreError::IdentityMismatch {
                expected: policy.identity.to_string(),
                found: found.clone().unwrap_or_else(|| "no email or URI SAN".to_string()),
            })
        }
    }
    let issuer = result.issuer().map(str::to_string);
    if issuer.as_deref() != Some(policy.issuer) {
        return Err(SigstoreError::IssuerMismatch {
            expected: policy.issuer.to_string(),
            found: issuer.unwrap_or_else(|| "no issuer extension".to_string()),
        });
    }
    Ok(verified(
        &bundle,
        &result,
        identity.unwrap_or_default(),
        issuer.unwrap_or_default(),
    ))
}

/// Verify a bundle signed with a managed key (its verification material is a public-key
/// hint), e.g. `cosign sign-blob --key`: the signature with `policy.public_key_pem`, the
/// tlog entries against `root`, and any RFC 3161 timestamps.
pub fn verify_bundle_with_key(
    bundle_json: &[u8],
    artifact: Artifact<'_>,
    policy: &KeyPolicy<'_>,
    root: &TrustedRoot,
) -> Result<VerifiedBundle, SigstoreError> {
    let key = DerPublicKey::from_pem(policy.public_key_pem).map_err(|e| SigstoreError::PublicKey(e.to_string()))?;
    let bundle = parse_bundle(bundle_json)?;
    check_required_evidence(&bundle, policy.require_tlog, policy.require_timestamp)?;
    if bundle.signing_certificate().is_some() {
        return Err(SigstoreError::BundleContent {
            field: "verificationMaterial",
            expected: "a public key hint (managed-key signature)".into(),
            found: "a certificate (verify it with an identity and issuer instead)".into(),
        });
    }
    let mut sv_policy = PublicKeyVerificationPolicy::new(key.clone());
    if !policy.require_tlog {
        sv_policy = sv_policy.skip_tlog_unsafe();
    }
    let verifier = Verifier::new(root).map_err(|error| SigstoreError::Verification {
        location: "trusted root",
        error,
    })?;
    let sv_artifact = artifact_for(&bundle, &artifact)?;
    let result = verifier
        .verify(sv_artifact, &bundle, &sv_policy)
        .map_err(|error| verification_error(&bundle, error))?;
    if policy.require_tlog && !result.tlog_verified() {
        return Err(SigstoreError::BundleContent {
            field: "verificationMaterial.tlogEntries",
            expected: "a verified inclusion proof".into(),
            found: "sigstore-verify did not verify one".into(),
        });
    }
    let fingerprint = hex(&Sha256::digest(key.as_bytes()));
    Ok(verified(
        &bundle,
        &result,
        format!("key:sha256:{fingerprint}"),
        String::new(),
    ))
}

/// `*` matches any run of characters (including none, including `/` and `@`); everything
/// else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    // Greedy leftmost matching of the middle parts is optimal for `*`-only globs.
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn parse_bundle(bundle_json: &[u8]) -> Result<Bundle, SigstoreError> {
    let text = std::str::from_utf8(bundle_json).map_err(|e| SigstoreError::BundleParse(e.to_string()))?;
    Bundle::from_json(text).map_err(|e| SigstoreError::BundleParse(e.to_string()))
}

/// The policy's evidence requirements, checked up front so the error names what is missing.
fn check_required_evidence(bundle: &Bundle, require_tlog: bool, require_timestamp: bool) -> Result<(), SigstoreError> {
    let entries = &bundle.verification_material.tlog_entries;
    if require_tlog && !entries.iter().any(|e| e.inclusion_proof.is_some()) {
        return Err(SigstoreError::BundleContent {
            field: "verificationMaterial.tlogEntries",
            expected: "an entry with an inclusionProof (the policy requires the tlog)".into(),
            found: if entries.is_empty() {
                "no entries".into()
            } else {
                format!("{} entries, none with an inclusionProof", entries.len())
            },
        });
    }
    // Any timestamp that is present must verify (sigstore-verify fails on one that does
    // not), so presence here plus success there means a verified timestamp.
    let timestamps = &bundle
        .verification_material
        .timestamp_verification_data
        .rfc3161_timestamps;
    if require_timestamp && timestamps.is_empty() {
        return Err(SigstoreError::BundleContent {
            field: "verificationMaterial.timestampVerificationData.rfc3161Timestamps",
            expected: "an RFC 3161 timestamp (the policy requires one)".into(),
            found: "none".into(),
        });
    }
    Ok(())
}

/// The artifact as sigstore-verify takes it.
fn artifact_for<'a>(bundle: &Bundle, artifact: &Artifact<'a>) -> Result<SigArtifact<'a>, SigstoreError> {
    match (artifact, &bundle.content) {
        (Artifact::Bytes(bytes), _) => Ok(SigArtifact::Blob(bytes)),
        (Artifact::Sha256(digest), _) => Ok(SigArtifact::Digest(ArtifactDigest::sha256(
            sigstore_verify::types::Sha256Hash::new(*digest),
        ))),
        (Artifact::Dsse, SignatureContent::DsseEnvelope(envelope)) => {
            // sigstore-verify insists on binding an in-toto subject to an artifact; here the
            // envelope is the artifact, so hand it the statement's own subject digest and
            // leave the subjects to the caller.
            let statement: Statement =
                serde_json::from_slice(envelope.payload.as_bytes()).map_err(|e| SigstoreError::BundleContent {
                    field: "dsseEnvelope.payload",
                    expected: "an in-toto statement".into(),
                    found: format!("unparseable JSON ({e})"),
                })?;
            for subject in &statement.subject {
                if let Some(sha256) = &subject.digest.sha256 {
                    return Ok(SigArtifact::Digest(ArtifactDigest::sha256(*sha256)));
                }
                if let Some(sha512) = &subject.digest.sha512 {
                    let digest = ArtifactDigest::new(HashAlgorithm::Sha2512, sha512.as_bytes().to_vec())
                        .map_err(|e| SigstoreError::BundleParse(e.to_string()))?;
                    return Ok(SigArtifact::Digest(digest));
                }
            }
            Err(SigstoreError::BundleContent {
                field: "dsseEnvelope.payload subject[].digest",
                expected: "a sha256 or sha512 subject digest".into(),
                found: format!("{} subjects without one", statement.subject.len()),
            })
        }
        (Artifact::Dsse, _) => Err(SigstoreError::BundleContent {
            field: "messageSignature",
            expected: "a dsseEnvelope (the caller passed no artifact)".into(),
            found: "a message signature, which needs the signed artifact or its sha256".into(),
        }),
    }
}

/// Name the bundle field a sigstore-verify error concerns.
fn verification_error(bundle: &Bundle, error: sigstore_verify::Error) -> SigstoreError {
    use sigstore_verify::Error as E;
    let dsse = matches!(bundle.content, SignatureContent::DsseEnvelope(_));
    let location = match &error {
        E::SignatureInvalid(_) if dsse => "bundle dsseEnvelope.signatures[0] (over the PAE of payloadType and payload)",
        E::SignatureInvalid(_) => "bundle messageSignature.signature (over the artifact)",
        E::ArtifactMismatch(_) if dsse => "bundle dsseEnvelope.payload subject vs the artifact",
        E::ArtifactMismatch(_) => "bundle messageSignature.messageDigest vs the artifact",
        E::UnsupportedArtifact(_) | E::ArtifactRead(_) => "artifact",
        E::Certificate(_) => "bundle verificationMaterial.certificate",
        E::TransparencyLog(_) => "bundle verificationMaterial.tlogEntries",
        E::Timestamp(_) => "bundle verificationMaterial (RFC 3161 timestamps / tlog integrated time)",
        E::InvalidTrustRoot(_) | E::TrustRoot(_) | E::TrustedCertificate(_) => "trusted root",
        E::IdentityMismatch { .. } | E::IssuerMismatch { .. } => "bundle verificationMaterial.certificate",
        _ => "bundle",
    };
    SigstoreError::Verification { location, error }
}

fn verified(bundle: &Bundle, result: &VerificationResult, identity: String, issuer: String) -> VerifiedBundle {
    let (payload_type, payload) = match &bundle.content {
        SignatureContent::DsseEnvelope(envelope) => (
            Some(envelope.payload_type.clone()),
            Some(envelope.payload.as_bytes().to_vec()),
        ),
        _ => (None, None),
    };
    let verified_times: Vec<i64> = result.verified_timestamps().iter().map(|t| t.as_second()).collect();
    VerifiedBundle {
        payload_type,
        payload,
        identity,
        issuer,
        signed_at: result
            .integrated_time()
            .map(|t| t.as_second())
            .or_else(|| verified_times.iter().copied().min()),
        tlog_verified: result.tlog_verified(),
        verified_times,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob() {
        assert!(glob_match("stefanb@us.ibm.com", "stefanb@us.ibm.com"));
        assert!(!glob_match("stefanb@us.ibm.com", "stefanb@us.ibm.comx"));
        assert!(glob_match("stefanb@*", "stefanb@us.ibm.com"));
        assert!(glob_match("*@us.ibm.com", "stefanb@us.ibm.com"));
        assert!(glob_match("*", ""));
        assert!(glob_match("s*b@*.com", "stefanb@us.ibm.com"));
        assert!(!glob_match("s*x@*", "stefanb@us.ibm.com"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match(
            "https://github.com/org/*/.github/workflows/*.yml@refs/heads/main",
            "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
        ));
    }
}
