//! A DCAP quote of arbitrary bytes: unverified claims, then verification with the
//! dcap-qvl sample collateral at the clock it is valid at.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use sealrun_attest::evidence::tdx::{unverified_claims, verify, TdxEvidence};
use sealrun_attest::evidence::VerifyOptions;

const COLLATERAL: &[u8] = include_bytes!("../../../shared/fixtures/attest/tdx/dcap-qvl/tdx_quote_collateral.json");
const NOW: u64 = 1_750_332_747;

fuzz_target!(|data: &[u8]| {
    let _ = unverified_claims(data);
    let e = TdxEvidence {
        quote: data.to_vec(),
        collateral: COLLATERAL.to_vec(),
    };
    let _ = verify(&e, &VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(NOW)));
});
