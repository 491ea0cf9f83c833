//! The state store: one directory per container under the runtime root
//! (`--root`, default `/run/sealrun`), holding
//! - `state.json`: the OCI state plus what the runtime needs later (init start time,
//!   cgroup path, the config as created, timestamps);
//! - `exec.fifo`: present while the container is `created`; `start` opens it;
//! - `lock`: flock(2)ed by every operation on the container, so concurrent calls from
//!   containerd (kill while delete, state while start) see a consistent state.

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

pub const OCI_VERSION: &str = "1.2.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // pad, not write_str: honours width in tables (`sealrun list`).
        f.pad(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state.json` holds. The first fields are the OCI state as `runc state` prints
/// it (containerd's go-runc parses `status`, `pid`, `bundle`, `created`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Runtime-private: start time of the init (clock ticks since boot) to guard
    /// against pid reuse, and the container's cgroup path.
    #[serde(rename = "sealrun", default)]
    pub private: Private,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Private {
    pub init_start_time: u64,
    /// The spec's `linux.cgroupsPath` as given (None: derived from the id), so every
    /// later operation resolves the same cgroup the same way.
    pub cgroups_path: Option<PathBuf>,
    pub use_systemd: bool,
}

impl State {
    /// The OCI state document (as `sealrun state` prints it and hooks read on stdin).
    pub fn oci_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": self.status,
            "pid": self.pid,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::to_value(&self.annotations).unwrap_or_default();
        }
        v
    }
}

/// The state root (`--root`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A held lock on one container's directory; released on drop.
pub struct Locked {
    pub dir: PathBuf,
    _lock: File,
}

pub fn validate_id(id: &str) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidId {
            id: id.to_string(),
            why,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if id == "." || id == ".." {
        return bad("it is a relative path component");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b)) {
        return bad("only letters, digits and _ + - . are allowed");
    }
    Ok(())
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Make the container's directory and lock it; fails if it exists.
    pub fn create(&self, id: &str) -> Result<Locked> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .ctx(|| format!("creating state root {}", self.root.display()))?;
        let dir = self.dir(id);
        // 0711: a container init running as a mapped (non-root) host uid must reach
        // the exec fifo by name; nothing can be listed.
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::Exists(id.to_string())),
            Err(e) => {
                return Err(Error::Io {
                    what: format!("creating state dir {}", dir.display()),
                    source: e,
                })
            }
        }
        self.lock_dir(id, dir)
    }

    /// Lock an existing container's directory.
    pub fn open(&self, id: &str) -> Result<Locked> {
        validate_id(id)?;
        let dir = self.dir(id);
        if !dir.is_dir() {
            return Err(Error::NotFound(id.to_string()));
        }
        let locked = self.lock_dir(id, dir)?;
        // Deleted while we waited for the lock.
        if !locked.dir.join("state.json").exists() && !locked.dir.join("creating").exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(locked)
    }

    fn lock_dir(&self, id: &str, dir: PathBuf) -> Result<Locked> {
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(dir.join("lock"))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound(id.to_string()),
                _ => Error::Io {
                    what: format!("opening lock of container {id:?}"),
                    source: e,
                },
            })?;
        // SAFETY: flock on a valid fd we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } < 0 {
            return Err(Error::Io {
                what: format!("locking container {id:?}"),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(Locked { dir, _lock: lock })
    }

    /// Ids of every container under the root, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => {
                return Err(Error::Io {
                    what: format!("reading {}", self.root.display()),
                    source: e,
                })
            }
        };
        for e in rd.flatten() {
            if e.path().join("state.json").is_file() {
                if let Some(n) = e.file_name().to_str() {
                    ids.push(n.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

impl Locked {
    /// The lock's fd: a forked child must close its copy, or the lock (which belongs
    /// to the open file description, shared across fork) outlives this process.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self._lock.as_raw_fd()
    }

    pub fn load(&self) -> Result<State> {
        let p = self.dir.join("state.json");
        let data = fs::read(&p).ctx(|| format!("reading {}", p.display()))?;
        serde_json::from_slice(&data).map_err(|e| Error::Setup(format!("{}: invalid state file: {e}", p.display())))
    }

    /// Write atomically: a reader never sees a half-written state.
    pub fn save(&self, st: &State) -> Result<()> {
        write_atomic(
            &self.dir.join("state.json"),
            &serde_json::to_vec(st).expect("state serializes"),
        )
    }

    pub fn fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Remove the directory; the lock file goes with it (we still hold its fd).
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io {
                what: format!("removing state dir {}", self.dir.display()),
                source: e,
            }),
        }
    }
}

/// Write a file via a temp file + rename in the same directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o644)
        .open(&tmp)
        .ctx(|| format!("writing {}", tmp.display()))?;
    f.write_all(data).ctx(|| format!("writing {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, path).ctx(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Now as RFC 3339 UTC with nanoseconds, as Go's time.Time marshals (containerd parses it).
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_312_800, 0), "2026-11-22T02:00:00.000000000Z");
    }

    #[test]
    fn ids_are_validated() {
        assert!(validate_id("abc-1_2.x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "x\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn create_twice_fails_and_lock_serialises() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let l = store.create("c1").unwrap();
        assert!(matches!(store.create("c1"), Err(Error::Exists(_))));
        drop(l);
        assert!(matches!(store.open("nope"), Err(Error::NotFound(_))));
    }
}
