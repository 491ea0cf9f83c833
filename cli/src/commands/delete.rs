use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Kill the container first if it is still running
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    sealrun_sandbox::container::delete::delete(&g.runtime, &a.id, a.force)?;
    Ok(0)
}
