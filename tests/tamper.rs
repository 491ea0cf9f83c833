//! Systematic single-bit tampering of the signed fixtures, through the real `sealrun`
//! binary: every flipped bit of a model file, of its OMS bundle, or of a blob or the index
//! of the OCI model layout must turn the verdict into a refusal (exit 1); a flipped SBOM
//! may stay a valid document, but must never crash the tool.
//!
//! Small files get every byte flipped; larger ones the first and last [`EDGE`] bytes plus
//! [`MIDDLE_SAMPLES`] evenly spaced positions in between. The bit flipped rotates with the
//! position, so each bit of a byte is exercised somewhere. Empty files cannot have a bit
//! flipped: one byte is appended instead.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealrun_e2e::{guarded, runtime_binary};
use serde_json::Value;

/// Bytes at each end of a file that are always tampered with.
const EDGE: usize = 64;
/// Positions sampled between the two edges of a larger file.
const MIDDLE_SAMPLES: usize = 48;

fn fixtures() -> PathBuf {
    std::env::var_os("SEALRUN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"))
}

fn sealrun<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let bin = runtime_binary();
    let mut c = guarded(&bin.to_string_lossy());
    c.args(args);
    c.output().expect("running sealrun")
}

/// The first line of the output, shortened: enough to tell a verdict in a failure list.
fn brief(o: &Output) -> String {
    let t = text(o);
    let line = t.trim().lines().next().unwrap_or("");
    let mut short: String = line.chars().take(160).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The exit code, or `128 + signal` when the process was killed (as a shell reports it).
fn code(o: &Output) -> i32 {
    sealrun_e2e::exit_code(o.status)
}

/// A writable copy of `src` (a file or directory) at `dst`.
fn copy(src: &Path, dst: &Path) {
    let o = Command::new("cp").arg("-a").arg(src).arg(dst).output().unwrap();
    assert!(
        o.status.success(),
        "cp -a {} {}: {}",
        src.display(),
        dst.display(),
        text(&o)
    );
    let o = Command::new("chmod").arg("-R").arg("u+w").arg(dst).output().unwrap();
    assert!(o.status.success(), "chmod -R u+w {}: {}", dst.display(), text(&o));
}

/// The byte positions tampered with in a file of `len` bytes, ascending and distinct.
fn positions(len: usize) -> Vec<usize> {
    if len <= 2 * EDGE + MIDDLE_SAMPLES {
        return (0..len).collect();
    }
    let mut p: Vec<usize> = (0..EDGE).collect();
    let middle = len - 2 * EDGE;
    for i in 0..MIDDLE_SAMPLES {
        // Evenly spaced, offset by half a step so the samples avoid block boundaries.
        p.push(EDGE + (2 * i + 1) * middle / (2 * MIDDLE_SAMPLES));
    }
    p.extend(len - EDGE..len);
    p.dedup();
    p
}

/// One tampering of a file: a bit flipped at `pos`, or (for an empty file) a byte appended.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    Flip { pos: usize, bit: u8 },
    AppendToEmpty,
}

fn tampers(len: usize) -> Vec<Tamper> {
    if len == 0 {
        return vec![Tamper::AppendToEmpty];
    }
    positions(len)
        .into_iter()
        .map(|pos| Tamper::Flip {
            pos,
            bit: (pos % 8) as u8,
        })
        .collect()
}

/// Applies `t` to `path` (whose untampered content is `original`), runs `check` on the
/// tampered bytes, then puts the file back. Checks record failures instead of panicking, so
/// the file is always restored before the next tampering.
fn with_tamper<T>(path: &Path, original: &[u8], t: Tamper, check: impl FnOnce(&[u8]) -> T) -> T {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    let tampered = match t {
        Tamper::Flip { pos, bit } => {
            let b = original[pos] ^ (1 << bit);
            f.write_all_at(&[b], pos as u64).unwrap();
            let mut v = original.to_vec();
            v[pos] = b;
            v
        }
        Tamper::AppendToEmpty => {
            f.write_all_at(&[0], 0).unwrap();
            vec![0]
        }
    };
    let r = check(&tampered);
    match t {
        Tamper::Flip { pos, .. } => f.write_all_at(&original[pos..pos + 1], pos as u64).unwrap(),
        Tamper::AppendToEmpty => f.set_len(0).unwrap(),
    }
    r
}

