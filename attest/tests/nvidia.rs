//! NVIDIA Hopper GPU evidence (SPDM 1.1 GET_MEASUREMENTS) against the real reports and
//! certificate chains in `../shared/fixtures/attest/nvidia` (see the fixtures README).

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use sealrun_attest::evidence::nvidia::{self, NvidiaError, NvidiaEvidence};
use sealrun_attest::evidence::{self, Evidence, VerifyOptions};

const NONCE1: &str = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";
/// The coco sample's nonce is 48 bytes; the SPDM nonce is its first 32.
const NONCE_COCO: &str =
    "87d8e24ab336adafe228d49e83d745f6dba4ae505372b6a5704820856b343fece279b616efefc2aae21da80cf5581250";
/// 2026-12-01T00:00:00Z. The NVIDIA chains are valid until 9999; the test PKI used for
/// "another root" from 2026-11-22.
const NOW: u64 = 1796083200;

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

fn text(rel: &str) -> String {
    let p = fixtures().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

fn nv(name: &str) -> String {
    text(&format!("attest/nvidia/{name}"))
}

fn evidence(report: &str, certs: &str) -> NvidiaEvidence {
    NvidiaEvidence::from_text(&nv(report), &nv(certs)).unwrap()
}

fn opts(nonce_hex: &str) -> VerifyOptions {
    let mut o = VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(NOW));
    o.nonce = Some(hex::decode(&nonce_hex[..64]).unwrap());
    o
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use x509_cert::der::{DecodePem, Encode};
    x509_cert::Certificate::from_pem(pem.as_bytes())
        .unwrap()
        .to_der()
        .unwrap()
}

#[test]
fn hopper_report_verifies_and_matches_the_expected_claims() {
    let e = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt");
    let v = nvidia::verify(&e, &opts(NONCE1)).unwrap();
    assert_eq!(v.tee, "nvidia");
    assert_eq!(hex::encode(&v.report_data), NONCE1);
    assert!(v.snp.is_none() && v.tdx.is_none());
    assert_eq!(v.claims["nonce"], NONCE1);

    let expected: serde_json::Value = serde_json::from_str(&nv("hopperAttestationReport-claims.txt")).unwrap();
    assert_eq!(
        v.claims["measurements"], expected["measurements"],
        "measurements by index"
    );
    assert_eq!(v.claims["measurement_blocks"], 64);
    assert_eq!(expected["measurements"].as_object().unwrap().len(), 64);

    // The opaque data the verifier decodes agrees with NVIDIA's own claims.
    let config = expected["config"].as_object().unwrap();
    for key in [
        "driver_version",
        "vbios_version",
        "fwid",
        "board_id",
        "chip_sku",
        "chip_sku_mod",
        "project",
        "project_sku",
        "cpr_info",
        "gpu_info",
    ] {
        assert_eq!(v.claims["opaque"][key], config[key], "opaque {key}");
    }

    let subject = v.claims["device_cert"]["subject"].as_str().unwrap();
    assert!(subject.contains("CN=GH100 A01 GSP FMC LF"), "{subject}");
    assert_eq!(v.claims["device_cert"]["serial"].as_str().unwrap().len() % 2, 0);
    assert_eq!(v.claims["chain_length"], 5);

    // Through the dispatcher too.
    let v2 = evidence::verify(&Evidence::Nvidia(e), &opts(NONCE1)).unwrap();
    assert_eq!(v2.claims, v.claims);
}

#[test]
fn coco_report_verifies_with_the_first_32_bytes_of_its_nonce() {
    let e = evidence("hopper_coco_report1.txt", "hopper_coco_certs1.txt");
    let v = nvidia::verify(&e, &opts(NONCE_COCO)).unwrap();
    assert_eq!(hex::encode(&v.report_data), &NONCE_COCO[..64]);
    assert_eq!(v.claims["measurement_blocks"], 64);
    assert_eq!(v.claims["measurements"].as_object().unwrap().len(), 64);
    let subject = v.claims["device_cert"]["subject"].as_str().unwrap();
    assert!(
        subject.contains("7BC23E44C689A774F1C5EC86E2C7B2544FFA8989"),
        "{subject}"
    );
    // The report carries one unsigned byte after the signature.
    assert_eq!(nvidia::parse_report(&e.report).unwrap().trailing, 1);
}

