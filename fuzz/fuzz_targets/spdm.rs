//! NVIDIA SPDM GET_MEASUREMENTS request||response of arbitrary bytes, and the hex decoder
//! the evidence text goes through.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealrun_attest::evidence::nvidia::{decode_hex, parse_report};

fuzz_target!(|data: &[u8]| {
    let _ = parse_report(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bytes) = decode_hex(text) {
            let _ = parse_report(&bytes);
        }
    }
});
