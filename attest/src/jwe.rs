//! JWE ECDH-ES+A256KW / A256GCM to an attested ephemeral P-256 key.
//!
//! The broker releases a secret only inside a compact JWE (RFC 7516) addressed to the P-256
//! key whose hash the TEE put into its evidence. Exactly one algorithm pair is supported —
//! `alg: ECDH-ES+A256KW`, `enc: A256GCM` — and `decrypt` refuses every other header value
//! rather than negotiating: a downgrade to `ECDH-ES` (no key wrap), `dir`, `RSA1_5`, a weaker
//! wrap such as `A128KW`, compression (`zip`) or unknown critical extensions (`crit`) is an
//! error naming the field, what was expected and what was found.
//!
//! Construction (RFC 7518 §4.6): an ephemeral P-256 key agrees a secret Z with the recipient;
//! the Concat KDF (§4.6.2, SHA-256, AlgorithmID = "ECDH-ES+A256KW", apu/apv from the header,
//! 256 bits) turns Z into a key-wrapping key; a random 256-bit CEK is wrapped with AES key wrap
//! (RFC 3394) and encrypts the plaintext with AES-256-GCM, the protected header (as its
//! base64url text) being the additional authenticated data.

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aes_kw::KekAes256;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use elliptic_curve::ecdh::{diffie_hellman, EphemeralSecret};
use elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::{EncodedPoint, NistP256, PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// The only key-management algorithm produced and accepted.
pub const ALG: &str = "ECDH-ES+A256KW";
/// The only content-encryption algorithm produced and accepted.
pub const ENC: &str = "A256GCM";

const CEK_LEN: usize = 32;
const WRAPPED_CEK_LEN: usize = CEK_LEN + 8;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const COORD_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum JweError {
    #[error("JWE: expected compact serialization (5 base64url parts separated by '.'), found {found} part(s)")]
    Format { found: usize },
    #[error("JWE {part}: invalid base64url (unpadded, RFC 7515 §2): {detail}")]
    Base64 { part: String, detail: String },
    #[error("JWE protected header: expected a JSON object, found {found}")]
    Header { found: String },
    /// A header or JWK member has a value this implementation refuses.
    #[error("JWE field \"{field}\": expected {expected}, found {found}")]
    Field {
        field: String,
        expected: String,
        found: String,
    },
    #[error("JWE {part}: expected {expected} bytes, found {found}")]
    Length {
        part: String,
        expected: String,
        found: usize,
    },
    #[error("JWE encrypted_key: AES key unwrap failed integrity check (wrong recipient key, or tampered header/epk/encrypted_key)")]
    Unwrap,
    #[error("JWE: AES-256-GCM authentication failed (tampered protected header, iv, ciphertext or tag)")]
    Decrypt,
    #[error("JWE: {what} failed: {detail}")]
    Crypto { what: &'static str, detail: String },
}

/// The recipient's ephemeral P-256 key pair. The secret scalar is wiped on drop (p256's
/// `SecretKey` zeroizes itself); deliberately no `Debug`, `Clone` or serialization.
pub struct EphemeralKey {
    secret: SecretKey,
}

impl EphemeralKey {
    pub fn generate() -> EphemeralKey {
        EphemeralKey {
            secret: SecretKey::random(&mut OsRng),
        }
    }

    /// `{"kty":"EC","crv":"P-256","x":..,"y":..}`, coordinates base64url without padding.
    pub fn public_jwk(&self) -> Value {
        jwk_of(&self.secret.public_key())
    }

    /// The public half as a validated key (for encrypting to oneself, or hashing).
    pub fn public_key(&self) -> PublicJwk {
        PublicJwk(self.secret.public_key())
    }
}

/// A validated P-256 public key (on the curve, not the identity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicJwk(PublicKey);

impl PublicJwk {
    /// Accepts `{"kty":"EC","crv":"P-256","x":..,"y":..}` (other members such as `kid`, `use`
    /// are ignored); refuses other key types and curves, coordinates that are not 32 bytes,
    /// points not on P-256, and a JWK carrying a private `d`.
    pub fn from_json(v: &Value) -> Result<PublicJwk, JweError> {
        parse_public_jwk(v, "")
    }

    /// The same JWK form as [`EphemeralKey::public_jwk`].
    pub fn to_json(&self) -> Value {
        jwk_of(&self.0)
    }
}

fn jwk_of(pk: &PublicKey) -> Value {
    let point = pk.to_encoded_point(false);
    // An uncompressed non-identity point always has both coordinates.
    let x = point.x().expect("uncompressed point has x");
    let y = point.y().expect("uncompressed point has y");
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
    })
}

fn found_of(v: Option<&Value>) -> String {
    match v {
        None => "absent".to_string(),
        Some(v) => v.to_string(),
    }
}

fn field_err(field: String, expected: &str, found: Option<&Value>) -> JweError {
    JweError::Field {
        field,
        expected: expected.to_string(),
        found: found_of(found),
    }
}

