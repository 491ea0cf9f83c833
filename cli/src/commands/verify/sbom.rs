//! `sealrun verify sbom FILE --policy P`: check an SBOM against a policy. (Skeleton: its owner replaces it.)

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_a: Args) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
