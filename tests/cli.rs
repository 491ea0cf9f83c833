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

/// An EC key pair made by openssl in `dir`: (private PEM path, public PEM path).
fn ec_keypair(dir: &Path, curve: &str) -> (PathBuf, PathBuf) {
    let (key, public) = (dir.join("k.pem"), dir.join("k.pub"));
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new("openssl").args(["ecparam", "-name", curve, "-genkey", "-noout", "-out", &s(&key)]));
    ok(Command::new("openssl")
        .args(["ec", "-in", &s(&key), "-pubout", "-out", &s(&public)])
        .stderr(std::process::Stdio::null()));
    (key, public)
}

#[test]
fn sign_then_verify_a_model_and_refuse_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    fs::create_dir_all(model.join("sub")).unwrap();
    fs::write(model.join("weights.bin"), vec![7u8; 300_000]).unwrap();
    fs::write(model.join("sub/config.json"), "{}\n").unwrap();
    let (key, public) = ec_keypair(dir.path(), "secp384r1");
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
    // `attest verify --tee snp` of a fixture folder's report, VCEK and chain, at 2025-01-01.
    let verify_snp = |dir: &str, files: [&str; 3], extra: &[&str]| {
        let d = snp.join(dir);
        let (report, vcek, chain) = (s(&d.join(files[0])), s(&d.join(files[1])), s(&d.join(files[2])));
        let mut args = vec!["attest", "verify", "--tee", "snp", "--report", &report, "--vcek", &vcek];
        args.extend(["--chain", &chain, "--now", "2025-01-01T00:00:00Z"]);
        args.extend(extra);
        sealrun(&args)
    };
    let o = verify_snp(
        "virtee-milan",
        ["report_milan.hex", "vcek_milan.der", "cert_chain_milan"],
        &["--output", "json"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["claims"]["reported_tcb"]["microcode"], 115, "{v}");
    assert_eq!(v["accepted"], true);
    // Debug on: the built-in baseline refuses it.
    let o = verify_snp(
        "gosev-debug",
        ["attestation.bin", "vcek.testcer", "ask_ark_milan.pem"],
        &[],
    );
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

/// Writes an OCI layout: blobs by sha256, index.json, oci-layout.
struct Layout {
    root: PathBuf,
    index: Vec<Value>,
}

impl Layout {
    fn new(root: &Path) -> Layout {
        fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            root: root.to_path_buf(),
            index: Vec::new(),
        }
    }

    fn blob(&self, bytes: &[u8], media_type: &str) -> Value {
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        fs::write(self.root.join("blobs/sha256").join(&hex), bytes).unwrap();
        serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
    }

    fn manifest(&mut self, m: Value, tag: Option<&str>) -> Value {
        let d = self.blob(m.to_string().as_bytes(), "application/vnd.oci.image.manifest.v1+json");
        let mut entry = d.clone();
        entry["artifactType"] = m["artifactType"].clone();
        if let Some(t) = tag {
            entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": t});
        }
        self.index.push(entry);
        d
    }

    fn finish(self) {
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": self.index});
        fs::write(self.root.join("index.json"), index.to_string()).unwrap();
    }
}

/// A ModelPack image whose weights are one tar layer, signed (OMS, files) by `key`.
fn tar_image(dir: &Path, key: &Path, extra_in_tar: bool) -> PathBuf {
    let model = dir.join("model");
    fs::create_dir_all(model.join("sub")).unwrap();
    fs::write(model.join("weights.bin"), vec![3u8; 100_000]).unwrap();
    fs::write(model.join("sub/config.json"), "{\"a\": 1}\n").unwrap();
    let sig = dir.join("model.sig");
    let o = sealrun(&["sign", "model", &s(&model), "--key", &s(key), "--signature", &s(&sig)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    if extra_in_tar {
        fs::write(model.join("sub/unsigned.txt"), "slipped in\n").unwrap();
    }
    let tar = dir.join("layer.tar");
    let st = Command::new("tar")
        .args(["-C", &s(&model), "-cf", &s(&tar), "sub", "weights.bin"])
        .status()
        .unwrap();
    assert!(st.success());
    let layout_dir = dir.join("layout");
    let mut l = Layout::new(&layout_dir);
    let mut layer = l.blob(&fs::read(&tar).unwrap(), "application/vnd.cncf.model.weight.v1.tar");
    layer["annotations"] = serde_json::json!({"org.cncf.model.filepath": "model"});
    let config = l.blob(
        b"{\"descriptor\":{\"name\":\"tarred\"}}",
        "application/vnd.cncf.model.config.v1+json",
    );
    let subject = l.manifest(
        serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.cncf.model.manifest.v1+json", "config": config, "layers": [layer]}),
        Some("v1"),
    );
    let bundle = l.blob(
        &fs::read(&sig).unwrap(),
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    );
    let empty = l.blob(b"{}", "application/vnd.oci.empty.v1+json");
    l.manifest(
        serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json", "config": empty, "layers": [bundle],
            "subject": subject}),
        None,
    );
    l.finish();
    layout_dir
}

#[test]
fn the_gate_checks_the_files_of_a_tarball_layer_against_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = ec_keypair(dir.path(), "prime256v1");
    let policy = dir.path().join("p.toml");
    fs::write(
        &policy,
        format!(
            "version = 1\n[trust]\nsigners.keys = [{{ path = \"{}\", algorithm = \"ecdsa-p256-sha256\" }}]\n",
            public.display()
        ),
    )
    .unwrap();
    let good = dir.path().join("good");
    fs::create_dir_all(&good).unwrap();
    let layout = tar_image(&good, &key, false);
    let o = sealrun(&[
        "verify",
        "image",
        &format!("{}:v1", layout.display()),
        "--policy",
        &s(&policy),
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["files_signed"], 2, "{r}");
    // A file slipped into the tarball that the signature does not cover.
    let bad = dir.path().join("bad");
    fs::create_dir_all(&bad).unwrap();
    let layout = tar_image(&bad, &key, true);
    let o = sealrun(&[
        "verify",
        "image",
        &format!("{}:v1", layout.display()),
        "--policy",
        &s(&policy),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("sub/unsigned.txt is in the layer but not signed"),
        "{}",
        text(&o)
    );
}
