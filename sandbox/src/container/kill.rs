//! `kill`: signal the init (or, with `--all`, every process in the container's cgroup).

use std::os::fd::AsRawFd;

use super::Runtime;
use crate::error::{Context, Error, Result};
use crate::state::Status;
use crate::sys;

/// "KILL", "SIGKILL", "9" → 9.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => {
            return Err(Error::Setup(format!(
                "signal: expected a name such as TERM or a number 1-64, found {s:?}"
            )))
        }
    };
    Ok(n)
}

pub fn kill(rt: &Runtime, id: &str, signal: i32, all: bool) -> Result<()> {
    let c = rt.load(id)?;
    if all {
        let cg = c.cgroup()?;
        for pid in cg.pids()? {
            // A process may exit between listing and signalling.
            let _ = sys::kill(pid, signal);
        }
        return Ok(());
    }
    c.require(
        "kill",
        &[Status::Created, Status::Running, Status::Paused],
        "created, running or paused",
    )?;
    // The pidfd pins the process we checked: a recycled pid cannot be signalled.
    let pidfd = sys::pidfd_open(c.state.pid).ctx(|| format!("pidfd_open({})", c.state.pid))?;
    if !super::alive(c.state.pid, c.state.private.init_start_time) {
        return Err(Error::InvalidState {
            id: id.into(),
            status: "stopped".into(),
            op: "kill",
            expected: "created, running or paused",
        });
    }
    sys::pidfd_send_signal(pidfd.as_raw_fd(), signal).ctx(|| format!("sending signal {signal} to {}", c.state.pid))
}
