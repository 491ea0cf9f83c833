//! An SEV-SNP report of arbitrary bytes, without a VCEK: parsing and field checks.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use sealrun_attest::evidence::snp::{verify, SnpEvidence};
use sealrun_attest::evidence::VerifyOptions;

fuzz_target!(|data: &[u8]| {
    let e = SnpEvidence {
        report: data.to_vec(),
        vcek: None,
        chain: None,
    };
    let opts = VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(1_750_000_000));
    let _ = verify(&e, &opts);
});
