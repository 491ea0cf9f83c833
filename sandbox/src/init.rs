//! The container's init, between `clone` and `execve`: runs in the child that
//! `create` cloned. It reports progress and errors to the runtime over the sync channel
//! until it is ready, then blocks on the exec fifo until `start`.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::channel::{Channel, Msg};
use crate::console;
use crate::error::{Context, Error, Result};
use crate::hooks::{self, Phase};
use crate::namespaces::Plan;
use crate::process::{self, Finalize};
use crate::rootfs::{self, Rootfs};
use crate::seccomp::CompiledSeccomp;
use crate::sys;

pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub ns: &'a Plan,
    pub ch: &'a Channel,
    pub console: Option<&'a OwnedFd>,
    pub state_dir: &'a OwnedFd,
    pub seccomp: Option<&'a CompiledSeccomp>,
    pub confine: Option<&'a crate::confine::Compiled>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub parent_pid: libc::pid_t,
    /// The runtime's flock on the state dir, inherited by clone: closed first thing.
    pub lock_fd: RawFd,
}

/// Never returns: execs the user's program, or exits non-zero after reporting why.
pub fn run(a: InitArgs<'_>) -> ! {
    // SAFETY: closing our copy of an fd the parent keeps; nothing else here uses it.
    unsafe { libc::close(a.lock_fd) };
    let ready = std::cell::Cell::new(false);
    let err = match setup_and_exec(&a, &ready) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if ready.get() {
        // The runtime is gone: stderr (the container's, i.e. containerd's log) is all we have.
        let _ = writeln!(std::io::stderr(), "sealrun init: {err}");
    } else {
        let _ = a.ch.send(&Msg::Error(err.to_string()));
    }
    sys::exit_now(127)
}

