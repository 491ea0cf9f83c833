//! Intel TDX / SGX quote verification against the real quotes and collateral in
//! `../shared/fixtures/attest/tdx` (see the fixtures README for the expected verdicts),
//! and appraisal of the verified claims with the policy crate.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sealrun_attest::evidence::tdx::{self, TdxError, TdxEvidence};
use sealrun_attest::evidence::{self, Evidence, Verified, VerifyOptions};
use sealrun_policy::attestation::{Attestation, TcbStatus, TeeKind};

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

fn read(rel: &str) -> Vec<u8> {
    let p = fixtures().join("attest/tdx").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

fn at(secs: u64) -> VerifyOptions {
    VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(secs))
}

fn evidence(quote: &str, collateral: &str) -> TdxEvidence {
    TdxEvidence {
        quote: read(quote),
        collateral: read(collateral),
    }
}

/// 2025-06-19T11:32:27Z: the dcap-qvl sample's collateral is fresh.
const SAMPLE_NOW: u64 = 1750332747;
/// 2026-10-08T01:09:46Z: the TD 1.5ex sample's collateral is fresh.
const TD15EX_NOW: u64 = 1791421786;
/// 2026-09-21T00:00:00Z: long after the June 2025 collateral's CRLs expired.
const LATE_2026: u64 = 1789948800;
/// 2026-02-19T00:00:00Z: inside the outdated sample's collateral window.
const OUTDATED_NOW: u64 = 1771459200;
/// 2025-06-19T12:00:00Z: inside the SGX sample's collateral window.
const SGX_NOW: u64 = 1750334400;
/// 2023-07-01T01:00:00Z: the go-tdx-guest collateral's window.
const GO_TDX_NOW: u64 = 1688173200;

fn verify_ok(e: &TdxEvidence, now: u64) -> Verified {
    match tdx::verify(e, &at(now)) {
        Ok(v) => v,
        Err(err) => panic!("expected the quote to verify at {now}: {err}"),
    }
}

fn verify_err(e: &TdxEvidence, now: u64) -> String {
    match tdx::verify(e, &at(now)) {
        Ok(v) => panic!("expected a rejection at {now}, got claims {}", v.claims),
        Err(err) => err.to_string(),
    }
}

