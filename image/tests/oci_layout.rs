//! The OCI layout against the fixture `oci/model-layout` (a CNCF ModelPack model with an OMS
//! bundle and a CycloneDX ML-BOM as referrers), and tamper tests on copies of it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sealrun_image::oci::layout::{BlobDigest, DigestAlgorithm};
use sealrun_image::oci::media::{artifact_format, ArtifactFormat};
use sealrun_image::oci::{
    model_files, referrers, unpack_layer, Compression, FileKind, FoundBy, OciError, OciLayout, ReferrerKind,
    UnpackLimits,
};
use sha2::{Digest, Sha256};

const MODEL_MANIFEST: &str = "sha256:aa28a7025d64c032dd0283e48f56f720c386f2780b92da4fc11a5db7ce94511d";
const WEIGHTS: &str = "sha256:fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83";
const BOM_LAYER: &str = "9994bce120c939c645e98a2ab35cafc1dce74b4ea835b58ae0b1d98942001dee";

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

fn model_layout() -> PathBuf {
    fixtures().join("oci/model-layout")
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

/// A writable copy of the fixture layout.
fn layout_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("layout");
    copy_dir(&model_layout(), &root);
    (tmp, root)
}

fn blob_path(root: &Path, digest: &str) -> PathBuf {
    root.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn resolves_tag_v1_to_the_modelpack_manifest() {
    let layout = OciLayout::open(model_layout()).unwrap();
    let m = layout.resolve("v1").unwrap();
    assert_eq!(m.digest.to_string(), MODEL_MANIFEST);
    // The digest is over the raw bytes as stored.
    assert_eq!(format!("sha256:{}", sha256_hex(&m.raw)), MODEL_MANIFEST);
    assert_eq!(m.raw.len() as u64, 1235);
    assert_eq!(artifact_format(&m.manifest), ArtifactFormat::ModelPack);
    assert_eq!(m.manifest.layers().len(), 4);

    let by_digest = layout.resolve(MODEL_MANIFEST).unwrap();
    assert_eq!(by_digest.raw, m.raw);
    assert_eq!(layout.tags().unwrap(), vec!["v1".to_string()]);
}

#[test]
fn unknown_reference_names_the_tags_there_are() {
    let layout = OciLayout::open(model_layout()).unwrap();
    let err = layout.resolve("v2").unwrap_err();
    assert!(matches!(err, OciError::RefNotFound { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("\"v2\"") && msg.contains("v1"), "{msg}");

    let missing = format!("sha256:{}", "0".repeat(64));
    assert!(matches!(
        layout.resolve(&missing).unwrap_err(),
        OciError::RefNotFound { .. }
    ));
}

#[test]
fn lists_the_model_files_with_paths_kinds_and_digests() {
    let layout = OciLayout::open(model_layout()).unwrap();
    let m = layout.resolve("v1").unwrap();
    let files = model_files(&m.manifest);
    let paths: Vec<_> = files.iter().map(|f| f.path.clone().unwrap()).collect();
    assert_eq!(
        paths,
        ["config.json", "empty.bin", "model.safetensors", "sub/tokenizer.txt"]
    );
    let kinds: Vec<_> = files.iter().map(|f| f.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            FileKind::WeightConfig,
            FileKind::Weight,
            FileKind::Weight,
            FileKind::WeightConfig
        ]
    );
    assert!(files.iter().all(|f| f.compression == Compression::Raw));
    let weights = &files[2];
    assert_eq!(weights.digest, WEIGHTS);
    assert_eq!(weights.size, 1_048_576);
    assert_eq!(files[1].size, 0);

    // For a raw layer the layer digest is the file's sha256.
    let layer = &m.manifest.layers()[3];
    let bytes = layout.read_blob(layer, 1 << 20).unwrap();
    assert_eq!(bytes, b"hello tokenizer\n");
    assert_eq!(format!("sha256:{}", sha256_hex(&bytes)), files[3].digest);
}

#[test]
fn finds_both_referrers_by_subject() {
    let layout = OciLayout::open(model_layout()).unwrap();
    let found = referrers(&layout, MODEL_MANIFEST).unwrap();
    assert_eq!(found.len(), 2);
    let bundle = found
        .iter()
        .find(|r| r.kind == ReferrerKind::SigstoreBundle)
        .expect("the OMS bundle");
    let bom = found
        .iter()
        .find(|r| r.kind == ReferrerKind::CycloneDx)
        .expect("the ML-BOM");
    for r in [bundle, bom] {
        assert_eq!(r.found_by, FoundBy::Subject);
        assert_eq!(r.payloads.len(), 1);
    }
    assert_eq!(bundle.artifact_type, "application/vnd.dev.sigstore.bundle.v0.3+json");
    let b: serde_json::Value = serde_json::from_slice(&bundle.payloads[0].bytes).unwrap();
    assert_eq!(b["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert!(b["dsseEnvelope"]["payload"].is_string());
    let c: serde_json::Value = serde_json::from_slice(&bom.payloads[0].bytes).unwrap();
    assert_eq!(c["bomFormat"], "CycloneDX");

    // Nothing refers to the weights blob.
    assert!(referrers(&layout, WEIGHTS).unwrap().is_empty());
}

#[test]
fn digest_rules() {
    let d = BlobDigest::parse(MODEL_MANIFEST, "test").unwrap();
    assert_eq!(d.algorithm(), DigestAlgorithm::Sha256);
    assert_eq!(d.blob_path(), format!("blobs/sha256/{}", &MODEL_MANIFEST[7..]));
    let err = BlobDigest::parse(&format!("md5:{}", "a".repeat(32)), "test").unwrap_err();
    assert!(matches!(err, OciError::UnsupportedAlgorithm { .. }), "{err}");
    // A value that could walk out of blobs/ is not a digest.
    let escape = format!("sha256:../../{}", "a".repeat(58));
    assert!(matches!(
        BlobDigest::parse(&escape, "test").unwrap_err(),
        OciError::InvalidDigest { .. }
    ));
    assert!(BlobDigest::parse(&format!("sha512:{}", "b".repeat(128)), "t").is_ok());
    assert!(BlobDigest::parse(&format!("sha256:{}", "A".repeat(64)), "t").is_err());
}

#[test]
fn a_flipped_byte_is_a_digest_error_naming_the_blob() {
    let (_tmp, root) = layout_copy();
    let path = blob_path(&root, WEIGHTS);
    let mut bytes = fs::read(&path).unwrap();
    bytes[1000] ^= 0x01;
    fs::write(&path, &bytes).unwrap();

    let layout = OciLayout::open(&root).unwrap();
    let m = layout.resolve("v1").unwrap();
    let layer = &m.manifest.layers()[2];
    let err = layout.read_blob(layer, 2 << 20).unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "blobs/sha256/{}: digest expected {WEIGHTS}, found sha256:",
            &WEIGHTS[7..]
        )),
        "{msg}"
    );

    // Unpacking the layer writes the file while streaming, then removes it at the mismatch.
    let target = root.parent().unwrap().join("unpacked");
    let err = unpack_layer(&layout, layer, &target, &UnpackLimits::default()).unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    assert!(!target.exists(), "a failed unpack leaves nothing behind");
}

#[test]
fn a_wrong_size_in_index_json_is_a_size_error() {
    let (_tmp, root) = layout_copy();
    let index = fs::read_to_string(root.join("index.json")).unwrap();
    let edited = index.replacen("\"size\": 1235", "\"size\": 1240", 1);
    let edited = if edited == index {
        index.replacen("\"size\":1235", "\"size\":1240", 1)
    } else {
        edited
    };
    assert_ne!(edited, index, "the fixture's index.json names size 1235");
    fs::write(root.join("index.json"), edited).unwrap();

    let layout = OciLayout::open(&root).unwrap();
    let err = layout.resolve("v1").unwrap_err();
    assert!(
        matches!(
            err,
            OciError::SizeMismatch {
                expected: 1240,
                found: 1235,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("blobs/sha256/{}: size expected 1240, found 1235", &MODEL_MANIFEST[7..])
    );
}

#[test]
fn a_blob_longer_than_declared_is_refused_before_reading() {
    let (_tmp, root) = layout_copy();
    let path = blob_path(&root, WEIGHTS);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(b"trailing");
    fs::write(&path, &bytes).unwrap();
    let layout = OciLayout::open(&root).unwrap();
    let m = layout.resolve("v1").unwrap();
    let err = layout.open_descriptor(&m.manifest.layers()[2]).err().unwrap();
    assert!(
        matches!(
            err,
            OciError::SizeMismatch {
                expected: 1_048_576,
                found: 1_048_584,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_missing_blob_is_named() {
    let (_tmp, root) = layout_copy();
    fs::remove_file(root.join("blobs/sha256").join(BOM_LAYER)).unwrap();
    let layout = OciLayout::open(&root).unwrap();
    let err = referrers(&layout, MODEL_MANIFEST).unwrap_err();
    assert!(matches!(err, OciError::BlobMissing { .. }), "{err}");
    assert!(err.to_string().contains(&format!("blobs/sha256/{BOM_LAYER}")), "{err}");
}

#[test]
fn a_blob_symlinked_out_of_blobs_is_refused() {
    let (tmp, root) = layout_copy();
    let path = blob_path(&root, WEIGHTS);
    let outside = tmp.path().join("outside.bin");
    fs::rename(&path, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    let layout = OciLayout::open(&root).unwrap();
    let m = layout.resolve("v1").unwrap();
    let err = layout.read_blob(&m.manifest.layers()[2], 2 << 20).unwrap_err();
    assert!(matches!(err, OciError::BlobEscapes { .. }), "{err}");
}

#[test]
fn a_wrong_layout_version_is_refused() {
    let (_tmp, root) = layout_copy();
    fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"2.0.0"}"#).unwrap();
    let err = OciLayout::open(&root).unwrap_err();
    assert!(matches!(err, OciError::LayoutVersion { .. }), "{err}");
    assert!(err.to_string().contains("expected 1.0.0, found \"2.0.0\""), "{err}");
}

#[test]
fn a_tag_on_a_nested_index_resolves_through_it() {
    let (_tmp, root) = layout_copy();
    let nested = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{MODEL_MANIFEST}","size":1235}}]}}"#
    );
    let hex = sha256_hex(nested.as_bytes());
    fs::write(root.join("blobs/sha256").join(&hex), &nested).unwrap();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:{hex}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"nested"}}}}]}}"#,
        nested.len()
    );
    fs::write(root.join("index.json"), index).unwrap();
    let layout = OciLayout::open(&root).unwrap();
    let m = layout.resolve("nested").unwrap();
    assert_eq!(m.digest.to_string(), MODEL_MANIFEST);
    // The model manifest is reachable through the nested index, so it is walked too.
    assert_eq!(layout.manifests().unwrap().len(), 1);
}

