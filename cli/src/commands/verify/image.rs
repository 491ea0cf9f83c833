//! `sealrun verify image LAYOUT[:REF] --policy FILE`: the supply-chain gate by hand. (Skeleton: its owner replaces it.)

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_a: Args) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
