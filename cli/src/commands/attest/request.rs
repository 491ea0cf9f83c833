//! `sealrun attest request --broker URL --resource R`: the client flow. Attests this
//! machine's TEE to the broker and writes the released key to a file descriptor (standard
//! output only when it is not a terminal), or to a file only with an explicit `--out`.

use std::io::{IsTerminal as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

use anyhow::Context as _;
use sealrun_attest::attester::{self, Tee};
use sealrun_attest::broker::{request_resource, WorkloadClaims};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeeChoice {
    /// Detect this machine's SEV-SNP or TDX guest (never the dev TEE)
    Auto,
    /// The software dev TEE (insecure; only policies with allow_dev accept it)
    Dev,
    Snp,
    Tdx,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The broker's URL (https://HOST:PORT, or http:// to loopback)
    #[arg(long)]
    pub broker: String,
    /// Resource id repo/type/tag
    #[arg(long)]
    pub resource: String,
    /// Which TEE produces the evidence
    #[arg(long, value_enum, default_value = "auto")]
    pub tee: TeeChoice,
    /// The model image's digest (sha256:<hex>), bound into the evidence
    #[arg(long, default_value = "")]
    pub image_digest: String,
    /// The sandbox policy's digest (sha256:<hex>), bound into the evidence
    #[arg(long, default_value = "")]
    pub policy_digest: String,
    /// CA certificate(s) (PEM) to trust for an https:// broker
    #[arg(long)]
    pub tls_root: Option<PathBuf>,
    /// Write the key to this open file descriptor (default: 1, if it is not a terminal)
    #[arg(long, conflicts_with = "out")]
    pub fd: Option<u32>,
    /// Write the key to this file (created with mode 0600)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    // Check where the key goes before asking for it: a refusal then costs no release.
    let sink = open_sink(&a)?;
    let tee = match a.tee {
        TeeChoice::Auto => attester::detect()?,
        TeeChoice::Dev => Tee::Dev,
        TeeChoice::Snp => Tee::Snp,
        TeeChoice::Tdx => Tee::Tdx,
    };
    let claims = WorkloadClaims {
        image_digest: a.image_digest.clone(),
        policy_digest: a.policy_digest.clone(),
    };
    let key = request_resource(&a.broker, &a.resource, &tee, &claims, a.tls_root.as_deref())?;
    let mut w: Box<dyn std::io::Write> = match sink {
        Sink::Writer(w) => w,
        // The file is created only once there is a key to put in it.
        Sink::File(path) => Box::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?,
        ),
    };
    w.write_all(&key).context("writing the key")?;
    w.flush().context("writing the key")?;
    eprintln!(
        "sealrun: released {} ({} bytes, tee {})",
        a.resource,
        key.len(),
        tee.as_str()
    );
    Ok(0)
}

enum Sink {
    Writer(Box<dyn std::io::Write>),
    File(PathBuf),
}

fn open_sink(a: &Args) -> anyhow::Result<Sink> {
    if let Some(path) = &a.out {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            anyhow::bail!("--out {}: directory {} does not exist", path.display(), dir.display());
        }
        return Ok(Sink::File(path.clone()));
    }
    match a.fd {
        None | Some(1) => {
            let out = std::io::stdout();
            if out.is_terminal() {
                anyhow::bail!(
                    "refusing to write a key to a terminal: redirect standard output, or give --fd N or --out FILE"
                );
            }
            Ok(Sink::Writer(Box::new(out)))
        }
        Some(n) => {
            // Reopening through /proc keeps this free of unsafe fd handling.
            let path = format!("/proc/self/fd/{n}");
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .with_context(|| format!("--fd {n}: not an open file descriptor this process can write"))?;
            if f.is_terminal() {
                anyhow::bail!("refusing to write a key to a terminal (--fd {n})");
            }
            Ok(Sink::Writer(Box::new(f)))
        }
    }
}
