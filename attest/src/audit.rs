//! The audit log: append-only, hash-chained JSON lines.
//!
//! Each line is one entry, serialised as canonical RFC 8785 JSON and ended by `\n`:
//! `{"prev":"<64 hex>","record":{…},"seq":N,"time":"<RFC 3339 UTC>"}`.
//! `seq` counts from 1 and equals the line number; an entry's hash is the SHA-256 of its line
//! bytes without the terminating newline; `prev` is the previous entry's hash, and 64 zeros
//! for the first entry. Editing, removing, reordering or inserting a line, or cutting the file
//! mid-line, breaks the chain at a line that [`verify`] reports by number.
//!
//! What the chain cannot show on its own: removing whole lines from the end, or rewriting the
//! last line, leaves a self-consistent shorter chain. Keep the `last_hash` returned by
//! [`AuditLog::append`] / [`verify`] somewhere else (another machine, a signed checkpoint) and
//! compare it to detect that.
//!
//! Records are stored in clear text and kept forever: NEVER put secrets in a record (no key
//! material, wrapped or not, no tokens, no JWEs, no passwords). Log ids, digests, verdicts.
//!
//! Appends are serialised within a process by a mutex and across processes by an `flock` on
//! the log file; each entry is written with a single `write()` on an `O_APPEND` descriptor
//! and followed by `fsync`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `prev` of the first entry.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The first line at which the chain does not hold.
    #[error("audit log {path}: line {line}: {problem}")]
    BadLine { path: PathBuf, line: u64, problem: String },
    /// `open` found the last line unusable, so it cannot resume the chain.
    #[error("audit log {path}: last line (entry after byte {offset}) is corrupt, refusing to append: {problem}")]
    BadLastLine {
        path: PathBuf,
        offset: u64,
        problem: String,
    },
    #[error("audit record: expected a JSON object, found {found}")]
    Record { found: String },
    #[error("audit log {path}: short write: wrote {written} of {len} bytes (the log now ends mid-line)")]
    ShortWrite { path: PathBuf, written: usize, len: usize },
    #[error("audit entry: canonical JSON encoding failed: {0}")]
    Encode(String),
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    pub entries: u64,
    /// Hash of the last entry, or [`GENESIS_PREV`] for an empty log.
    pub last_hash: String,
}

struct Tail {
    /// File length the tail was computed for; another process appended if it changed.
    len: u64,
    next_seq: u64,
    prev: String,
}

/// An open audit log. `Send + Sync`: appends from several threads are serialised.
pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<(File, Tail)>,
}

fn io_err(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> AuditError {
    let path = path.to_path_buf();
    move |source| AuditError::Io { path, op, source }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn line_hash(line: &[u8]) -> String {
    hex(&Sha256::digest(line))
}

/// Checks one line (without its `\n`) on its own: canonical JSON, the four fields, their
/// types. Returns (seq, prev). Chain checks are the caller's.
fn parse_line(line: &[u8]) -> Result<(u64, String), String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON ({e})"))?;
    let canonical = serde_json_canonicalizer::to_vec(&v).map_err(|e| format!("cannot canonicalise: {e}"))?;
    if canonical != line {
        return Err(
            "not canonical RFC 8785 JSON: the line was edited (found bytes that re-serialise differently)".to_string(),
        );
    }
    let obj = v
        .as_object()
        .ok_or_else(|| format!("expected a JSON object, found {v}"))?;
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["prev", "record", "seq", "time"] {
        return Err(format!(
            "expected exactly the fields prev, record, seq, time; found {}",
            keys.join(", ")
        ));
    }
    let seq = obj["seq"]
        .as_u64()
        .ok_or_else(|| format!("field \"seq\": expected a positive integer, found {}", obj["seq"]))?;
    let prev = obj["prev"]
        .as_str()
        .filter(|p| p.len() == 64 && p.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| {
            format!(
                "field \"prev\": expected 64 lowercase hex characters, found {}",
                obj["prev"]
            )
        })?;
    let time = obj["time"].as_str().unwrap_or_default();
    if !looks_like_rfc3339_utc(time) {
        return Err(format!(
            "field \"time\": expected RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.fff]Z), found {}",
            obj["time"]
        ));
    }
    if !obj["record"].is_object() {
        return Err(format!(
            "field \"record\": expected a JSON object, found {}",
            obj["record"]
        ));
    }
    Ok((seq, prev.to_string()))
}

fn looks_like_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z';
    shape && (b.len() == 20 || (b[19] == b'.' && b.len() > 21 && digits(20..b.len() - 1)))
}

/// UTC, millisecond precision: `2026-11-22T04:11:54.123Z`.
fn now_rfc3339() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (H. Hinnant), valid for all dates after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Reads the last line of `file` (which is `len` bytes long) and returns the chain state
/// after it.
fn read_tail(path: &Path, file: &mut File, len: u64) -> Result<Tail, AuditError> {
    if len == 0 {
        return Ok(Tail {
            len,
            next_seq: 1,
            prev: GENESIS_PREV.to_string(),
        });
    }
    let bad = |offset: u64, problem: String| AuditError::BadLastLine {
        path: path.to_path_buf(),
        offset,
        problem,
    };
    // Walk back in chunks until the newline that precedes the last line (or the start).
    let mut end_byte = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))
        .and_then(|_| file.read_exact(&mut end_byte))
        .map_err(io_err(path, "read last byte"))?;
    if end_byte[0] != b'\n' {
        let start = find_line_start(path, file, len)?;
        return Err(bad(
            start,
            "truncated: no terminating newline (a write was cut off mid-line)".to_string(),
        ));
    }
    let start = find_line_start(path, file, len - 1)?;
    let mut line = vec![0u8; (len - 1 - start) as usize];
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(&mut line))
        .map_err(io_err(path, "read last line"))?;
    let (seq, _) = parse_line(&line).map_err(|p| bad(start, p))?;
    Ok(Tail {
        len,
        next_seq: seq + 1,
        prev: line_hash(&line),
    })
}

