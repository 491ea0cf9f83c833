//! `sealrun attest audit verify FILE`: check the hash chain of an audit log.
//! Exit 0 when every line chains to the one before; 1 naming the first bad line.

use std::path::PathBuf;

use sealrun_attest::audit::{self, AuditError};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Action {
    /// Walk the whole log and check every entry's seq and prev hash
    Verify,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to do with the log
    #[arg(value_enum)]
    pub action: Action,
    /// The audit log (JSON lines)
    pub file: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    match a.action {
        Action::Verify => match audit::verify(&a.file) {
            Ok(summary) => {
                println!(
                    "{}: chain intact: {} entries, last hash {}",
                    a.file.display(),
                    summary.entries,
                    summary.last_hash
                );
                Ok(0)
            }
            Err(e @ AuditError::BadLine { .. }) => {
                eprintln!("sealrun: {e}");
                Ok(1)
            }
            Err(e) => Err(e.into()),
        },
    }
}
