//! `sealrun sign model DIR --key KEY | --certificate …`: write an OMS bundle. (Skeleton: its owner replaces it.)

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_a: Args) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