fn describe(path: &Path, t: Tamper) -> String {
    match t {
        Tamper::Flip { pos, bit } => format!("{} byte {pos} bit {bit}", path.display()),
        Tamper::AppendToEmpty => format!("{} (empty) with a byte appended", path.display()),
    }
}

/// Fails the test listing every tampering that was not handled as required.
fn assert_no_failures(what: &str, tried: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} of {tried} tamperings were not refused as required:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Regular files under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let ft = fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A copy of the OMS local fixtures: the model directory, its key bundle and the key.
struct SignedModel {
    _dir: tempfile::TempDir,
    model: PathBuf,
    bundle: PathBuf,
    key: PathBuf,
}

impl SignedModel {
    fn new() -> SignedModel {
        let dir = tempfile::tempdir().unwrap();
        let src = fixtures().join("signing/oms-local");
        let model = dir.path().join("model");
        copy(&src.join("model"), &model);
        let bundle = dir.path().join("model.key.sig");
        copy(&src.join("model.key.sig"), &bundle);
        let key = dir.path().join("ec_p256.pub");
        copy(&src.join("ec_p256.pub"), &key);
        SignedModel {
            _dir: dir,
            model,
            bundle,
            key,
        }
    }

    fn verify(&self) -> Output {
        sealrun(&[
            "verify".as_ref(),
            "model".as_ref(),
            self.model.as_os_str(),
            "--signature".as_ref(),
            self.bundle.as_os_str(),
            "--key".as_ref(),
            self.key.as_os_str(),
        ])
    }
}

#[test]
fn every_model_file_bit_flip_is_refused() {
    let m = SignedModel::new();
    let o = m.verify();
    assert_eq!(code(&o), 0, "the untampered model must verify: {}", text(&o));

    let files = files_under(&m.model);
    assert_eq!(files.len(), 4, "the fixture model has 4 files: {files:?}");
    let (mut tried, mut failures) = (0, Vec::new());
    for file in &files {
        let original = fs::read(file).unwrap();
        for t in tampers(original.len()) {
            tried += 1;
            let o = with_tamper(file, &original, t, |_| m.verify());
            if code(&o) != 1 {
                failures.push(format!("{}: exit {}: {}", describe(file, t), code(&o), brief(&o)));
            }
        }
    }
    assert_no_failures("model files", tried, &failures);
    // Everything was put back.
    let o = m.verify();
    assert_eq!(code(&o), 0, "the restored model must verify again: {}", text(&o));
}

#[test]
fn every_bundle_bit_flip_is_refused_unless_the_json_is_unchanged() {
    let m = SignedModel::new();
    let o = m.verify();
    assert_eq!(code(&o), 0, "the untampered bundle must verify: {}", text(&o));

    let original = fs::read(&m.bundle).unwrap();
    let parsed: Value = serde_json::from_slice(&original).unwrap();
    // Every byte of the bundle: it is small, and the signature, payload and key hint are
    // spread over all of it.
    let all: Vec<Tamper> = (0..original.len())
        .map(|pos| Tamper::Flip {
            pos,
            bit: (pos % 8) as u8,
        })
        .collect();
    let (mut tried, mut failures) = (0, Vec::new());
    for t in all {
        tried += 1;
        let (o, same_json) = with_tamper(&m.bundle, &original, t, |tampered| {
            let same = serde_json::from_slice::<Value>(tampered).is_ok_and(|v| v == parsed);
            (m.verify(), same)
        });
        match code(&o) {
            1 => {}
            // Allowed only for a flip that leaves the document the same JSON value.
            0 if same_json => {}
            c => {
                let ctx = match t {
                    Tamper::Flip { pos, .. } => {
                        let lo = pos.saturating_sub(12);
                        let hi = (pos + 12).min(original.len());
                        format!(" near `{}`", String::from_utf8_lossy(&original[lo..hi]))
                    }
                    Tamper::AppendToEmpty => String::new(),
                };
                failures.push(format!(
                    "{}{ctx}: exit {c} (JSON value changed: {}): {}",
                    describe(&m.bundle, t),
                    !same_json,
                    brief(&o)
                ));
            }
        }
    }
    assert_no_failures("bundle model.key.sig", tried, &failures);
}

/// A copy of the fixture model layout and a policy trusting its signer (as in
/// tests/policy.rs `gated()`), with `max_cvss = 10.0` so the untampered image passes.
struct Layout {
    _dir: tempfile::TempDir,
    layout: PathBuf,
    policy: PathBuf,
}

