//! Cosign keyed signatures on an image: a simple-signing payload layer whose annotation
//! `dev.cosignproject.cosign/signature` holds a base64 ECDSA P-256 signature (DER) over the
//! payload bytes (SHA-256), verified against a PEM public key. The payload must name the
//! image's manifest digest and be of cosign's container-signature type.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

use base64::Engine;

use super::error::OciError;
use super::layout::{BlobDigest, OciLayout};
use super::referrers::{self, cosign_signature_tag, FoundBy, ReferrerKind, COSIGN_SIGNATURE_ANNOTATION};

/// The `critical.type` of a cosign image signature.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";

/// The fields of a simple-signing payload that matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleSigning {
    pub docker_reference: String,
    pub manifest_digest: String,
    pub kind: String,
    /// `optional`, as written (cosign puts user annotations there).
    pub optional: Option<serde_json::Value>,
}

/// A verified cosign signature.
#[derive(Clone, Debug)]
pub struct CosignVerified {
    /// The signature manifest's digest.
    pub signature_manifest: String,
    /// The payload layer's digest.
    pub payload_digest: String,
    pub found_by: FoundBy,
    pub payload: SimpleSigning,
}

/// Parse a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) holding a P-256 key.
pub fn parse_public_key(pem: &str, what: &str) -> Result<VerifyingKey, OciError> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| OciError::Cosign {
        what: what.to_string(),
        reason: format!("not a PEM P-256 public key: {e}"),
    })
}

/// Parse a simple-signing payload and check its type and manifest digest.
pub fn parse_payload(payload: &[u8], image_digest: &str, what: &str) -> Result<SimpleSigning, OciError> {
    let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| OciError::Parse {
        what: what.to_string(),
        kind: "cosign simple-signing payload",
        reason: e.to_string(),
    })?;
    let field = |path: &[&str]| -> Result<String, OciError> {
        let mut v = &value;
        for key in path {
            v = v.get(key).ok_or_else(|| OciError::Field {
                what: what.to_string(),
                field: path.join("."),
                expected: "a string".to_string(),
                found: "nothing".to_string(),
            })?;
        }
        v.as_str().map(str::to_string).ok_or_else(|| OciError::Field {
            what: what.to_string(),
            field: path.join("."),
            expected: "a string".to_string(),
            found: v.to_string(),
        })
    };
    let kind = field(&["critical", "type"])?;
    if kind != SIMPLE_SIGNING_TYPE {
        return Err(OciError::Field {
            what: what.to_string(),
            field: "critical.type".to_string(),
            expected: format!("{SIMPLE_SIGNING_TYPE:?}"),
            found: format!("{kind:?}"),
        });
    }
    let manifest_digest = field(&["critical", "image", "docker-manifest-digest"])?;
    if manifest_digest != image_digest {
        return Err(OciError::Field {
            what: what.to_string(),
            field: "critical.image.docker-manifest-digest".to_string(),
            expected: image_digest.to_string(),
            found: manifest_digest,
        });
    }
    let docker_reference = field(&["critical", "identity", "docker-reference"])?;
    Ok(SimpleSigning {
        docker_reference,
        manifest_digest,
        kind,
        optional: value.get("optional").filter(|v| !v.is_null()).cloned(),
    })
}

/// Verify one signature: `signature_b64` (the annotation) over `payload`, then the payload's
/// fields against `image_digest`.
pub fn verify_payload(
    payload: &[u8],
    signature_b64: &str,
    key: &VerifyingKey,
    image_digest: &str,
    what: &str,
) -> Result<SimpleSigning, OciError> {
    let invalid = |reason: String| OciError::SignatureInvalid {
        what: what.to_string(),
        reason,
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| invalid(format!("{COSIGN_SIGNATURE_ANNOTATION} is not base64: {e}")))?;
    let signature =
        Signature::from_der(&raw).map_err(|e| invalid(format!("signature is not a DER ECDSA P-256 signature: {e}")))?;
    key.verify(payload, &signature)
        .map_err(|_| invalid("signature does not match the payload under the given key".to_string()))?;
    // Only a signed payload is worth reading.
    parse_payload(payload, image_digest, what)
}

/// Find the cosign signatures of `image_digest` in the layout (referrers and the
/// `sha256-<hex>.sig` tag) and return the first that verifies under `key`. When none does,
/// the error is the last failure seen.
pub fn verify_image(layout: &OciLayout, image_digest: &str, key: &VerifyingKey) -> Result<CosignVerified, OciError> {
    let digest = BlobDigest::parse(image_digest, "image digest")?;
    let mut last_err = None;
    for referrer in referrers::referrers(layout, image_digest)? {
        if referrer.kind != ReferrerKind::CosignSignature {
            continue;
        }
        for payload in &referrer.payloads {
            let what = format!(
                "{} (signature manifest {})",
                payload.descriptor.digest(),
                referrer.manifest.digest
            );
            let Some(sig) = payload
                .descriptor
                .annotations()
                .as_ref()
                .and_then(|a| a.get(COSIGN_SIGNATURE_ANNOTATION))
            else {
                continue;
            };
            match verify_payload(&payload.bytes, sig, key, image_digest, &what) {
                Ok(simple) => {
                    return Ok(CosignVerified {
                        signature_manifest: referrer.manifest.digest.to_string(),
                        payload_digest: payload.descriptor.digest().to_string(),
                        found_by: referrer.found_by,
                        payload: simple,
                    })
                }
                Err(e) => last_err = Some(e),
            }
        }
    }
    Err(last_err.unwrap_or_else(|| OciError::NoSignature {
        layout: layout.root().to_path_buf(),
        image: image_digest.to_string(),
        tag: cosign_signature_tag(&digest),
    }))
}
