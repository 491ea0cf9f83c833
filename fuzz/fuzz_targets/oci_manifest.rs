//! OCI layout documents of arbitrary bytes, through the public layout API (which only reads
//! from disk): the input is written once as `index.json` of one layout, and once as a
//! manifest blob that a fixed `index.json` of a second layout points at.
#![no_main]

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sealrun_image::oci::{referrers, OciLayout};
use sha2::{Digest, Sha256};

const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
const MANIFEST_TYPES: [&str; 3] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.cncf.model.manifest.v1+json",
];

fn dirs() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("temp dir");
        for sub in ["index", "blob"] {
            fs::create_dir_all(d.path().join(sub).join("blobs/sha256")).unwrap();
            fs::write(d.path().join(sub).join("oci-layout"), OCI_LAYOUT).unwrap();
        }
        d
    })
}

fn exercise(layout: &OciLayout) {
    let _ = layout.descriptors();
    let _ = layout.tags();
    if let Ok(manifests) = layout.manifests() {
        for m in &manifests {
            let _ = sealrun_image::oci::model_files(&m.manifest);
        }
    }
    for reference in [
        "v1",
        "latest",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ] {
        if let Ok(m) = layout.resolve(reference) {
            let _ = referrers(layout, &m.digest.to_string());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let root = dirs().path();

    let index_root = root.join("index");
    fs::write(index_root.join("index.json"), data).unwrap();
    if let Ok(layout) = OciLayout::open(&index_root) {
        exercise(&layout);
    }

    let blob_root = root.join("blob");
    let blobs = blob_root.join("blobs/sha256");
    let hex: String = Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect();
    // One blob at a time: remove the previous input's blob.
    for e in fs::read_dir(&blobs).unwrap().flatten() {
        let _ = fs::remove_file(e.path());
    }
    fs::write(blobs.join(&hex), data).unwrap();
    let media_type = MANIFEST_TYPES[data.first().copied().unwrap_or(0) as usize % MANIFEST_TYPES.len()];
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": media_type,
            "digest": format!("sha256:{hex}"),
            "size": data.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        }],
    });
    fs::write(blob_root.join("index.json"), index.to_string()).unwrap();
    let layout = OciLayout::open(Path::new(&blob_root)).expect("the fixed index.json opens");
    exercise(&layout);
});
