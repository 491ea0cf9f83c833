//! The Sigstore bundle (JSON) around a DSSE envelope, and DSSE's pre-authentication encoding.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::key::EcPublicKey;
use super::{OmsError, BUNDLE_MEDIA_TYPE, IN_TOTO_PAYLOAD_TYPE};

const B64_CONFIG: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const B64: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, B64_CONFIG);
// Protobuf's JSON mapping accepts URL-safe base64 for bytes too.
const B64_URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, B64_CONFIG);

/// A bound on what the verifier tries: DSSE allows several signatures, sealrun accepts any
/// one that verifies.
const MAX_SIGNATURES: usize = 16;

pub(crate) enum Material {
    PublicKey {
        hint: Option<String>,
    },
    CertificateChain(Vec<Vec<u8>>),
    /// Sigstore keyless: a single leaf certificate.
    Certificate(Vec<u8>),
}

pub(crate) struct Bundle {
    pub media_type: String,
    pub material: Material,
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

fn berr(field: &str, reason: impl Into<String>) -> OmsError {
    OmsError::Bundle {
        field: field.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn b64_decode(s: &str, field: &str) -> Result<Vec<u8>, OmsError> {
    B64.decode(s)
        .or_else(|_| B64_URL.decode(s))
        .map_err(|e| berr(field, format!("not base64: {e}")))
}

pub(crate) fn b64_encode(b: &[u8]) -> String {
    B64.encode(b)
}

fn str_field<'a>(v: &'a Value, key: &str, field: &str) -> Result<&'a str, OmsError> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(berr(field, format!("expected a string, found {other}"))),
        None => Err(berr(field, "missing")),
    }
}

fn raw_bytes(v: &Value, field: &str) -> Result<Vec<u8>, OmsError> {
    let f = format!("{field}.rawBytes");
    b64_decode(str_field(v, "rawBytes", &f)?, &f)
}

