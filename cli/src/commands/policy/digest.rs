#[derive(clap::Args)]
pub struct Args {
    /// Policy file or library:NAME
    pub policy: String,
    /// Print the canonical JSON that is hashed instead of the digest
    #[arg(long)]
    pub canonical: bool,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let p = super::load(&a.policy)?;
    if a.canonical {
        println!("{}", p.canonical_json());
    } else {
        println!("{}", p.digest());
    }
    Ok(0)
}
