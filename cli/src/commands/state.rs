use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let c = g.runtime.load(&a.id)?;
    println!("{}", serde_json::to_string_pretty(&c.state.oci_json())?);
    Ok(0)
}
