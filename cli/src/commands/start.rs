use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    sealrun_sandbox::container::start::start(&g.runtime, &a.id)?;
    Ok(0)
}
