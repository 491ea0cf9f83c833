//! Landlock: the filesystem, TCP and IPC-scope part of the policy's `[sandbox]`, enforced by
//! the kernel on the container's init right before its final `exec`.
//!
//! The runtime resolves the policy into a [`LandlockRules`] (container paths, ports, scope
//! switches, `min_abi`, `best_effort`) and calls [`apply`] after `pivot_root`, single-threaded.
//! The ruleset binds the calling thread and every process it later creates; it cannot be lifted.
//!
//! # Pinned ABI: `landlock::ABI::V6`
//!
//! V6 is the newest ABI the `landlock` crate 0.4.2 knows, and the first with the IPC scopes the
//! issue asks for (signals, abstract UNIX sockets). The handled set is *everything V6 defines*
//! (`AccessFs::from_all(V6)`, `AccessNet::from_all(V6)` when `restrict_net`, the requested
//! scopes), so whatever the rules do not grant is denied. Pinning (instead of "whatever the
//! kernel has") keeps the meaning of a policy independent of the kernel and of `cargo update`.
//! Kernel ABI 7 (Linux 6.15, this machine's 6.18) only adds audit-logging flags to
//! `landlock_restrict_self`, no access right, so V6 enforces everything ABI 7 can; a kernel
//! above 6 is therefore not a downgrade. Moving to a newer pin means re-vetting the table
//! below and the tests.
//!
//! # What each list grants
//!
//! | list    | rights on a directory (and beneath it)                                     |
//! |---------|----------------------------------------------------------------------------|
//! | `read`  | ReadFile, ReadDir                                                          |
//! | `write` | read + WriteFile, Truncate, MakeReg, MakeDir, MakeSym, RemoveFile, RemoveDir, Refer |
//! | `exec`  | Execute, ReadFile                                                          |
//!
//! On a path that is not a directory only the file rights apply (ReadFile, WriteFile, Truncate,
//! Execute, IoctlDev). `write` on a character or block device node also grants IoctlDev (ABI 5);
//! nothing else does, so `ioctl(2)` on devices is denied unless a device node is in `write`
//! (list the nodes themselves: `write = ["/dev/dri"]` does not grant ioctl on the nodes below).
//! Never granted: MakeChar, MakeBlock, MakeFifo, MakeSock (no device nodes, FIFOs or
//! filesystem UNIX sockets created by the workload). Refer is part of `write` because Landlock
//! only lets a rename/link through when the destination grants at least what the source does,
//! so it cannot widen access, and atomic "write to a temp dir, rename into place" needs it.
//! A path listed in several lists gets the union. Paths are opened with `O_PATH` (the crate's
//! `PathFd`), following symlinks inside the container root (we run after `pivot_root`).
//!
//! TCP: with `restrict_net`, `bind(2)` and `connect(2)` on TCP sockets are denied except for the
//! listed ports. Ports listed without `restrict_net` are refused as contradictory rather than
//! silently ignored. UDP, raw, netlink, vsock… are invisible to Landlock: seccomp covers them.
//!
//! # Kernel support: hard requirement or best effort
//!
//! Every feature the rules use has the ABI that brought it: filesystem control 1, Refer 2,
//! Truncate 3, TCP 4, IoctlDev 5, scopes 6 (filesystem control is always used, TCP only with
//! `restrict_net`, a scope only when switched on).
//! - `min_abi = N`: refuse with [`LandlockError::AbiTooOld`] when the kernel is below N, before
//!   anything is built; features up to N are then hard requirements.
//! - `best_effort = false`: every feature the rules use is a hard requirement, so the ruleset
//!   is enforced exactly as documented above or not at all ([`LandlockError::Unsupported`]).
//!   On a kernel below ABI 5 this refuses any rules (IoctlDev is a filesystem right); use
//!   `best_effort` with a `min_abi` floor to run there.
//! - `best_effort = true`: features the kernel lacks are dropped and listed in
//!   [`Report::downgraded`] (with what is lost), and so are missing paths.
//!
//! The decision is computed first, with clear errors, and then expressed to the crate with
//! `CompatLevel::HardRequirement` / `BestEffort` on each `handle_access`/`scope` call, so that
//! the crate itself refuses to drop anything we consider required.
//!
//! # Notes for the caller
//! - [`apply`] sets `no_new_privs` (the crate does; Landlock needs it or CAP_SYS_ADMIN, and the
//!   policy requires it anyway).
//! - Call it before installing seccomp: a filter may deny the `landlock_*` syscalls.
//! - File descriptors opened before [`apply`] keep their access; Landlock checks at open time.
//! - Landlock (up to ABI 7) does not control stat, chmod, chown, xattrs, utimes, path walks,
//!   connecting to filesystem UNIX sockets, or UDP.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use landlock::{
    make_bitflags, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    PathFdError, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, RulesetStatus, Scope, ABI,
};
use serde::{Deserialize, Serialize};

/// The ABI this module was vetted against; see the module documentation.
const PINNED: ABI = ABI::V6;
const PINNED_ABI: u8 = 6;

/// `LANDLOCK_CREATE_RULESET_VERSION` from `<linux/landlock.h>`.
const CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;

const TCP_ABI: u8 = 4;
const SCOPE_ABI: u8 = 6;

