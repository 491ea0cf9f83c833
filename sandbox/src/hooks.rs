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
        .map(|t| t.saturating_mul(1000).clamp(1, i32::MAX as i64) as i32)
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

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;

    fn sh(script: &str, timeout: Option<i64>) -> Hook {
        let mut b = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()])
            .env(vec!["HOOKVAR=42".to_string()]);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().unwrap()
    }

    #[test]
    fn state_arrives_on_stdin_with_args_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {}; echo \" $HOOKVAR $0\" >> {}", out.display(), out.display());
        run(
            Phase::Prestart,
            &[sh(&script, None)],
            br#"{"id":"c1","status":"creating"}"#,
        )
        .unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, "{\"id\":\"c1\",\"status\":\"creating\"} 42 sh\n");
    }

    #[test]
    fn failure_names_the_phase_and_index_and_stops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("second-ran");
        let hooks = [sh("exit 3", None), sh(&format!("touch {}", marker.display()), None)];
        let e = run(Phase::CreateRuntime, &hooks, b"{}").unwrap_err().to_string();
        assert!(
            e.contains("hooks.createRuntime[0]") && e.contains("exit status: 3"),
            "{e}"
        );
        assert!(!marker.exists(), "a hook after the failing one ran");
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let e = run(Phase::Poststart, &[sh("sleep 30", Some(1))], b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timed out after 1s"), "{e}");
    }
}
