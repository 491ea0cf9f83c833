//! An OSV record of arbitrary bytes added to a database, then matched against purls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealrun_sbom::OsvDb;

const PURLS: &[&str] = &[
    "pkg:pypi/cryptography@50.0.2",
    "pkg:cargo/aws-lc-rs@1.19.0",
    "pkg:npm/left-pad@1.0.0",
    "pkg:golang/example.com/x@v1.2.3",
    "pkg:maven/org.example/x@1.0",
    "pkg:deb/debian/openssl@3.0.0-1",
];

fuzz_target!(|data: &[u8]| {
    let mut db = OsvDb::default();
    if db.add(data, "fuzz.json").is_ok() {
        for p in PURLS {
            let _ = db.affecting(p);
        }
        // A purl taken from the record's own text, so affected packages can match.
        if let Ok(s) = std::str::from_utf8(data) {
            if let Some(i) = s.find("pkg:") {
                let end = s[i..].find('"').map_or(s.len(), |e| i + e);
                let _ = db.affecting(&s[i..end]);
            }
        }
    }
});
