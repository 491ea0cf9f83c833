//! An SBOM of arbitrary bytes: parsed (CycloneDX, SPDX 2, SPDX 3) and its inventory used.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = sealrun_sbom::parse(data, "fuzz.json") {
        let _ = inv.to_json();
        let _ = inv.binds_to("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        for c in &inv.components {
            let _ = c.label();
            if let Some(p) = &c.purl {
                if let Some(purl) = sealrun_sbom::Purl::parse(p) {
                    let _ = sealrun_sbom::purl_ecosystem(&purl);
                }
            }
        }
    }
});
