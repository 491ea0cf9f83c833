//! `exec`: run another process inside a running container.
//!
//! The runtime forks a helper that joins the container's namespaces (user first,
//! mount last). Joining a pid namespace only affects children, so the helper forks the
//! process proper and exits; the runtime places that process in the container's
//! cgroup, lets it finish its setup (console, cwd, user, capabilities, seccomp) and,
//! unless `--detach`, waits for it as its subreaper and returns its exit status.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::Runtime;
use crate::channel::{self, Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::init::reset_signals;
use crate::namespaces::{self, clone_flag};
use crate::process::{self, Finalize};
use crate::seccomp::CompiledSeccomp;
use crate::state::{self, Status};
use crate::sys;

pub struct ExecOpts {
    pub id: String,
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
}

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Returns the pid of the new process and, unless detached, its exit code.
pub fn exec(rt: &Runtime, o: &ExecOpts) -> Result<(i32, Option<i32>)> {
    let c = rt.load(&o.id)?;
    c.require("exec", &[Status::Running, Status::Created], "running or created")?;
    let spec = c.spec()?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::Setup("stored config has no linux section".into()))?;
    if o.process.terminal().unwrap_or(false) && o.console_socket.is_none() {
        return Err(Error::Setup(
            "exec: the process wants a terminal: --console-socket is required".into(),
        ));
    }
    let types: Vec<LinuxNamespaceType> = linux
        .namespaces()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|n| n.typ())
        .collect();
    let nsfds = namespaces::of_process(c.state.pid, &types)?;
    let seccomp = linux.seccomp().as_ref().map(CompiledSeccomp::compile).transpose()?;
    // Every process of the container is confined like its init.
    let confine = crate::confine::Confinement::load(c.dir())?
        .map(|c| c.compile())
        .transpose()?;
    let cg = c.cgroup()?;
    let console = o
        .console_socket
        .as_ref()
        .map(|p| channel::connect_unix(p).ctx(|| format!("--console-socket {}", p.display())))
        .transpose()?;
    if !o.detach {
        sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1).ctx(|| "PR_SET_CHILD_SUBREAPER".into())?;
    }
    let (parent_ch, child_ch) = channel::pair().ctx(|| "socketpair".into())?;
    let helper = sys::clone_fork(0).ctx(|| "fork".into())?;
    if helper == 0 {
        drop(parent_ch);
        // SAFETY: our copy of the container lock's fd; the parent keeps its own.
        unsafe { libc::close(c.locked.lock_fd()) };
        let err = match join_and_fork(
            &nsfds,
            &child_ch,
            &o.process,
            seccomp.as_ref(),
            confine.as_ref(),
            console.as_ref(),
            o.preserve_fds,
        ) {
            Ok(()) => sys::exit_now(0),
            Err(e) => e,
        };
        let _ = child_ch.send(&Msg::Error(err.to_string()));
        sys::exit_now(1);
    }
    drop(child_ch);
    drop(console);
    let pid = match parent_ch.recv() {
        Ok(Some(Msg::Pid(p))) => p,
        Ok(Some(Msg::Error(e))) => {
            let _ = sys::waitpid(helper, 0);
            return Err(Error::Setup(e));
        }
        other => {
            let _ = sys::waitpid(helper, 0);
            return Err(Error::Setup(format!("exec: setup helper failed: {other:?}")));
        }
    };
    let _ = sys::waitpid(helper, 0);
    let fail = |e: Error| {
        let _ = sys::kill(pid, libc::SIGKILL);
        if !o.detach {
            let _ = sys::waitpid(pid, 0);
        }
        e
    };
    cg.add_process(pid).map_err(|e| fail(e.into()))?;
    parent_ch.send(&Msg::Go).ctx(|| "sync".into()).map_err(fail)?;
    // Ready, then EOF when execve closes the (close-on-exec) socket; an error otherwise.
    parent_ch
        .expect(Msg::Ready, "exec")
        .map_err(|e| fail(Error::Setup(e)))?;
    match parent_ch.recv() {
        Ok(None) => {}
        Ok(Some(Msg::Error(e))) => return Err(fail(Error::Setup(e))),
        other => return Err(fail(Error::Setup(format!("exec: unexpected {other:?}")))),
    }
    if let Some(pf) = &o.pid_file {
        let pf = std::path::absolute(pf).unwrap_or_else(|_| pf.clone());
        state::write_atomic(&pf, pid.to_string().as_bytes())?;
    }
    drop(c);
    if o.detach {
        return Ok((pid, None));
    }
    FORWARD_TO.store(pid, Ordering::Relaxed);
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ] {
        // SAFETY: `forward` only calls async-signal-safe functions.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
    loop {
        let (p, status) = sys::waitpid(-1, 0).ctx(|| "waiting for the exec'd process".into())?;
        if p == pid {
            return Ok((pid, Some(sys::exit_code_of(status))));
        }
    }
}

/// In the helper: join, fork the real process, report its pid, exit.
fn join_and_fork(
    nsfds: &[(LinuxNamespaceType, OwnedFd)],
    ch: &Channel,
    process: &Process,
    seccomp: Option<&CompiledSeccomp>,
    confine: Option<&crate::confine::Compiled>,
    console: Option<&OwnedFd>,
    preserve_fds: u32,
) -> Result<()> {
    // CVE-2019-5736: this process runs the runtime binary inside the container's
    // namespaces until execve; nothing in the container may open /proc/<pid>/exe.
    sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx(|| "PR_SET_DUMPABLE".into())?;
    for (t, fd) in nsfds {
        sys::setns(fd.as_raw_fd(), clone_flag(*t))
            .ctx(|| format!("joining the container's {} namespace", namespaces::proc_name(*t)))?;
    }
    let pid = sys::clone_fork(0).ctx(|| "fork".into())?;
    if pid == 0 {
        let err = match setup_and_exec(ch, process, seccomp, confine, console, preserve_fds) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        let _ = ch.send(&Msg::Error(err.to_string()));
        sys::exit_now(127);
    }
    ch.send(&Msg::Pid(pid)).ctx(|| "sync".into())
}

fn setup_and_exec(
    ch: &Channel,
    process: &Process,
    seccomp: Option<&CompiledSeccomp>,
    confine: Option<&crate::confine::Compiled>,
    console: Option<&OwnedFd>,
    preserve_fds: u32,
) -> Result<std::convert::Infallible> {
    ch.expect(Msg::Go, "exec").map_err(Error::Setup)?;
    if process.terminal().unwrap_or(false) {
        let sock = console.ok_or_else(|| Error::Setup("exec: --console-socket is required".into()))?;
        let root = crate::rootfs::Rootfs::open_current_root()?;
        let (master, slave) = crate::console::open_pty(&root)?;
        channel::send_fd(sock.as_raw_fd(), "/dev/ptmx", master.as_raw_fd()).ctx(|| "sending the pty master".into())?;
        crate::console::make_controlling_tty(slave.as_raw_fd())?;
    }
    process::enter_cwd(process.cwd())?;
    let exec = process::resolve(process)?;
    ch.send(&Msg::Ready).ctx(|| "sync".into())?;
    reset_signals();
    process::finalize_and_exec(
        Finalize {
            process,
            seccomp,
            confine,
            new_keyring: false,
            keep_fds_through: 2 + preserve_fds,
        },
        &exec,
    )
}
