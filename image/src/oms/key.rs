//! ECDSA keys on the curves `model_signing` supports (P-256, P-384, P-521), each with its
//! curve's hash (SHA-256, SHA-384, SHA-512) and DER signatures.

use ecdsa::signature::hazmat::PrehashVerifier;
use ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::Decode;
use x509_cert::spki::SubjectPublicKeyInfoRef;

use super::OmsError;

pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

#[derive(Clone)]
pub(crate) enum EcPublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

fn kerr(s: impl Into<String>) -> OmsError {
    OmsError::Key(s.into())
}

impl std::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EcPublicKey({}, sha256 {})",
            self.curve_name(),
            self.pem_sha256_hex()
        )
    }
}

impl EcPublicKey {
    pub fn from_pem(pem: &[u8]) -> Result<Self, OmsError> {
        let (label, der) = x509_cert::der::pem::decode_vec(pem).map_err(|e| kerr(format!("public key PEM: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(kerr(format!(
                "public key PEM: expected label \"PUBLIC KEY\" found {label:?}"
            )));
        }
        let spki = SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| kerr(format!("public key: {e}")))?;
        Self::from_spki(&spki)
    }

    pub fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<Self, OmsError> {
        if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
            return Err(kerr(format!(
                "expected an EC public key (1.2.840.10045.2.1), found algorithm {}",
                spki.algorithm.oid
            )));
        }
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or_else(|| kerr("EC public key without a named curve"))?
            .decode_as()
            .map_err(|e| kerr(format!("EC public key curve: {e}")))?;
        let point = spki.subject_public_key.raw_bytes();
        let bad = |e: ecdsa::Error| kerr(format!("EC public key point: {e}"));
        Ok(match curve {
            SECP256R1 => EcPublicKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?),
            SECP384R1 => EcPublicKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?),
            SECP521R1 => EcPublicKey::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?),
            other => {
                return Err(kerr(format!(
                    "unsupported curve {other} (expected P-256, P-384 or P-521)"
                )))
            }
        })
    }

    pub fn curve_name(&self) -> &'static str {
        match self {
            EcPublicKey::P256(_) => "P-256",
            EcPublicKey::P384(_) => "P-384",
            EcPublicKey::P521(_) => "P-521",
        }
    }

    /// SubjectPublicKeyInfo PEM as Python's `cryptography` writes it (uncompressed point,
    /// 64-column base64, LF): `model_signing`'s key hint is its SHA-256.
    pub fn to_pem(&self) -> String {
        let r = match self {
            EcPublicKey::P256(k) => p256::PublicKey::from(k).to_public_key_pem(LineEnding::LF),
            EcPublicKey::P384(k) => p384::PublicKey::from(k).to_public_key_pem(LineEnding::LF),
            EcPublicKey::P521(k) => {
                let point = k.to_encoded_point(false);
                p521::PublicKey::from_sec1_bytes(point.as_bytes())
                    .expect("a verifying key is a valid point")
                    .to_public_key_pem(LineEnding::LF)
            }
        };
        r.expect("an EC public key encodes")
    }

    pub fn pem_sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.to_pem().as_bytes()))
    }

    /// ECDSA with the curve's hash over `msg`; `sig` is DER.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            EcPublicKey::P256(k) => p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
            EcPublicKey::P384(k) => p384::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
            EcPublicKey::P521(k) => p521::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
        }
    }

    /// ECDSA over an already computed digest (certificates choose their own hash).
    pub fn verify_prehash(&self, prehash: &[u8], sig: &[u8]) -> bool {
        match self {
            EcPublicKey::P256(k) => {
                p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify_prehash(prehash, &s).is_ok())
            }
            EcPublicKey::P384(k) => {
                p384::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify_prehash(prehash, &s).is_ok())
            }
            EcPublicKey::P521(k) => {
                p521::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify_prehash(prehash, &s).is_ok())
            }
        }
    }
}

pub(crate) enum EcPrivateKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

impl EcPrivateKey {
    /// SEC1 (`EC PRIVATE KEY`) or unencrypted PKCS#8 (`PRIVATE KEY`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, OmsError> {
        let (label, der) = x509_cert::der::pem::decode_vec(pem).map_err(|e| kerr(format!("private key PEM: {e}")))?;
        // The DER holds the secret: wipe it when done.
        let der = zeroize::Zeroizing::new(der);
        let unsupported = || kerr("private key: not a P-256, P-384 or P-521 ECDSA key");
        match label {
            "EC PRIVATE KEY" => {
                if let Ok(k) = p256::SecretKey::from_sec1_der(&der) {
                    return Ok(EcPrivateKey::P256(k.into()));
                }
                if let Ok(k) = p384::SecretKey::from_sec1_der(&der) {
                    return Ok(EcPrivateKey::P384(k.into()));
                }
                if let Ok(k) = p521::SecretKey::from_sec1_der(&der) {
                    return Ok(EcPrivateKey::P521(p521_signing_key(&k)?));
                }
                Err(unsupported())
            }
            "PRIVATE KEY" => {
                if let Ok(k) = p256::SecretKey::from_pkcs8_der(&der) {
                    return Ok(EcPrivateKey::P256(k.into()));
                }
                if let Ok(k) = p384::SecretKey::from_pkcs8_der(&der) {
                    return Ok(EcPrivateKey::P384(k.into()));
                }
                if let Ok(k) = p521::SecretKey::from_pkcs8_der(&der) {
                    return Ok(EcPrivateKey::P521(p521_signing_key(&k)?));
                }
                Err(unsupported())
            }
            "ENCRYPTED PRIVATE KEY" => Err(kerr("private key: encrypted keys are not supported")),
            other => Err(kerr(format!(
                "private key PEM: expected \"EC PRIVATE KEY\" or \"PRIVATE KEY\", found {other:?}"
            ))),
        }
    }

    pub fn public_key(&self) -> EcPublicKey {
        match self {
            EcPrivateKey::P256(k) => EcPublicKey::P256(*k.verifying_key()),
            EcPrivateKey::P384(k) => EcPublicKey::P384(*k.verifying_key()),
            EcPrivateKey::P521(k) => EcPublicKey::P521(p521::ecdsa::VerifyingKey::from(k)),
        }
    }

    /// ECDSA with the curve's hash (RFC 6979 nonces on P-256/P-384); DER.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            EcPrivateKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            EcPrivateKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            EcPrivateKey::P521(k) => {
                // p521 0.13 signs with a random nonce (OsRng), not RFC 6979.
                let s: p521::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
        }
    }
}

fn p521_signing_key(k: &p521::SecretKey) -> Result<p521::ecdsa::SigningKey, OmsError> {
    p521::ecdsa::SigningKey::from_bytes(&k.to_bytes()).map_err(|e| kerr(format!("private key: {e}")))
}

/// A fresh P-256 signing key for `sign_model`: (PKCS#8 private key PEM, SubjectPublicKeyInfo
/// PEM). The private half is zeroized when dropped.
pub fn generate_p256() -> Result<(zeroize::Zeroizing<String>, String), OmsError> {
    use p256::pkcs8::EncodePrivateKey;
    let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let private = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| kerr(format!("encoding the new private key: {e}")))?;
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| kerr(format!("encoding the new public key: {e}")))?;
    Ok((zeroize::Zeroizing::new(private.to_string()), public))
}
