//! The dev TEE: its reports round-trip through the verifier, and nothing else does.

use std::time::SystemTime;

use sealrun_attest::evidence::dev::{self, DevError, DevEvidence};
use sealrun_attest::evidence::{verify, Evidence, EvidenceError, Verified, VerifyOptions};
use sha2::{Digest, Sha384};

fn dev_verify(report: Vec<u8>, opts: &VerifyOptions) -> Result<Verified, DevError> {
    match verify(&Evidence::Dev(DevEvidence { report }), opts) {
        Ok(v) => Ok(v),
        Err(EvidenceError::Dev(e)) => Err(e),
        Err(other) => panic!("not a dev error: {other}"),
    }
}

fn opts() -> VerifyOptions {
    VerifyOptions::at(SystemTime::now())
}

fn report_data() -> [u8; 64] {
    let mut rd = [0u8; 64];
    for (i, b) in rd.iter_mut().enumerate() {
        *b = i as u8;
    }
    rd
}

#[test]
fn round_trip() {
    let report = dev::dev_report(&report_data());
    let v = dev_verify(report.clone(), &opts()).unwrap();
    assert_eq!(v.tee, "dev");
    assert_eq!(v.report_data, report_data().to_vec());
    assert!(v.snp.is_none() && v.tdx.is_none());
    let measurement = hex::encode(Sha384::digest(b"sealrun-dev-tee"));
    assert_eq!(v.claims["measurement"], measurement);
    assert_eq!(v.claims["debug"], false);
    assert_eq!(v.claims["insecure"], true);

    // The documented shape: exactly these fields, hex of the documented lengths.
    let j: serde_json::Value = serde_json::from_slice(&report).unwrap();
    let mut keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "debug",
            "measurement",
            "public_key",
            "report_data",
            "signature",
            "tee",
            "version"
        ]
    );
    assert_eq!(j["version"], 1);
    assert_eq!(j["tee"], "dev");
    assert_eq!(j["measurement"].as_str().unwrap().len(), 96);
    assert_eq!(j["report_data"].as_str().unwrap().len(), 128);
    assert_eq!(j["public_key"], hex::encode(dev::dev_public_key()));
    assert_eq!(j["signature"].as_str().unwrap().len(), 128);
}

#[test]
fn the_signature_is_over_the_canonical_json_without_signature() {
    // Re-serialising with other key order and whitespace does not change the signed bytes.
    let report = dev::dev_report(&report_data());
    let j: serde_json::Value = serde_json::from_slice(&report).unwrap();
    let pretty = serde_json::to_vec_pretty(&j).unwrap();
    assert_ne!(pretty, report);
    dev_verify(pretty, &opts()).unwrap();
}

#[test]
fn a_tampered_field_fails() {
    let report = dev::dev_report(&report_data());
    let j: serde_json::Value = serde_json::from_slice(&report).unwrap();
    let mut other_rd = report_data();
    other_rd[0] ^= 1;
    for (field, value) in [
        ("report_data", serde_json::json!(hex::encode(other_rd))),
        ("debug", serde_json::json!(true)),
        ("measurement", serde_json::json!(hex::encode([0u8; 48]))),
    ] {
        let mut t = j.clone();
        t[field] = value;
        let err = dev_verify(serde_json::to_vec(&t).unwrap(), &opts()).unwrap_err();
        assert!(matches!(err, DevError::Signature(_)), "{field}: {err}");
    }
    let mut t = j.clone();
    t["extra"] = serde_json::json!(1);
    assert!(matches!(
        dev_verify(serde_json::to_vec(&t).unwrap(), &opts()).unwrap_err(),
        DevError::Json(_)
    ));
    let mut t = j.clone();
    t["tee"] = serde_json::json!("snp");
    assert!(matches!(
        dev_verify(serde_json::to_vec(&t).unwrap(), &opts()).unwrap_err(),
        DevError::Field { field: "tee", .. }
    ));
    let mut t = j;
    t.as_object_mut().unwrap().remove("signature");
    assert!(matches!(
        dev_verify(serde_json::to_vec(&t).unwrap(), &opts()).unwrap_err(),
        DevError::Field { field: "signature", .. }
    ));
}

#[test]
fn a_foreign_key_fails_unless_in_extra_roots() {
    let seed = [7u8; 32];
    let report = dev::sign_report(&seed, &report_data());
    let err = dev_verify(report.clone(), &opts()).unwrap_err();
    assert!(matches!(err, DevError::UntrustedKey(_)), "{err}");

    let j: serde_json::Value = serde_json::from_slice(&report).unwrap();
    let foreign = hex::decode(j["public_key"].as_str().unwrap()).unwrap();
    assert_ne!(foreign, dev::dev_public_key());
    let trusting = VerifyOptions {
        extra_roots: vec![foreign],
        ..opts()
    };
    let v = dev_verify(report.clone(), &trusting).unwrap();
    assert_eq!(v.claims["well_known_key"], false);

    // The foreign key's report relabelled with the dev key's public key: bad signature.
    let mut t = j;
    t["public_key"] = serde_json::json!(hex::encode(dev::dev_public_key()));
    let err = dev_verify(serde_json::to_vec(&t).unwrap(), &opts()).unwrap_err();
    assert!(matches!(err, DevError::Signature(_)), "{err}");
}
