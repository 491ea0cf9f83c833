//! `sealrun verify image LAYOUT[:TAG|@sha256:…] --policy FILE`: the supply-chain gate that
//! `create` runs for a bundle annotated `io.sealrun.image`, by hand. Exit status is the
//! verdict: 0 verified, 1 refused (the findings on stdout, text or JSON).

use crate::commands::policy::{load, Output};
use crate::gate::{verify_image, ImageRef};

#[derive(clap::Args)]
pub struct Args {
    /// OCI image layout directory, with `:TAG` or `@sha256:DIGEST` (default: its only model manifest)
    pub image: String,
    /// Policy: a path or library:NAME (its [trust] and [sbom] sections decide)
    #[arg(long)]
    pub policy: String,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let policy = load(&a.policy)?;
    let report = verify_image(&ImageRef::parse(&a.image), &policy, &a.policy)?;
    match a.output {
        Output::Text => print!("{}", report.to_text()),
        Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if report.passed { 0 } else { 1 })
}
