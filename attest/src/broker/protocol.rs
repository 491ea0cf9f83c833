//! The wire format: KBS protocol v0.4 payloads (RCAR: auth → challenge → attest →
//! resource), plus sealrun's workload claims in `runtime-data` and the binding of
//! `runtime-data` into the TEE report.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha384};

use sealrun_policy::TeeKind;

use crate::evidence::Evidence;

/// The KBS protocol version this broker and client speak.
pub const PROTOCOL_VERSION: &str = "0.4.0";

/// The session cookie's name, as in the KBS protocol.
pub const SESSION_COOKIE: &str = "kbs-session-id";

/// `POST /kbs/v0/auth` body (KBS `Request`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthRequest {
    pub version: String,
    pub tee: String,
    #[serde(rename = "extra-params", default)]
    pub extra_params: serde_json::Value,
}

/// `POST /kbs/v0/auth` response body (KBS `Challenge`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// Base64 (standard alphabet, padded) of 32 random bytes.
    pub nonce: String,
    #[serde(rename = "extra-params", default)]
    pub extra_params: serde_json::Value,
}

/// What the guest binds into its report: the challenge nonce, its ephemeral public key,
/// and sealrun's workload claims. Hashed as RFC 8785 JSON (see [`report_data`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeData {
    pub nonce: String,
    #[serde(rename = "tee-pubkey")]
    pub tee_pubkey: serde_json::Value,
    /// The model image the sandbox runs: `sha256:<64 hex>`.
    #[serde(rename = "image-digest")]
    pub image_digest: String,
    /// The digest of the policy the sandbox enforces: `sha256:<64 hex>`.
    #[serde(rename = "policy-digest")]
    pub policy_digest: String,
}

/// `POST /kbs/v0/attest` body (KBS `Attestation`, v0.4 shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestRequest {
    #[serde(rename = "runtime-data")]
    pub runtime_data: serde_json::Value,
    #[serde(rename = "tee-evidence")]
    pub tee_evidence: serde_json::Value,
    /// NVIDIA GPU evidence, one per GPU, each made for [`gpu_nonce`] of this request's
    /// report data — so the GPUs are bound to the same challenge as the CPU report.
    #[serde(rename = "gpu-evidence", default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_evidence: Vec<GpuEvidence>,
}

/// One GPU's SPDM GET_MEASUREMENTS evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuEvidence {
    /// The SPDM request || response, standard base64.
    pub report: String,
    /// The device certificate chain, PEM.
    pub certs: String,
}

/// The SPDM nonce a GPU must answer for a request whose CPU report data is `report_data`:
/// SHA-256("sealrun gpu nonce v1" || report_data). Derived, not sent, so a GPU report made
/// for another challenge (or replayed) does not match.
pub fn gpu_nonce(report_data: &[u8; 64]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"sealrun gpu nonce v1");
    h.update(report_data);
    h.finalize().into()
}

/// `POST /kbs/v0/attest` success body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttestResponse {
    pub token: String,
}

/// Every refusal's body: a machine-readable code and a sentence naming what failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub detail: String,
}

/// sealrun's claims about the workload, sent in `runtime-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadClaims {
    pub image_digest: String,
    pub policy_digest: String,
}

/// The 64 bytes a CPU TEE report must carry: SHA-384 of the RFC 8785 JSON of
/// `runtime-data`, zero-padded. Hashing the canonical form lets both ends build the JSON
/// independently.
pub fn report_data(runtime_data: &serde_json::Value) -> [u8; 64] {
    // A serde_json::Value always serialises.
    let canonical = serde_json_canonicalizer::to_vec(runtime_data).expect("JSON value serialises");
    let digest = Sha384::digest(&canonical);
    let mut out = [0u8; 64];
    out[..48].copy_from_slice(&digest);
    out
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("sha256:{}", hex_lower(&Sha256::digest(bytes)))
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `s` is `sha256:` followed by 64 lowercase hex digits.
pub fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// The TEE kind a KBS `tee` string names. Accepts sealrun's names (`snp`, `tdx`, `dev`)
/// and the KBS ones (`amd-sev-snp`, `intel-tdx`).
pub fn tee_kind(name: &str) -> Option<TeeKind> {
    match name {
        "snp" | "amd-sev-snp" => Some(TeeKind::Snp),
        "tdx" | "intel-tdx" => Some(TeeKind::Tdx),
        "dev" => Some(TeeKind::Dev),
        _ => None,
    }
}

/// A resource id `repo/type/tag`: three non-empty segments of `[A-Za-z0-9._-]`, none of
/// them `.` or `..`.
pub fn valid_resource_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// Decodes `tee-evidence`: the evidence envelope of [`crate::attester`]
/// (`{"tee", "report", "vcek"?, "chain"?, "collateral"?}`, base64 fields).
pub fn decode_evidence(value: &serde_json::Value) -> Result<Evidence, crate::attester::AttesterError> {
    Evidence::from_envelope_json(value)
}

/// At most 80 characters of a JSON value, for error messages.
pub(crate) fn short_json(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() <= 80 {
        s
    } else {
        let mut end = 77;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_data_is_sha384_of_canonical_json_zero_padded() {
        let a = serde_json::json!({"nonce": "n", "tee-pubkey": {"y": "2", "x": "1"}, "image-digest": "i", "policy-digest": "p"});
        let b: serde_json::Value = serde_json::from_str(
            r#"{"policy-digest":"p","image-digest":"i","tee-pubkey":{"x":"1","y":"2"},"nonce":"n"}"#,
        )
        .unwrap();
        let rd = report_data(&a);
        assert_eq!(rd, report_data(&b), "key order must not matter");
        assert_eq!(&rd[48..], &[0u8; 16]);
        let expected =
            Sha384::digest(br#"{"image-digest":"i","nonce":"n","policy-digest":"p","tee-pubkey":{"x":"1","y":"2"}}"#);
        assert_eq!(&rd[..48], expected.as_slice());
    }

    #[test]
    fn resource_ids() {
        assert!(valid_resource_id("models/key/llama-7b"));
        assert!(!valid_resource_id("models/key"));
        assert!(!valid_resource_id("models/../x"));
        assert!(!valid_resource_id("a/b/c/d"));
        assert!(!valid_resource_id("a//c"));
    }

    #[test]
    fn digests() {
        assert!(is_sha256_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_sha256_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_sha256_digest("sha256:abc"));
    }
}
