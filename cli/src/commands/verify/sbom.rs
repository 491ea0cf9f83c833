//! `sealrun verify sbom FILE --policy P`: check an SBOM against a policy's `[sbom]` section.
//! Exit 0 when it passes, 1 with the findings on stdout; errors (unreadable SBOM, policy or
//! OSV data) go to stderr.

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    #[default]
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The SBOM (CycloneDX 1.5/1.6 JSON, SPDX 2.3 JSON or SPDX 3.0.1 JSON-LD)
    pub file: PathBuf,
    /// The policy file (or `library:NAME`)
    #[arg(long)]
    pub policy: String,
    /// Offline OSV database directory; overrides the policy's `[sbom].osv_dir`
    #[arg(long)]
    pub osv_dir: Option<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let policy = sealrun_policy::Policy::load_reference(&a.policy)?;
    let inv = sealrun_sbom::parse_file(&a.file)?;
    let osv = match &a.osv_dir {
        Some(dir) => Some(sealrun_sbom::OsvDb::load_dir(dir).context("loading the OSV database (--osv-dir)")?),
        None => sealrun_sbom::load_osv_for(&policy)
            .with_context(|| format!("loading the OSV database named by policy {}", a.policy))?,
    };
    let report = sealrun_sbom::check(&inv, &policy, osv.as_ref());
    match a.output {
        Output::Text => {
            println!(
                "{}: {}, {} components, policy {}",
                inv.origin,
                inv.format.as_str(),
                inv.components.len(),
                a.policy
            );
            print!("{}", report.to_text());
        }
        Output::Json => println!("{}", serde_json::to_string_pretty(&report.to_json())?),
    }
    Ok(if report.passed { 0 } else { 1 })
}
