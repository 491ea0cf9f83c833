//! An OMS bundle (Sigstore bundle JSON) of arbitrary bytes, checked against a fixed key:
//! every input must be refused or accepted without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealrun_image::oms::{verify_bundle_manifest, Verifier, VerifyOptions};

const KEY: &[u8] = include_bytes!("../../../shared/fixtures/signing/oms-local/ec_p256.pub");

fuzz_target!(|data: &[u8]| {
    let verifier = Verifier::Key {
        public_key_pem: KEY.to_vec(),
    };
    let _ = verify_bundle_manifest(data, &verifier, &VerifyOptions::default());
    // The legacy path has its own PAE and predicate parser.
    let legacy = VerifyOptions {
        allow_legacy_v0_2: true,
        ..VerifyOptions::default()
    };
    let _ = verify_bundle_manifest(data, &verifier, &legacy);
});
