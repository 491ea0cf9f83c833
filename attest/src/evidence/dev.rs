//! Dev evidence. (Skeleton: the owner of this file replaces it.)

use super::{Verified, VerifyOptions};

#[derive(Debug, Clone)]
pub struct DevEvidence {}

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("dev evidence verification is not implemented")]
    NotImplemented,
}

pub fn verify(_e: &DevEvidence, _opts: &VerifyOptions) -> Result<Verified, DevError> {
    Err(DevError::NotImplemented)
}
