//! A compact JWE of arbitrary text decrypted with a key fixed for the process (the API only
//! generates keys), and arbitrary JSON read as a public JWK.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sealrun_attest::jwe::{decrypt, EphemeralKey, PublicJwk};

fn key() -> &'static EphemeralKey {
    static KEY: OnceLock<EphemeralKey> = OnceLock::new();
    KEY.get_or_init(EphemeralKey::generate)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decrypt(key(), text.trim());
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(jwk) = PublicJwk::from_json(&v) {
            // A key accepted must round-trip.
            let again = PublicJwk::from_json(&jwk.to_json()).expect("to_json output is accepted");
            assert_eq!(again, jwk);
        }
    }
});
