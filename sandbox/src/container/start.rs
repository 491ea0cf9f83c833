//! `start`: release the init blocked on the exec fifo, then run poststart hooks.

use std::os::fd::AsRawFd;

use super::Runtime;
use crate::error::{Context, Error, Result};
use crate::hooks::{self, Phase};
use crate::state::Status;
use crate::sys;

pub fn start(rt: &Runtime, id: &str) -> Result<()> {
    let mut c = rt.load(id)?;
    c.require("start", &[Status::Created], "created")?;
    // The pidfd first: opening the fifo releases the init, which may run and exit
    // (and be reaped) before a pidfd taken afterwards could find it.
    let pidfd = sys::pidfd_open(c.state.pid).ctx(|| format!("pidfd_open({})", c.state.pid))?;
    let fifo = sys::open(&c.locked.fifo(), libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .ctx(|| format!("opening {}", c.locked.fifo().display()))?;
    // The init opens the fifo for writing as soon as we opened it for reading, and
    // writes one byte; if it died instead, its pidfd becomes readable.
    loop {
        let ready = sys::poll_in(&[fifo.as_raw_fd(), pidfd.as_raw_fd()], -1).ctx(|| "poll".into())?;
        if ready[0] {
            let mut b = [0u8; 1];
            // SAFETY: reading into a 1-byte buffer we own.
            let n = unsafe { libc::read(fifo.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, 1) };
            if n == 1 {
                break;
            }
            if n == 0 {
                return Err(Error::Setup(format!(
                    "container {id:?}: the init closed the exec fifo without starting"
                )));
            }
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
                continue;
            }
        }
        if ready[1] {
            return Err(Error::Setup(format!("container {id:?}: the init exited before start")));
        }
    }
    // The init holds the fifo open until its execve: end of file (or its death)
    // means the user's program has started, which is when poststart hooks run.
    loop {
        let ready = sys::poll_in(&[fifo.as_raw_fd(), pidfd.as_raw_fd()], -1).ctx(|| "poll".into())?;
        if ready[1] {
            break;
        }
        let mut b = [0u8; 1];
        // SAFETY: reading into a 1-byte buffer we own.
        let n = unsafe { libc::read(fifo.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, 1) };
        if n == 0 {
            break;
        }
    }
    let _ = std::fs::remove_file(c.locked.fifo());
    c.state.status = Status::Running;
    c.locked.save(&c.state)?;
    let spec = c.spec()?;
    if let Some(h) = spec.hooks() {
        let json = serde_json::to_vec(&c.state.oci_json()).expect("json");
        // The spec: a failing poststart hook is a warning, the lifecycle continues.
        if let Err(e) = hooks::run(Phase::Poststart, &Phase::Poststart.of(h), &json) {
            tracing::warn!("{e}");
        }
    }
    Ok(())
}
