use std::path::PathBuf;

use sealrun_sandbox::container::create::{create, CreateOpts};

use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Path to the bundle directory (holding config.json)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container's init pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to, when process.terminal is true
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for ramfs roots)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not give the container a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra file descriptors (3 .. 3+N-1) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Policy to enforce: a path or library:NAME (the bundle annotation io.sealrun.policy wins)
    #[arg(long)]
    pub policy: Option<String>,
    /// Container id
    pub id: String,
}

impl Args {
    pub fn opts(&self) -> CreateOpts {
        CreateOpts {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            console_fd: None,
            policy: self.policy.clone().map(|p| {
                if p.starts_with("library:") {
                    p
                } else {
                    std::path::absolute(&p)
                        .map(|a| a.to_string_lossy().into_owned())
                        .unwrap_or(p)
                }
            }),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            gate: Some(crate::gate::create_gate),
        }
    }
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    create(&g.runtime, &a.opts())?;
    Ok(0)
}
