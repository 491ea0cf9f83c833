//! `sealrun verify model DIR --signature FILE (--key PUB.pem | --certificate-chain CA.pem… |
//! --identity ID --identity-provider URL [--trust-config FILE])`: verify an OpenSSF model
//! signature over a model directory (or a single-file model), offline.
//!
//! The flags are `model_signing verify key|certificate|sigstore`'s, so scripts port over: the
//! reference's spellings (`--public_key`, `--certificate_chain`, `--identity_provider`,
//! `--trust_config`, `--ignore_unsigned_files`, `--allow_symlinks`) are accepted as aliases.
//! Exit 0 verified, 1 refused (the reason on stderr).

use std::path::{Path, PathBuf};

use anyhow::Context;
use sealrun_image::oms::{self, Verifier, VerifyOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model directory (or single model file)
    #[arg(value_name = "DIR")]
    pub model: PathBuf,
    /// The signature (a Sigstore bundle, e.g. `model.sig`)
    #[arg(long, value_name = "FILE")]
    pub signature: PathBuf,
    /// Key method: the signer's ECDSA public key (PEM)
    #[arg(long, visible_alias = "public-key", alias = "public_key", value_name = "PUB.pem",
          conflicts_with_all = ["certificate_chain", "identity"])]
    pub key: Option<PathBuf>,
    /// Certificate method: the trusted CA certificate(s) (PEM; repeat or list several)
    #[arg(long, alias = "certificate_chain", value_name = "CA.pem", num_args = 1.., action = clap::ArgAction::Append,
          conflicts_with = "identity")]
    pub certificate_chain: Vec<PathBuf>,
    /// Sigstore method: the signer's certificate identity (SAN; `*` matches any run of characters)
    #[arg(long, value_name = "ID", requires = "identity_provider")]
    pub identity: Option<String>,
    /// Sigstore method: the OIDC issuer, matched exactly
    #[arg(long, alias = "identity_provider", value_name = "URL", requires = "identity")]
    pub identity_provider: Option<String>,
    /// Sigstore method: `trusted_root.json` or a client `trust_config.json` (default: the
    /// Sigstore public-good root embedded in sealrun; nothing is fetched)
    #[arg(long, alias = "trust_config", value_name = "FILE", requires = "identity")]
    pub trust_config: Option<PathBuf>,
    /// Paths to ignore (relative to the current directory, as with model_signing); repeat or list several
    #[arg(long, alias = "ignore_paths", value_name = "PATH", num_args = 1.., action = clap::ArgAction::Append)]
    pub ignore_paths: Vec<PathBuf>,
    /// Ignore files present in the model but not in the signature
    #[arg(long, alias = "ignore_unsigned_files")]
    pub ignore_unsigned_files: bool,
    /// Follow symlinks in the model instead of refusing them
    #[arg(long, alias = "allow_symlinks")]
    pub allow_symlinks: bool,
    /// Accept model_signing 0.2 signatures (predicate Digests/v0.1, legacy DSSE encoding)
    #[arg(long)]
    pub allow_legacy_v0_2: bool,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let verifier = if let Some(key) = &a.key {
        let pem = std::fs::read(key).with_context(|| format!("cannot read the public key {}", key.display()))?;
        Verifier::Key { public_key_pem: pem }
    } else if !a.certificate_chain.is_empty() {
        let mut ca_pems = Vec::new();
        for p in &a.certificate_chain {
            ca_pems.push(std::fs::read(p).with_context(|| format!("cannot read the CA certificate {}", p.display()))?);
        }
        Verifier::Certificate { ca_pems }
    } else if let (Some(identity), Some(issuer)) = (&a.identity, &a.identity_provider) {
        Verifier::Sigstore {
            identity: identity.clone(),
            issuer: issuer.clone(),
            trusted_root: a.trust_config.clone().unwrap_or_default(),
        }
    } else {
        eprintln!(
            "sealrun verify model: give a verification method: --key PUB.pem, --certificate-chain CA.pem, \
             or --identity ID --identity-provider URL"
        );
        return Ok(1);
    };
    let opts = VerifyOptions {
        ignore_paths: resolve_ignore_paths(&a.model, &a.ignore_paths),
        ignore_unsigned_files: a.ignore_unsigned_files,
        allow_symlinks: a.allow_symlinks,
        allow_legacy_v0_2: a.allow_legacy_v0_2,
        media_types: sealrun_policy::trust::Trust::default().media_types,
        progress: None,
    };
    let (opts, bar) = progress_bar(opts);
    let result = oms::verify_model(&a.model, &a.signature, &verifier, &opts);
    if let Some(bar) = bar {
        bar.finish();
    }
    match result {
        Ok(v) => {
            println!(
                "verified: {} ({} resources, root sha256:{}) signed by {} [{}]",
                a.model.display(),
                v.resources.len(),
                v.root_digest,
                v.signer,
                v.method
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("sealrun verify model: {} refused: {e}", a.model.display());
            Ok(1)
        }
    }
}

/// As model_signing's CLI: an ignore path is taken relative to the current directory (or
/// absolute) and kept if it lies inside the model, relative to it.
pub(crate) fn resolve_ignore_paths(model: &Path, paths: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(root) = model.canonicalize() else {
        return paths.to_vec();
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    paths
        .iter()
        .filter_map(|p| {
            let abs = normalize(&if p.is_absolute() { p.clone() } else { cwd.join(p) });
            // The path may not exist (a signature about to be written, an absent file): then
            // resolve its parent, so that symlinked ancestors compare equal to the root's.
            let abs = abs
                .canonicalize()
                .unwrap_or_else(|_| match (abs.parent(), abs.file_name()) {
                    (Some(dir), Some(name)) => dir.canonicalize().map(|d| d.join(name)).unwrap_or(abs.clone()),
                    _ => abs.clone(),
                });
            abs.strip_prefix(&root).ok().map(Path::to_path_buf)
        })
        .filter(|p| !p.as_os_str().is_empty())
        .collect()
}

/// Lexical `.`/`..` removal for paths that do not exist.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// A progress line on stderr while hashing, only when stderr is a terminal.
pub(crate) struct Bar {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Bar {
    pub(crate) fn finish(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

pub(crate) fn progress_bar(mut opts: VerifyOptions) -> (VerifyOptions, Option<Bar>) {
    use std::io::IsTerminal;
    use std::sync::atomic::Ordering;
    if !std::io::stderr().is_terminal() {
        return (opts, None);
    }
    let p = std::sync::Arc::new(oms::Progress::default());
    opts.progress = Some(p.clone());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let start = std::time::Instant::now();
    let thread = std::thread::spawn(move || {
        const MIB: f64 = 1048576.0;
        while !stop2.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let (done, total) = (p.done.load(Ordering::Relaxed), p.total.load(Ordering::Relaxed));
            if total == 0 {
                continue;
            }
            let width = 30usize;
            let filled = ((done as f64 / total as f64) * width as f64) as usize;
            let rate = done as f64 / MIB / start.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\r[{}{}] {:.0}/{:.0} MiB {:.0} MiB/s ",
                "#".repeat(filled.min(width)),
                " ".repeat(width - filled.min(width)),
                done as f64 / MIB,
                total as f64 / MIB,
                rate
            );
        }
        eprint!("\r{}\r", " ".repeat(72));
    });
    (opts, Some(Bar { stop, thread }))
}