#[test]
fn the_nonce_is_required_and_must_match() {
    let e = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt");
    let mut o = opts(NONCE1);
    o.nonce = None;
    assert!(matches!(nvidia::verify(&e, &o), Err(NvidiaError::NonceRequired)));

    o.nonce = Some(vec![0; 16]);
    assert!(matches!(
        nvidia::verify(&e, &o),
        Err(NvidiaError::NonceLength {
            expected: 32,
            found: 16
        })
    ));

    let mut wrong = hex::decode(NONCE1).unwrap();
    wrong[31] ^= 1;
    o.nonce = Some(wrong);
    match nvidia::verify(&e, &o) {
        Err(NvidiaError::NonceMismatch { expected, found }) => {
            assert_eq!(found, NONCE1);
            assert_ne!(expected, NONCE1);
        }
        other => panic!("expected NonceMismatch, got {other:?}"),
    }

    // The other sample's nonce does not fit this report.
    assert!(matches!(
        nvidia::verify(&e, &opts(NONCE_COCO)),
        Err(NvidiaError::NonceMismatch { .. })
    ));
}

#[test]
fn a_flipped_response_byte_breaks_the_signature() {
    let good = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt");
    let parsed = nvidia::parse_report(&good.report).unwrap();
    // 37: the request; 37 + 8: the first measurement block; the responder nonce; the last
    // signed byte (opaque data); a byte of the signature itself.
    let responder_nonce_at = parsed.signed_len - parsed.response.opaque_data.len() - 2 - 32;
    for offset in [
        37 + 8 + 10,
        37 + 2000,
        responder_nonce_at,
        parsed.signed_len - 1,
        parsed.signed_len + 5,
    ] {
        let mut e = good.clone();
        e.report[offset] ^= 0x01;
        match nvidia::verify(&e, &opts(NONCE1)) {
            Err(NvidiaError::BadSignature { .. }) => {}
            other => panic!("offset {offset}: expected BadSignature, got {other:?}"),
        }
    }
    // A flipped byte in the request nonce is caught as a nonce mismatch first.
    let mut e = good.clone();
    e.report[4] ^= 0x01;
    assert!(matches!(
        nvidia::verify(&e, &opts(NONCE1)),
        Err(NvidiaError::NonceMismatch { .. })
    ));
    // A truncated report is malformed.
    let mut e = good;
    e.report.truncate(parsed.signed_len + 10);
    assert!(matches!(
        nvidia::verify(&e, &opts(NONCE1)),
        Err(NvidiaError::Malformed {
            field: "response Signature",
            ..
        })
    ));
}

#[test]
fn chain_case2_is_only_the_root() {
    let e = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case2.txt");
    assert!(matches!(
        nvidia::verify(&e, &opts(NONCE1)),
        Err(NvidiaError::ChainTooShort { found: 1 })
    ));
}

#[test]
fn chain_case3_misses_an_intermediate() {
    // leaf → BROM → (Provisioner ICA 1 missing) → GH100 Identity → root
    let e = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case3.txt");
    match nvidia::verify(&e, &opts(NONCE1)) {
        Err(NvidiaError::ChainBroken {
            index: 1,
            next: 2,
            subject,
            reason,
        }) => {
            assert!(subject.contains("GH100 A01 GSP BROM"), "{subject}");
            assert!(reason.contains("Provisioner ICA 1"), "{reason}");
        }
        other => panic!("expected ChainBroken at 1, got {other:?}"),
    }
}

#[test]
fn chain_case4_misses_the_signing_leaf() {
    // BROM → ICA 1 → Identity → root is a valid chain, but its first certificate is not the
    // device's report-signing certificate (no FWID).
    let e = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case4.txt");
    match nvidia::verify(&e, &opts(NONCE1)) {
        Err(NvidiaError::LeafWithoutFwid { subject }) => assert!(subject.contains("GSP BROM"), "{subject}"),
        other => panic!("expected LeafWithoutFwid, got {other:?}"),
    }
}

#[test]
fn the_coco_chain_does_not_fit_the_other_report() {
    // Both chains are genuine, but the FWID in the coco leaf is not this report's.
    let e = evidence("hopperAttestationReport.txt", "hopper_coco_certs1.txt");
    match nvidia::verify(&e, &opts(NONCE1)) {
        Err(NvidiaError::FwidMismatch { certificate, report }) => assert_ne!(certificate, report),
        other => panic!("expected FwidMismatch, got {other:?}"),
    }
}

