//! A layer of arbitrary bytes unpacked with small limits: no panic, and nothing written
//! outside the target (a canary file and the target's siblings are checked after each run).
#![no_main]

use std::fs;
use std::io::Cursor;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sealrun_image::oci::{unpack_tar, Compression, UnpackLimits};

const CANARY: &[u8] = b"canary: must never change\n";

fn outer() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("temp dir");
        fs::write(d.path().join("canary"), CANARY).unwrap();
        fs::create_dir(d.path().join("sibling")).unwrap();
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let outer = outer().path();
    let target = outer.join("target");
    let compression = if data.starts_with(&[0x1f, 0x8b]) {
        Compression::TarGzip
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::TarZstd
    } else {
        Compression::Tar
    };
    let limits = UnpackLimits {
        max_total_bytes: 1 << 20,
        max_entries: 64,
    };
    let _ = unpack_tar(Cursor::new(data), compression, &target, &limits, "fuzz-layer");

    assert_eq!(
        fs::read(outer.join("canary")).unwrap(),
        CANARY,
        "canary outside the target changed"
    );
    let mut names: Vec<String> = fs::read_dir(outer)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.retain(|n| n != "target");
    assert_eq!(names, ["canary", "sibling"], "entries appeared next to the target");
    assert_eq!(
        fs::read_dir(outer.join("sibling")).unwrap().count(),
        0,
        "something was written into a sibling of the target"
    );
    let md = fs::symlink_metadata(outer.join("canary")).unwrap();
    assert!(md.file_type().is_file(), "canary replaced by a non-file");

    if target.exists() {
        // Unpacked entries may be read-only; we run as root, and remove_dir_all does not
        // follow symlinks.
        fs::remove_dir_all(&target).unwrap();
    }
});