/// Offset just after the last `\n` before `end`, or 0.
fn find_line_start(path: &Path, file: &mut File, end: u64) -> Result<u64, AuditError> {
    const CHUNK: u64 = 4096;
    let mut pos = end;
    let mut buf = vec![0u8; CHUNK as usize];
    while pos > 0 {
        let n = CHUNK.min(pos);
        let from = pos - n;
        file.seek(SeekFrom::Start(from))
            .and_then(|_| file.read_exact(&mut buf[..n as usize]))
            .map_err(io_err(path, "read backwards for the last line"))?;
        if let Some(i) = buf[..n as usize].iter().rposition(|&c| c == b'\n') {
            return Ok(from + i as u64 + 1);
        }
        pos = from;
    }
    Ok(0)
}

impl AuditLog {
    /// Opens (creating, mode 0600) the log and resumes the chain from its last line. Refuses a
    /// log whose last line is not a well-formed entry; run [`verify`] for the whole chain.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err(path, "open"))?;
        if !existed {
            // Make the new directory entry durable too.
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err(dir, "fsync directory"))?;
        }
        let len = file.metadata().map_err(io_err(path, "stat"))?.len();
        let tail = read_tail(path, &mut file, len)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            inner: Mutex::new((file, tail)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` (a JSON object; never secrets) and returns the new entry's hash.
    pub fn append(&self, record: Value) -> Result<String, AuditError> {
        if !record.is_object() {
            return Err(AuditError::Record {
                found: record.to_string(),
            });
        }
        // A poisoned mutex only means another thread panicked mid-append; the file state is
        // re-derived below whenever it differs from what we cached.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (file, tail) = &mut *guard;
        let lock_fd = file.try_clone().map_err(io_err(&self.path, "dup"))?;
        let _flock = Flock::lock(lock_fd, FlockArg::LockExclusive).map_err(|(_, errno)| AuditError::Io {
            path: self.path.clone(),
            op: "flock",
            source: errno.into(),
        })?;
        let len = file.metadata().map_err(io_err(&self.path, "stat"))?.len();
        if len != tail.len {
            // Another process appended since we last looked.
            *tail = read_tail(&self.path, file, len)?;
        }

        let mut entry = Map::new();
        entry.insert("seq".into(), Value::from(tail.next_seq));
        entry.insert("time".into(), Value::from(now_rfc3339()));
        entry.insert("prev".into(), Value::from(tail.prev.clone()));
        entry.insert("record".into(), record);
        let mut line =
            serde_json_canonicalizer::to_vec(&Value::Object(entry)).map_err(|e| AuditError::Encode(e.to_string()))?;
        let hash = line_hash(&line);
        line.push(b'\n');

        // One write() so a concurrent reader never sees half an entry from a retry loop.
        let written = file.write(&line).map_err(io_err(&self.path, "write"))?;
        if written != line.len() {
            return Err(AuditError::ShortWrite {
                path: self.path.clone(),
                written,
                len: line.len(),
            });
        }
        file.sync_all().map_err(io_err(&self.path, "fsync"))?;
        *tail = Tail {
            len: len + line.len() as u64,
            next_seq: tail.next_seq + 1,
            prev: hash.clone(),
        };
        Ok(hash)
    }
}

/// Walks the whole log and reports the first line where the chain breaks: a line that is
/// not canonical JSON of the entry shape (edited, or cut mid-line), a `seq` that is not its
/// line number (removed, reordered, inserted), or a `prev` that is not the hash of the line
/// before (edited or replaced neighbour).
pub fn verify(path: &Path) -> Result<AuditSummary, AuditError> {
    let file = File::open(path).map_err(io_err(path, "open"))?;
    let mut reader = BufReader::new(file);
    let mut prev = GENESIS_PREV.to_string();
    let mut lineno: u64 = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io_err(path, "read"))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let bad = |problem: String| AuditError::BadLine {
            path: path.to_path_buf(),
            line: lineno,
            problem,
        };
        if line.last() != Some(&b'\n') {
            return Err(bad(
                "truncated: no terminating newline (the file was cut mid-line)".to_string()
            ));
        }
        line.pop();
        let (seq, line_prev) = parse_line(&line).map_err(&bad)?;
        if seq != lineno {
            return Err(bad(format!(
                "field \"seq\": expected {lineno}, found {seq} (a line was removed, inserted or moved)"
            )));
        }
        if line_prev != prev {
            let why = if lineno == 1 {
                "64 zeros for the first entry: lines were removed from the start".to_string()
            } else {
                format!(
                    "the hash of line {}: line {} was edited or replaced",
                    lineno - 1,
                    lineno - 1
                )
            };
            return Err(bad(format!(
                "field \"prev\": expected {prev}, found {line_prev} (expected {why})"
            )));
        }
        prev = line_hash(&line);
    }
    Ok(AuditSummary {
        entries: lineno,
        last_hash: prev,
    })
}
