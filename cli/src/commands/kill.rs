use sealrun_sandbox::container::kill;

use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Send the signal to every process of the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let sig = kill::parse_signal(&a.signal)?;
    kill::kill(&g.runtime, &a.id, sig, a.all)?;
    Ok(0)
}
