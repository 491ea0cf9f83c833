//! The dev TEE: a software-only stand-in for tests and demos. It proves nothing about the
//! machine: its key is public (below), so anyone can forge its reports. Policies accept it
//! only with `attestation.allow_dev = true`.
//!
//! A report is JSON:
//! `{"version":1,"tee":"dev","measurement":"<96 hex>","report_data":"<128 hex>","debug":false,"public_key":"<64 hex>","signature":"<128 hex>"}`,
//! where `signature` is Ed25519 over the RFC 8785 (canonical) JSON of the same object
//! without `signature`.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha384};

use super::{Verified, VerifyOptions};

/// The well-known, documented-INSECURE seed of the dev TEE's Ed25519 key.
pub const DEV_SEED: [u8; 32] = *b"sealrun dev tee: INSECURE seed!!";

/// The dev TEE's "measurement": sha384("sealrun-dev-tee"), a fixed value, so a policy can
/// name it.
pub fn dev_measurement() -> [u8; 48] {
    Sha384::digest(b"sealrun-dev-tee").into()
}

/// The dev TEE's public key (from [`DEV_SEED`]).
pub fn dev_public_key() -> [u8; 32] {
    SigningKey::from_bytes(&DEV_SEED).verifying_key().to_bytes()
}

#[derive(Debug, Clone)]
pub struct DevEvidence {
    /// The JSON report bytes.
    pub report: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("dev report: not the expected JSON object: {0}")]
    Json(String),
    #[error("dev report: field {field}: expected {expected}, found {found}")]
    Field {
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("dev report: public_key {0} is neither the well-known dev key nor in extra_roots")]
    UntrustedKey(String),
    #[error("dev report: the signature does not verify with public_key {0}")]
    Signature(String),
}

/// The report's fields, in the order of the JSON object; `signature` last.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    version: u32,
    tee: String,
    measurement: String,
    report_data: String,
    debug: bool,
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

impl Report {
    /// RFC 8785 JSON of the report without its signature: the signed bytes.
    fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = Report {
            signature: None,
            ..self.clone()
        };
        serde_json_canonicalizer::to_vec(&unsigned).expect("a struct of strings, numbers and booleans serialises")
    }
}

/// Produces a dev TEE report binding `report_data`, signed with the well-known dev key.
pub fn dev_report(report_data: &[u8; 64]) -> Vec<u8> {
    sign_report(&DEV_SEED, report_data)
}

/// A dev report signed with any Ed25519 seed (tests use this to make foreign-key reports).
pub fn sign_report(seed: &[u8; 32], report_data: &[u8; 64]) -> Vec<u8> {
    let key = SigningKey::from_bytes(seed);
    let mut r = Report {
        version: 1,
        tee: "dev".into(),
        measurement: hex::encode(dev_measurement()),
        report_data: hex::encode(report_data),
        debug: false,
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: None,
    };
    r.signature = Some(hex::encode(key.sign(&r.signed_bytes()).to_bytes()));
    serde_json::to_vec(&r).expect("a struct of strings, numbers and booleans serialises")
}

fn hex_field<const N: usize>(field: &'static str, value: &str) -> Result<[u8; N], DevError> {
    let bad = || DevError::Field {
        field,
        expected: format!("{} hex digits", 2 * N),
        found: format!("{value:?}"),
    };
    let bytes = hex::decode(value).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// Verifies a dev report: well-formed, signed by the dev key or a key in `opts.extra_roots`
/// (raw 32-byte Ed25519 public keys).
pub fn verify(e: &DevEvidence, opts: &VerifyOptions) -> Result<Verified, DevError> {
    let r: Report = serde_json::from_slice(&e.report).map_err(|err| DevError::Json(err.to_string()))?;
    if r.version != 1 {
        return Err(DevError::Field {
            field: "version",
            expected: "1".into(),
            found: r.version.to_string(),
        });
    }
    if r.tee != "dev" {
        return Err(DevError::Field {
            field: "tee",
            expected: "\"dev\"".into(),
            found: format!("{:?}", r.tee),
        });
    }
    let measurement: [u8; 48] = hex_field("measurement", &r.measurement)?;
    let report_data: [u8; 64] = hex_field("report_data", &r.report_data)?;
    let public_key: [u8; 32] = hex_field("public_key", &r.public_key)?;
    let signature: [u8; 64] = hex_field("signature", r.signature.as_deref().unwrap_or(""))?;

    let trusted = public_key == dev_public_key() || opts.extra_roots.iter().any(|k| k.as_slice() == public_key);
    if !trusted {
        return Err(DevError::UntrustedKey(r.public_key.clone()));
    }
    let key = VerifyingKey::from_bytes(&public_key).map_err(|_| DevError::Signature(r.public_key.clone()))?;
    key.verify_strict(&r.signed_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| DevError::Signature(r.public_key.clone()))?;

    let claims = serde_json::json!({
        "tee": "dev",
        "insecure": true,
        "version": r.version,
        "measurement": hex::encode(measurement),
        "report_data": hex::encode(report_data),
        "debug": r.debug,
        "public_key": r.public_key,
        "well_known_key": public_key == dev_public_key(),
    });
    Ok(Verified {
        tee: "dev",
        report_data: report_data.to_vec(),
        claims,
        snp: None,
        tdx: None,
    })
}
