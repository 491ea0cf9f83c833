//! OpenSSF model signing: every bundle in `../shared/fixtures/signing` (override with
//! SEALRUN_FIXTURES) verifies as its README says, and tampering with the model, the bundle,
//! the key or the CA fails with the error that names it.

use std::path::{Path, PathBuf};

use sealrun_image::oms::{
    sign_model, verify_bundle_manifest, verify_model, HashType, Method, Mismatch, OmsError, SignOptions, Signer,
    Verifier, VerifyOptions,
};

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
    .join("signing")
}

fn local() -> PathBuf {
    fixtures().join("oms-local")
}

fn upstream() -> PathBuf {
    fixtures().join("oms-upstream")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn local_key() -> Verifier {
    Verifier::Key {
        public_key_pem: read(&local().join("ec_p256.pub")),
    }
}

fn local_ca() -> Verifier {
    Verifier::Certificate {
        ca_pems: vec![read(&local().join("pki/root.pem"))],
    }
}

fn upstream_ca() -> Verifier {
    Verifier::Certificate {
        ca_pems: vec![read(&upstream().join("keys/ca-cert.pem"))],
    }
}

/// The fixtures are read-only: tamper with a copy.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
            let mut perm = std::fs::metadata(&dst).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dst, perm).unwrap();
        }
    }
}

fn model_copy() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    copy_dir(&local().join("model"), &m);
    (t, m)
}

