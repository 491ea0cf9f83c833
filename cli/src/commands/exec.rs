use std::path::PathBuf;

use anyhow::{bail, Context};
use sealrun_sandbox::container::exec::{exec, ExecOpts};
use sealrun_sandbox::oci_spec::runtime::{Capability, Process, UserBuilder};

use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Path to a process.json (an OCI "process" object); replaces the inline options
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Do not wait for the process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Unix socket to send the pty master to
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variable KEY=VALUE (repeatable)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// UID[:GID] to run as
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids (repeatable)
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (repeatable), e.g. CAP_NET_ADMIN
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass N extra file descriptors to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility; ignored (no SELinux/AppArmor support)
    #[arg(long = "process-label", hide = true)]
    pub process_label: Option<String>,
    #[arg(long = "apparmor", hide = true)]
    pub apparmor: Option<String>,
    /// Container id
    pub id: String,
    /// Command and arguments (when --process is not given)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn inline_process(a: &Args, g: &Global) -> anyhow::Result<Process> {
    if a.command.is_empty() {
        bail!("exec: expected a command (or --process FILE), found none");
    }
    let c = g.runtime.load(&a.id)?;
    let spec = c.spec()?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse::<u32>()?, g.parse::<u32>()?),
            None => (
                u.parse::<u32>()
                    .with_context(|| format!("--user: expected UID[:GID], found {u:?}"))?,
                0,
            ),
        };
        p.set_user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(a.additional_gids.clone())
                .build()?,
        );
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
                .with_context(|| format!("--cap: unknown capability {name:?}"))?;
            let add = |s: &Option<std::collections::HashSet<Capability>>| {
                let mut s = s.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let process = match &a.process {
        Some(path) => {
            let data = std::fs::read(path).with_context(|| format!("--process {}", path.display()))?;
            serde_json::from_slice::<Process>(&data)
                .with_context(|| format!("--process {}: not an OCI process object", path.display()))?
        }
        None => inline_process(&a, g)?,
    };
    let (_pid, code) = exec(
        &g.runtime,
        &ExecOpts {
            id: a.id.clone(),
            process,
            detach: a.detach,
            pid_file: a.pid_file.clone(),
            console_socket: a.console_socket.clone(),
            preserve_fds: a.preserve_fds,
        },
    )?;
    Ok(code.unwrap_or(0))
}
