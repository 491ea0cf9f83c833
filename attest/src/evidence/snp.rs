//! Snp evidence. (Skeleton: the owner of this file replaces it.)

use super::{Verified, VerifyOptions};

#[derive(Debug, Clone)]
pub struct SnpEvidence {}

#[derive(Debug, thiserror::Error)]
pub enum SnpError {
    #[error("snp evidence verification is not implemented")]
    NotImplemented,
}

pub fn verify(_e: &SnpEvidence, _opts: &VerifyOptions) -> Result<Verified, SnpError> {
    Err(SnpError::NotImplemented)
}
