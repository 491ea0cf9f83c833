use anyhow::Context;
use sealrun_sandbox::container::{create::create, delete::delete, start::start};
use sealrun_sandbox::sys;

use crate::Global;

#[derive(clap::Args)]
#[group(skip)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Args,
    /// Do not wait for the container: create, start and return
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits (no delete)
    #[arg(long)]
    pub keep: bool,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    if !a.detach {
        // The init is our child (create clones it), but its own children are
        // re-parented to us when it exits: reap them too.
        sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1).context("PR_SET_CHILD_SUBREAPER")?;
    }
    let pid = create(&g.runtime, &a.create.opts())?;
    if let Err(e) = start(&g.runtime, &a.create.id) {
        let _ = delete(&g.runtime, &a.create.id, true);
        return Err(e.into());
    }
    if a.detach {
        return Ok(0);
    }
    let code = loop {
        let (p, status) = sys::waitpid(-1, 0).context("waiting for the container")?;
        if p == pid {
            break sys::exit_code_of(status);
        }
    };
    if !a.keep {
        delete(&g.runtime, &a.create.id, true)?;
    }
    Ok(code)
}
