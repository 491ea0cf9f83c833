//! Unpacking layers: tars made here, honest and hostile.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sealrun_image::oci::{unpack_tar, Compression, OciError, UnpackLimits};
use tar::{EntryType, Header};

/// One tar entry, its header written by hand so hostile names get through as they are.
struct E {
    name: String,
    kind: EntryType,
    data: Vec<u8>,
    link: Option<String>,
    mode: u32,
}

fn file(name: &str, data: &[u8]) -> E {
    E {
        name: name.into(),
        kind: EntryType::Regular,
        data: data.to_vec(),
        link: None,
        mode: 0o644,
    }
}

fn dir(name: &str) -> E {
    E {
        name: name.into(),
        kind: EntryType::Directory,
        data: Vec::new(),
        link: None,
        mode: 0o755,
    }
}

fn link(name: &str, kind: EntryType, target: &str) -> E {
    E {
        name: name.into(),
        kind,
        data: Vec::new(),
        link: Some(target.into()),
        mode: 0o777,
    }
}

fn special(name: &str, kind: EntryType) -> E {
    E {
        name: name.into(),
        kind,
        data: Vec::new(),
        link: None,
        mode: 0o644,
    }
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
            if let Some(l) = &e.link {
                old.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_entry_type(e.kind);
        h.set_size(e.data.len() as u64);
        h.set_mode(e.mode);
        h.set_cksum();
        builder.append(&h, e.data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

struct Scene {
    tmp: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/secret"), b"secret").unwrap();
        Scene { tmp }
    }

    fn target(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    fn unpack(
        &self,
        tar: &[u8],
        compression: Compression,
        limits: &UnpackLimits,
    ) -> Result<sealrun_image::oci::UnpackReport, OciError> {
        unpack_tar(tar, compression, &self.target(), limits, "test-layer")
    }

    fn unpack_tar(&self, entries: &[E]) -> Result<sealrun_image::oci::UnpackReport, OciError> {
        self.unpack(&tar_of(entries), Compression::Tar, &UnpackLimits::default())
    }

    /// Nothing was added next to the target, and the target (which did not exist) is gone.
    fn assert_clean(&self) {
        let mut outside: Vec<_> = fs::read_dir(self.outside())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        outside.sort();
        assert_eq!(outside, ["secret"], "nothing written outside the root");
        assert_eq!(fs::read(self.outside().join("secret")).unwrap(), b"secret");
        assert!(!self.target().exists(), "a failed unpack removes what it made");
    }
}

fn assert_unsafe(err: &OciError, entry: &str) {
    match err {
        OciError::UnsafeEntry { entry: e, layer, .. } => {
            assert_eq!(e, entry, "{err}");
            assert_eq!(layer, "test-layer");
        }
        other => panic!("expected an unsafe-entry error for {entry}, got {other}"),
    }
}

fn honest_entries() -> Vec<E> {
    let mut suid = file("bin/tool", b"#!/bin/sh\n");
    suid.mode = 0o6755;
    vec![
        dir("sub/"),
        file("sub/a.txt", b"alpha"),
        file("deep/er/b.bin", &[7u8; 3000]),
        suid,
        link("sub/link", EntryType::Symlink, "a.txt"),
        link("up", EntryType::Symlink, "sub/../deep/er"),
        link("hard", EntryType::Link, "sub/a.txt"),
    ]
}

fn check_honest(target: &Path) {
    assert_eq!(fs::read(target.join("sub/a.txt")).unwrap(), b"alpha");
    assert_eq!(fs::read(target.join("deep/er/b.bin")).unwrap(), vec![7u8; 3000]);
    assert_eq!(fs::read(target.join("sub/link")).unwrap(), b"alpha");
    assert_eq!(fs::read_link(target.join("up")).unwrap(), Path::new("sub/../deep/er"));
    let a = fs::metadata(target.join("sub/a.txt")).unwrap();
    let h = fs::metadata(target.join("hard")).unwrap();
    assert_eq!(a.ino(), h.ino(), "hardlink to the same inode");
    let mode = fs::metadata(target.join("bin/tool")).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "setuid and setgid stripped");
}

#[test]
fn an_honest_tar_unpacks() {
    let s = Scene::new();
    let report = s.unpack_tar(&honest_entries()).unwrap();
    check_honest(&s.target());
    assert_eq!(report.entries, 7);
    assert_eq!(report.bytes, 5 + 3000 + 10);
}

#[test]
fn gzip_and_zstd_layers_unpack() {
    let raw = tar_of(&honest_entries());
    for (compression, bytes) in [(Compression::TarGzip, gzip(&raw)), (Compression::TarZstd, zstd(&raw))] {
        let s = Scene::new();
        let report = s.unpack(&bytes, compression, &UnpackLimits::default()).unwrap();
        assert_eq!(report.entries, 7, "{compression:?}");
        check_honest(&s.target());
    }
}

#[test]
fn a_corrupt_gzip_stream_fails_and_removes_what_it_wrote() {
    let s = Scene::new();
    let mut bytes = gzip(&tar_of(&honest_entries()));
    let n = bytes.len();
    bytes.truncate(n - 12);
    let err = s
        .unpack(&bytes, Compression::TarGzip, &UnpackLimits::default())
        .unwrap_err();
    assert!(matches!(err, OciError::UnpackIo { .. }), "{err}");
    s.assert_clean();
}

#[test]
fn dotdot_is_refused() {
    let s = Scene::new();
    let err = s
        .unpack_tar(&[file("ok.txt", b"fine"), file("../outside/x", b"pwned")])
        .unwrap_err();
    assert_unsafe(&err, "../outside/x");
    assert!(err.to_string().contains("'..'"), "{err}");
    s.assert_clean();
}

#[test]
fn absolute_paths_are_refused() {
    let s = Scene::new();
    let abs = format!("{}/x", s.outside().display());
    let err = s.unpack_tar(&[file(&abs, b"pwned")]).unwrap_err();
    assert_unsafe(&err, &abs);
    assert!(err.to_string().contains("absolute"), "{err}");
    s.assert_clean();
}

#[test]
fn a_symlink_out_is_refused_and_nothing_is_written_through_it() {
    let s = Scene::new();
    let err = s
        .unpack_tar(&[link("evil", EntryType::Symlink, "../outside"), file("evil/x", b"pwned")])
        .unwrap_err();
    assert_unsafe(&err, "evil");
    s.assert_clean();

    let err = s.unpack_tar(&[link("evil", EntryType::Symlink, "/etc")]).unwrap_err();
    assert_unsafe(&err, "evil");
    s.assert_clean();
}

#[test]
fn a_file_is_never_written_through_a_symlink_even_one_inside() {
    let s = Scene::new();
    let err = s
        .unpack_tar(&[
            dir("sub/"),
            link("inner", EntryType::Symlink, "sub"),
            file("inner/x", b"via a link"),
        ])
        .unwrap_err();
    assert_unsafe(&err, "inner/x");
    assert!(err.to_string().contains("symlink"), "{err}");
    s.assert_clean();
}

#[test]
fn chained_symlinks_that_climb_out_are_refused() {
    // Each passes the lexical check; together `d/m` resolves to d/l/.. = (root)/.. .
    let s = Scene::new();
    let err = s
        .unpack_tar(&[
            dir("d/"),
            link("d/m", EntryType::Symlink, "l/.."),
            link("d/l", EntryType::Symlink, ".."),
        ])
        .unwrap_err();
    assert_unsafe(&err, "d/m");
    assert!(err.to_string().contains("above the root"), "{err}");
    s.assert_clean();
}

#[test]
fn hardlinks_out_are_refused() {
    for target in ["../outside/secret", "/etc/passwd"] {
        let s = Scene::new();
        let err = s
            .unpack_tar(&[file("a", b"a"), link("h", EntryType::Link, target)])
            .unwrap_err();
        assert_unsafe(&err, "h");
        s.assert_clean();
    }
    // Nor through a symlink that points out (refused as a symlink first).
    let s = Scene::new();
    let err = s
        .unpack_tar(&[
            link("l", EntryType::Symlink, "../outside"),
            link("h", EntryType::Link, "l/secret"),
        ])
        .unwrap_err();
    assert_unsafe(&err, "l");
    s.assert_clean();
}

#[test]
fn a_hardlink_to_a_symlink_inside_is_refused() {
    let s = Scene::new();
    let err = s
        .unpack_tar(&[
            dir("sub/"),
            link("sub/l", EntryType::Symlink, "."),
            link("h", EntryType::Link, "sub/l"),
        ])
        .unwrap_err();
    assert_unsafe(&err, "h");
    s.assert_clean();
}

#[test]
fn device_nodes_and_fifos_are_refused() {
    for kind in [EntryType::Char, EntryType::Block, EntryType::Fifo] {
        let s = Scene::new();
        let err = s.unpack_tar(&[file("a", b"a"), special("dev", kind)]).unwrap_err();
        assert_unsafe(&err, "dev");
        assert!(err.to_string().contains("device nodes and fifos"), "{err}");
        s.assert_clean();
    }
}

#[test]
fn too_many_entries_names_the_entry_over_the_limit() {
    let s = Scene::new();
    let entries: Vec<E> = (0..5).map(|i| file(&format!("f{i}"), b"x")).collect();
    let limits = UnpackLimits {
        max_entries: 3,
        ..UnpackLimits::default()
    };
    let err = s.unpack(&tar_of(&entries), Compression::Tar, &limits).unwrap_err();
    match &err {
        OciError::TooManyEntries { entry, limit, .. } => {
            assert_eq!(entry, "f3");
            assert_eq!(*limit, 3);
        }
        other => panic!("{other}"),
    }
    s.assert_clean();
}

#[test]
fn too_large_names_the_entry_over_the_limit() {
    let s = Scene::new();
    let entries = [file("small", &[1u8; 60]), file("big", &[2u8; 60])];
    let limits = UnpackLimits {
        max_total_bytes: 100,
        ..UnpackLimits::default()
    };
    let err = s.unpack(&tar_of(&entries), Compression::Tar, &limits).unwrap_err();
    match &err {
        OciError::TooLarge {
            entry, total, limit, ..
        } => {
            assert_eq!(entry, "big");
            assert_eq!((*total, *limit), (120, 100));
        }
        other => panic!("{other}"),
    }
    s.assert_clean();
}

#[test]
fn a_duplicate_entry_does_not_overwrite() {
    let s = Scene::new();
    let err = s.unpack_tar(&[file("a", b"first"), file("a", b"second")]).unwrap_err();
    assert_unsafe(&err, "a");
    s.assert_clean();
}

#[test]
fn a_failure_into_an_existing_target_removes_only_what_it_made() {
    let s = Scene::new();
    fs::create_dir(s.target()).unwrap();
    fs::create_dir(s.target().join("keep")).unwrap();
    fs::write(s.target().join("keep/old"), b"old").unwrap();
    let err = s
        .unpack_tar(&[
            file("keep/new", b"new"),
            file("fresh/dir/file", b"x"),
            special("pipe", EntryType::Fifo),
        ])
        .unwrap_err();
    assert_unsafe(&err, "pipe");
    let mut left: Vec<_> = fs::read_dir(s.target())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["keep"]);
    let mut kept: Vec<_> = fs::read_dir(s.target().join("keep"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    kept.sort();
    assert_eq!(kept, ["old"]);
}

/// A layout holding one ModelPack manifest with the given layers (bytes as stored, declared
/// digest), tagged `v1`.
fn layout_with(root: &Path, layers: &[(&str, &[u8], String)]) -> sealrun_image::oci::OciLayout {
    use sha2::{Digest, Sha256};
    let hex = |b: &[u8]| -> String { Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect() };
    fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut descs = Vec::new();
    for (media_type, bytes, digest) in layers {
        fs::write(root.join("blobs/sha256").join(&digest[7..]), bytes).unwrap();
        descs.push(serde_json::json!({"mediaType": media_type, "digest": digest, "size": bytes.len()}));
    }
    fs::write(root.join("blobs/sha256").join(hex(b"{}")), b"{}").unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cncf.model.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": format!("sha256:{}", hex(b"{}")), "size": 2},
        "layers": descs,
    }))
    .unwrap();
    let mhex = hex(&manifest);
    fs::write(root.join("blobs/sha256").join(&mhex), &manifest).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{mhex}"), "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}],
    });
    fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    sealrun_image::oci::OciLayout::open(root).unwrap()
}

fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(bytes).iter().map(|x| format!("{x:02x}")).collect();
    format!("sha256:{hex}")
}

#[test]
fn a_tar_layer_unpacks_from_a_layout_and_a_tampered_one_is_undone() {
    use sealrun_image::oci::unpack_layer;
    let s = Scene::new();
    let good = zstd(&tar_of(&honest_entries()));
    let gz = gzip(&tar_of(&[file("x/y.txt", b"hello"), file("z.txt", b"world")]));
    // A plain tar with one byte of a file changed after its digest was taken: the tar
    // still decodes, so only the digest at EOF can tell.
    let tampered = {
        let mut t = tar_of(&[file("x/y.txt", b"hello"), file("z.txt", b"world")]);
        let declared = sha256_digest(&t);
        let pos = t.windows(5).position(|w| w == b"world").unwrap();
        t[pos] = b'W';
        (t, declared)
    };
    // Bytes after the zstd frame are not read by the decoder; the digest covers them.
    let trailing = {
        let mut t = good.clone();
        t.extend_from_slice(b"junk");
        let mut declared = good.clone();
        declared.extend_from_slice(b"JUNK");
        (t, sha256_digest(&declared))
    };
    let layout = layout_with(
        &s.tmp.path().join("layout"),
        &[
            (
                "application/vnd.cncf.model.weight.v1.tar+zstd",
                &good,
                sha256_digest(&good),
            ),
            ("application/vnd.cncf.model.weight.v1.tar+gzip", &gz, sha256_digest(&gz)),
            (
                "application/vnd.cncf.model.weight.v1.tar",
                &tampered.0,
                tampered.1.clone(),
            ),
            ("application/vnd.example.unknown", b"zz", sha256_digest(b"zz")),
            (
                "application/vnd.cncf.model.weight.v1.tar+zstd",
                &trailing.0,
                trailing.1.clone(),
            ),
        ],
    );
    let m = layout.resolve("v1").unwrap();
    let layers = m.manifest.layers();
    let limits = UnpackLimits::default();

    let report = unpack_layer(&layout, &layers[0], &s.target(), &limits).unwrap();
    assert_eq!(report.entries, 7);
    check_honest(&s.target());

    let other = s.tmp.path().join("other");
    unpack_layer(&layout, &layers[1], &other, &limits).unwrap();
    assert_eq!(fs::read(other.join("x/y.txt")).unwrap(), b"hello");

    // Every file of the tampered layer is written before EOF shows the digest is wrong;
    // then all of it is removed.
    let third = s.tmp.path().join("third");
    let err = unpack_layer(&layout, &layers[2], &third, &limits).unwrap_err();
    match &err {
        OciError::DigestMismatch { blob, expected, .. } => {
            assert_eq!(blob, &format!("blobs/sha256/{}", &tampered.1[7..]));
            assert_eq!(expected, &tampered.1);
        }
        other => panic!("{other}"),
    }
    assert!(!third.exists(), "a layer that fails its digest leaves nothing behind");

    let err = unpack_layer(&layout, &layers[3], &s.tmp.path().join("fourth"), &limits).unwrap_err();
    assert!(matches!(err, OciError::Layer { .. }), "{err}");

    let fifth = s.tmp.path().join("fifth");
    let err = unpack_layer(&layout, &layers[4], &fifth, &limits).unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    assert!(!fifth.exists());
}
