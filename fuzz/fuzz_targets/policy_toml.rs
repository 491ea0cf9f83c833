//! A policy document of arbitrary text: loaded (TOML, schema, extends, rules), then its
//! canonical form computed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealrun_policy::Policy;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = Policy::from_str(text, "fuzz.toml") {
            let _ = p.canonical_json();
            let _ = sealrun_policy::lint(&p);
            let _ = sealrun_policy::explain(&p);
        }
    }
});
