//! Interop with the Python reference, model_signing 1.1.1, both ways, for the key and the
//! certificate methods: sealrun signs and `model_signing verify` accepts (and refuses once a
//! byte changes), `model_signing sign` signs and sealrun accepts (and refuses once a byte
//! changes). `tests/setup-model-signing.sh` installs the reference in a venv (network on the
//! first run; SEALRUN_MODEL_SIGNING_VENV overrides where).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sealrun_image::oms::{sign_model, verify_model, Mismatch, OmsError, SignOptions, Signer, Verifier, VerifyOptions};

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
    .join("signing/oms-local")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The venv's bin directory (the script runs once per test binary).
fn venv_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/setup-model-signing.sh");
        let out = Command::new("sh").arg(&script).output().expect("sh runs");
        assert!(
            out.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("the script prints the venv bin dir")
                .trim(),
        )
    })
}

/// Run `model_signing ARGS`; true if it exits 0.
fn model_signing(args: &[&str]) -> bool {
    let out = Command::new(venv_bin().join("model_signing"))
        .args(args)
        .output()
        .expect("model_signing runs");
    if !out.status.success() {
        eprintln!("model_signing {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}

/// Run a Python snippet in the venv; true if it exits 0.
fn python(code: &str, args: &[&str]) -> bool {
    let out = Command::new(venv_bin().join("python"))
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python runs");
    if !out.status.success() {
        eprintln!("python: {}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}

/// A model: several files, a subdirectory, an empty file, a file larger than the read buffer,
/// names whose sort order differs between code points and path components.
fn make_model(root: &Path) -> PathBuf {
    let m = root.join("my-model");
    std::fs::create_dir_all(m.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(m.join("a")).unwrap();
    std::fs::write(m.join("config.json"), br#"{"architectures": ["Demo"], "hidden": 64}"#).unwrap();
    std::fs::write(m.join("empty.bin"), b"").unwrap();
    let big: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(m.join("weights.safetensors"), big).unwrap();
    std::fs::write(m.join("sub/tokenizer.txt"), b"hello world\n").unwrap();
    std::fs::write(m.join("sub/deeper/vocab.txt"), b"a\nb\nc\n").unwrap();
    std::fs::write(m.join("a/b"), b"ab").unwrap();
    std::fs::write(m.join("a-c"), b"ac").unwrap();
    std::fs::write(m.join("a.b"), b"a.b").unwrap();
    m
}

fn p(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn flip_byte(f: &Path, at: usize) {
    let mut b = read(f);
    b[at] ^= 0x20;
    std::fs::write(f, b).unwrap();
}

fn pki() -> PathBuf {
    fixtures().join("pki")
}

#[test]
fn sealrun_signs_with_a_key_and_model_signing_verifies() {
    let t = tempfile::tempdir().unwrap();
    let m = make_model(t.path());
    // The signature inside the model, as model_signing's default puts it.
    let sig = m.join("model.sig");
    let opts = SignOptions {
        ignore_paths: vec!["model.sig".into()],
        ..SignOptions::default()
    };
    let signer = Signer::Key {
        private_key_pem: read(&fixtures().join("ec_p256.key")),
    };
    std::fs::write(&sig, sign_model(&m, &signer, &opts).unwrap()).unwrap();
    let public_key = fixtures().join("ec_p256.pub");
    let verify = || {
        model_signing(&[
            "verify",
            "key",
            p(&m),
            "--signature",
            p(&sig),
            "--public_key",
            p(&public_key),
        ])
    };
    assert!(verify(), "model_signing refused sealrun's key signature");
    flip_byte(&m.join("weights.safetensors"), 2_000_000);
    assert!(!verify(), "model_signing accepted a changed model");
}

#[test]
fn model_signing_signs_with_a_key_and_sealrun_verifies() {
    let t = tempfile::tempdir().unwrap();
    let m = make_model(t.path());
    let sig = m.join("model.sig");
    let key = fixtures().join("ec_p256.key");
    assert!(model_signing(&[
        "sign",
        "key",
        p(&m),
        "--signature",
        p(&sig),
        "--private_key",
        p(&key)
    ]));
    let verifier = Verifier::Key {
        public_key_pem: read(&fixtures().join("ec_p256.pub")),
    };
    let v = verify_model(&m, &sig, &verifier, &VerifyOptions::default()).unwrap();
    assert_eq!(v.resources.len(), 8, "{:?}", v.resources.keys());
    assert!(v.resources.contains_key("sub/deeper/vocab.txt"));
    flip_byte(&m.join("sub/deeper/vocab.txt"), 0);
    let r = verify_model(&m, &sig, &verifier, &VerifyOptions::default());
    assert!(
        matches!(&r, Err(OmsError::Mismatch(m)) if matches!(&m[..], [Mismatch::Digest { file, .. }] if file.ends_with("sub/deeper/vocab.txt"))),
        "{r:?}"
    );
}

#[test]
fn sealrun_signs_with_a_certificate_and_model_signing_verifies() {
    let t = tempfile::tempdir().unwrap();
    let m = make_model(t.path());
    // The signature outside the model this time.
    let sig = t.path().join("cert.sig");
    let signer = Signer::Certificate {
        private_key_pem: read(&pki().join("leaf.key")),
        cert_chain_pems: vec![read(&pki().join("leaf.pem")), read(&pki().join("int.pem"))],
    };
    std::fs::write(&sig, sign_model(&m, &signer, &SignOptions::default()).unwrap()).unwrap();
    let root = pki().join("root.pem");
    let verify = || {
        model_signing(&[
            "verify",
            "certificate",
            p(&m),
            "--signature",
            p(&sig),
            "--certificate_chain",
            p(&root),
        ])
    };
    assert!(verify(), "model_signing refused sealrun's certificate signature");
    std::fs::write(m.join("sub/extra.bin"), b"unsigned").unwrap();
    assert!(!verify(), "model_signing accepted an added file");
}

#[test]
fn model_signing_signs_with_a_certificate_and_sealrun_verifies() {
    let t = tempfile::tempdir().unwrap();
    let m = make_model(t.path());
    let sig = t.path().join("cert.sig");
    assert!(model_signing(&[
        "sign",
        "certificate",
        p(&m),
        "--signature",
        p(&sig),
        "--private_key",
        p(&pki().join("leaf.key")),
        "--signing_certificate",
        p(&pki().join("leaf.pem")),
        "--certificate_chain",
        p(&pki().join("int.pem")),
    ]));
    let verifier = Verifier::Certificate {
        ca_pems: vec![read(&pki().join("root.pem"))],
    };
    let v = verify_model(&m, &sig, &verifier, &VerifyOptions::default()).unwrap();
    assert!(v.signer.contains("model-signer@example.com"), "{}", v.signer);
    std::fs::remove_file(m.join("empty.bin")).unwrap();
    let r = verify_model(&m, &sig, &verifier, &VerifyOptions::default());
    assert!(
        matches!(&r, Err(OmsError::Mismatch(m)) if matches!(&m[..], [Mismatch::Missing { file }] if file.ends_with("empty.bin"))),
        "{r:?}"
    );
}

/// The shards method, through model_signing's library API (its CLI verifies files only).
#[test]
fn shards_interoperate_both_ways() {
    let t = tempfile::tempdir().unwrap();
    let m = make_model(t.path());
    let ours = t.path().join("ours.sig");
    let theirs = t.path().join("theirs.sig");
    let opts = SignOptions {
        shard_size: Some(1_000_000),
        ..SignOptions::default()
    };
    let signer = Signer::Key {
        private_key_pem: read(&fixtures().join("ec_p256.key")),
    };
    std::fs::write(&ours, sign_model(&m, &signer, &opts).unwrap()).unwrap();
    let verify = "import sys, model_signing as ms\n\
                  ms.verifying.Config().use_elliptic_key_verifier(public_key=sys.argv[3]).verify(sys.argv[1], sys.argv[2])";
    let public_key = fixtures().join("ec_p256.pub");
    assert!(
        python(verify, &[p(&m), p(&ours), p(&public_key)]),
        "model_signing refused sealrun's shard signature"
    );

    let sign = "import sys, model_signing as ms\n\
                ms.signing.Config().use_elliptic_key_signer(private_key=sys.argv[3]).set_hashing_config(\n\
                  ms.hashing.Config().use_shard_serialization(shard_size=1000000)).sign(sys.argv[1], sys.argv[2])";
    assert!(python(sign, &[p(&m), p(&theirs), p(&fixtures().join("ec_p256.key"))]));
    let verifier = Verifier::Key {
        public_key_pem: read(&public_key),
    };
    let v = verify_model(&m, &theirs, &verifier, &VerifyOptions::default()).unwrap();
    assert!(
        v.resources.contains_key("weights.safetensors:2000000:2500000"),
        "{:?}",
        v.resources.keys()
    );
}