/// `prefix` is "" for a bare JWK and "epk." inside a header, so errors name the exact field.
fn parse_public_jwk(v: &Value, prefix: &str) -> Result<PublicJwk, JweError> {
    let name = |f: &str| format!("{prefix}{f}");
    let obj = v.as_object().ok_or_else(|| JweError::Field {
        field: if prefix.is_empty() {
            "jwk".to_string()
        } else {
            prefix.trim_end_matches('.').to_string()
        },
        expected: "a JSON object (JWK)".to_string(),
        found: v.to_string(),
    })?;
    if obj.get("kty").and_then(Value::as_str) != Some("EC") {
        return Err(field_err(name("kty"), "\"EC\"", obj.get("kty")));
    }
    if obj.get("crv").and_then(Value::as_str) != Some("P-256") {
        return Err(field_err(name("crv"), "\"P-256\"", obj.get("crv")));
    }
    if obj.contains_key("d") {
        return Err(JweError::Field {
            field: name("d"),
            expected: "absent (a public key)".to_string(),
            found: "a private key member".to_string(),
        });
    }
    let coord = |f: &str| -> Result<[u8; COORD_LEN], JweError> {
        let s = obj
            .get(f)
            .and_then(Value::as_str)
            .ok_or_else(|| field_err(name(f), "a base64url string", obj.get(f)))?;
        let bytes = b64d(&name(f), s)?;
        <[u8; COORD_LEN]>::try_from(bytes.as_slice()).map_err(|_| JweError::Length {
            part: name(f),
            expected: COORD_LEN.to_string(),
            found: bytes.len(),
        })
    };
    let x = coord("x")?;
    let y = coord("y")?;
    let point = EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
    let pk: Option<PublicKey> = PublicKey::from_encoded_point(&point).into();
    let pk = pk.ok_or_else(|| JweError::Field {
        field: name("x/y"),
        expected: "a point on P-256".to_string(),
        found: "coordinates not on the curve".to_string(),
    })?;
    Ok(PublicJwk(pk))
}

fn b64d(part: &str, s: &str) -> Result<Vec<u8>, JweError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|e| JweError::Base64 {
        part: part.to_string(),
        detail: e.to_string(),
    })
}

fn random_bytes(buf: &mut [u8]) -> Result<(), JweError> {
    OsRng.try_fill_bytes(buf).map_err(|e| JweError::Crypto {
        what: "random generation",
        detail: e.to_string(),
    })
}

/// Concat KDF of NIST SP 800-56A as profiled by RFC 7518 §4.6.2, with SHA-256:
/// `round_i = SHA-256(i as u32 BE || Z || OtherInfo)`, where OtherInfo =
/// `len(AlgorithmID) || AlgorithmID || len(apu) || apu || len(apv) || apv || keydatalen`
/// (lengths are 32-bit big-endian, keydatalen in bits). `algorithm_id` is the `alg` value for
/// key-wrapping modes (our case) or the `enc` value for direct `ECDH-ES`.
pub fn concat_kdf(z: &[u8], algorithm_id: &str, apu: &[u8], apv: &[u8], keydatalen_bits: u32) -> Zeroizing<Vec<u8>> {
    assert!(
        keydatalen_bits > 0 && keydatalen_bits % 8 == 0,
        "Concat KDF key length must be a positive multiple of 8 bits, got {keydatalen_bits}"
    );
    let len_prefixed = |h: &mut Sha256, data: &[u8]| {
        h.update((data.len() as u32).to_be_bytes());
        h.update(data);
    };
    let out_len = (keydatalen_bits / 8) as usize;
    let mut out = Zeroizing::new(Vec::with_capacity(out_len + 32));
    let mut counter: u32 = 1;
    while out.len() < out_len {
        let mut h = Sha256::new();
        h.update(counter.to_be_bytes());
        h.update(z);
        len_prefixed(&mut h, algorithm_id.as_bytes());
        len_prefixed(&mut h, apu);
        len_prefixed(&mut h, apv);
        h.update(keydatalen_bits.to_be_bytes());
        let mut round = h.finalize();
        out.extend_from_slice(&round);
        round.as_mut_slice().zeroize();
        counter += 1;
    }
    out.truncate(out_len);
    out
}

fn wrapping_kek(z: &[u8], apu: &[u8], apv: &[u8]) -> KekAes256 {
    let derived = concat_kdf(z, ALG, apu, apv, 256);
    // Built from a reference so no unwiped copy of the derived key is left on the stack.
    KekAes256::new(GenericArray::from_slice(&derived))
}

