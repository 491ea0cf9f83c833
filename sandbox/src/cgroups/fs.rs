//! File helpers shared by both backends. Every error names the file it concerns.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::CgroupError;

/// How long `destroy` keeps retrying `EBUSY`: tasks that were just killed leave their
/// cgroup asynchronously.
pub(crate) const RMDIR_BUDGET: Duration = Duration::from_secs(2);

/// Writes `value` to the cgroup file `file` in one `write(2)`, as the kernel parses each
/// write on its own. The file must exist (cgroupfs creates its files; a missing one means
/// the controller is absent).
pub(crate) fn write(file: &Path, value: &str) -> Result<(), CgroupError> {
    let err = |source| CgroupError::Write {
        file: file.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(file)
        .map_err(err)?;
    f.write_all(value.as_bytes()).map_err(err)
}

pub(crate) fn read(file: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(file)
        .map(|s| s.trim().to_string())
        .map_err(|source| CgroupError::Read {
            file: file.to_path_buf(),
            source,
        })
}

/// Reads `file`, or `None` when it does not exist.
pub(crate) fn read_opt(file: &Path) -> Result<Option<String>, CgroupError> {
    match std::fs::read_to_string(file) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            file: file.to_path_buf(),
            source,
        }),
    }
}

/// Parses a single number; `max` (no limit) reads as `u64::MAX`.
pub(crate) fn parse_u64(file: &Path, s: &str) -> Result<u64, CgroupError> {
    if s == "max" {
        return Ok(u64::MAX);
    }
    s.parse().map_err(|_| CgroupError::Parse {
        file: file.to_path_buf(),
        expected: "an unsigned integer or \"max\"".into(),
        found: s.to_string(),
    })
}

pub(crate) fn read_u64(file: &Path) -> Result<u64, CgroupError> {
    parse_u64(file, &read(file)?)
}

/// Reads a single number, or 0 when the file does not exist.
pub(crate) fn read_u64_or_zero(file: &Path) -> Result<u64, CgroupError> {
    match read_opt(file)? {
        Some(s) => parse_u64(file, &s),
        None => Ok(0),
    }
}

/// Parses a flat keyed file (`key value` per line, e.g. `memory.stat`, `cpu.stat`).
pub(crate) fn parse_keyed(file: &Path, text: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(CgroupError::Parse {
                file: file.to_path_buf(),
                expected: "lines of the form `key value`".into(),
                found: line.to_string(),
            });
        };
        out.insert(k.to_string(), parse_u64(file, v)?);
    }
    Ok(out)
}

/// Reads a flat keyed file; a missing file reads as empty.
pub(crate) fn read_keyed(file: &Path) -> Result<BTreeMap<String, u64>, CgroupError> {
    match read_opt(file)? {
        Some(text) => parse_keyed(file, &text),
        None => Ok(BTreeMap::new()),
    }
}

/// The pids in `dir/cgroup.procs` and in every descendant cgroup.
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let file = d.join("cgroup.procs");
        let Some(text) = read_opt(&file)? else {
            continue; // removed while walking: its tasks have gone
        };
        for line in text.lines().filter(|l| !l.is_empty()) {
            out.push(line.trim().parse().map_err(|_| CgroupError::Parse {
                file: file.clone(),
                expected: "one pid per line".into(),
                found: line.to_string(),
            })?);
        }
        stack.extend(subdirs(&d)?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The child directories (child cgroups) of `dir`; none when `dir` is gone.
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CgroupError::ReadDir {
                dir: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| CgroupError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Removes `dir` and its descendant cgroups, deepest first. `ENOENT` is success;
/// `EBUSY` is retried with a growing sleep until `deadline`; anything else, or a busy
/// cgroup at the deadline, is an error naming the directory that stayed.
pub(crate) fn remove_tree(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    for child in subdirs(dir)? {
        remove_tree(&child, deadline)?;
    }
    let mut attempts = 0;
    let mut backoff = Duration::from_millis(5);
    loop {
        attempts += 1;
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(backoff.min(deadline.saturating_duration_since(Instant::now())));
                backoff = (backoff * 2).min(Duration::from_millis(100));
            }
            Err(source) => {
                return Err(CgroupError::Rmdir {
                    dir: dir.to_path_buf(),
                    attempts,
                    source,
                })
            }
        }
    }
}

/// Polls `file` until its trimmed content satisfies `done`, for at most `budget`.
/// `retry` runs before each poll (e.g. to write the wanted state again).
pub(crate) fn wait_for(
    file: &Path,
    wanted: &str,
    budget: Duration,
    mut retry: impl FnMut(u32) -> Result<(), CgroupError>,
    done: impl Fn(&str) -> bool,
) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut round = 0;
    loop {
        retry(round)?;
        let found = read(file)?;
        if done(&found) {
            return Ok(());
        }
        if start.elapsed() >= budget {
            return Err(CgroupError::StateTimeout {
                file: file.to_path_buf(),
                wanted: wanted.to_string(),
                found,
                waited_ms: start.elapsed().as_millis() as u64,
            });
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_and_names_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("memory.max");
        std::fs::write(&f, "max\n").unwrap();
        write(&f, "10").unwrap();
        assert_eq!(read(&f).unwrap(), "10");
        let e = write(&dir.path().join("nope.max"), "5").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("nope.max") && msg.contains("\"5\""), "{msg}");
    }

    #[test]
    fn keyed_and_numbers() {
        let f = Path::new("x.stat");
        let m = parse_keyed(f, "usage_usec 10\nnr_throttled 2\n").unwrap();
        assert_eq!(m["usage_usec"], 10);
        assert_eq!(m["nr_throttled"], 2);
        assert!(parse_keyed(f, "a b c\n").is_err());
        assert_eq!(parse_u64(f, "max").unwrap(), u64::MAX);
        let e = parse_u64(f, "-3").unwrap_err();
        assert!(e.to_string().contains("x.stat"), "{e}");
    }

    #[test]
    fn remove_tree_missing_is_fine_and_leftovers_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let deadline = Instant::now() + RMDIR_BUDGET;
        remove_tree(&dir.path().join("gone"), deadline).unwrap();
        // On cgroupfs control files vanish with the directory; here a plain file keeps
        // the directory non-empty, which must surface as an error naming it.
        let cg = dir.path().join("cg");
        std::fs::create_dir_all(cg.join("child")).unwrap();
        std::fs::write(cg.join("cgroup.procs"), "").unwrap();
        let e = remove_tree(&cg, deadline).unwrap_err();
        assert!(e.to_string().contains(&*cg.to_string_lossy()), "{e}");
        assert!(!cg.join("child").exists(), "children go first");
    }
}
