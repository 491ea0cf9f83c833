//! `sealrun broker serve|keys …`: run the key broker, and administer its keys.

use std::io::{IsTerminal as _, Read as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use sealrun_attest::audit::AuditLog;
use sealrun_attest::broker::client::block_on;
use sealrun_attest::broker::server::{check_listen, tls_server_config};
use sealrun_attest::broker::{AdminToken, Broker, BrokerClient, BrokerConfig};
use sealrun_attest::keystore::{FileKeyStore, Kek};
use sealrun_policy::Policy;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Serve the KBS protocol (auth, attest, resource), the admin API and /metrics
    Serve(ServeArgs),
    /// Put, delete or list the keys of a running broker (admin API)
    Keys(KeysArgs),
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The policy: which TEEs are accepted ([attestation]) and which key goes to which image ([keys])
    #[arg(long)]
    pub policy: PathBuf,
    /// The key store file (encrypted at rest with the KEK; created if missing)
    #[arg(long)]
    pub keys: PathBuf,
    /// The key-encryption key: 64 hex characters or 32 raw bytes, mode 0600
    #[arg(long)]
    pub kek_file: PathBuf,
    /// The audit log (hash-chained JSON lines; appended to)
    #[arg(long)]
    pub audit: PathBuf,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// TLS certificate chain (PEM)
    #[arg(long, requires = "tls_key", conflicts_with = "insecure_http")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, requires = "tls_cert", conflicts_with = "insecure_http")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP (loopback addresses only)
    #[arg(long)]
    pub insecure_http: bool,
    /// File holding the admin API's bearer token; without it the admin API is disabled
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
    /// An AMD CRL (DER or PEM, issued by the ARK) that SNP evidence is checked against (repeatable)
    #[arg(long = "snp-crl")]
    pub snp_crl: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(clap::Args, Debug)]
pub struct AdminConn {
    /// The broker's URL (https://HOST:PORT, or http:// to loopback)
    #[arg(long)]
    pub broker: String,
    /// File holding the admin bearer token
    #[arg(long)]
    pub admin_token_file: PathBuf,
    /// CA certificate(s) (PEM) to trust for an https:// broker
    #[arg(long)]
    pub tls_root: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum KeysAction {
    /// Store (or replace) a key: from --from-file, else from standard input (not a terminal)
    Put {
        #[command(flatten)]
        conn: AdminConn,
        /// Resource id repo/type/tag
        resource: String,
        /// Read the key from this file
        #[arg(long)]
        from_file: Option<PathBuf>,
    },
    /// Delete a key
    Delete {
        #[command(flatten)]
        conn: AdminConn,
        /// Resource id repo/type/tag
        resource: String,
    },
    /// List key ids (never the keys)
    List {
        #[command(flatten)]
        conn: AdminConn,
    },
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    match a.cmd {
        Cmd::Serve(s) => serve(s),
        Cmd::Keys(k) => keys(k.action),
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<i32> {
    let tls = match (&a.tls_cert, &a.tls_key, a.insecure_http) {
        (Some(c), Some(k), false) => Some(tls_server_config(c, k)?),
        (None, None, true) => None,
        _ => anyhow::bail!("give --tls-cert and --tls-key, or --insecure-http (loopback only)"),
    };
    let policy = Policy::from_file(&a.policy)?;
    let kek = Kek::from_file(&a.kek_file)?;
    let keys = FileKeyStore::open(&a.keys, kek)?;
    let audit = AuditLog::open(&a.audit)?;
    let mut config = BrokerConfig::new(policy, Arc::new(keys), Arc::new(audit));
    for p in &a.snp_crl {
        config
            .snp_crls
            .push(std::fs::read(p).with_context(|| format!("--snp-crl {}", p.display()))?);
    }
    if let Some(p) = &a.admin_token_file {
        config.admin_token = Some(AdminToken::from_file(p)?);
    } else {
        tracing::warn!("no --admin-token-file: the admin API is disabled");
    }
    let broker = Broker::new(config)?;
    check_listen(a.listen, tls.is_some())?;
    eprintln!(
        "sealrun broker: listening on {}://{} (policy {})",
        if tls.is_some() { "https" } else { "http" },
        a.listen,
        a.policy.display()
    );
    broker.run_blocking(a.listen, tls)?;
    Ok(0)
}

fn admin(conn: &AdminConn) -> anyhow::Result<(BrokerClient, AdminToken)> {
    let token = AdminToken::from_file(&conn.admin_token_file)?;
    let client = BrokerClient::new(&conn.broker, conn.tls_root.as_deref())?;
    Ok((client, token))
}

fn keys(action: KeysAction) -> anyhow::Result<i32> {
    match action {
        KeysAction::Put {
            conn,
            resource,
            from_file,
        } => {
            let key = zeroize_vec(match &from_file {
                Some(p) => std::fs::read(p).with_context(|| format!("reading the key from {}", p.display()))?,
                None => {
                    let stdin = std::io::stdin();
                    if stdin.is_terminal() {
                        anyhow::bail!("refusing to read a key from a terminal: give --from-file or pipe it in");
                    }
                    let mut buf = Vec::new();
                    stdin
                        .lock()
                        .read_to_end(&mut buf)
                        .context("reading the key from standard input")?;
                    buf
                }
            });
            if key.0.is_empty() {
                anyhow::bail!("the key is empty");
            }
            let (mut c, token) = admin(&conn)?;
            block_on(c.admin_put(token.expose(), &resource, &key.0))??;
            eprintln!("stored {resource} ({} bytes)", key.0.len());
        }
        KeysAction::Delete { conn, resource } => {
            let (mut c, token) = admin(&conn)?;
            block_on(c.admin_delete(token.expose(), &resource))??;
            eprintln!("deleted {resource}");
        }
        KeysAction::List { conn } => {
            let (mut c, token) = admin(&conn)?;
            for id in block_on(c.admin_list(token.expose()))?? {
                println!("{id}");
            }
        }
    }
    Ok(0)
}

/// Key bytes wiped on drop. (`zeroize` is not a dependency of the CLI: the key store's
/// `Secret` does the wiping.)
struct ZeroizeVec(Vec<u8>);

fn zeroize_vec(v: Vec<u8>) -> ZeroizeVec {
    ZeroizeVec(v)
}

impl Drop for ZeroizeVec {
    fn drop(&mut self) {
        // Moving the bytes into a Secret wipes them when it drops.
        drop(sealrun_attest::keystore::Secret::new(std::mem::take(&mut self.0)));
    }
}