impl Layout {
    fn new() -> Layout {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        copy(&fixtures().join("oci/model-layout"), &layout);
        let f = fixtures();
        let policy = dir.path().join("gated.toml");
        fs::write(
            &policy,
            format!(
                "version = 1\nextends = \"library:model-server-strict\"\n\
                 [trust]\nsigners.keys = [{{ path = \"{}\", algorithm = \"ecdsa-p256-sha256\" }}]\n\
                 [sbom]\nformats = [\"cyclonedx-1.6\"]\nmax_cvss = 10.0\nosv_dir = \"{}\"\n\
                 [sandbox.fs]\nread = [\"/bin\", \"/etc\", \"/proc\", \"/dev/null\"]\nwrite = [\"/dev/null\"]\nexec = [\"/bin\"]\n",
                f.join("signing/oms-local/ec_p256.pub").display(),
                f.join("osv").display()
            ),
        )
        .unwrap();
        Layout {
            _dir: dir,
            layout,
            policy,
        }
    }

    fn verify(&self) -> Output {
        let image = format!("{}:v1", self.layout.display());
        sealrun(&["verify", "image", &image, "--policy", &self.policy.to_string_lossy()])
    }
}

#[test]
fn every_layout_blob_and_index_bit_flip_is_refused() {
    let l = Layout::new();
    let o = l.verify();
    assert_eq!(code(&o), 0, "the untampered image must pass: {}", text(&o));

    let mut files = files_under(&l.layout.join("blobs"));
    assert!(files.len() >= 10, "the fixture layout has its blobs: {files:?}");
    files.push(l.layout.join("index.json"));
    let (mut tried, mut failures) = (0, Vec::new());
    for file in &files {
        let original = fs::read(file).unwrap();
        for t in tampers(original.len()) {
            tried += 1;
            let o = with_tamper(file, &original, t, |_| l.verify());
            if code(&o) != 1 {
                failures.push(format!("{}: exit {}: {}", describe(file, t), code(&o), brief(&o)));
            }
        }
    }
    assert_no_failures("OCI layout", tried, &failures);
    let o = l.verify();
    assert_eq!(code(&o), 0, "the restored image must pass again: {}", text(&o));
}

#[test]
fn sbom_bit_flips_never_crash_and_broken_json_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("sbom.toml");
    fs::write(
        &policy,
        format!(
            "version = 1\n[sbom]\nmax_cvss = 10.0\nosv_dir = \"{}\"\n",
            fixtures().join("osv").display()
        ),
    )
    .unwrap();
    let mut sboms: Vec<PathBuf> = fs::read_dir(fixtures().join("sbom"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    sboms.sort();
    assert!(sboms.len() >= 5, "the SBOM fixtures: {sboms:?}");

    let (mut tried, mut broken, mut failures) = (0, 0, Vec::new());
    for src in &sboms {
        let file = dir.path().join(src.file_name().unwrap());
        copy(src, &file);
        let verify = || {
            sealrun(&[
                "verify".as_ref(),
                "sbom".as_ref(),
                file.as_os_str(),
                "--policy".as_ref(),
                policy.as_os_str(),
            ])
        };
        let o = verify();
        assert!(
            matches!(code(&o), 0 | 1),
            "untampered {}: exit {}: {}",
            src.display(),
            code(&o),
            text(&o)
        );
        let original = fs::read(&file).unwrap();
        for t in tampers(original.len()) {
            tried += 1;
            let (o, json_ok) = with_tamper(&file, &original, t, |tampered| {
                (verify(), serde_json::from_slice::<Value>(tampered).is_ok())
            });
            let c = code(&o);
            if !matches!(c, 0 | 1) {
                failures.push(format!(
                    "{}: crashed or hung: exit {c}: {}",
                    describe(&file, t),
                    brief(&o)
                ));
            } else if !json_ok {
                broken += 1;
                let name = file.display().to_string();
                if c != 1 || !text(&o).contains(&name) {
                    failures.push(format!(
                        "{}: not JSON any more: expected exit 1 naming {name}, found exit {c}: {}",
                        describe(&file, t),
                        brief(&o)
                    ));
                }
            }
        }
    }
    assert!(broken > 0, "some flips must break the JSON, or the test checks nothing");
    assert_no_failures("SBOMs", tried, &failures);
}
