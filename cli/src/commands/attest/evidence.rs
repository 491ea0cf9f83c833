//! `sealrun attest evidence --tee auto|snp|tdx|dev --report-data HEX | --nonce-file FILE [--out FILE]`:
//! collect evidence from this machine's TEE and write it as an evidence envelope
//! (`{"tee", "report", "vcek"?, "chain"?}`, base64 fields; see `sealrun_attest::attester`).

use std::path::PathBuf;

use anyhow::Context;
use sealrun_attest::attester::{self, Tee};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which TEE: `auto` detects SNP or TDX (never dev); `dev` is the insecure software TEE
    #[arg(long, default_value = "auto", value_parser = ["auto", "snp", "tdx", "dev"])]
    pub tee: String,
    /// The 64 bytes to bind into the report, as 128 hex digits
    #[arg(
        long,
        value_name = "HEX",
        conflicts_with = "nonce_file",
        required_unless_present = "nonce_file"
    )]
    pub report_data: Option<String>,
    /// A file whose bytes are the report data if exactly 64 bytes, else hashed with SHA-512
    #[arg(long, value_name = "FILE")]
    pub nonce_file: Option<PathBuf>,
    /// Write the envelope here instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let report_data = match (&a.report_data, &a.nonce_file) {
        (Some(hex), _) => attester::report_data_from_hex(hex).context("--report-data")?,
        (None, Some(path)) => {
            let nonce = std::fs::read(path).with_context(|| format!("reading --nonce-file {}", path.display()))?;
            attester::report_data_from_nonce(&nonce)
        }
        (None, None) => anyhow::bail!("one of --report-data or --nonce-file is required"),
    };
    let tee = match a.tee.as_str() {
        "auto" => attester::detect()?,
        name => name.parse::<Tee>()?,
    };
    if tee == Tee::Dev {
        eprintln!("warning: the dev TEE is a software stand-in with a public key; its evidence proves nothing");
    }
    let evidence = attester::collect(tee, &report_data)?;
    let mut text = serde_json::to_string_pretty(&evidence.to_envelope_json()?)?;
    text.push('\n');
    match &a.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing --out {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(0)
}
