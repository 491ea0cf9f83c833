//! `sealrun verify blob --bundle B (--certificate-identity ID --certificate-oidc-issuer URL |
//! --key KEY.pem) [--trusted-root FILE] FILE_OR_sha256:DIGEST`: verify a Sigstore bundle over
//! a file or a sha256 digest, offline. The shape the sigstore-conformance suite drives
//! clients with: exit 0 verified, 1 not, the reason on stderr.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sealrun_image::sigstore::{self, Artifact, KeyPolicy, SigstorePolicy};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Sigstore bundle (JSON, v0.1 to v0.3; message signature or DSSE)
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// The signer's certificate identity (SAN email or URI); `*` matches any run of characters
    #[arg(
        long,
        value_name = "ID",
        requires = "certificate_oidc_issuer",
        required_unless_present = "key",
        conflicts_with = "key"
    )]
    pub certificate_identity: Option<String>,
    /// The OIDC issuer in the signer's certificate, matched exactly
    #[arg(long, value_name = "URL", requires = "certificate_identity", conflicts_with = "key")]
    pub certificate_oidc_issuer: Option<String>,
    /// Verify a managed-key bundle with this PEM public key instead of a certificate identity
    #[arg(long, value_name = "KEY.pem")]
    pub key: Option<PathBuf>,
    /// `trusted_root.json` or a client `trust_config.json` (default: the Sigstore public-good
    /// root embedded in sigstore-trust-root 0.15.1; nothing is fetched)
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Also require an RFC 3161 timestamp
    #[arg(long)]
    pub require_timestamp: bool,
    /// The signed file, or `sha256:` and its 64-hex-digit digest
    #[arg(value_name = "FILE_OR_sha256:DIGEST")]
    pub artifact: String,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let bundle_json =
        std::fs::read(&a.bundle).with_context(|| format!("cannot read the bundle {}", a.bundle.display()))?;
    let bytes;
    let artifact = match parse_digest(&a.artifact)? {
        Some(digest) => Artifact::Sha256(digest),
        None => {
            bytes = std::fs::read(&a.artifact).with_context(|| format!("cannot read the artifact {}", a.artifact))?;
            Artifact::Bytes(&bytes)
        }
    };
    let (root, root_name) = match &a.trusted_root {
        Some(path) => (sigstore::load_trusted_root(path)?, path.display().to_string()),
        None => (
            sigstore::embedded_production_root(),
            "the embedded Sigstore public-good root".to_string(),
        ),
    };

    let verdict = match (&a.key, &a.certificate_identity, &a.certificate_oidc_issuer) {
        (Some(key), _, _) => {
            let pem = std::fs::read_to_string(key)
                .with_context(|| format!("cannot read the public key {}", key.display()))?;
            let policy = KeyPolicy {
                public_key_pem: &pem,
                require_tlog: true,
                require_timestamp: a.require_timestamp,
            };
            sigstore::verify_bundle_with_key(&bundle_json, artifact, &policy, &root)
        }
        (None, Some(identity), Some(issuer)) => {
            let policy = SigstorePolicy {
                identity,
                issuer,
                // Not read: the root is passed loaded (it may be the embedded one).
                trusted_root: a.trusted_root.as_deref().unwrap_or(Path::new("")),
                require_tlog: true,
                require_timestamp: a.require_timestamp,
            };
            sigstore::verify_bundle_with_root(&bundle_json, artifact, &policy, &root)
        }
        // clap enforces one of the two forms.
        _ => anyhow::bail!("give --certificate-identity and --certificate-oidc-issuer, or --key"),
    };
    match verdict {
        Ok(v) => {
            let signed_at = v.signed_at.map_or_else(|| "unknown".to_string(), |t| t.to_string());
            println!(
                "verified: {} signed by {}{} at unix time {signed_at} (trusted root: {root_name}; tlog {})",
                a.artifact,
                v.identity,
                if v.issuer.is_empty() {
                    String::new()
                } else {
                    format!(" (issuer {})", v.issuer)
                },
                if v.tlog_verified {
                    "inclusion verified"
                } else {
                    "not verified"
                },
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!(
                "sealrun verify blob: {} refused (trusted root: {root_name}): {e}",
                a.bundle.display()
            );
            Ok(1)
        }
    }
}

/// `sha256:<64 hex digits>` as a digest; anything else is a file name.
fn parse_digest(arg: &str) -> anyhow::Result<Option<[u8; 32]>> {
    let Some(hex) = arg.strip_prefix("sha256:") else {
        return Ok(None);
    };
    if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        // A file that happens to start with "sha256:" is still a file.
        if Path::new(arg).exists() {
            return Ok(None);
        }
        anyhow::bail!(
            "artifact {arg:?}: expected a file or sha256: and 64 hex digits, found {} characters after sha256:",
            hex.len()
        );
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(Some(digest))
}
