//! The runtime's error type. Every message says what failed, where (file, field,
//! container id), what was expected and what was found.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {msg}")]
    Bundle { path: PathBuf, msg: String },

    #[error("container {0:?} does not exist")]
    NotFound(String),

    #[error("container {0:?} already exists")]
    Exists(String),

    #[error("container id {id:?} is invalid: {why}")]
    InvalidId { id: String, why: &'static str },

    #[error("container {id:?} is {status}: cannot {op} (expected {expected})")]
    InvalidState {
        id: String,
        status: String,
        op: &'static str,
        expected: &'static str,
    },

    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },

    #[error("{0}")]
    Setup(String),

    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),

    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),

    #[error("{0}")]
    Unsupported(String),

    /// A pre-create gate (the supply-chain check) refused the container.
    #[error("refused: {0}")]
    Refused(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a description of what we were doing to an io::Error.
pub trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io { what: what(), source })
    }
}
