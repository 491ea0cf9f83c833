//! The last steps before the user's program runs, shared by the container's init and
//! by `exec`: rlimits, session keyring, working directory, user and groups,
//! capabilities, no_new_privs, seccomp, and execve.
//!
//! The order is the one that keeps every step possible and the result tight: the
//! bounding set drops while we still hold CAP_SETPCAP; seccomp goes last when
//! no_new_privs is set (so it does not filter our own setup), or before the capability
//! drop when it is not (installing a filter then needs CAP_SYS_ADMIN).

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use crate::error::{Context, Error, Result};
use crate::seccomp::CompiledSeccomp;
use crate::sys;

/// What execve needs, resolved inside the container before we report ready, so that
/// "executable file not found" fails `create` (as runc does) rather than `start`.
pub struct Exec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn cs(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Setup(format!("{what}: {s:?} contains a NUL byte")))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resolve args[0] like execvp with the process's own PATH; builds argv and envp.
pub fn resolve(p: &Process) -> Result<Exec> {
    let args = p.args().as_deref().unwrap_or_default();
    let prog = args.first().ok_or_else(|| Error::Setup("process.args: empty".into()))?;
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(p.user().uid())));
    }
    let path_var = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    let exe: PathBuf = if prog.contains('/') {
        PathBuf::from(prog)
    } else {
        path_var
            .split(':')
            .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(prog))
            .find(|c| is_executable(c))
            .ok_or_else(|| {
                Error::Setup(format!(
                    "exec: {prog:?}: executable file not found in $PATH ({path_var})"
                ))
            })?
    };
    if !is_executable(&exe) {
        return Err(Error::Setup(format!(
            "exec: {}: expected an executable regular file, found {}",
            exe.display(),
            if exe.exists() {
                "a non-executable file"
            } else {
                "nothing"
            }
        )));
    }
    Ok(Exec {
        path: cs(exe.to_str().unwrap_or(prog), "process.args[0]")?,
        argv: args.iter().map(|a| cs(a, "process.args")).collect::<Result<_>>()?,
        envp: env.iter().map(|e| cs(e, "process.env")).collect::<Result<_>>()?,
    })
}

/// HOME from the container's /etc/passwd, "/" when the user has no entry.
fn home_of(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2].parse::<u32>() == Ok(uid)).then(|| f[5].to_string())
            })
        })
        .unwrap_or_else(|| "/".to_string())
}

/// chdir to `cwd`, resolved inside the current root with magic links refused, and
/// check the result is reachable from the root: a leaked host fd named as
/// `/proc/self/fd/N` (CVE-2024-21626) cannot become the working directory.
pub fn enter_cwd(cwd: &Path) -> Result<()> {
    let root = sys::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).ctx(|| "opening /".into())?;
    let rel: PathBuf = cwd
        .components()
        .filter(|c| !matches!(c, std::path::Component::RootDir))
        .collect();
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    let fd = sys::openat2_in_root(root.as_raw_fd(), &rel, libc::O_PATH | libc::O_DIRECTORY, 0)
        .ctx(|| format!("process.cwd {}: cannot enter it inside the container", cwd.display()))?;
    sys::fchdir(fd.as_raw_fd()).ctx(|| format!("process.cwd {}", cwd.display()))?;
    let now = std::env::current_dir().ctx(|| "getcwd".into())?;
    if !now.is_absolute() || now.starts_with("(unreachable)") {
        return Err(Error::Setup(format!(
            "process.cwd {}: resolves outside the container's root ({})",
            cwd.display(),
            now.display()
        )));
    }
    Ok(())
}

pub struct Finalize<'a> {
    pub process: &'a Process,
    pub seccomp: Option<&'a CompiledSeccomp>,
    /// The policy's confinement, applied after the spec's own settings.
    pub confine: Option<&'a crate::confine::Compiled>,
    pub new_keyring: bool,
    /// Highest fd number to keep open across exec (2 + --preserve-fds).
    pub keep_fds_through: u32,
}

/// Everything after the working directory: never returns on success.
pub fn finalize_and_exec(f: Finalize<'_>, exec: &Exec) -> Result<std::convert::Infallible> {
    let p = f.process;
    if let Some(rl) = p.rlimits() {
        crate::rlimits::apply(rl)?;
    }
    if f.new_keyring {
        // A fresh session keyring, so the container cannot read the host's keys.
        // SAFETY: keyctl with a null name creates an anonymous keyring.
        let r = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                1, /* KEYCTL_JOIN_SESSION_KEYRING */
                std::ptr::null::<libc::c_char>(),
            )
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            // keyctl may be filtered by an outer sandbox; runc ignores ENOSYS likewise.
            if e.raw_os_error() != Some(libc::ENOSYS) && e.raw_os_error() != Some(libc::EPERM) {
                return Err(Error::Setup(format!("joining a new session keyring: {e}")));
            }
        }
    }
    if let Some(u) = p.user().umask() {
        // SAFETY: umask always succeeds.
        unsafe { libc::umask(u as libc::mode_t) };
    }
    let no_new_privs = p.no_new_privileges().unwrap_or(false);
    if let Some(c) = p.capabilities() {
        crate::capabilities::drop_bounding(c)?;
    }
    if let (Some(s), false) = (f.seccomp, no_new_privs) {
        s.install()?;
    }
    let user = p.user();
    let groups: Vec<u32> = user.additional_gids().clone().unwrap_or_default();
    match sys::setgroups(&groups) {
        Ok(()) => {}
        // setgroups is denied in a user namespace whose setgroups file says so.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && groups.is_empty() => {}
        Err(e) => return Err(Error::Setup(format!("process.user.additionalGids {groups:?}: {e}"))),
    }
    sys::setresgid(user.gid()).map_err(|e| Error::Setup(format!("process.user.gid {}: {e}", user.gid())))?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 1).map_err(|e| Error::Setup(format!("PR_SET_KEEPCAPS: {e}")))?;
    sys::setresuid(user.uid()).map_err(|e| Error::Setup(format!("process.user.uid {}: {e}", user.uid())))?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 0).map_err(|e| Error::Setup(format!("PR_SET_KEEPCAPS: {e}")))?;
    match p.capabilities() {
        Some(c) => crate::capabilities::apply(c)?,
        None => {
            for set in [
                caps::CapSet::Effective,
                caps::CapSet::Permitted,
                caps::CapSet::Inheritable,
                caps::CapSet::Ambient,
            ] {
                let _ = caps::clear(None, set);
            }
        }
    }
    if no_new_privs {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map_err(|e| Error::Setup(format!("process.noNewPrivileges: {e}")))?;
    }
    // Only stdio and the preserved fds may cross into the container.
    sys::cloexec_from(f.keep_fds_through + 1).map_err(|e| Error::Setup(format!("close_range: {e}")))?;
    // Landlock last among the file operations of our own (it may deny them), and
    // before seccomp (a filter may deny the Landlock syscalls).
    if let Some(l) = f.confine.and_then(|c| c.landlock.as_ref()) {
        crate::landlock::apply(l).map_err(|e| Error::Setup(format!("policy: sandbox.fs/net: {e}")))?;
    }
    if let (Some(s), true) = (f.seccomp, no_new_privs) {
        s.install()?;
    }
    if let Some(c) = f.confine {
        for s in &c.seccomp {
            s.install()?;
        }
    }
    let e = sys::execve(&exec.path, &exec.argv, &exec.envp);
    Err(Error::Setup(format!("exec {:?}: {e}", exec.path)))
}
