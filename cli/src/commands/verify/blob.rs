//! `sealrun verify blob --bundle B …`: verify a Sigstore bundle over a file or digest. (Skeleton: its owner replaces it.)

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_a: Args) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