fn setup_and_exec(a: &InitArgs<'_>, ready: &std::cell::Cell<bool>) -> Result<std::convert::Infallible> {
    let spec = a.spec;
    let linux = spec.linux().as_ref().expect("validated");
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Setup("process: missing".into()))?;

    // Die with the runtime while it is still setting us up; a runtime killed mid-way
    // must not leave a half-made container behind.
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong).ctx(|| "PR_SET_PDEATHSIG".into())?;
    // SAFETY: getppid always succeeds. In a new pid namespace the parent is outside it
    // and getppid() says 0; re-parenting would make it 1 (or a subreaper) instead.
    let ppid = unsafe { libc::getppid() };
    if ppid != a.parent_pid && ppid != 0 {
        return Err(Error::Setup("the runtime exited during setup".into()));
    }
    // CVE-2019-5736: until execve replaces this image, the process runs the runtime's
    // binary; non-dumpable keeps /proc/<pid>/exe and /proc/<pid>/mem out of reach of
    // anything in the container.
    sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx(|| "PR_SET_DUMPABLE".into())?;
    a.ch.expect(Msg::Go, "init").map_err(Error::Setup)?;

    if a.ns.creates(LinuxNamespaceType::User) {
        sys::setresgid(0).ctx(|| "becoming root in the new user namespace (gid)".into())?;
        sys::setresuid(0).ctx(|| "becoming root in the new user namespace (uid)".into())?;
    }
    a.ns.join_in_child()?;
    let cgroup_dirs = rootfs::host_cgroup_dirs();
    sys::unshare(a.ns.unshare_flags()).ctx(|| format!("unshare({:#x})", a.ns.unshare_flags()))?;
    if a.ns.creates(LinuxNamespaceType::Network) {
        loopback_up()?;
    }
    if let Some(h) = spec.hostname() {
        if !a.ns.has(LinuxNamespaceType::Uts) {
            return Err(Error::Setup("hostname: setting it needs a \"uts\" namespace".into()));
        }
        sys::sethostname(h).ctx(|| format!("hostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname() {
        sys::setdomainname(d).ctx(|| format!("domainname {d:?}"))?;
    }
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(|| format!("process.oomScoreAdj {adj} (lowering it needs CAP_SYS_RESOURCE)"))?;
    }

    let in_userns = a.ns.has(LinuxNamespaceType::User);
    let rfs = Rootfs::prepare(a.rootfs, in_userns, linux.rootfs_propagation().as_deref())?;
    rfs.mount_all(spec, a.bundle, &cgroup_dirs)?;
    rfs.create_devices(spec)?;
    rfs.link_ptmx()?;

    a.ch.send(&Msg::Hooks).ctx(|| "sync".into())?;
    a.ch.expect(Msg::HooksDone, "init").map_err(Error::Setup)?;
    if let Some(h) = spec.hooks() {
        let list = Phase::CreateContainer.of(h);
        if !list.is_empty() {
            let state = read_state(a.state_dir, "creating")?;
            hooks::run(Phase::CreateContainer, &list, &state)?;
        }
    }

    rfs.sysctls(spec)?;
    rfs.mask_paths(spec)?;
    rfs.readonly_paths(spec)?;
    let mut slave: Option<OwnedFd> = None;
    if process.terminal().unwrap_or(false) {
        let sock = a
            .console
            .ok_or_else(|| Error::Setup("process.terminal is true but no --console-socket was given".into()))?;
        let (master, s) = console::open_pty(&rfs)?;
        rfs.bind_console(s.as_raw_fd())?;
        crate::channel::send_fd(sock.as_raw_fd(), "/dev/ptmx", master.as_raw_fd())
            .ctx(|| "sending the pty master over --console-socket".into())?;
        slave = Some(s);
    }
    if spec.root().as_ref().is_some_and(|r| r.readonly().unwrap_or(false)) {
        rfs.make_readonly()?;
    }
    rfs.enter(a.no_pivot, linux.rootfs_propagation().as_deref())?;
    process::enter_cwd(process.cwd())?;
    let exec = process::resolve(process)?;
    if let Some(s) = &slave {
        console::make_controlling_tty(s.as_raw_fd())?;
    }
    drop(slave);

    sys::prctl(libc::PR_SET_PDEATHSIG, 0).ctx(|| "PR_SET_PDEATHSIG".into())?;
    a.ch.send(&Msg::Ready).ctx(|| "sync".into())?;
    ready.set(true);

    // Block until `start` opens the fifo for reading.
    let fifo = sys::openat(a.state_dir.as_raw_fd(), Path::new("exec.fifo"), libc::O_WRONLY, 0)
        .ctx(|| "opening the exec fifo".into())?;
    let mut f = std::fs::File::from(fifo);
    f.write_all(b"0").ctx(|| "writing the exec fifo".into())?;
    // Kept open (close-on-exec) on purpose: `start` waits for the end of file that
    // execve gives it, so poststart hooks run after the user's program started.
    let _fifo_until_exec = f;
    if let Some(h) = spec.hooks() {
        let list = Phase::StartContainer.of(h);
        if !list.is_empty() {
            let state = read_state(a.state_dir, "running")?;
            hooks::run(Phase::StartContainer, &list, &state)?;
        }
    }
    reset_signals();
    process::finalize_and_exec(
        Finalize {
            process,
            seccomp: a.seccomp,
            confine: a.confine,
            new_keyring: !a.no_new_keyring,
            keep_fds_through: 2 + a.preserve_fds,
        },
        &exec,
    )
}

/// The state document for hooks run by the init, from the runtime's state dir.
fn read_state(dir: &OwnedFd, status: &str) -> Result<Vec<u8>> {
    let fd = sys::openat(dir.as_raw_fd(), Path::new("state.json"), libc::O_RDONLY, 0);
    let mut v = match fd {
        Ok(fd) => {
            let mut s = String::new();
            std::fs::File::from(fd)
                .read_to_string(&mut s)
                .ctx(|| "reading state.json".into())?;
            let st: crate::state::State =
                serde_json::from_str(&s).map_err(|e| Error::Setup(format!("state.json: {e}")))?;
            st.oci_json()
        }
        Err(e) => {
            return Err(Error::Io {
                what: "opening state.json for a hook".into(),
                source: e,
            })
        }
    };
    v["status"] = status.into();
    Ok(serde_json::to_vec(&v).expect("json"))
}

/// The Rust runtime ignores SIGPIPE, and ignored signals survive execve: restore every
/// disposition and unblock everything so the container starts as a fresh process.
pub fn reset_signals() {
    // SAFETY: resetting dispositions to SIG_DFL and emptying the mask is always valid;
    // SIGKILL/SIGSTOP fail harmlessly.
    unsafe {
        for sig in 1..libc::SIGRTMAX() {
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// A new network namespace starts with `lo` down; bring it up as runc does.
fn loopback_up() -> Result<()> {
    // SAFETY: a plain socket; closed below.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(Error::Io {
            what: "socket for lo".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: fresh fd.
    let s = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: an all-zero ifreq is valid; we set the name and flags.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        ifr.ifr_name[i] = *b as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } < 0 {
        return Err(Error::Io {
            what: "bringing up lo".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}