#[test]
fn a_chain_to_another_root_is_untrusted() {
    // A complete, correctly signed chain to a root that is not NVIDIA's (the test PKI of the
    // signing fixtures).
    let pki = "signing/oms-local/pki";
    let chain = format!(
        "{}{}{}",
        text(&format!("{pki}/leaf.pem")),
        text(&format!("{pki}/int.pem")),
        text(&format!("{pki}/root.pem"))
    );
    let e = NvidiaEvidence::from_text(&nv("hopperAttestationReport.txt"), &chain).unwrap();
    match nvidia::verify(&e, &opts(NONCE1)) {
        Err(NvidiaError::UntrustedRoot { subject }) => assert!(subject.contains("Test Model Root CA"), "{subject}"),
        other => panic!("expected UntrustedRoot, got {other:?}"),
    }

    // Trusting that root (extra_roots, for test PKIs) gets past the chain, and the evidence
    // still fails: the leaf is not a GPU signing certificate.
    let mut o = opts(NONCE1);
    o.extra_roots = vec![pem_to_der(&text(&format!("{pki}/root.pem")))];
    assert!(matches!(
        nvidia::verify(&e, &o),
        Err(NvidiaError::LeafWithoutFwid { .. })
    ));

    // The Hopper chain with its NVIDIA root swapped for the other root is broken at the top.
    let hopper = nv("hopper_cert_chain_case1.txt");
    let end = "-----END CERTIFICATE-----";
    let without_root: Vec<&str> = hopper
        .split_inclusive(end)
        .filter(|s| s.contains("BEGIN"))
        .take(4)
        .collect();
    let swapped = format!("{}\n{}", without_root.concat(), text(&format!("{pki}/root.pem")));
    let e = NvidiaEvidence::from_text(&nv("hopperAttestationReport.txt"), &swapped).unwrap();
    assert!(matches!(
        nvidia::verify(&e, &opts(NONCE1)),
        Err(NvidiaError::ChainBroken { index: 3, .. })
    ));

    // Without its root at all, the chain still ends at a certificate the pinned root issued.
    let e = NvidiaEvidence::from_text(&nv("hopperAttestationReport.txt"), &without_root.concat()).unwrap();
    assert!(nvidia::verify(&e, &opts(NONCE1)).is_ok());
}

#[test]
fn validity_is_checked_at_the_given_clock() {
    // GH100 Provisioner ICA 1 is valid from 2022-03-01.
    let e = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt");
    let mut o = opts(NONCE1);
    o.now = UNIX_EPOCH + Duration::from_secs(1_640_995_200); // 2022-01-01
    match nvidia::verify(&e, &o) {
        Err(NvidiaError::CertificateNotValid { subject, .. }) => assert!(subject.contains("GH100"), "{subject}"),
        other => panic!("expected CertificateNotValid, got {other:?}"),
    }
}

#[test]
fn parse_reads_the_spdm_layout() {
    let report = nvidia::decode_hex(&nv("hopperAttestationReport.txt")).unwrap();
    let p = nvidia::parse_report(&report).unwrap();
    assert_eq!(hex::encode(p.request.nonce), NONCE1);
    assert_eq!(p.request.param2, 0xff, "all measurements requested");
    assert_eq!(p.response.blocks.len(), 64);
    assert_eq!(p.response.signature.len(), 96);
    assert_eq!(p.signed_len + 96, report.len());
    assert_eq!(p.trailing, 0);
    let indices: Vec<u8> = p.response.blocks.iter().map(|b| b.index).collect();
    assert_eq!(indices, (1..=64).collect::<Vec<u8>>());
    assert!(p.response.blocks.iter().all(|b| b.value.len() == 48), "SHA-384 digests");

    assert!(matches!(nvidia::decode_hex("zz"), Err(NvidiaError::Hex { .. })));
    let mut bad = report.clone();
    bad[0] = 0x10;
    assert!(matches!(
        nvidia::parse_report(&bad),
        Err(NvidiaError::Malformed { offset: 0, .. })
    ));
}
