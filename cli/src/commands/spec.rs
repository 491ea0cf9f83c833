use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Directory to write config.json into
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write a spec for a rootless container (user namespace mapping the current user)
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(a: Args, _g: &Global) -> anyhow::Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("{}: already exists; remove it first", path.display());
    }
    let spec = if a.rootless {
        // SAFETY: getuid/getgid always succeed.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        sealrun_sandbox::oci_spec::runtime::Spec::rootless(uid, gid)
    } else {
        sealrun_sandbox::oci_spec::runtime::Spec::default()
    };
    let json = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(0)
}
