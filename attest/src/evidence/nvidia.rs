//! Nvidia evidence. (Skeleton: the owner of this file replaces it.)

use super::{Verified, VerifyOptions};

#[derive(Debug, Clone)]
pub struct NvidiaEvidence {}

#[derive(Debug, thiserror::Error)]
pub enum NvidiaError {
    #[error("nvidia evidence verification is not implemented")]
    NotImplemented,
}

pub fn verify(_e: &NvidiaEvidence, _opts: &VerifyOptions) -> Result<Verified, NvidiaError> {
    Err(NvidiaError::NotImplemented)
}
