//! `sealrun sign model DIR --key KEY.pem [--signing-certificate CERT.pem --certificate-chain
//! INT.pem…] [--signature OUT]`: write an OpenSSF model signature (a Sigstore bundle), as
//! `model_signing sign key|certificate` does; its flag spellings (`--private_key`,
//! `--signing_certificate`, `--certificate_chain`, `--allow_symlinks`) are accepted as aliases.

use std::path::PathBuf;

use anyhow::Context;
use sealrun_image::oms::{self, HashType, SignOptions, Signer};

use super::verify::model::resolve_ignore_paths;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Sign a model directory (or a single model file) with an ECDSA key or certificate
    Model(ModelArgs),
}

#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// The model directory (or single model file)
    #[arg(value_name = "DIR")]
    pub model: PathBuf,
    /// The ECDSA private key (PEM: SEC1 or PKCS#8; P-256, P-384 or P-521)
    #[arg(long, visible_alias = "private-key", alias = "private_key", value_name = "KEY.pem")]
    pub key: PathBuf,
    /// Certificate method: the signing certificate of KEY (PEM)
    #[arg(long, alias = "signing_certificate", value_name = "CERT.pem")]
    pub signing_certificate: Option<PathBuf>,
    /// Certificate method: the intermediates up to (not needing) the root (PEM; repeat or list several)
    #[arg(long, alias = "certificate_chain", value_name = "CERT.pem", num_args = 1.., action = clap::ArgAction::Append,
          requires = "signing_certificate")]
    pub certificate_chain: Vec<PathBuf>,
    /// Where to write the signature (ignored when hashing the model if it lies inside it)
    #[arg(long, value_name = "FILE", default_value = "model.sig")]
    pub signature: PathBuf,
    /// Paths to leave out of the signature (relative to the current directory); repeat or list several
    #[arg(long, alias = "ignore_paths", value_name = "PATH", num_args = 1.., action = clap::ArgAction::Append)]
    pub ignore_paths: Vec<PathBuf>,
    /// Sign git files (.git, .gitattributes, .github, .gitignore) too
    #[arg(long, alias = "no_ignore_git_paths")]
    pub no_ignore_git_paths: bool,
    /// Follow symlinks in the model (hashing their targets) instead of refusing them
    #[arg(long, alias = "allow_symlinks")]
    pub allow_symlinks: bool,
    /// Content hash: sha256, blake2b or blake3
    #[arg(long, value_name = "ALG", default_value = "sha256")]
    pub hash: String,
    /// Hash files in shards of this many bytes (the `shards` method)
    #[arg(long, value_name = "BYTES")]
    pub shard_size: Option<u64>,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let What::Model(a) = a.what;
    let private_key_pem =
        std::fs::read(&a.key).with_context(|| format!("cannot read the private key {}", a.key.display()))?;
    let signer = match &a.signing_certificate {
        None => Signer::Key { private_key_pem },
        Some(cert) => {
            let mut cert_chain_pems = vec![std::fs::read(cert)
                .with_context(|| format!("cannot read the signing certificate {}", cert.display()))?];
            for p in &a.certificate_chain {
                cert_chain_pems
                    .push(std::fs::read(p).with_context(|| format!("cannot read the certificate {}", p.display()))?);
            }
            Signer::Certificate {
                private_key_pem,
                cert_chain_pems,
            }
        }
    };
    let hash_type = HashType::parse(&a.hash)
        .with_context(|| format!("--hash: expected sha256, blake2b or blake3, found {:?}", a.hash))?;
    let mut ignore = a.ignore_paths.clone();
    ignore.push(a.signature.clone());
    let opts = SignOptions {
        ignore_paths: resolve_ignore_paths(&a.model, &ignore),
        ignore_git_paths: !a.no_ignore_git_paths,
        allow_symlinks: a.allow_symlinks,
        hash_type,
        shard_size: a.shard_size,
    };
    let bundle = match oms::sign_model(&a.model, &signer, &opts) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("sealrun sign model: {}: {e}", a.model.display());
            return Ok(1);
        }
    };
    std::fs::write(&a.signature, &bundle)
        .with_context(|| format!("cannot write the signature {}", a.signature.display()))?;
    println!("signed: {} -> {}", a.model.display(), a.signature.display());
    Ok(0)
}