/// Encrypts `plaintext` to `to` as a compact JWE with `alg: ECDH-ES+A256KW`,
/// `enc: A256GCM`, a fresh ephemeral key in `epk`, and no apu/apv.
pub fn encrypt(to: &PublicJwk, plaintext: &[u8]) -> Result<String, JweError> {
    let eph = EphemeralSecret::<NistP256>::random(&mut OsRng);
    let header = json!({
        "alg": ALG,
        "enc": ENC,
        "epk": jwk_of(&eph.public_key()),
    });
    let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());

    let shared = eph.diffie_hellman(&to.0);
    let kek = wrapping_kek(shared.raw_secret_bytes(), b"", b"");

    let mut cek = Zeroizing::new([0u8; CEK_LEN]);
    random_bytes(cek.as_mut_slice())?;
    let mut wrapped = [0u8; WRAPPED_CEK_LEN];
    kek.wrap(cek.as_slice(), &mut wrapped).map_err(|e| JweError::Crypto {
        what: "AES key wrap",
        detail: e.to_string(),
    })?;

    let mut iv = [0u8; IV_LEN];
    random_bytes(&mut iv)?;
    let cipher = Aes256Gcm::new_from_slice(cek.as_slice()).map_err(|e| JweError::Crypto {
        what: "AES-256-GCM key setup",
        detail: e.to_string(),
    })?;
    let mut sealed = cipher
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: plaintext,
                aad: header_b64.as_bytes(),
            },
        )
        .map_err(|e| JweError::Crypto {
            what: "AES-256-GCM encryption",
            detail: e.to_string(),
        })?;
    let tag = sealed.split_off(sealed.len() - TAG_LEN);

    Ok(format!(
        "{}.{}.{}.{}.{}",
        header_b64,
        URL_SAFE_NO_PAD.encode(wrapped),
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(&sealed),
        URL_SAFE_NO_PAD.encode(&tag),
    ))
}

fn exact_len(part: &str, bytes: &[u8], n: usize) -> Result<(), JweError> {
    if bytes.len() != n {
        return Err(JweError::Length {
            part: part.to_string(),
            expected: n.to_string(),
            found: bytes.len(),
        });
    }
    Ok(())
}

/// Decrypts a compact JWE addressed to `key`. Only `alg: ECDH-ES+A256KW` with
/// `enc: A256GCM` is accepted; `zip` and `crit` must be absent; `epk` must be a P-256 point.
pub fn decrypt(key: &EphemeralKey, compact: &str) -> Result<Zeroizing<Vec<u8>>, JweError> {
    let parts: Vec<&str> = compact.split('.').collect();
    if parts.len() != 5 {
        return Err(JweError::Format { found: parts.len() });
    }
    let header_b64 = parts[0];
    let header_bytes = b64d("protected header", header_b64)?;
    let header: Value = serde_json::from_slice(&header_bytes).map_err(|e| JweError::Header {
        found: format!("invalid JSON ({e})"),
    })?;
    let h = header.as_object().ok_or_else(|| JweError::Header {
        found: header.to_string(),
    })?;

    // Checked before any key agreement so a downgrade never reaches the crypto.
    if h.get("alg").and_then(Value::as_str) != Some(ALG) {
        return Err(field_err("alg".into(), &format!("\"{ALG}\""), h.get("alg")));
    }
    if h.get("enc").and_then(Value::as_str) != Some(ENC) {
        return Err(field_err("enc".into(), &format!("\"{ENC}\""), h.get("enc")));
    }
    if h.contains_key("zip") {
        return Err(field_err(
            "zip".into(),
            "absent (compression is not supported)",
            h.get("zip"),
        ));
    }
    if h.contains_key("crit") {
        return Err(field_err(
            "crit".into(),
            "absent (no extensions are understood)",
            h.get("crit"),
        ));
    }
    let epk = match h.get("epk") {
        Some(v) => parse_public_jwk(v, "epk.")?,
        None => return Err(field_err("epk".into(), "a P-256 public JWK", None)),
    };
    let party_info = |f: &str| -> Result<Vec<u8>, JweError> {
        match h.get(f) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => b64d(f, s),
            Some(other) => Err(field_err(f.into(), "a base64url string", Some(other))),
        }
    };
    let apu = party_info("apu")?;
    let apv = party_info("apv")?;

    let wrapped = b64d("encrypted_key", parts[1])?;
    exact_len("encrypted_key", &wrapped, WRAPPED_CEK_LEN)?;
    let iv = b64d("iv", parts[2])?;
    exact_len("iv", &iv, IV_LEN)?;
    let mut sealed = b64d("ciphertext", parts[3])?;
    let tag = b64d("tag", parts[4])?;
    exact_len("tag", &tag, TAG_LEN)?;

    let shared = diffie_hellman(key.secret.to_nonzero_scalar(), epk.0.as_affine());
    let kek = wrapping_kek(shared.raw_secret_bytes(), &apu, &apv);
    let mut cek = Zeroizing::new([0u8; CEK_LEN]);
    kek.unwrap(&wrapped, cek.as_mut_slice()).map_err(|_| JweError::Unwrap)?;

    let cipher = Aes256Gcm::new_from_slice(cek.as_slice()).map_err(|e| JweError::Crypto {
        what: "AES-256-GCM key setup",
        detail: e.to_string(),
    })?;
    sealed.extend_from_slice(&tag);
    let plaintext = cipher
        .decrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: &sealed,
                aad: header_b64.as_bytes(),
            },
        )
        .map_err(|_| JweError::Decrypt)?;
    Ok(Zeroizing::new(plaintext))
}
