//! Audit log: entry format, resuming, concurrent appends, and each kind of tampering
//! reported at its line.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use sealrun_attest::audit::{self, AuditError, AuditLog, AuditSummary, GENESIS_PREV};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A log of `n` entries; returns the hashes append() reported.
fn make_log(path: &Path, n: u64) -> Vec<String> {
    let log = AuditLog::open(path).unwrap();
    (1..=n)
        .map(|i| {
            log.append(json!({"event": "release", "resource": format!("r/t/{i}"), "n": i}))
                .unwrap()
        })
        .collect()
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut s = lines.join("\n");
    s.push('\n');
    fs::write(path, s).unwrap();
}

/// The first bad line verify reports, and its message.
fn bad_line(path: &Path) -> (u64, String) {
    match audit::verify(path) {
        Err(e @ AuditError::BadLine { .. }) => {
            let AuditError::BadLine { line, .. } = &e else {
                unreachable!()
            };
            (*line, e.to_string())
        }
        other => panic!("expected a bad line, got {other:?}"),
    }
}

#[test]
fn entries_are_canonical_and_chained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let hashes = make_log(&path, 3);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    let ls = lines(&path);
    assert_eq!(ls.len(), 3);
    let mut prev = GENESIS_PREV.to_string();
    for (i, line) in ls.iter().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json_canonicalizer::to_string(&v).unwrap(), *line);
        assert_eq!(v["seq"], i as u64 + 1);
        assert_eq!(v["prev"], prev.as_str());
        assert_eq!(v["record"]["resource"], format!("r/t/{}", i + 1));
        let t = v["time"].as_str().unwrap();
        assert!(t.len() == 24 && t.ends_with('Z') && &t[10..11] == "T", "{t}");
        assert!(t.as_bytes()[..4].iter().all(u8::is_ascii_digit) && t >= "2020", "{t}");
        prev = sha256_hex(line.as_bytes());
        assert_eq!(hashes[i], prev);
    }
    assert_eq!(
        audit::verify(&path).unwrap(),
        AuditSummary {
            entries: 3,
            last_hash: prev
        }
    );
}

#[test]
fn empty_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    AuditLog::open(&path).unwrap();
    assert_eq!(
        audit::verify(&path).unwrap(),
        AuditSummary {
            entries: 0,
            last_hash: GENESIS_PREV.to_string()
        }
    );
}

#[test]
fn records_must_be_objects() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(&dir.path().join("a.log")).unwrap();
    for bad in [json!("text"), json!([1]), json!(null), json!(3)] {
        assert!(matches!(log.append(bad), Err(AuditError::Record { .. })));
    }
}

#[test]
fn open_resumes_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let first = make_log(&path, 2);
    let log = AuditLog::open(&path).unwrap();
    let h3 = log.append(json!({"event": "after reopen"})).unwrap();
    let ls = lines(&path);
    let v: Value = serde_json::from_str(&ls[2]).unwrap();
    assert_eq!(v["seq"], 3);
    assert_eq!(v["prev"], first[1].as_str());
    assert_eq!(audit::verify(&path).unwrap().last_hash, h3);
}

#[test]
fn open_refuses_a_corrupt_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    make_log(&path, 2);
    let good = fs::read(&path).unwrap();

    // Cut mid-line (a torn write).
    fs::write(&path, &good[..good.len() - 10]).unwrap();
    let err = AuditLog::open(&path).err().expect("opened a torn log");
    assert!(
        matches!(&err, AuditError::BadLastLine { problem, .. } if problem.contains("truncated")),
        "{err}"
    );

    // A last line that is not an entry.
    let mut edited = good.clone();
    edited.extend_from_slice(b"{\"hello\":1}\n");
    fs::write(&path, &edited).unwrap();
    let err = AuditLog::open(&path).err().expect("opened a log with a junk last line");
    assert!(matches!(err, AuditError::BadLastLine { .. }), "{err}");

    fs::write(&path, &good).unwrap();
    AuditLog::open(&path).unwrap();
}

#[test]
fn edited_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    make_log(&path, 5);
    let mut ls = lines(&path);
    // A canonical, well-formed edit: only the chain shows it, at the next line.
    ls[2] = ls[2].replace("r/t/3", "r/t/X");
    write_lines(&path, &ls);
    let (line, msg) = bad_line(&path);
    assert_eq!(line, 4, "{msg}");
    assert!(msg.contains("line 3 was edited"), "{msg}");

    // A non-canonical edit (whitespace) is caught on the line itself.
    make_log(&dir.path().join("b.log"), 5);
    let path = dir.path().join("b.log");
    let mut ls = lines(&path);
    ls[1] = ls[1].replacen(":", ": ", 1);
    write_lines(&path, &ls);
    let (line, msg) = bad_line(&path);
    assert_eq!(line, 2, "{msg}");
    assert!(msg.contains("canonical"), "{msg}");
}