#[test]
fn unpacks_the_raw_model_layers_at_their_paths() {
    let layout = OciLayout::open(model_layout()).unwrap();
    let m = layout.resolve("v1").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("model");
    for layer in m.manifest.layers() {
        unpack_layer(&layout, layer, &target, &UnpackLimits::default()).unwrap();
    }
    assert_eq!(
        fs::read(target.join("sub/tokenizer.txt")).unwrap(),
        b"hello tokenizer\n"
    );
    assert_eq!(fs::metadata(target.join("empty.bin")).unwrap().len(), 0);
    let weights = fs::read(target.join("model.safetensors")).unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&weights)), WEIGHTS);

    // A second unpack of the same layer does not overwrite what is there.
    let err = unpack_layer(&layout, &m.manifest.layers()[0], &target, &UnpackLimits::default()).unwrap_err();
    assert!(matches!(err, OciError::UnsafeEntry { .. }), "{err}");
    assert!(target.join("config.json").exists(), "the earlier file stays");
}

#[test]
fn a_blob_that_changes_after_open_fails_while_streaming() {
    use std::io::Read;
    let (_tmp, root) = layout_copy();
    let layout = OciLayout::open(&root).unwrap();
    let m = layout.resolve("v1").unwrap();
    let path = blob_path(&root, WEIGHTS);

    // Grows after the size check at open: refused at the first byte past the declared size.
    let mut reader = layout.open_descriptor(&m.manifest.layers()[2]).unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"more")
        .unwrap();
    let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
    let err = err.into_inner().unwrap().downcast::<OciError>().unwrap();
    assert!(
        matches!(
            *err,
            OciError::SizeMismatch {
                expected: 1_048_576,
                ..
            }
        ),
        "{err}"
    );

    // Shrinks after open: refused at EOF.
    let bytes = fs::read(&path).unwrap();
    let mut reader = {
        fs::write(&path, &bytes[..1_048_576]).unwrap();
        layout.open_descriptor(&m.manifest.layers()[2]).unwrap()
    };
    fs::write(&path, &bytes[..1000]).unwrap();
    let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
    let err = err.into_inner().unwrap().downcast::<OciError>().unwrap();
    assert!(
        matches!(
            *err,
            OciError::SizeMismatch {
                expected: 1_048_576,
                found: 1000,
                ..
            }
        ),
        "{err}"
    );
    assert!(!reader.verified());
}

#[test]
fn a_full_reference_name_resolves_by_its_tag() {
    let (_tmp, root) = layout_copy();
    let index = fs::read_to_string(root.join("index.json")).unwrap();
    let edited = index.replacen("\"v1\"", "\"registry.example/models/demo:v1\"", 1);
    assert_ne!(edited, index);
    fs::write(root.join("index.json"), edited).unwrap();
    let layout = OciLayout::open(&root).unwrap();
    assert_eq!(layout.resolve("v1").unwrap().digest.to_string(), MODEL_MANIFEST);
    assert_eq!(
        layout
            .resolve("registry.example/models/demo:v1")
            .unwrap()
            .digest
            .to_string(),
        MODEL_MANIFEST
    );
}