fn is_hex(s: &serde_json::Value, bytes: usize) -> bool {
    s.as_str()
        .is_some_and(|s| s.len() == 2 * bytes && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn policy_for(mrtd: &str) -> Attestation {
    let mut p = Attestation {
        tee: vec![TeeKind::Tdx],
        ..Attestation::default()
    };
    p.tdx.mrtd = vec![mrtd.to_uppercase()];
    p
}

#[test]
fn dcap_sample_is_up_to_date_at_its_clock() {
    let e = evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json");
    let v = verify_ok(&e, SAMPLE_NOW);
    assert_eq!(v.tee, "tdx");
    assert_eq!(v.claims["tcb_status"], "UpToDate");
    assert_eq!(v.claims["advisory_ids"], serde_json::json!([]));
    assert_eq!(v.report_data.len(), 64);
    assert_eq!(v.claims["report_data"], hex::encode(&v.report_data));
    for (k, n) in [
        ("mrtd", 48),
        ("rtmr0", 48),
        ("rtmr1", 48),
        ("rtmr2", 48),
        ("rtmr3", 48),
        ("mr_config_id", 48),
        ("mr_owner", 48),
        ("mr_owner_config", 48),
        ("td_attributes", 8),
        ("xfam", 8),
        ("tee_tcb_svn", 16),
    ] {
        assert!(
            is_hex(&v.claims[k], n),
            "claim {k} should be {n} bytes of hex: {}",
            v.claims[k]
        );
    }
    assert_eq!(v.claims["debug"], false);
    let t = v.tdx.as_ref().expect("TDX claims for the policy");
    assert_eq!(t.tcb_status, "UpToDate");
    assert_eq!(t.mrtd, v.claims["mrtd"].as_str().unwrap());
    assert_eq!(t.rtmr[3], v.claims["rtmr3"].as_str().unwrap());
    assert!(!t.debug);

    // The verified claims are the quote's own fields.
    let raw = tdx::unverified_claims(&e.quote).unwrap();
    assert_eq!(raw["mrtd"], v.claims["mrtd"]);
    assert_eq!(raw["report_data"], v.claims["report_data"]);
    assert_eq!(raw["verified"], false);

    // Through the dispatcher too.
    let v2 = evidence::verify(&Evidence::Tdx(e), &at(SAMPLE_NOW)).unwrap();
    assert_eq!(v2.claims, v.claims);
}

#[test]
fn dcap_sample_collateral_has_expired_by_late_2026() {
    let e = evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json");
    let err = verify_err(&e, LATE_2026);
    assert!(err.contains("CrlExpired"), "expected an expired CRL, got: {err}");
}

#[test]
fn wall_clock_is_never_used() {
    // The same evidence gives opposite verdicts at two pinned clocks: the verifier follows
    // VerifyOptions.now, not the machine's clock.
    let e = evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json");
    assert!(tdx::verify(&e, &at(SAMPLE_NOW)).is_ok());
    assert!(tdx::verify(
        &e,
        &VerifyOptions::at(SystemTime::UNIX_EPOCH + Duration::from_secs(LATE_2026))
    )
    .is_err());
}

#[test]
fn td15ex_sample_is_up_to_date_with_a_config_id() {
    let e = evidence("dcap-qvl/tdx_quote_td15ex", "dcap-qvl/tdx_quote_td15ex_collateral.json");
    let v = verify_ok(&e, TD15EX_NOW);
    assert_eq!(v.claims["tcb_status"], "UpToDate");
    assert_eq!(v.claims["body"], "TD 1.5ex");
    let cfg = v.claims["mr_config_id"].as_str().unwrap();
    assert!(is_hex(&v.claims["mr_config_id"], 48));
    assert!(cfg.bytes().any(|b| b != b'0'), "mr_config_id should be non-zero: {cfg}");
    assert_eq!(v.tdx.as_ref().unwrap().mr_config_id, cfg);
}

#[test]
fn outdated_sample_is_rejected() {
    let e = evidence(
        "dcap-qvl/tdx_quote_outdated",
        "dcap-qvl/tdx_quote_outdated_collateral.json",
    );
    let err = verify_err(&e, OUTDATED_NOW);
    assert!(
        err.contains("No matching TCB level"),
        "expected no matching TCB level, got: {err}"
    );
}

#[test]
fn sgx_sample_needs_configuration_and_sw_hardening() {
    let e = evidence("dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json");
    let v = verify_ok(&e, SGX_NOW);
    assert_eq!(v.tee, "sgx");
    assert!(v.tdx.is_none(), "no TDX claims for an SGX quote");
    assert_eq!(v.claims["tcb_status"], "ConfigurationAndSWHardeningNeeded");
    let adv: Vec<&str> = v.claims["advisory_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(adv.contains(&"INTEL-SA-00289"), "{adv:?}");
    assert!(adv.contains(&"INTEL-SA-00615"), "{adv:?}");
    assert!(is_hex(&v.claims["mr_enclave"], 32));
    assert!(is_hex(&v.claims["mr_signer"], 32));
    assert!(v.claims["isv_svn"].is_u64());
    assert_eq!(v.report_data.len(), 64);
}

#[test]
fn status_allow_list_appraisal_on_the_sgx_status() {
    // The policy has no SGX section: appraise the SGX sample's status and advisories through
    // the TDX rules, on TDX claims built from the (real) TDX sample.
    let sgx = verify_ok(
        &evidence("dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json"),
        SGX_NOW,
    );
    let td = verify_ok(
        &evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json"),
        SAMPLE_NOW,
    );
    let mut claims = td.tdx.unwrap();
    claims.tcb_status = sgx.claims["tcb_status"].as_str().unwrap().to_string();
    claims.advisories = sgx.claims["advisory_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();

    let mut p = policy_for(&claims.mrtd);
    let d = p.appraise_tdx(&claims);
    assert!(!d.allowed, "default allow-list is UpToDate only:\n{}", d.to_text());
    assert!(d.failures().any(|c| c.rule == "attestation.tdx.allowed_tcb_status"));

    p.tdx.allowed_tcb_status = vec![TcbStatus::UpToDate, TcbStatus::ConfigurationAndSWHardeningNeeded];
    let d = p.appraise_tdx(&claims);
    assert!(!d.allowed, "status allowed, advisories not:\n{}", d.to_text());
    let fails: Vec<&str> = d.failures().map(|c| c.rule.as_str()).collect();
    assert_eq!(fails, vec!["attestation.tdx.allowed_advisories"]);

    p.tdx.allowed_advisories = vec!["INTEL-SA-00289".into()];
    assert!(!p.appraise_tdx(&claims).allowed, "INTEL-SA-00615 is still outstanding");

    p.tdx.allowed_advisories.push("intel-sa-00615".into());
    let d = p.appraise_tdx(&claims);
    assert!(d.allowed, "{}", d.to_text());
}

#[test]
fn go_tdx_guest_spr_quote_has_no_matching_tcb_level() {
    let e = evidence(
        "go-tdx-guest/tdx_prod_quote_SPR_E4.dat",
        "go-tdx-guest/collateral_v4_quote.json",
    );
    let err = verify_err(&e, GO_TDX_NOW);
    assert!(
        err.contains("No matching TCB level"),
        "expected no matching TCB level, got: {err}"
    );
}

#[test]
fn trustee_partial_quotes_parse_into_claims() {
    for f in ["tdx_quote_4.dat", "tdx_quote_5.dat", "tdx_quote_6.dat"] {
        let quote = read(&format!("trustee-partial/{f}"));
        let c = tdx::unverified_claims(&quote).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(c["tee"], "tdx", "{f}");
        assert_eq!(c["verified"], false, "{f}");
        for (k, n) in [
            ("mrtd", 48),
            ("rtmr0", 48),
            ("rtmr3", 48),
            ("mr_config_id", 48),
            ("report_data", 64),
        ] {
            assert!(is_hex(&c[k], n), "{f}: {k}: {}", c[k]);
        }
        let v = c["quote_version"].as_u64().unwrap();
        assert!(v == 4 || v == 5, "{f}: version {v}");
    }
}

#[test]
fn a_flipped_byte_anywhere_signed_fails() {
    let good = evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json");
    // 48: header; 48 + 136: MRTD; 48 + 520: REPORTDATA (TD 1.0 body).
    for offset in [48 + 136, 48 + 520, 48 + 600] {
        let mut e = good.clone();
        e.quote[offset] ^= 0x01;
        let err = tdx::verify(&e, &at(SAMPLE_NOW)).expect_err("a modified quote must not verify");
        assert!(
            matches!(err, TdxError::Verification { .. } | TdxError::Parse { .. }),
            "{err}"
        );
    }
}

#[test]
fn garbage_collateral_is_refused() {
    let mut e = evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json");
    e.collateral = b"{\"pck_crl_issuer_chain\": 1}".to_vec();
    assert!(matches!(
        tdx::verify(&e, &at(SAMPLE_NOW)),
        Err(TdxError::Collateral { .. })
    ));
    // Another sample's collateral: signatures verify but it is for a different platform/time.
    let mut e = evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json");
    e.collateral = read("go-tdx-guest/collateral_v4_quote.json");
    assert!(tdx::verify(&e, &at(SAMPLE_NOW)).is_err());
}

#[test]
fn appraisal_with_the_policy_crate() {
    let v = verify_ok(
        &evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json"),
        SAMPLE_NOW,
    );
    let claims = v.tdx.unwrap();

    let d = policy_for(&claims.mrtd).appraise_tdx(&claims);
    assert!(d.allowed, "{}", d.to_text());

    let other = "ab".repeat(48);
    let d = policy_for(&other).appraise_tdx(&claims);
    assert!(!d.allowed);
    let fails: Vec<&str> = d.failures().map(|c| c.rule.as_str()).collect();
    assert_eq!(fails, vec!["attestation.tdx.mrtd"]);

    // RTMR and MRCONFIGID lists.
    let mut p = policy_for(&claims.mrtd);
    p.tdx.rtmr0 = vec![claims.rtmr[0].clone()];
    p.tdx.mr_config_id = Some(claims.mr_config_id.clone());
    assert!(p.appraise_tdx(&claims).allowed);
    p.tdx.rtmr2 = vec![other.clone()];
    assert!(!p.appraise_tdx(&claims).allowed);

    // A TD with DEBUG set (its verified claims with the bit flipped: no real debug quote
    // with fresh collateral exists) is refused unless the policy allows debug.
    let mut debug = claims.clone();
    debug.debug = true;
    let p = policy_for(&claims.mrtd);
    let d = p.appraise_tdx(&debug);
    assert!(!d.allowed);
    assert!(d.failures().any(|c| c.rule == "attestation.tdx.allow_debug"));
    let mut p = p;
    p.tdx.allow_debug = true;
    assert!(p.appraise_tdx(&debug).allowed);
}

#[test]
fn platform_flags_and_collateral_window_are_reported() {
    let v = verify_ok(
        &evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json"),
        SAMPLE_NOW,
    );
    // The README: the sample's PCK certificate marks a dynamic platform (a strict dcap-qvl
    // policy refuses it; sealrun reports it).
    assert_eq!(v.claims["platform"]["dynamic_platform"], true);
    assert_eq!(v.claims["platform"]["fmspc"], "b0c06f000000");
    assert_eq!(v.claims["quote_version"], 4);
    assert_eq!(v.claims["verified_at"], SAMPLE_NOW);
    let issued = v.claims["collateral"]["latest_issue"].as_u64().unwrap();
    let expires = v.claims["collateral"]["earliest_expiration"].as_u64().unwrap();
    assert!(
        issued <= SAMPLE_NOW && SAMPLE_NOW <= expires,
        "{issued} <= {SAMPLE_NOW} <= {expires}"
    );
}

#[test]
fn an_extra_root_does_not_rescue_a_failing_quote() {
    // Extra roots are tried after the pinned Intel root; an unrelated root cannot verify the
    // Intel-signed collateral, and the pinned root's error is the one reported.
    use x509_cert::der::{DecodePem, Encode};
    let pem = std::fs::read(fixtures().join("attest/nvidia/nvidia_device_root.pem")).unwrap();
    let other_root = x509_cert::Certificate::from_pem(&pem).unwrap().to_der().unwrap();
    let e = evidence("dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json");
    let mut o = at(LATE_2026);
    o.extra_roots = vec![other_root.clone()];
    let err = tdx::verify(&e, &o).expect_err("expired collateral").to_string();
    assert!(
        err.contains("Intel SGX Root CA (pinned)") && err.contains("CrlExpired"),
        "{err}"
    );

    // At a good clock the pinned root verifies it, whatever the extra roots.
    let mut o = at(SAMPLE_NOW);
    o.extra_roots = vec![other_root];
    let v = tdx::verify(&e, &o).unwrap();
    assert_eq!(v.claims["root"], "Intel SGX Root CA (pinned)");
}
