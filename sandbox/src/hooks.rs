//! OCI hooks: each runs with the container state on stdin, its own args and env, and
//! an optional timeout after which it is killed. Whether a failure is fatal is the
//! caller's decision (it depends on the phase, see the runtime spec).

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};
use crate::sys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Prestart => "prestart",
            Phase::CreateRuntime => "createRuntime",
            Phase::CreateContainer => "createContainer",
            Phase::StartContainer => "startContainer",
            Phase::Poststart => "poststart",
            Phase::Poststop => "poststop",
        }
    }

    pub fn of(self, hooks: &oci_spec::runtime::Hooks) -> Vec<Hook> {
        #[allow(deprecated)]
        let list = match self {
            Phase::Prestart => hooks.prestart(),
            Phase::CreateRuntime => hooks.create_runtime(),
            Phase::CreateContainer => hooks.create_container(),
            Phase::StartContainer => hooks.start_container(),
            Phase::Poststart => hooks.poststart(),
            Phase::Poststop => hooks.poststop(),
        };
        list.clone().unwrap_or_default()
    }
}

/// Run every hook of `phase` in order; stop at the first failure.
pub fn run(phase: Phase, hooks: &[Hook], state_json: &[u8]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state_json)
            .map_err(|e| Error::Setup(format!("hooks.{}[{i}] ({}): {e}", phase.name(), h.path().display())))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state_json: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    // args[0] is argv[0] as in execve, not an extra argument.
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE ignored).
        let _ = stdin.write_all(state_json);
    }
    let timeout_ms = h
        .timeout()
        .map(|t| (t as i64 * 1000).clamp(1, i32::MAX as i64) as i32)
        .unwrap_or(-1);
    let pidfd = sys::pidfd_open(child.id() as i32).map_err(|e| format!("pidfd_open: {e}"))?;
    let ready = sys::poll_in(&[pidfd.as_raw_fd()], timeout_ms).map_err(|e| format!("poll: {e}"))?;
    if !ready[0] {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("timed out after {}s and was killed", h.timeout().unwrap_or(0)));
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if !status.success() {
        return Err(format!("failed: {status}"));
    }
    Ok(())
}
