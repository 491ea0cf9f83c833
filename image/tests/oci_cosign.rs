//! Cosign keyed signatures: a P-256 key made here signs a simple-signing payload for the
//! fixture model manifest; the signature manifest is added to a copy of the fixture layout,
//! as an OCI 1.1 referrer or under cosign's `sha256-<hex>.sig` tag.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use sealrun_image::oci::cosign::{parse_public_key, verify_image, SIMPLE_SIGNING_TYPE};
use sealrun_image::oci::{referrers, FoundBy, OciError, OciLayout, ReferrerKind};
use sha2::{Digest, Sha256};

const MODEL_MANIFEST: &str = "sha256:aa28a7025d64c032dd0283e48f56f720c386f2780b92da4fc11a5db7ce94511d";
const EMPTY_CONFIG: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A P-256 key made from a seed (the test needs no RNG to make one).
fn key(seed: &str) -> SigningKey {
    SigningKey::from_slice(&Sha256::digest(seed.as_bytes())).unwrap()
}

fn public_pem(key: &SigningKey) -> String {
    key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap()
}

fn payload(digest: &str, kind: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"registry.example/models/demo"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"{kind}"}},"optional":{{"creator":"test"}}}}"#
    )
    .into_bytes()
}

fn sign(key: &SigningKey, payload: &[u8]) -> String {
    let sig: Signature = key.sign(payload);
    base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
}

fn write_blob(root: &Path, bytes: &[u8]) -> String {
    let hex = sha256_hex(bytes);
    fs::write(root.join("blobs/sha256").join(&hex), bytes).unwrap();
    format!("sha256:{hex}")
}

enum Attach {
    Subject,
    Tag,
}

/// A copy of the fixture layout with one cosign signature manifest added.
fn signed_layout(payload: &[u8], signature: &str, attach: Attach) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("layout");
    copy_dir(&fixtures().join("oci/model-layout"), &root);
    let layer = write_blob(&root, payload);
    let subject = match attach {
        Attach::Subject => format!(
            r#","subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{MODEL_MANIFEST}","size":1235}}"#
        ),
        Attach::Tag => String::new(),
    };
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{EMPTY_CONFIG}","size":2}},"layers":[{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{layer}","size":{},"annotations":{{"dev.cosignproject.cosign/signature":"{signature}"}}}}]{subject}}}"#,
        payload.len()
    );
    let manifest_digest = write_blob(&root, manifest.as_bytes());
    let annotations = match attach {
        Attach::Subject => String::new(),
        Attach::Tag => format!(
            r#","annotations":{{"org.opencontainers.image.ref.name":"sha256-{}.sig"}}"#,
            &MODEL_MANIFEST[7..]
        ),
    };
    let index_path = root.join("index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    let desc: serde_json::Value = serde_json::from_str(&format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{}{annotations}}}"#,
        manifest.len()
    ))
    .unwrap();
    index["manifests"].as_array_mut().unwrap().push(desc);
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    (tmp, root)
}

#[test]
fn a_referrer_signature_verifies() {
    let signer = key("cosign test key");
    let p = payload(MODEL_MANIFEST, SIMPLE_SIGNING_TYPE);
    let (_tmp, root) = signed_layout(&p, &sign(&signer, &p), Attach::Subject);
    let layout = OciLayout::open(&root).unwrap();

    let found = referrers(&layout, MODEL_MANIFEST).unwrap();
    assert_eq!(found.len(), 3, "the bundle, the BOM and the signature");
    let sig = found.iter().find(|r| r.kind == ReferrerKind::CosignSignature).unwrap();
    assert_eq!(sig.payloads[0].bytes, p);

    let vk = parse_public_key(&public_pem(&signer), "test key").unwrap();
    let image = layout.resolve("v1").unwrap();
    let verified = verify_image(&layout, &image.digest.to_string(), &vk).unwrap();
    assert_eq!(verified.found_by, FoundBy::Subject);
    assert_eq!(verified.payload.manifest_digest, MODEL_MANIFEST);
    assert_eq!(verified.payload.docker_reference, "registry.example/models/demo");
    assert_eq!(verified.payload.optional.as_ref().unwrap()["creator"], "test");
}