/// What the workload may do, already resolved from the policy (no policy types here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LandlockRules {
    /// Container paths (after `pivot_root`) the workload may read.
    pub read: Vec<PathBuf>,
    /// Container paths the workload may read and modify (see the module table).
    pub write: Vec<PathBuf>,
    /// Container paths the workload may execute (and read).
    pub exec: Vec<PathBuf>,
    /// TCP ports the workload may bind; only with `restrict_net` (ABI 4).
    pub tcp_bind: Vec<u16>,
    /// TCP ports the workload may connect to; only with `restrict_net` (ABI 4).
    pub tcp_connect: Vec<u16>,
    /// Handle TCP bind/connect: denied unless the port is listed.
    pub restrict_net: bool,
    /// Deny signals to processes outside the sandbox (ABI 6).
    pub scope_signals: bool,
    /// Deny connecting to abstract UNIX sockets created outside the sandbox (ABI 6).
    pub scope_abstract_unix: bool,
    /// Hard requirement: refuse when the kernel's ABI is below it.
    pub min_abi: Option<u8>,
    /// Run with what the kernel supports and record what was dropped, instead of refusing.
    pub best_effort: bool,
    /// Skip a listed path that does not exist in the container instead of refusing:
    /// no rule is needed where there is nothing to reach (the workload cannot create it
    /// outside its write paths). Recorded in the report either way.
    pub skip_missing: bool,
}

/// What [`apply`] enforced, for the decision record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The kernel's Landlock ABI (0: unavailable); may be above the pinned one.
    pub kernel_abi: u8,
    /// The ABI whose features are in force: the pinned one capped by the kernel's.
    pub abi_used: u8,
    /// What the rules asked for and is not enforced, each with what that means.
    pub downgraded: Vec<String>,
    /// "fully enforced", "partially enforced" or "not enforced" (the crate's ruleset status).
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    #[error(
        "Landlock ABI {required} is required (landlock.min_abi) but the kernel provides ABI {kernel}{}",
        if *.kernel == 0 { " (Landlock is not available)" } else { "" }
    )]
    AbiTooOld { required: u8, kernel: u8 },

    #[error(
        "Landlock rules need ABI {required} but the kernel provides ABI {kernel}: not supported: {}; \
         the rules require full support (set landlock best_effort to run with these recorded as downgraded)",
        .missing.join(", ")
    )]
    Unsupported {
        /// Each missing feature with the ABI that brought it.
        missing: Vec<String>,
        required: u8,
        kernel: u8,
    },

    #[error("Landlock {lists} path {path:?} does not exist in the container (expected an existing file or directory)")]
    PathNotFound { lists: String, path: PathBuf },

    #[error("Landlock {lists} path {path:?} is relative (expected an absolute container path)")]
    RelativePath { lists: String, path: PathBuf },

    #[error("Landlock {lists} path {path:?} cannot be opened with O_PATH: {source}")]
    OpenPath {
        lists: String,
        path: PathBuf,
        source: io::Error,
    },

    #[error(
        "Landlock TCP ports are listed (bind {bind:?}, connect {connect:?}) but restrict_net is false \
         (expected restrict_net = true: ports are exceptions to a restricted network)"
    )]
    PortsWithoutRestrictNet { bind: Vec<u16>, connect: Vec<u16> },

    #[error("Landlock: {step} failed: {source}")]
    Ruleset { step: String, source: RulesetError },
}

/// The kernel's Landlock ABI version; 0 when Landlock is not built in or not enabled at boot.
pub fn kernel_abi() -> u8 {
    // SAFETY: with a null attribute, size 0 and the VERSION flag, landlock_create_ruleset reads
    // and writes no memory and only returns the ABI number (or -1 with errno set).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0 as libc::size_t,
            CREATE_RULESET_VERSION,
        )
    };
    if ret <= 0 {
        0
    } else {
        u8::try_from(ret).unwrap_or(u8::MAX)
    }
}

/// Builds and enforces the ruleset on the calling thread and its future children.
///
/// Called in the container's init after `pivot_root`, right before the final exec,
/// single-threaded. Everything that can be refused (ABI, contradictory rules, paths) is checked
/// before the first Landlock call, so an `Err` leaves the process unrestricted, except a failure
/// of the final `landlock_restrict_self` (`no_new_privs` is already set then).
pub fn apply(rules: &LandlockRules) -> Result<Report, LandlockError> {
    let kernel = kernel_abi();
    let mut downgraded = check_support(rules, kernel)?;
    let paths = open_paths(rules, &mut downgraded)?;

    let level_for = |abi: u8| {
        if is_required(rules, abi) {
            CompatLevel::HardRequirement
        } else {
            CompatLevel::BestEffort
        }
    };
    let step = |what: String| move |source: RulesetError| LandlockError::Ruleset { step: what, source };

    let mut ruleset = Ruleset::default();
    for feature in FS_FEATURES {
        ruleset = ruleset
            .set_compatibility(level_for(feature.abi))
            .handle_access(feature.rights)
            .map_err(step(format!("handling {}", feature.name)))?;
    }
    if rules.restrict_net {
        ruleset = ruleset
            .set_compatibility(level_for(TCP_ABI))
            .handle_access(AccessNet::from_all(PINNED))
            .map_err(step("handling TCP bind/connect".into()))?;
    }
    let mut scopes = BitFlags::<Scope>::empty();
    if rules.scope_signals {
        scopes |= Scope::Signal;
    }
    if rules.scope_abstract_unix {
        scopes |= Scope::AbstractUnixSocket;
    }
    if !scopes.is_empty() {
        ruleset = ruleset
            .set_compatibility(level_for(SCOPE_ABI))
            .scope(scopes)
            .map_err(step(format!("scoping {scopes:?}")))?;
    }

    // A rule right the kernel cannot handle is not handled either, so dropping it from a grant
    // loses nothing; only in strict mode do we let the crate refuse (which cannot happen once
    // check_support passed, but keeps the two in step).
    let rule_level = if rules.best_effort {
        CompatLevel::BestEffort
    } else {
        CompatLevel::HardRequirement
    };
    let mut created = ruleset
        .create()
        .map_err(step("creating the ruleset".into()))?
        .set_compatibility(rule_level);
    for (path, fd, access) in paths {
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(step(format!("adding {access:?} on {}", path.display())))?;
    }
    if rules.restrict_net {
        for (port, access) in tcp_ports(rules) {
            created = created
                .add_rule(NetPort::new(port, access))
                .map_err(step(format!("adding {access:?} on TCP port {port}")))?;
        }
    }
    let status = created
        .restrict_self()
        .map_err(step("restricting the calling thread".into()))?;

    Ok(Report {
        kernel_abi: kernel,
        abi_used: kernel.min(PINNED_ABI),
        downgraded,
        status: match status.ruleset {
            RulesetStatus::FullyEnforced => "fully enforced",
            RulesetStatus::PartiallyEnforced => "partially enforced",
            RulesetStatus::NotEnforced => "not enforced",
        }
        .to_string(),
    })
}