#[test]
fn removed_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    make_log(&path, 5);
    let mut ls = lines(&path);
    ls.remove(2);
    write_lines(&path, &ls);
    let (line, msg) = bad_line(&path);
    assert_eq!(line, 3, "{msg}");
    assert!(msg.contains("expected 3, found 4"), "{msg}");

    // Removing the first line.
    let path = dir.path().join("b.log");
    make_log(&path, 3);
    let ls = lines(&path);
    write_lines(&path, &ls[1..]);
    assert_eq!(bad_line(&path).0, 1);
}

#[test]
fn reordered_lines_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    make_log(&path, 5);
    let mut ls = lines(&path);
    ls.swap(1, 3);
    write_lines(&path, &ls);
    let (line, msg) = bad_line(&path);
    assert_eq!(line, 2, "{msg}");
    assert!(msg.contains("seq"), "{msg}");
}

#[test]
fn inserted_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    make_log(&path, 4);
    let mut ls = lines(&path);

    // A forged entry with the right seq and prev for its position: the line after it breaks.
    let forged = json!({
        "seq": 3,
        "time": "2026-01-01T00:00:00Z",
        "prev": sha256_hex(ls[1].as_bytes()),
        "record": {"event": "release", "resource": "attacker/t/x"},
    });
    ls.insert(2, serde_json_canonicalizer::to_string(&forged).unwrap());
    write_lines(&path, &ls);
    let (line, msg) = bad_line(&path);
    assert_eq!(line, 4, "{msg}");
    assert!(msg.contains("seq"), "{msg}");

    // A copy of an earlier entry inserted later (replay).
    let path = dir.path().join("b.log");
    make_log(&path, 4);
    let mut ls = lines(&path);
    let dup = ls[0].clone();
    ls.insert(2, dup);
    write_lines(&path, &ls);
    assert_eq!(bad_line(&path).0, 3);

    // A blank line.
    let path = dir.path().join("c.log");
    make_log(&path, 3);
    let mut ls = lines(&path);
    ls.insert(1, String::new());
    write_lines(&path, &ls);
    assert_eq!(bad_line(&path).0, 2);
}

#[test]
fn truncated_mid_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    make_log(&path, 3);
    let good = fs::read(&path).unwrap();
    fs::write(&path, &good[..good.len() - 25]).unwrap();
    let (line, msg) = bad_line(&path);
    assert_eq!(line, 3, "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    // Only the newline missing.
    fs::write(&path, &good[..good.len() - 1]).unwrap();
    assert_eq!(bad_line(&path).0, 3);
}

#[test]
fn tail_truncation_at_a_line_boundary_changes_last_hash() {
    // The documented limit: the chain alone cannot see whole lines cut from the end; the
    // last_hash kept elsewhere does.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let hashes = make_log(&path, 3);
    let ls = lines(&path);
    write_lines(&path, &ls[..2]);
    let s = audit::verify(&path).unwrap();
    assert_eq!(s.entries, 2);
    assert_ne!(s.last_hash, hashes[2]);
    assert_eq!(s.last_hash, hashes[1]);
}

#[test]
fn concurrent_appends_from_threads_and_handles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let shared = Arc::new(AuditLog::open(&path).unwrap());
    let mut threads = Vec::new();
    for t in 0..3 {
        let log = shared.clone();
        threads.push(std::thread::spawn(move || {
            for i in 0..20 {
                log.append(json!({"t": t, "i": i})).unwrap();
            }
        }));
    }
    // A second handle on the same file, as a second process would have.
    let path2 = path.clone();
    threads.push(std::thread::spawn(move || {
        let other = AuditLog::open(&path2).unwrap();
        for i in 0..20 {
            other.append(json!({"t": "other", "i": i})).unwrap();
        }
    }));
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(audit::verify(&path).unwrap().entries, 80);
}

/// Child mode of the process test.
#[test]
#[ignore = "child process of concurrent_appends_from_processes"]
fn audit_child_appender() {
    let Ok(path) = std::env::var("SEALRUN_AUDIT_CHILD") else {
        return;
    };
    let log = AuditLog::open(Path::new(&path)).unwrap();
    for i in 0..25 {
        log.append(json!({"pid": std::process::id(), "i": i})).unwrap();
    }
}

#[test]
fn concurrent_appends_from_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    make_log(&path, 1);
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args(["--ignored", "--exact", "audit_child_appender", "--test-threads=1"])
                .env("SEALRUN_AUDIT_CHILD", &path)
                // Captured: the child's own test-harness summary must not mix into ours.
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child writer failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(audit::verify(&path).unwrap().entries, 76);
}

#[test]
fn garbage_appended_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    make_log(&path, 2);
    assert!(audit::verify(&path).is_ok());
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"garbage\n").unwrap();
    let (line, msg) = bad_line(&path);
    assert_eq!(line, 3);
    assert!(msg.contains("audit.log") && msg.contains("line 3"), "{msg}");
}