#[test]
fn a_signature_under_the_cosign_tag_verifies() {
    let signer = key("cosign test key");
    let p = payload(MODEL_MANIFEST, SIMPLE_SIGNING_TYPE);
    let (_tmp, root) = signed_layout(&p, &sign(&signer, &p), Attach::Tag);
    let layout = OciLayout::open(&root).unwrap();
    let vk = parse_public_key(&public_pem(&signer), "test key").unwrap();
    let verified = verify_image(&layout, MODEL_MANIFEST, &vk).unwrap();
    assert_eq!(verified.found_by, FoundBy::CosignTag);
}

#[test]
fn the_wrong_key_fails() {
    let signer = key("cosign test key");
    let p = payload(MODEL_MANIFEST, SIMPLE_SIGNING_TYPE);
    let (_tmp, root) = signed_layout(&p, &sign(&signer, &p), Attach::Subject);
    let layout = OciLayout::open(&root).unwrap();
    // The OMS fixture's key: a real P-256 key, just not the signer.
    let other = fs::read_to_string(fixtures().join("signing/oms-local/ec_p256.pub")).unwrap();
    let vk = parse_public_key(&other, "ec_p256.pub").unwrap();
    let err = verify_image(&layout, MODEL_MANIFEST, &vk).unwrap_err();
    assert!(matches!(err, OciError::SignatureInvalid { .. }), "{err}");
}

#[test]
fn a_signature_for_another_digest_fails() {
    let signer = key("cosign test key");
    let other = format!("sha256:{}", "1".repeat(64));
    let p = payload(&other, SIMPLE_SIGNING_TYPE);
    let (_tmp, root) = signed_layout(&p, &sign(&signer, &p), Attach::Subject);
    let layout = OciLayout::open(&root).unwrap();
    let vk = parse_public_key(&public_pem(&signer), "test key").unwrap();
    let err = verify_image(&layout, MODEL_MANIFEST, &vk).unwrap_err();
    match &err {
        OciError::Field {
            field, expected, found, ..
        } => {
            assert_eq!(field, "critical.image.docker-manifest-digest");
            assert_eq!(expected, MODEL_MANIFEST);
            assert_eq!(found, &other);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_payload_of_another_type_fails() {
    let signer = key("cosign test key");
    let p = payload(MODEL_MANIFEST, "something else");
    let (_tmp, root) = signed_layout(&p, &sign(&signer, &p), Attach::Subject);
    let layout = OciLayout::open(&root).unwrap();
    let vk = parse_public_key(&public_pem(&signer), "test key").unwrap();
    let err = verify_image(&layout, MODEL_MANIFEST, &vk).unwrap_err();
    assert!(
        matches!(&err, OciError::Field { field, .. } if field == "critical.type"),
        "{err}"
    );
}

#[test]
fn a_signature_over_other_bytes_fails() {
    let signer = key("cosign test key");
    let p = payload(MODEL_MANIFEST, SIMPLE_SIGNING_TYPE);
    let mut signed = p.clone();
    signed.push(b' ');
    let (_tmp, root) = signed_layout(&p, &sign(&signer, &signed), Attach::Subject);
    let layout = OciLayout::open(&root).unwrap();
    let vk = parse_public_key(&public_pem(&signer), "test key").unwrap();
    let err = verify_image(&layout, MODEL_MANIFEST, &vk).unwrap_err();
    assert!(matches!(err, OciError::SignatureInvalid { .. }), "{err}");
}

#[test]
fn no_signature_is_an_error_naming_the_tag() {
    let layout = OciLayout::open(fixtures().join("oci/model-layout")).unwrap();
    let vk = parse_public_key(&public_pem(&key("k")), "test key").unwrap();
    let err = verify_image(&layout, MODEL_MANIFEST, &vk).unwrap_err();
    assert!(matches!(err, OciError::NoSignature { .. }), "{err}");
    assert!(err
        .to_string()
        .contains(&format!("sha256-{}.sig", &MODEL_MANIFEST[7..])));
}

#[test]
fn a_non_p256_or_garbled_key_is_refused() {
    let err = parse_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "k").unwrap_err();
    assert!(matches!(err, OciError::Cosign { .. }), "{err}");
}