/// A Landlock filesystem feature: the rights one ABI added to the handled set.
struct FsFeature {
    rights: BitFlags<AccessFs>,
    abi: u8,
    name: &'static str,
    without_it: &'static str,
}

/// The pinned ABI's filesystem rights by the ABI that brought them (checked against the
/// crate's own tables in the tests).
const FS_FEATURES: [FsFeature; 4] = [
    FsFeature {
        rights: make_bitflags!(AccessFs::{Execute | WriteFile | ReadFile | ReadDir | RemoveDir | RemoveFile
            | MakeChar | MakeDir | MakeReg | MakeSock | MakeFifo | MakeBlock | MakeSym}),
        abi: 1,
        name: "filesystem access control",
        without_it: "the filesystem is not restricted at all",
    },
    FsFeature {
        rights: make_bitflags!(AccessFs::{Refer}),
        abi: 2,
        name: "filesystem right Refer",
        without_it: "renaming or linking across directories is always denied (stricter than the rules)",
    },
    FsFeature {
        rights: make_bitflags!(AccessFs::{Truncate}),
        abi: 3,
        name: "filesystem right Truncate",
        without_it: "truncating files is not restricted",
    },
    FsFeature {
        rights: make_bitflags!(AccessFs::{IoctlDev}),
        abi: 5,
        name: "filesystem right IoctlDev",
        without_it: "ioctl(2) on device files is not restricted",
    },
];

fn is_required(rules: &LandlockRules, feature_abi: u8) -> bool {
    !rules.best_effort || rules.min_abi.is_some_and(|min| feature_abi <= min)
}

/// Decides, before anything is built, whether the kernel can enforce the rules; returns what
/// is dropped in best-effort mode.
fn check_support(rules: &LandlockRules, kernel: u8) -> Result<Vec<String>, LandlockError> {
    if let Some(required) = rules.min_abi {
        if required > kernel {
            return Err(LandlockError::AbiTooOld { required, kernel });
        }
    }
    if !rules.restrict_net && (!rules.tcp_bind.is_empty() || !rules.tcp_connect.is_empty()) {
        return Err(LandlockError::PortsWithoutRestrictNet {
            bind: rules.tcp_bind.clone(),
            connect: rules.tcp_connect.clone(),
        });
    }

    let mut used: Vec<(String, u8, &str)> = FS_FEATURES
        .iter()
        .map(|f| (f.name.to_string(), f.abi, f.without_it))
        .collect();
    if rules.restrict_net {
        used.push((
            "TCP bind/connect control".into(),
            TCP_ABI,
            "TCP bind and connect are not restricted",
        ));
    }
    if rules.scope_signals {
        used.push((
            "signal scoping".into(),
            SCOPE_ABI,
            "signals to processes outside the sandbox are not restricted",
        ));
    }
    if rules.scope_abstract_unix {
        used.push((
            "abstract UNIX socket scoping".into(),
            SCOPE_ABI,
            "connecting to abstract UNIX sockets outside the sandbox is not restricted",
        ));
    }

    let mut downgraded = Vec::new();
    let mut missing = Vec::new();
    let mut max_required = 0;
    for (feature, required, without_it) in used {
        if required <= kernel {
            continue;
        }
        if is_required(rules, required) {
            missing.push(format!("{feature} (ABI {required})"));
            max_required = max_required.max(required);
        } else {
            downgraded.push(format!(
                "{feature} (ABI {required}) is not enforced: the kernel provides ABI {kernel}; {without_it}"
            ));
        }
    }
    if !missing.is_empty() {
        return Err(LandlockError::Unsupported {
            missing,
            required: max_required,
            kernel,
        });
    }
    Ok(downgraded)
}

const READ: BitFlags<AccessFs> = make_bitflags!(AccessFs::{ReadFile | ReadDir});
const WRITE: BitFlags<AccessFs> = make_bitflags!(AccessFs::{ReadFile | ReadDir | WriteFile | Truncate | MakeReg
    | MakeDir | MakeSym | RemoveFile | RemoveDir | Refer});
const EXEC: BitFlags<AccessFs> = make_bitflags!(AccessFs::{Execute | ReadFile});