fn mismatches(r: Result<sealrun_image::oms::VerifiedModel, OmsError>) -> Vec<Mismatch> {
    match r {
        Err(OmsError::Mismatch(m)) => m,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn local_key_files_sha256_verifies() {
    let v = verify_model(
        &local().join("model"),
        &local().join("model.key.sig"),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(v.method, Method::Key);
    let names: Vec<&str> = v.resources.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["config.json", "empty.bin", "model.safetensors", "sub/tokenizer.txt"]
    );
    assert_eq!(
        v.resources["empty.bin"],
        (
            "sha256".to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string()
        )
    );
    assert_eq!(
        v.root_digest,
        "31b62b17fe0e136875929434418f2d8345d983da0f35f43e2a6889f36c9f48fd"
    );
}

#[test]
fn local_key_shards_verify() {
    let v = verify_model(
        &local().join("model"),
        &local().join("model.key.shard.sig"),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert!(v.resources.contains_key("model.safetensors:900000:1048576"));
    assert!(v.resources.values().all(|(alg, _)| alg == "sha256-sharded-300000"));
    // Empty files have no shard.
    assert!(!v.resources.keys().any(|k| k.starts_with("empty.bin")));
}

#[test]
fn local_key_blake3_verifies() {
    let v = verify_model(
        &local().join("model"),
        &local().join("model.key.blake3.sig"),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert!(v.resources.values().all(|(alg, _)| alg == "blake3"));
}

#[test]
fn local_certificate_verifies() {
    let v = verify_model(
        &local().join("model"),
        &local().join("model.cert.sig"),
        &local_ca(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(v.method, Method::Certificate);
    assert!(v.signer.contains("model-signer@example.com"), "{}", v.signer);
}

#[test]
fn single_file_model_verifies() {
    let v = verify_model(
        &local().join("model/model.safetensors"),
        &local().join("single_file.key.sig"),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(v.resources.keys().collect::<Vec<_>>(), ["."]);
}

#[test]
fn sortcase_root_digest_is_over_payload_order() {
    let m = verify_bundle_manifest(
        &read(&local().join("sortcase.key.sig")),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    let names: Vec<&str> = m.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a/b", "a-c", "a.b"]);
    verify_model(
        &local().join("sortcase"),
        &local().join("sortcase.key.sig"),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
}

#[test]
fn upstream_elliptic_key_verifies_ignoring_what_it_ignored() {
    let dir = upstream().join("v1.1.0-elliptic-key");
    let key = Verifier::Key {
        public_key_pem: read(&upstream().join("keys/signing-key-pub.pem")),
    };
    let v = verify_model(&dir, &dir.join("model.sig"), &key, &VerifyOptions::default()).unwrap();
    assert_eq!(v.resources.keys().collect::<Vec<_>>(), ["signme-1", "signme-2"]);
}

#[test]
fn upstream_certificate_verifies() {
    let dir = upstream().join("v1.1.0-certificate");
    let v = verify_model(&dir, &dir.join("model.sig"), &upstream_ca(), &VerifyOptions::default()).unwrap();
    assert_eq!(v.method, Method::Certificate);
}

#[test]
fn upstream_v0_2_certificate_needs_the_legacy_option() {
    let dir = upstream().join("v0.2.0-certificate");
    let opts = VerifyOptions {
        allow_legacy_v0_2: true,
        ..VerifyOptions::default()
    };
    let v = verify_model(&dir, &dir.join("model.sig"), &upstream_ca(), &opts).unwrap();
    assert_eq!(v.resources.keys().collect::<Vec<_>>(), ["signme-1", "signme-2"]);
    let r = verify_model(&dir, &dir.join("model.sig"), &upstream_ca(), &VerifyOptions::default());
    assert!(matches!(r, Err(OmsError::LegacyNotAllowed)), "{r:?}");
}

fn upstream_sigstore(dir: &str) -> Result<sealrun_image::oms::VerifiedModel, OmsError> {
    let dir = upstream().join(dir);
    let v = Verifier::Sigstore {
        identity: "stefanb@us.ibm.com".into(),
        issuer: "https://sigstore.verify.ibm.com/oauth2".into(),
        trusted_root: upstream().join("trust_config.json"),
    };
    let opts = VerifyOptions {
        ignore_paths: vec!["ignore-me".into()],
        ..VerifyOptions::default()
    };
    verify_model(&dir, &dir.join("model.sig"), &v, &opts)
}

#[test]
fn upstream_sigstore_v1_1_verifies() {
    let v = upstream_sigstore("v1.1.0-sigstore").unwrap();
    assert_eq!(v.method, Method::Sigstore);
    assert!(v.signer.contains("stefanb@us.ibm.com"), "{}", v.signer);
}

#[test]
fn upstream_sigstore_v1_0_verifies() {
    let v = upstream_sigstore("v1.0.0-sigstore").unwrap();
    assert_eq!(v.resources.keys().collect::<Vec<_>>(), ["signme-1", "signme-2"]);
}

#[test]
fn sigstore_identity_mismatch_is_refused() {
    let dir = upstream().join("v1.1.0-sigstore");
    let v = Verifier::Sigstore {
        identity: "mallory@example.com".into(),
        issuer: "https://sigstore.verify.ibm.com/oauth2".into(),
        trusted_root: upstream().join("trust_config.json"),
    };
    let r = verify_model(&dir, &dir.join("model.sig"), &v, &VerifyOptions::default());
    assert!(matches!(r, Err(OmsError::Sigstore(_))), "{r:?}");
}

#[test]
fn a_changed_byte_of_a_model_file_fails_naming_it() {
    let (_t, m) = model_copy();
    let f = m.join("model.safetensors");
    let mut b = read(&f);
    b[1000] ^= 1;
    std::fs::write(&f, b).unwrap();
    let got = mismatches(verify_model(
        &m,
        &local().join("model.key.sig"),
        &local_key(),
        &VerifyOptions::default(),
    ));
    assert_eq!(got.len(), 1, "{got:?}");
    match &got[0] {
        Mismatch::Digest {
            file,
            algorithm,
            expected,
            found,
        } => {
            assert!(file.ends_with("model/model.safetensors"), "{file}");
            assert_eq!(algorithm, "sha256");
            assert_eq!(
                expected,
                "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83"
            );
            assert_ne!(found, expected);
        }
        other => panic!("{other:?}"),
    }
    // The shard signature pins it to the shard holding byte 1000.
    let got = mismatches(verify_model(
        &m,
        &local().join("model.key.shard.sig"),
        &local_key(),
        &VerifyOptions::default(),
    ));
    assert!(
        matches!(&got[..], [Mismatch::Digest { file, .. }] if file.ends_with("model.safetensors:0:300000")),
        "{got:?}"
    );
}

#[test]
fn an_added_file_fails_unless_unsigned_files_are_ignored() {
    let (_t, m) = model_copy();
    std::fs::write(m.join("extra.bin"), b"x").unwrap();
    let err = verify_model(
        &m,
        &local().join("model.key.sig"),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("extra.bin is not signed"), "{err}");
    let got = mismatches(Err(err));
    assert!(
        matches!(&got[..], [Mismatch::Unsigned { file }] if file.ends_with("model/extra.bin")),
        "{got:?}"
    );
    let opts = VerifyOptions {
        ignore_unsigned_files: true,
        ..VerifyOptions::default()
    };
    verify_model(&m, &local().join("model.key.sig"), &local_key(), &opts).unwrap();
    let opts = VerifyOptions {
        ignore_paths: vec!["extra.bin".into()],
        ..VerifyOptions::default()
    };
    verify_model(&m, &local().join("model.key.sig"), &local_key(), &opts).unwrap();
}

#[test]
fn a_removed_file_fails_even_when_unsigned_files_are_ignored() {
    let (_t, m) = model_copy();
    std::fs::remove_file(m.join("sub/tokenizer.txt")).unwrap();
    for ignore_unsigned_files in [false, true] {
        let opts = VerifyOptions {
            ignore_unsigned_files,
            ..VerifyOptions::default()
        };
        let got = mismatches(verify_model(&m, &local().join("model.key.sig"), &local_key(), &opts));
        assert!(
            matches!(&got[..], [Mismatch::Missing { file }] if file.ends_with("model/sub/tokenizer.txt")),
            "{got:?}"
        );
    }
}

#[test]
fn a_signed_file_that_grew_fails_with_shards_even_when_unsigned_files_are_ignored() {
    let (_t, m) = model_copy();
    std::fs::write(m.join("extra.bin"), b"x").unwrap();
    let mut b = read(&m.join("model.safetensors"));
    b.extend_from_slice(&[0u8; 300_000]);
    std::fs::write(m.join("model.safetensors"), b).unwrap();
    let opts = VerifyOptions {
        ignore_unsigned_files: true,
        ..VerifyOptions::default()
    };
    let got = mismatches(verify_model(
        &m,
        &local().join("model.key.shard.sig"),
        &local_key(),
        &opts,
    ));
    let shown: Vec<String> = got.iter().map(|m| m.to_string()).collect();
    assert!(
        shown
            .iter()
            .any(|s| s.contains("model.safetensors:1200000:1348576 is not signed")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.contains("model.safetensors:900000:1048576 is signed but missing")),
        "{shown:?}"
    );
    assert!(!shown.iter().any(|s| s.contains("extra.bin")), "{shown:?}");
}

#[test]
fn git_files_and_a_signature_inside_the_model_are_ignored() {
    let (_t, m) = model_copy();
    std::fs::create_dir(m.join(".git")).unwrap();
    std::fs::write(m.join(".git/HEAD"), b"ref").unwrap();
    std::fs::write(m.join(".gitattributes"), b"*").unwrap();
    std::fs::copy(local().join("model.key.sig"), m.join("model.sig")).unwrap();
    verify_model(&m, &m.join("model.sig"), &local_key(), &VerifyOptions::default()).unwrap();
}

#[test]
fn symlinks_are_refused_unless_allowed() {
    let (_t, m) = model_copy();
    std::os::unix::fs::symlink("config.json", m.join("link.json")).unwrap();
    let r = verify_model(
        &m,
        &local().join("model.key.sig"),
        &local_key(),
        &VerifyOptions::default(),
    );
    assert!(
        matches!(&r, Err(OmsError::Symlink { path }) if path.ends_with("link.json")),
        "{r:?}"
    );
    // Allowed, the link is one more (unsigned) file.
    let opts = VerifyOptions {
        allow_symlinks: true,
        ..VerifyOptions::default()
    };
    let got = mismatches(verify_model(&m, &local().join("model.key.sig"), &local_key(), &opts));
    assert!(
        matches!(&got[..], [Mismatch::Unsigned { file }] if file.ends_with("link.json")),
        "{got:?}"
    );
}

fn edit_bundle(path: &Path, f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&read(path)).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn b64() -> base64::engine::general_purpose::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

#[test]
fn a_changed_byte_of_the_bundle_fails() {
    use base64::Engine;
    // A byte of the signed payload (a digest character).
    let bundle = edit_bundle(&local().join("model.key.sig"), |v| {
        let p = v["dsseEnvelope"]["payload"].as_str().unwrap();
        let mut payload = b64().decode(p).unwrap();
        let i = payload.windows(8).position(|w| w == b"fbbab289").unwrap();
        payload[i] = b'0';
        v["dsseEnvelope"]["payload"] = b64().encode(payload).into();
    });
    let r = verify_bundle_manifest(&bundle, &local_key(), &VerifyOptions::default());
    assert!(matches!(r, Err(OmsError::Signature(_))), "{r:?}");
    // A byte of the signature.
    let bundle = edit_bundle(&local().join("model.cert.sig"), |v| {
        let s = v["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap();
        let mut sig = b64().decode(s).unwrap();
        let n = sig.len();
        sig[n - 3] ^= 0x40;
        v["dsseEnvelope"]["signatures"][0]["sig"] = b64().encode(sig).into();
    });
    let r = verify_bundle_manifest(&bundle, &local_ca(), &VerifyOptions::default());
    assert!(matches!(r, Err(OmsError::Signature(_))), "{r:?}");
    // A byte of the leaf certificate (its signature no longer verifies).
    let bundle = edit_bundle(&local().join("model.cert.sig"), |v| {
        let c = &mut v["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"];
        let mut der = b64().decode(c.as_str().unwrap()).unwrap();
        let i = der.windows(12).position(|w| w == b"model-signer").unwrap();
        der[i] = b'M';
        *c = b64().encode(der).into();
    });
    let r = verify_bundle_manifest(&bundle, &local_ca(), &VerifyOptions::default());
    assert!(matches!(r, Err(OmsError::Certificate(_))), "{r:?}");
    // Every single-byte change of the raw bundle file that still parses must fail.
    let raw = read(&local().join("model.key.sig"));
    let mut checked = 0;
    for i in (0..raw.len()).step_by(97) {
        let mut b = raw.clone();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        if verify_bundle_manifest(&b, &local_key(), &VerifyOptions::default()).is_ok() {
            // Only bytes that do not change the meaning may pass (e.g. the keyid or whitespace).
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            let orig: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(
                v["dsseEnvelope"]["payload"], orig["dsseEnvelope"]["payload"],
                "byte {i}"
            );
            assert_eq!(
                v["dsseEnvelope"]["signatures"][0]["sig"], orig["dsseEnvelope"]["signatures"][0]["sig"],
                "byte {i}"
            );
        }
        checked += 1;
    }
    assert!(checked > 10);
}

#[test]
fn the_wrong_key_fails() {
    let wrong = Verifier::Key {
        public_key_pem: read(&upstream().join("keys/signing-key-pub.pem")),
    };
    let r = verify_bundle_manifest(&read(&local().join("model.key.sig")), &wrong, &VerifyOptions::default());
    assert!(matches!(r, Err(OmsError::KeyHint { .. })), "{r:?}");
    // Without the hint, the signature itself refuses the key.
    let bundle = edit_bundle(&local().join("model.key.sig"), |v| {
        v["verificationMaterial"]["publicKey"] = serde_json::json!({});
    });
    let r = verify_bundle_manifest(&bundle, &wrong, &VerifyOptions::default());
    assert!(matches!(r, Err(OmsError::Signature(_))), "{r:?}");
}

#[test]
fn the_wrong_ca_fails() {
    let r = verify_bundle_manifest(
        &read(&local().join("model.cert.sig")),
        &upstream_ca(),
        &VerifyOptions::default(),
    );
    assert!(
        matches!(&r, Err(OmsError::Certificate(m)) if m.contains("Test Model Root CA")),
        "{r:?}"
    );
    let r = verify_bundle_manifest(
        &read(&upstream().join("v1.1.0-certificate/model.sig")),
        &local_ca(),
        &VerifyOptions::default(),
    );
    assert!(matches!(r, Err(OmsError::Certificate(_))), "{r:?}");
    // A key bundle offered to the certificate method.
    let r = verify_bundle_manifest(
        &read(&local().join("model.key.sig")),
        &local_ca(),
        &VerifyOptions::default(),
    );
    assert!(matches!(r, Err(OmsError::Bundle { .. })), "{r:?}");
}

#[test]
fn the_intermediate_alone_can_be_the_trusted_ca() {
    let v = Verifier::Certificate {
        ca_pems: vec![read(&local().join("pki/int.pem"))],
    };
    verify_bundle_manifest(&read(&local().join("model.cert.sig")), &v, &VerifyOptions::default()).unwrap();
}

#[test]
fn the_media_type_must_be_accepted() {
    let opts = VerifyOptions {
        media_types: vec!["application/vnd.dev.sigstore.bundle.v0.2+json".into()],
        ..VerifyOptions::default()
    };
    let r = verify_bundle_manifest(&read(&local().join("model.key.sig")), &local_key(), &opts);
    assert!(matches!(r, Err(OmsError::MediaType { .. })), "{r:?}");
}

#[test]
fn signing_reproduces_the_fixture_root_digest_and_verifies() {
    let key = read(&local().join("ec_p256.key"));
    let bundle = sign_model(
        &local().join("model"),
        &Signer::Key { private_key_pem: key },
        &SignOptions::default(),
    )
    .unwrap();
    let m = verify_bundle_manifest(&bundle, &local_key(), &VerifyOptions::default()).unwrap();
    assert_eq!(
        m.root_digest,
        "31b62b17fe0e136875929434418f2d8345d983da0f35f43e2a6889f36c9f48fd"
    );
    assert_eq!(m.model_name, "model");
    assert_eq!(
        m.serialization.ignore_paths,
        [".git", ".gitattributes", ".github", ".gitignore"]
    );
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("m.sig"), &bundle).unwrap();
    verify_model(
        &local().join("model"),
        &t.path().join("m.sig"),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    // The sortcase order too.
    let key = read(&local().join("ec_p256.key"));
    let bundle = sign_model(
        &local().join("sortcase"),
        &Signer::Key { private_key_pem: key },
        &SignOptions::default(),
    )
    .unwrap();
    let ours = verify_bundle_manifest(&bundle, &local_key(), &VerifyOptions::default()).unwrap();
    let theirs = verify_bundle_manifest(
        &read(&local().join("sortcase.key.sig")),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(ours.root_digest, theirs.root_digest);
    assert_eq!(ours.resources, theirs.resources);
}

#[test]
fn signing_with_shards_and_blake2b_round_trips() {
    let key = read(&local().join("ec_p256.key"));
    let opts = SignOptions {
        shard_size: Some(300_000),
        ..SignOptions::default()
    };
    let bundle = sign_model(
        &local().join("model"),
        &Signer::Key {
            private_key_pem: key.clone(),
        },
        &opts,
    )
    .unwrap();
    let ours = verify_bundle_manifest(&bundle, &local_key(), &VerifyOptions::default()).unwrap();
    let theirs = verify_bundle_manifest(
        &read(&local().join("model.key.shard.sig")),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(ours.resources, theirs.resources);
    assert_eq!(ours.root_digest, theirs.root_digest);

    let opts = SignOptions {
        hash_type: HashType::Blake2b,
        shard_size: Some(4096),
        ..SignOptions::default()
    };
    let bundle = sign_model(&local().join("model"), &Signer::Key { private_key_pem: key }, &opts).unwrap();
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("m.sig"), &bundle).unwrap();
    let v = verify_model(
        &local().join("model"),
        &t.path().join("m.sig"),
        &local_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert!(v
        .resources
        .values()
        .all(|(alg, d)| alg == "blake2b-sharded-4096" && d.len() == 128));
}

#[test]
fn signing_with_a_certificate_round_trips() {
    let pki = local().join("pki");
    let signer = Signer::Certificate {
        private_key_pem: read(&pki.join("leaf.key")),
        cert_chain_pems: vec![read(&pki.join("leaf.pem")), read(&pki.join("int.pem"))],
    };
    let bundle = sign_model(&local().join("model"), &signer, &SignOptions::default()).unwrap();
    let m = verify_bundle_manifest(&bundle, &local_ca(), &VerifyOptions::default()).unwrap();
    assert_eq!(
        m.root_digest,
        "31b62b17fe0e136875929434418f2d8345d983da0f35f43e2a6889f36c9f48fd"
    );
    // The key must be the certificate's.
    let wrong = Signer::Certificate {
        private_key_pem: read(&local().join("ec_p256.key")),
        cert_chain_pems: vec![read(&pki.join("leaf.pem"))],
    };
    let r = sign_model(&local().join("model"), &wrong, &SignOptions::default());
    assert!(matches!(r, Err(OmsError::Sign(_))), "{r:?}");
}

/// P-384 and P-521 keys, made by openssl (present on this machine, as in CI).
#[test]
fn signing_with_p384_and_p521_keys_round_trips() {
    let t = tempfile::tempdir().unwrap();
    for curve in ["secp384r1", "secp521r1"] {
        let key = t.path().join(format!("{curve}.key"));
        let pubk = t.path().join(format!("{curve}.pub"));
        let ok = std::process::Command::new("openssl")
            .args(["ecparam", "-name", curve, "-genkey", "-noout", "-out"])
            .arg(&key)
            .status()
            .expect("openssl runs")
            .success();
        assert!(ok);
        let ok = std::process::Command::new("openssl")
            .args(["ec", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&pubk)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let bundle = sign_model(
            &local().join("model"),
            &Signer::Key {
                private_key_pem: read(&key),
            },
            &SignOptions::default(),
        )
        .unwrap();
        let v = Verifier::Key {
            public_key_pem: read(&pubk),
        };
        let m = verify_bundle_manifest(&bundle, &v, &VerifyOptions::default()).unwrap();
        assert_eq!(
            m.root_digest,
            "31b62b17fe0e136875929434418f2d8345d983da0f35f43e2a6889f36c9f48fd"
        );
        // And the P-256 fixture key refuses it.
        let r = verify_bundle_manifest(&bundle, &local_key(), &VerifyOptions::default());
        assert!(matches!(r, Err(OmsError::KeyHint { .. })), "{r:?}");
    }
}