/// Refuses keys the bundle format does not have. A renamed key (`hint` → `hinT`) would
/// otherwise just drop what it carried, and a changed byte of the bundle must not verify.
fn known_keys(v: &Value, field: &str, allowed: &[&str]) -> Result<(), OmsError> {
    let Some(obj) = v.as_object() else {
        return Err(berr(field, format!("expected an object, found {v}")));
    };
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(berr(
                &if field.is_empty() {
                    k.clone()
                } else {
                    format!("{field}.{k}")
                },
                format!("unknown key (expected one of {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

impl Bundle {
    pub fn parse(json: &[u8]) -> Result<Bundle, OmsError> {
        let v: Value = serde_json::from_slice(json).map_err(|e| berr("(bundle)", format!("not JSON: {e}")))?;
        known_keys(
            &v,
            "",
            &["mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"],
        )?;
        if let Some(vm) = v.get("verificationMaterial") {
            known_keys(
                vm,
                "verificationMaterial",
                &[
                    "publicKey",
                    "x509CertificateChain",
                    "certificate",
                    "tlogEntries",
                    "timestampVerificationData",
                ],
            )?;
            if let Some(pk) = vm.get("publicKey") {
                known_keys(pk, "verificationMaterial.publicKey", &["hint"])?;
            }
        }
        if let Some(env) = v.get("dsseEnvelope") {
            known_keys(env, "dsseEnvelope", &["payload", "payloadType", "signatures"])?;
            if let Some(Value::Array(sigs)) = env.get("signatures") {
                for (i, sig) in sigs.iter().enumerate() {
                    known_keys(sig, &format!("dsseEnvelope.signatures[{i}]"), &["sig", "keyid"])?;
                }
            }
        }
        let media_type = str_field(&v, "mediaType", "mediaType")?.to_string();
        let vm = v
            .get("verificationMaterial")
            .ok_or_else(|| berr("verificationMaterial", "missing"))?;
        let material = if let Some(pk) = vm.get("publicKey") {
            let hint = match pk.get("hint") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(berr(
                        "verificationMaterial.publicKey.hint",
                        format!("expected a string, found {other}"),
                    ))
                }
            };
            Material::PublicKey { hint }
        } else if let Some(chain) = vm.get("x509CertificateChain") {
            let f = "verificationMaterial.x509CertificateChain.certificates";
            let certs = match chain.get("certificates") {
                Some(Value::Array(a)) if !a.is_empty() => a,
                _ => return Err(berr(f, "missing or empty")),
            };
            let certs = certs
                .iter()
                .enumerate()
                .map(|(i, c)| raw_bytes(c, &format!("{f}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Material::CertificateChain(certs)
        } else if let Some(cert) = vm.get("certificate") {
            Material::Certificate(raw_bytes(cert, "verificationMaterial.certificate")?)
        } else {
            return Err(berr(
                "verificationMaterial",
                "expected publicKey, x509CertificateChain or certificate",
            ));
        };
        if v.get("messageSignature").is_some() {
            return Err(berr(
                "messageSignature",
                "a message-signature bundle is not a model signature (expected dsseEnvelope)",
            ));
        }
        let env = v.get("dsseEnvelope").ok_or_else(|| berr("dsseEnvelope", "missing"))?;
        let payload_type = str_field(env, "payloadType", "dsseEnvelope.payloadType")?.to_string();
        let payload = b64_decode(
            str_field(env, "payload", "dsseEnvelope.payload")?,
            "dsseEnvelope.payload",
        )?;
        let sigs = match env.get("signatures") {
            Some(Value::Array(a)) if !a.is_empty() => a,
            _ => return Err(berr("dsseEnvelope.signatures", "missing or empty")),
        };
        let signatures = sigs
            .iter()
            .take(MAX_SIGNATURES)
            .enumerate()
            .map(|(i, s)| {
                let f = format!("dsseEnvelope.signatures[{i}].sig");
                b64_decode(str_field(s, "sig", &f)?, &f)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Bundle {
            media_type,
            material,
            payload_type,
            payload,
            signatures,
        })
    }

    /// The certificates the bundle carries, leaf first.
    pub fn certificates(&self) -> Result<Vec<Vec<u8>>, OmsError> {
        match &self.material {
            Material::CertificateChain(c) => Ok(c.clone()),
            Material::Certificate(c) => Ok(vec![c.clone()]),
            Material::PublicKey { .. } => Err(berr(
                "verificationMaterial",
                "expected x509CertificateChain (certificate method) found publicKey (key method)",
            )),
        }
    }
}

/// DSSE v1 pre-authentication encoding.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The PAE of `model_signing` 0.2, bug included: the header says `DSSEV1` and the payload is
/// written as Python's `repr()` of a bytes object (`b'...'` with escapes).
pub(crate) fn pae_legacy(payload: &[u8]) -> Vec<u8> {
    let t = IN_TOTO_PAYLOAD_TYPE;
    let mut out = format!("DSSEV1 {} {} {} ", t.len(), t, payload.len()).into_bytes();
    out.extend_from_slice(python_bytes_repr(payload).as_bytes());
    out
}

/// Python's `repr(bytes)`.
fn python_bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::with_capacity(b.len() + 3);
    s.push('b');
    s.push(quote);
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            c if c as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote);
    s
}

/// Verify the envelope with a caller's key (key method). Returns whether the legacy PAE was
/// what verified.
pub(crate) fn verify_with_key(bundle: &Bundle, key: &EcPublicKey, allow_legacy: bool) -> Result<bool, OmsError> {
    if let Material::PublicKey { hint: Some(hint) } = &bundle.material {
        let expected = key.pem_sha256_hex();
        // Exact: the hint is written in lowercase hex, and a changed byte must not pass.
        if *hint != expected {
            return Err(OmsError::KeyHint {
                expected,
                found: hint.clone(),
            });
        }
    }
    check_payload_type(bundle)?;
    let msg = pae(&bundle.payload_type, &bundle.payload);
    if bundle.signatures.iter().any(|s| key.verify(&msg, s)) {
        return Ok(false);
    }
    if allow_legacy {
        let legacy = pae_legacy(&bundle.payload);
        if bundle.signatures.iter().any(|s| key.verify(&legacy, s)) {
            return Ok(true);
        }
    }
    Err(OmsError::Signature(format!(
        "the DSSE signature does not verify with the given {} public key (sha256 {})",
        key.curve_name(),
        key.pem_sha256_hex()
    )))
}

/// Verify the envelope with the (already chain-verified) leaf key. The 0.2 legacy path signed
/// with SHA-256 whatever the curve, as the reference reproduces.
pub(crate) fn verify_with_certificate(
    bundle: &Bundle,
    key: &EcPublicKey,
    allow_legacy: bool,
) -> Result<bool, OmsError> {
    check_payload_type(bundle)?;
    let msg = pae(&bundle.payload_type, &bundle.payload);
    if bundle.signatures.iter().any(|s| key.verify(&msg, s)) {
        return Ok(false);
    }
    if allow_legacy {
        let digest = Sha256::digest(pae_legacy(&bundle.payload));
        if bundle.signatures.iter().any(|s| key.verify_prehash(&digest, s)) {
            return Ok(true);
        }
    }
    Err(OmsError::Signature(format!(
        "the DSSE signature does not verify with the signing certificate's {} key",
        key.curve_name()
    )))
}

fn check_payload_type(bundle: &Bundle) -> Result<(), OmsError> {
    if bundle.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(OmsError::PayloadType {
            expected: IN_TOTO_PAYLOAD_TYPE.into(),
            found: bundle.payload_type.clone(),
        });
    }
    Ok(())
}

/// The bundle `model_signing` writes for the key and certificate methods.
pub(crate) fn write_bundle(material: Value, payload: &[u8], sig: &[u8]) -> Vec<u8> {
    let mut vm = material;
    vm["tlogEntries"] = json!([]);
    let b = json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": vm,
        "dsseEnvelope": {
            "payload": b64_encode(payload),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{ "sig": b64_encode(sig), "keyid": "" }],
        },
    });
    serde_json::to_vec(&b).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn python_repr_escapes_like_python() {
        assert_eq!(
            python_bytes_repr(b"{\n  \"a\": 'x'\\\x01\xff}"),
            r#"b'{\n  "a": \'x\'\\\x01\xff}'"#
        );
        assert_eq!(python_bytes_repr(b"it's"), r#"b"it's""#);
    }
}
