//! Tdx evidence. (Skeleton: the owner of this file replaces it.)

use super::{Verified, VerifyOptions};

#[derive(Debug, Clone)]
pub struct TdxEvidence {}

#[derive(Debug, thiserror::Error)]
pub enum TdxError {
    #[error("tdx evidence verification is not implemented")]
    NotImplemented,
}

pub fn verify(_e: &TdxEvidence, _opts: &VerifyOptions) -> Result<Verified, TdxError> {
    Err(TdxError::NotImplemented)
}
