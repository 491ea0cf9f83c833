//! Attestation tokens: EAR-style JWTs signed with the broker's Ed25519 key (`alg: EdDSA`).
//!
//! The key is generated when the broker starts and never leaves its memory; a restart
//! invalidates every token, which is what a 5-minute token wants anyway.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The EAR profile the token follows in shape.
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";
/// The token's issuer.
pub const ISSUER: &str = "sealrun-broker";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token: expected three base64url parts `header.claims.signature`, found {0}")]
    Malformed(String),
    #[error("token header: expected alg `EdDSA`, found `{0}`")]
    WrongAlg(String),
    #[error("token header: expected kid `{expected}` (this broker's key), found `{found}`")]
    WrongKey { expected: String, found: String },
    #[error("token signature does not verify with the broker's key")]
    BadSignature,
    #[error("token expired: exp {exp} <= now {now} (unix seconds)")]
    Expired { exp: u64, now: u64 },
    #[error("token not yet valid: iat {iat} > now {now} (unix seconds)")]
    NotYetValid { iat: u64, now: u64 },
    #[error("token claims: expected integer `{0}`")]
    MissingTime(&'static str),
    #[error("could not generate the broker's token key: {0}")]
    KeyGen(String),
    #[error("token key JWK: expected an OKP Ed25519 key with `x` (32 bytes base64url), found {0}")]
    BadJwk(String),
}

/// The broker's signing key. No `Debug`: nothing about the key is printed.
pub struct TokenSigner {
    key: Ed25519KeyPair,
    kid: String,
}

impl TokenSigner {
    /// A fresh key from the system RNG.
    pub fn generate() -> Result<TokenSigner, TokenError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| TokenError::KeyGen(e.to_string()))?;
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| TokenError::KeyGen(e.to_string()))?;
        let kid = key_id(key.public_key().as_ref());
        Ok(TokenSigner { key, kid })
    }

    /// The key id: the first 16 hex digits of SHA-256 of the raw public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 8037).
    pub fn public_jwk(&self) -> Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": B64URL.encode(self.key.public_key().as_ref()),
        })
    }

    /// A compact JWS over `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string().as_bytes()),
            B64URL.encode(claims.to_string().as_bytes())
        );
        let sig = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64URL.encode(sig.as_ref()))
    }

    /// Checks the signature, `kid`, `iat` and `exp` at `now` (unix seconds); returns the claims.
    pub fn verify(&self, token: &str, now: u64) -> Result<Value, TokenError> {
        verify_raw(self.key.public_key().as_ref(), &self.kid, token, now)
    }
}

/// Verifies a token against a broker's published JWK (`GET /kbs/v0/token-key`).
pub fn verify_with_jwk(jwk: &Value, token: &str, now: u64) -> Result<Value, TokenError> {
    let ok = jwk.get("kty").and_then(Value::as_str) == Some("OKP")
        && jwk.get("crv").and_then(Value::as_str) == Some("Ed25519");
    let x = jwk
        .get("x")
        .and_then(Value::as_str)
        .and_then(|x| B64URL.decode(x).ok())
        .filter(|x| x.len() == 32);
    match (ok, x) {
        (true, Some(x)) => {
            let kid = key_id(&x);
            verify_raw(&x, &kid, token, now)
        }
        _ => Err(TokenError::BadJwk(crate::broker::protocol::short_json(jwk))),
    }
}

fn key_id(public: &[u8]) -> String {
    crate::broker::protocol::hex_lower(&Sha256::digest(public)[..8])
}

fn verify_raw(public: &[u8], kid: &str, token: &str, now: u64) -> Result<Value, TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(TokenError::Malformed(format!("{} parts", parts.len())));
    }
    let decode = |what: &str, s: &str| -> Result<Vec<u8>, TokenError> {
        B64URL
            .decode(s)
            .map_err(|e| TokenError::Malformed(format!("{what}: {e}")))
    };
    let header: Value = serde_json::from_slice(&decode("header", parts[0])?)
        .map_err(|e| TokenError::Malformed(format!("header JSON: {e}")))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "EdDSA" {
        return Err(TokenError::WrongAlg(alg.to_string()));
    }
    let found_kid = header.get("kid").and_then(Value::as_str).unwrap_or("");
    if found_kid != kid {
        return Err(TokenError::WrongKey {
            expected: kid.to_string(),
            found: found_kid.to_string(),
        });
    }
    let sig = decode("signature", parts[2])?;
    let signing_input = &token[..parts[0].len() + 1 + parts[1].len()];
    signature::UnparsedPublicKey::new(&signature::ED25519, public)
        .verify(signing_input.as_bytes(), &sig)
        .map_err(|_| TokenError::BadSignature)?;
    let claims: Value = serde_json::from_slice(&decode("claims", parts[1])?)
        .map_err(|e| TokenError::Malformed(format!("claims JSON: {e}")))?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(TokenError::MissingTime("exp"))?;
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(TokenError::MissingTime("iat"))?;
    if now >= exp {
        return Err(TokenError::Expired { exp, now });
    }
    // A minute of slack for clocks that are not quite in step with the broker's.
    if iat > now + 60 {
        return Err(TokenError::NotYetValid { iat, now });
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_expire_tamper() {
        let s = TokenSigner::generate().unwrap();
        let claims = serde_json::json!({"iat": 1000, "exp": 1300, "tee": "dev"});
        let t = s.sign(&claims);
        assert_eq!(s.verify(&t, 1000).unwrap(), claims);
        assert_eq!(verify_with_jwk(&s.public_jwk(), &t, 1299).unwrap(), claims);
        assert!(matches!(s.verify(&t, 1300), Err(TokenError::Expired { .. })));
        // Another broker's key, and a changed claim, both fail.
        let other = TokenSigner::generate().unwrap();
        assert!(matches!(other.verify(&t, 1000), Err(TokenError::WrongKey { .. })));
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64URL.encode(br#"{"iat":1000,"exp":9999,"tee":"dev"}"#),
            parts[2]
        );
        assert!(matches!(s.verify(&forged, 1000), Err(TokenError::BadSignature)));
    }
}
