//! `delete`: remove a stopped (or created, or with `--force` any) container: poststop
//! hooks, cgroup, state dir. Mounts live in the container's mount namespace and go with
//! its last process.

use std::os::fd::AsRawFd;

use super::Runtime;
use crate::error::Result;
use crate::hooks::{self, Phase};
use crate::state::Status;
use crate::sys;

pub fn delete(rt: &Runtime, id: &str, force: bool) -> Result<()> {
    let mut c = match rt.load(id) {
        Ok(c) => c,
        // runc: deleting a container that does not exist with --force succeeds.
        Err(crate::Error::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    if !force {
        c.require(
            "delete",
            &[Status::Stopped, Status::Created, Status::Creating],
            "stopped or created (or use --force)",
        )?;
    }
    let cg = c.cgroup().ok();
    if c.init_alive() {
        if let Some(cg) = &cg {
            // Frozen tasks cannot die: thaw after signalling.
            for pid in cg.pids().unwrap_or_default() {
                let _ = sys::kill(pid, libc::SIGKILL);
            }
            let _ = cg.thaw();
        }
        if let Ok(fd) = sys::pidfd_open(c.state.pid) {
            let _ = sys::pidfd_send_signal(fd.as_raw_fd(), libc::SIGKILL);
            // Bounded wait for the init to die (it is not our child: poll its pidfd).
            let _ = sys::poll_in(&[fd.as_raw_fd()], 2000);
        }
    }
    if let Some(cg) = &cg {
        for pid in cg.pids().unwrap_or_default() {
            let _ = sys::kill(pid, libc::SIGKILL);
        }
    }
    c.state.status = Status::Stopped;
    if let Ok(spec) = c.spec() {
        if let Some(h) = spec.hooks() {
            let json = serde_json::to_vec(&c.state.oci_json()).expect("json");
            if let Err(e) = hooks::run(Phase::Poststop, &Phase::Poststop.of(h), &json) {
                tracing::warn!("{e}");
            }
        }
    }
    if let Some(cg) = &cg {
        cg.destroy()?;
    }
    c.locked.remove()
}