/// Opens every listed path with O_PATH and computes its rights (union over the lists, cut down
/// to file rights for non-directories). Missing paths are errors unless best effort.
fn open_paths(
    rules: &LandlockRules,
    downgraded: &mut Vec<String>,
) -> Result<Vec<(PathBuf, PathFd, BitFlags<AccessFs>)>, LandlockError> {
    let mut wanted: BTreeMap<&Path, (BitFlags<AccessFs>, Vec<&'static str>)> = BTreeMap::new();
    for (list, paths, access) in [
        ("read", &rules.read, READ),
        ("write", &rules.write, WRITE),
        ("exec", &rules.exec, EXEC),
    ] {
        for path in paths {
            let entry = wanted.entry(path.as_path()).or_insert((BitFlags::empty(), Vec::new()));
            entry.0 |= access;
            if !entry.1.contains(&list) {
                entry.1.push(list);
            }
        }
    }

    let mut opened = Vec::with_capacity(wanted.len());
    for (path, (mut access, lists)) in wanted {
        let lists = lists.join("+");
        if !path.is_absolute() {
            return Err(LandlockError::RelativePath {
                lists,
                path: path.to_path_buf(),
            });
        }
        let fd = match PathFd::new(path) {
            Ok(fd) => fd,
            Err(PathFdError::OpenCall { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                if rules.best_effort || rules.skip_missing {
                    downgraded.push(format!(
                        "{lists} path {} does not exist: its rule is skipped",
                        path.display()
                    ));
                    continue;
                }
                return Err(LandlockError::PathNotFound {
                    lists,
                    path: path.to_path_buf(),
                });
            }
            Err(PathFdError::OpenCall { source, .. }) => {
                return Err(LandlockError::OpenPath {
                    lists,
                    path: path.to_path_buf(),
                    source,
                })
            }
            Err(other) => {
                return Err(LandlockError::OpenPath {
                    lists,
                    path: path.to_path_buf(),
                    source: io::Error::other(other.to_string()),
                })
            }
        };
        let stat = nix::sys::stat::fstat(&fd).map_err(|errno| LandlockError::OpenPath {
            lists: lists.clone(),
            path: path.to_path_buf(),
            source: io::Error::from(errno),
        })?;
        let file_type = stat.st_mode & libc::S_IFMT;
        if file_type != libc::S_IFDIR {
            // Landlock rejects directory-only rights on a file (EINVAL).
            access &= AccessFs::from_file(PINNED);
            let is_device = file_type == libc::S_IFCHR || file_type == libc::S_IFBLK;
            if is_device && access.contains(AccessFs::WriteFile) {
                access |= AccessFs::IoctlDev;
            }
        }
        opened.push((path.to_path_buf(), fd, access));
    }
    Ok(opened)
}

fn tcp_ports(rules: &LandlockRules) -> BTreeMap<u16, BitFlags<AccessNet>> {
    let mut ports: BTreeMap<u16, BitFlags<AccessNet>> = BTreeMap::new();
    for &port in &rules.tcp_bind {
        *ports.entry(port).or_default() |= AccessNet::BindTcp;
    }
    for &port in &rules.tcp_connect {
        *ports.entry(port).or_default() |= AccessNet::ConnectTcp;
    }
    ports
}

#[cfg(test)]
mod tests {
    //! Each enforcing test forks: the child applies the rules, tries one operation and exits
    //! with its errno (0 on success), so the test process itself is never restricted.

    use super::*;
    use std::ffi::CString;
    use std::fs::{self, File};
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    use std::panic::AssertUnwindSafe;
    use std::time::Instant;

    const APPLY_FAILED: i32 = 250;
    const PANICKED: i32 = 251;
    const NO_ERRNO: i32 = 252;

    /// Forks; the child runs `body` with a pipe back to us and exits with its return value.
    /// Returns the child's exit code and what it wrote.
    fn fork_child(body: impl FnOnce(&mut File) -> i32) -> (i32, String) {
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
        // SAFETY: the test harness is multi-threaded, so the child may only rely on what is
        // fork-safe: it runs `body` (allocation through glibc's fork-aware malloc, plain
        // syscalls, no stdio, env or other std locks) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            drop(rd);
            let mut out = File::from(wr);
            let code = std::panic::catch_unwind(AssertUnwindSafe(|| body(&mut out))).unwrap_or(PANICKED);
            // SAFETY: _exit ends the child at once: no unwinding into the harness (whose other
            // threads do not exist here) and no atexit handlers of the parent.
            unsafe { libc::_exit(code) };
        }
        drop(wr);
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer and `pid` is our own child.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid, "waitpid: {}", io::Error::last_os_error());
        assert!(
            libc::WIFEXITED(status),
            "child did not exit normally: status {status:#x}"
        );
        // Read after the child is gone, without blocking: children forked concurrently by
        // other tests may have inherited our write end.
        nix::fcntl::fcntl(&rd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).expect("O_NONBLOCK");
        let mut output = Vec::new();
        let _ = File::from(rd).read_to_end(&mut output);
        (libc::WEXITSTATUS(status), String::from_utf8_lossy(&output).into_owned())
    }

    /// Forks a child that applies `rules`, then runs `body`.
    fn in_sandbox(rules: &LandlockRules, body: impl FnOnce(&mut File) -> i32) -> (i32, String) {
        fork_child(|out| match apply(rules) {
            Ok(report) => {
                let _ = writeln!(out, "{}", serde_json::to_string(&report).unwrap_or_default());
                body(out)
            }
            Err(e) => {
                let _ = write!(out, "apply failed: {e}");
                APPLY_FAILED
            }
        })
    }

    fn errno<T>(result: io::Result<T>) -> i32 {
        match result {
            Ok(_) => 0,
            Err(e) => e.raw_os_error().unwrap_or(NO_ERRNO),
        }
    }

    fn last_errno() -> i32 {
        io::Error::last_os_error().raw_os_error().unwrap_or(NO_ERRNO)
    }

    /// Skips (with a message) when the kernel lacks the ABI a test exercises.
    fn kernel_has(abi: u8) -> bool {
        let kernel = kernel_abi();
        if kernel < abi {
            println!("skipped: needs Landlock ABI {abi}, the kernel provides {kernel}");
        }
        kernel >= abi
    }

    /// tree/{ro/{file,busybox}, rw/, exec/busybox, outside/file, ro_file}
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for sub in ["ro", "rw", "exec", "outside"] {
            fs::create_dir(root.join(sub)).unwrap();
        }
        fs::write(root.join("ro/file"), b"model weights").unwrap();
        fs::write(root.join("outside/file"), b"host secret").unwrap();
        fs::write(root.join("ro_file"), b"single file").unwrap();
        if Path::new("/bin/busybox").exists() {
            fs::copy("/bin/busybox", root.join("exec/busybox")).unwrap();
            fs::copy("/bin/busybox", root.join("ro/busybox")).unwrap();
        }
        dir
    }

    fn rules_for(read: Vec<PathBuf>, write: Vec<PathBuf>, exec: Vec<PathBuf>) -> LandlockRules {
        LandlockRules {
            read,
            write,
            exec,
            best_effort: true,
            ..Default::default()
        }
    }

    #[test]
    fn kernel_abi_is_available() {
        let abi = kernel_abi();
        println!("kernel Landlock ABI: {abi} (pinned: {PINNED_ABI})");
        assert!(abi >= 1, "Landlock is not available on this kernel");
    }

    #[test]
    fn fs_features_match_the_crate_tables() {
        let abi = |n: u8| match n {
            0 => ABI::Unsupported,
            1 => ABI::V1,
            2 => ABI::V2,
            3 => ABI::V3,
            4 => ABI::V4,
            5 => ABI::V5,
            _ => ABI::V6,
        };
        let mut union = BitFlags::<AccessFs>::empty();
        for feature in &FS_FEATURES {
            let added = AccessFs::from_all(abi(feature.abi)) & !AccessFs::from_all(abi(feature.abi - 1));
            assert_eq!(
                feature.rights, added,
                "{} is not what ABI {} added",
                feature.name, feature.abi
            );
            union |= feature.rights;
        }
        assert_eq!(union, AccessFs::from_all(PINNED));
        assert_eq!(AccessNet::from_all(abi(TCP_ABI)), AccessNet::from_all(PINNED));
        assert!(AccessNet::from_all(abi(TCP_ABI - 1)).is_empty());
        assert!(Scope::from_all(abi(SCOPE_ABI - 1)).is_empty());
        assert_eq!(
            Scope::from_all(abi(SCOPE_ABI)),
            Scope::Signal | Scope::AbstractUnixSocket
        );
    }

    #[test]
    fn read_path_allows_reading_and_denies_writing() {
        if !kernel_has(1) {
            return;
        }
        let t = tree();
        let ro = t.path().join("ro");
        let rules = rules_for(vec![ro.clone(), t.path().join("ro_file")], vec![], vec![]);

        let (code, out) = in_sandbox(&rules, |_| errno(fs::read(ro.join("file"))));
        assert_eq!(code, 0, "reading a read path: {out}");
        let (code, out) = in_sandbox(&rules, |_| errno(fs::read_dir(&ro)));
        assert_eq!(code, 0, "listing a read directory: {out}");
        let (code, out) = in_sandbox(&rules, |_| errno(fs::read(t.path().join("ro_file"))));
        assert_eq!(code, 0, "reading a read file path: {out}");

        let (code, out) = in_sandbox(&rules, |_| {
            errno(fs::OpenOptions::new().write(true).open(ro.join("file")))
        });
        assert_eq!(code, libc::EACCES, "opening a read path for writing: {out}");
        let (code, out) = in_sandbox(&rules, |_| errno(File::create(ro.join("new"))));
        assert_eq!(code, libc::EACCES, "creating a file under a read path: {out}");
        let c_path = CString::new(ro.join("file").into_os_string().into_encoded_bytes()).unwrap();
        let (code, out) = in_sandbox(&rules, |_| {
            // SAFETY: a valid C string; truncate(2) touches no memory of ours.
            match unsafe { libc::truncate(c_path.as_ptr(), 0) } {
                0 => 0,
                _ => last_errno(),
            }
        });
        assert_eq!(code, libc::EACCES, "truncating a file under a read path: {out}");
        assert_eq!(fs::read(ro.join("file")).unwrap(), b"model weights");
    }

    #[test]
    fn write_path_allows_modifying() {
        if !kernel_has(1) {
            return;
        }
        let t = tree();
        let rw = t.path().join("rw");
        let rules = rules_for(vec![], vec![rw.clone()], vec![]);
        let (code, out) = in_sandbox(&rules, |out| {
            let steps: [(&str, &dyn Fn() -> io::Result<()>); 6] = [
                ("create+write", &|| fs::write(rw.join("a"), b"cache")),
                ("read back", &|| fs::read(rw.join("a")).map(drop)),
                ("mkdir", &|| fs::create_dir(rw.join("d"))),
                ("rename across dirs", &|| fs::rename(rw.join("a"), rw.join("d/b"))),
                ("truncate", &|| File::create(rw.join("d/b")).map(drop)),
                ("remove", &|| {
                    fs::remove_file(rw.join("d/b")).and_then(|_| fs::remove_dir(rw.join("d")))
                }),
            ];
            for (name, step) in steps {
                if let Err(e) = step() {
                    let _ = write!(out, "{name}: {e}");
                    return e.raw_os_error().unwrap_or(NO_ERRNO);
                }
            }
            0
        });
        assert_eq!(code, 0, "modifying a write path: {out}");
        assert!(
            fs::read_dir(&rw).unwrap().next().is_none(),
            "the child's work is visible and cleaned up"
        );
    }

    #[test]
    fn write_on_a_file_path_grants_file_rights_only() {
        if !kernel_has(1) {
            return;
        }
        let t = tree();
        let file = t.path().join("ro_file");
        let rules = rules_for(vec![], vec![file.clone()], vec![]);
        let (code, out) = in_sandbox(&rules, |_| errno(fs::write(&file, b"updated")));
        assert_eq!(code, 0, "writing a file listed in write: {out}");
        assert!(out.contains("fully enforced"), "report: {out}");
        assert_eq!(fs::read(&file).unwrap(), b"updated");
        let (code, out) = in_sandbox(&rules, |_| errno(File::create(t.path().join("sibling"))));
        assert_eq!(code, libc::EACCES, "creating a sibling of a write file: {out}");
    }

    #[test]
    fn device_ioctl_only_with_write_on_the_device_node() {
        if !kernel_has(5) {
            return;
        }
        // /dev/null implements no ioctl: the driver answers ENOTTY, Landlock answers EACCES.
        let tcgets = || {
            let null = match File::open("/dev/null") {
                Ok(f) => f,
                Err(e) => return e.raw_os_error().unwrap_or(NO_ERRNO),
            };
            // SAFETY: an all-zero termios is a valid buffer for TCGETS to fill.
            let mut termios: libc::termios = unsafe { std::mem::zeroed() };
            // SAFETY: the fd is open for the duration of the call, termios is writable.
            match unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&null), libc::TCGETS, &mut termios) } {
                0 => 0,
                _ => last_errno(),
            }
        };
        let dev_null = PathBuf::from("/dev/null");
        let (code, out) = in_sandbox(&rules_for(vec![dev_null.clone()], vec![], vec![]), |_| tcgets());
        assert_eq!(code, libc::EACCES, "ioctl on a device listed in read: {out}");
        let (code, out) = in_sandbox(&rules_for(vec![], vec![dev_null], vec![]), |_| tcgets());
        assert_eq!(
            code,
            libc::ENOTTY,
            "ioctl on a device listed in write reaches the driver: {out}"
        );
    }

    #[test]
    fn exec_only_under_an_exec_path() {
        if !kernel_has(1) {
            return;
        }
        if !Path::new("/bin/busybox").exists() {
            println!("skipped: /bin/busybox (static) is needed to exec without library paths");
            return;
        }
        let t = tree();
        let rules = rules_for(vec![t.path().join("ro")], vec![], vec![t.path().join("exec")]);
        let exec_in = |dir: &str| {
            let path = CString::new(t.path().join(dir).join("busybox").into_os_string().into_encoded_bytes()).unwrap();
            let argv = [c"busybox".as_ptr(), c"sh".as_ptr(), c"-c".as_ptr(), c"exit 42".as_ptr()];
            let argv = [argv[0], argv[1], argv[2], argv[3], std::ptr::null()];
            in_sandbox(&rules, |_| {
                // SAFETY: path and argv are valid, NUL-terminated and outlive the call; on
                // success the process image is replaced and the shell's status is the exit code.
                unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
                last_errno()
            })
        };
        let (code, out) = exec_in("exec");
        assert_eq!(code, 42, "exec under an exec path: {out}");
        let (code, out) = exec_in("ro");
        assert_eq!(code, libc::EACCES, "exec under a read-only path: {out}");
        let (code, out) = in_sandbox(&rules, |_| errno(fs::read(t.path().join("exec/busybox"))));
        assert_eq!(code, 0, "exec grants reading the file: {out}");
    }

    #[test]
    fn reading_outside_all_paths_is_denied() {
        if !kernel_has(1) {
            return;
        }
        let t = tree();
        let rules = rules_for(
            vec![t.path().join("ro")],
            vec![t.path().join("rw")],
            vec![t.path().join("exec")],
        );
        let outside = t.path().join("outside");
        let (code, out) = in_sandbox(&rules, |_| errno(fs::read(outside.join("file"))));
        assert_eq!(code, libc::EACCES, "reading outside: {out}");
        let (code, out) = in_sandbox(&rules, |_| errno(fs::read_dir(&outside)));
        assert_eq!(code, libc::EACCES, "listing outside: {out}");
        let (code, out) = in_sandbox(&rules, |_| errno(fs::read("/etc/passwd")));
        assert_eq!(code, libc::EACCES, "reading /etc/passwd: {out}");
        // Control: without Landlock the same read works, so the denial above is Landlock's.
        let (code, out) = fork_child(|_| errno(fs::read(outside.join("file"))));
        assert_eq!(code, 0, "control read: {out}");
    }

    fn free_tcp_port() -> u16 {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn tcp_bind_only_to_listed_ports() {
        if !kernel_has(TCP_ABI) {
            return;
        }
        let allowed = free_tcp_port();
        let other = free_tcp_port();
        let rules = LandlockRules {
            tcp_bind: vec![allowed],
            restrict_net: true,
            ..rules_for(vec![], vec![], vec![])
        };
        let (code, out) = in_sandbox(&rules, |_| errno(TcpListener::bind((Ipv4Addr::LOCALHOST, allowed))));
        assert_eq!(code, 0, "bind to listed port {allowed}: {out}");
        let (code, out) = in_sandbox(&rules, |_| errno(TcpListener::bind((Ipv4Addr::LOCALHOST, other))));
        assert_eq!(code, libc::EACCES, "bind to unlisted port {other}: {out}");
    }

    #[test]
    fn tcp_connect_only_to_listed_ports() {
        if !kernel_has(TCP_ABI) {
            return;
        }
        // Both listeners accept connections, so only Landlock can make one of them fail.
        let listed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let unlisted = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let listed_addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, listed.local_addr().unwrap().port());
        let unlisted_addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, unlisted.local_addr().unwrap().port());
        let rules = LandlockRules {
            tcp_connect: vec![listed_addr.port()],
            restrict_net: true,
            ..rules_for(vec![], vec![], vec![])
        };
        let (code, out) = in_sandbox(&rules, |_| errno(TcpStream::connect(listed_addr)));
        assert_eq!(code, 0, "connect to listed {listed_addr}: {out}");
        let (code, out) = in_sandbox(&rules, |_| errno(TcpStream::connect(unlisted_addr)));
        assert_eq!(code, libc::EACCES, "connect to unlisted {unlisted_addr}: {out}");
        let (code, out) = fork_child(|_| errno(TcpStream::connect(unlisted_addr)));
        assert_eq!(code, 0, "control connect without Landlock: {out}");
    }

    /// A process outside any sandbox that waits to be killed.
    struct Bystander(libc::pid_t);

    impl Bystander {
        fn spawn() -> Self {
            // SAFETY: the child only loops on pause(2), which is async-signal-safe.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
            if pid == 0 {
                loop {
                    // SAFETY: pause has no preconditions.
                    unsafe { libc::pause() };
                }
            }
            Bystander(pid)
        }
    }

    impl Drop for Bystander {
        fn drop(&mut self) {
            // SAFETY: self.0 is our own child; kill and waitpid take no pointers but status.
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
                libc::waitpid(self.0, std::ptr::null_mut(), 0);
            }
        }
    }

    #[test]
    fn scoped_signals_stay_inside_the_domain() {
        if !kernel_has(SCOPE_ABI) {
            return;
        }
        let bystander = Bystander::spawn();
        let target = bystander.0;
        // SIGCONT is harmless to a pausing process, so the control below changes nothing.
        // SAFETY: kill takes no pointers.
        let send = || match unsafe { libc::kill(target, libc::SIGCONT) } {
            0 => 0,
            _ => last_errno(),
        };
        let rules = LandlockRules {
            scope_signals: true,
            ..rules_for(vec![], vec![], vec![])
        };
        let (code, out) = in_sandbox(&rules, |_| send());
        assert_eq!(code, libc::EPERM, "signal to a process outside the domain: {out}");
        let (code, out) = fork_child(|_| send());
        assert_eq!(code, 0, "control signal without Landlock: {out}");

        let (code, out) = in_sandbox(&rules, |out| {
            let own = Bystander::spawn();
            // SAFETY: kill takes no pointers; own.0 is our child, inside our domain.
            let sent = unsafe { libc::kill(own.0, libc::SIGTERM) };
            let sent_errno = if sent == 0 { 0 } else { last_errno() };
            let mut status = 0;
            // SAFETY: valid out pointer, our own child.
            unsafe { libc::waitpid(own.0, &mut status, 0) };
            std::mem::forget(own);
            let _ = write!(out, "waitpid status {status:#x}");
            if sent_errno == 0 && !(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM) {
                return NO_ERRNO;
            }
            sent_errno
        });
        assert_eq!(code, 0, "signal to the sandboxed process's own child: {out}");
    }

    #[test]
    fn scoped_abstract_unix_socket_outside_is_unreachable() {
        if !kernel_has(SCOPE_ABI) {
            return;
        }
        let name = format!("sealrun-landlock-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let _listener = UnixListener::bind_addr(&addr).expect("bind abstract socket");
        let rules = LandlockRules {
            scope_abstract_unix: true,
            ..rules_for(vec![], vec![], vec![])
        };
        let (code, out) = in_sandbox(&rules, |_| errno(UnixStream::connect_addr(&addr)));
        assert_eq!(code, libc::EPERM, "connect to @{name} created outside: {out}");
        let (code, out) = fork_child(|_| errno(UnixStream::connect_addr(&addr)));
        assert_eq!(code, 0, "control connect without Landlock: {out}");
    }

    #[test]
    fn min_abi_above_the_kernel_is_refused_before_anything_is_enforced() {
        let rules = LandlockRules {
            min_abi: Some(99),
            ..rules_for(vec![PathBuf::from("/")], vec![], vec![])
        };
        // Refused before the first Landlock call, so this is safe in the test process.
        let err = apply(&rules).unwrap_err();
        assert!(
            matches!(err, LandlockError::AbiTooOld { required: 99, kernel } if kernel == kernel_abi()),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("ABI 99") && message.contains("min_abi"), "{message}");
        println!("{message}");
    }

    #[test]
    fn missing_path_is_an_error_naming_it() {
        if !kernel_has(1) {
            return;
        }
        let t = tree();
        let missing = t.path().join("no-such-model");
        let rules = LandlockRules {
            best_effort: false,
            ..rules_for(vec![t.path().join("ro"), missing.clone()], vec![], vec![])
        };
        // In a child all the same: a wrong Ok would restrict the test process.
        let (code, out) = in_sandbox(&rules, |_| 0);
        assert_eq!(code, APPLY_FAILED, "{out}");
        assert!(
            out.contains(&missing.display().to_string()) && out.contains("does not exist"),
            "{out}"
        );
        assert!(out.contains("read"), "names the list: {out}");
    }

    #[test]
    fn missing_path_with_best_effort_is_recorded() {
        if !kernel_has(1) {
            return;
        }
        let t = tree();
        let missing = t.path().join("no-such-model");
        let rules = rules_for(vec![t.path().join("ro"), missing.clone()], vec![], vec![]);
        let (code, out) = in_sandbox(&rules, |_| errno(fs::read(t.path().join("ro/file"))));
        assert_eq!(code, 0, "the other rules still apply: {out}");
        let report: Report = serde_json::from_str(out.lines().next().unwrap_or("")).expect(&out);
        assert!(
            report
                .downgraded
                .iter()
                .any(|d| d.contains(&missing.display().to_string())),
            "{report:?}"
        );
    }

    #[test]
    fn strict_rules_are_fully_enforced_on_this_kernel() {
        if !kernel_has(SCOPE_ABI) {
            return;
        }
        let t = tree();
        let rules = LandlockRules {
            read: vec![t.path().join("ro")],
            write: vec![t.path().join("rw"), PathBuf::from("/dev/null")],
            tcp_bind: vec![8080],
            tcp_connect: vec![443],
            restrict_net: true,
            scope_signals: true,
            scope_abstract_unix: true,
            min_abi: Some(PINNED_ABI),
            best_effort: false,
            ..Default::default()
        };
        let (code, out) = in_sandbox(&rules, |_| errno(fs::write("/dev/null", b"x")));
        assert_eq!(code, 0, "{out}");
        let report: Report = serde_json::from_str(out.lines().next().unwrap_or("")).expect(&out);
        assert_eq!(report.status, "fully enforced");
        assert_eq!(report.abi_used, PINNED_ABI);
        assert!(report.kernel_abi >= PINNED_ABI);
        assert!(report.downgraded.is_empty(), "{report:?}");
    }

    // The kernel here cannot be made older, so the decision for older kernels is checked on
    // its pure part, which apply() runs before any Landlock call.

    #[test]
    fn strict_rules_on_an_older_kernel_name_the_missing_features() {
        let rules = LandlockRules {
            restrict_net: true,
            tcp_bind: vec![8080],
            scope_abstract_unix: true,
            ..Default::default()
        };
        let err = check_support(&rules, 3).unwrap_err();
        let LandlockError::Unsupported {
            ref missing,
            required,
            kernel,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((required, kernel), (6, 3));
        assert_eq!(
            missing,
            &[
                "filesystem right IoctlDev (ABI 5)",
                "TCP bind/connect control (ABI 4)",
                "abstract UNIX socket scoping (ABI 6)"
            ]
        );
        let message = err.to_string();
        assert!(
            message.contains("need ABI 6") && message.contains("provides ABI 3"),
            "{message}"
        );
        assert!(check_support(&rules, 6).unwrap().is_empty());
    }

    #[test]
    fn best_effort_on_an_older_kernel_records_each_dropped_feature() {
        let rules = LandlockRules {
            restrict_net: true,
            scope_signals: true,
            best_effort: true,
            ..Default::default()
        };
        let downgraded = check_support(&rules, 3).unwrap();
        let joined = downgraded.join("\n");
        assert_eq!(downgraded.len(), 3, "{joined}");
        for expected in [
            "IoctlDev (ABI 5)",
            "TCP bind/connect control (ABI 4)",
            "signal scoping (ABI 6)",
        ] {
            assert!(joined.contains(expected), "missing {expected:?} in:\n{joined}");
        }
        assert!(joined.contains("kernel provides ABI 3"), "{joined}");

        // Features up to min_abi stay hard requirements in best-effort mode.
        let with_floor = LandlockRules {
            min_abi: Some(4),
            ..rules.clone()
        };
        assert!(matches!(
            check_support(&with_floor, 3),
            Err(LandlockError::AbiTooOld { required: 4, kernel: 3 })
        ));
        assert_eq!(check_support(&with_floor, 4).unwrap().len(), 2);

        let none = check_support(&rules, 0).unwrap();
        assert!(none[0].contains("filesystem access control"), "{none:?}");
    }

    #[test]
    fn ports_without_restrict_net_are_refused() {
        let rules = LandlockRules {
            tcp_connect: vec![443],
            best_effort: true,
            ..Default::default()
        };
        let err = check_support(&rules, 7).unwrap_err();
        assert!(err.to_string().contains("restrict_net is false"), "{err}");
    }

    #[test]
    fn measure_build_and_apply_with_ten_paths() {
        if !kernel_has(1) {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..10)
            .map(|i| {
                let d = t.path().join(format!("d{i}"));
                fs::create_dir(&d).unwrap();
                d
            })
            .collect();
        let rules = LandlockRules {
            read: dirs[0..4].to_vec(),
            write: dirs[4..7].to_vec(),
            exec: dirs[7..10].to_vec(),
            restrict_net: kernel_abi() >= TCP_ABI,
            tcp_bind: if kernel_abi() >= TCP_ABI { vec![8080] } else { vec![] },
            best_effort: true,
            ..Default::default()
        };
        let mut micros = Vec::new();
        for _ in 0..5 {
            let (code, out) = fork_child(|out| {
                let start = Instant::now();
                let result = apply(&rules);
                let elapsed = start.elapsed();
                let _ = write!(out, "{}", elapsed.as_nanos());
                if result.is_ok() {
                    0
                } else {
                    APPLY_FAILED
                }
            });
            assert_eq!(code, 0, "{out}");
            micros.push(out.trim().parse::<f64>().unwrap() / 1000.0);
        }
        micros.sort_by(f64::total_cmp);
        println!(
            "landlock build+apply, 10 paths + 1 port: min {:.1} µs, median {:.1} µs (5 runs: {micros:.1?})",
            micros[0], micros[2]
        );
    }
}
