//! The operator and publisher verbs through the real binary: `sign`/`verify model`
//! round trip, `attest verify` verdicts on the real evidence fixtures, `attest evidence`
//! for the dev TEE, and `attest audit verify`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealrun_e2e::{guarded, runtime_binary};
use serde_json::Value;

fn sealrun(args: &[&str]) -> Output {
    let bin = runtime_binary();
    guarded(&bin.to_string_lossy())
        .args(args)
        .output()
        .expect("running sealrun")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn fixtures() -> PathBuf {
    std::env::var_os("SEALRUN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"))
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn sign_then_verify_a_model_and_refuse_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    fs::create_dir_all(model.join("sub")).unwrap();
    fs::write(model.join("weights.bin"), vec![7u8; 300_000]).unwrap();
    fs::write(model.join("sub/config.json"), "{}\n").unwrap();
    let key = dir.path().join("k.pem");
    let public = dir.path().join("k.pub");
    let ok = |c: &mut Command| assert!(c.status().unwrap().success());
    ok(Command::new("openssl").args(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", &s(&key)]));
    ok(Command::new("openssl")
        .args(["ec", "-in", &s(&key), "-pubout", "-out", &s(&public)])
        .stderr(std::process::Stdio::null()));
    let sig = dir.path().join("model.sig");
    let o = sealrun(&["sign", "model", &s(&model), "--key", &s(&key), "--signature", &s(&sig)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = sealrun(&[
        "verify",
        "model",
        &s(&model),
        "--signature",
        &s(&sig),
        "--key",
        &s(&public),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("verified"), "{}", text(&o));
    // model_signing's own spelling of the flags works too.
    let o = sealrun(&[
        "verify",
        "model",
        &s(&model),
        "--signature",
        &s(&sig),
        "--public_key",
        &s(&public),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let mut w = fs::read(model.join("weights.bin")).unwrap();
    w[123_456] ^= 0x80;
    fs::write(model.join("weights.bin"), w).unwrap();
    let o = sealrun(&[
        "verify",
        "model",
        &s(&model),
        "--signature",
        &s(&sig),
        "--key",
        &s(&public),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("weights.bin"),
        "the refusal names the file: {}",
        text(&o)
    );
}

#[test]
fn attest_verify_gives_each_fixture_its_verdict() {
    let snp = fixtures().join("attest/snp");
    let milan = snp.join("virtee-milan");
    let o = sealrun(&[
        "attest",
        "verify",
        "--tee",
        "snp",
        "--report",
        &s(&milan.join("report_milan.hex")),
        "--vcek",
        &s(&milan.join("vcek_milan.der")),
        "--chain",
        &s(&milan.join("cert_chain_milan")),
        "--now",
        "2025-01-01T00:00:00Z",
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["claims"]["reported_tcb"]["microcode"], 115, "{v}");
    assert_eq!(v["accepted"], true);
    // Debug on: the built-in baseline refuses it.
    let dbg = snp.join("gosev-debug");
    let o = sealrun(&[
        "attest",
        "verify",
        "--tee",
        "snp",
        "--report",
        &s(&dbg.join("attestation.bin")),
        "--vcek",
        &s(&dbg.join("vcek.testcer")),
        "--chain",
        &s(&dbg.join("ask_ark_milan.pem")),
        "--now",
        "2025-01-01T00:00:00Z",
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("FAIL baseline.snp.debug"), "{}", text(&o));
    // TDX: valid at the collateral's time, expired collateral today.
    let tdx = fixtures().join("attest/tdx/dcap-qvl");
    let args = |now: &str| {
        sealrun(&[
            "attest",
            "verify",
            "--tee",
            "tdx",
            "--quote",
            &s(&tdx.join("tdx_quote")),
            "--collateral",
            &s(&tdx.join("tdx_quote_collateral.json")),
            "--now",
            now,
        ])
    };
    let o = args("1750332747");
    assert!(text(&o).contains("tdx evidence verified"), "{}", text(&o));
    let o = args("2026-11-01T00:00:00Z");
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("does not verify"), "{}", text(&o));
}

#[test]
fn dev_evidence_round_trip_needs_a_policy_that_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("ev.json");
    let rd = "ab".repeat(64);
    let o = sealrun(&[
        "attest",
        "evidence",
        "--tee",
        "dev",
        "--report-data",
        &rd,
        "--out",
        &s(&ev),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Verifies, but the baseline refuses the software TEE.
    let o = sealrun(&["attest", "verify", "--evidence", &s(&ev), "--report-data", &rd]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("baseline.tee"), "{}", text(&o));
    let policy = dir.path().join("p.toml");
    fs::write(
        &policy,
        "version = 1\n[attestation]\ntee = [\"dev\"]\nallow_dev = true\n",
    )
    .unwrap();
    let o = sealrun(&[
        "attest",
        "verify",
        "--evidence",
        &s(&ev),
        "--report-data",
        &rd,
        "--policy",
        &s(&policy),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Other report data: refused.
    let o = sealrun(&[
        "attest",
        "verify",
        "--evidence",
        &s(&ev),
        "--report-data",
        &"cd".repeat(64),
        "--policy",
        &s(&policy),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("FAIL report_data"), "{}", text(&o));
}
