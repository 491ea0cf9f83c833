//! Evidence verification: one module per TEE, one entry point, [`verify`].
//!
//! Each backend checks signatures and certificate chains against pinned roots at a given
//! clock and returns its claims; *appraisal* (is this measurement allowed?) is the policy
//! crate's job (`Attestation::appraise_*`), fed by [`Verified::snp`] / [`Verified::tdx`].

pub mod dev;
pub mod nvidia;
pub mod snp;
pub mod tdx;

use std::time::SystemTime;

/// Evidence as it arrives, before any check.
#[derive(Debug, Clone)]
pub enum Evidence {
    Snp(snp::SnpEvidence),
    Tdx(tdx::TdxEvidence),
    Nvidia(nvidia::NvidiaEvidence),
    Dev(dev::DevEvidence),
}

impl Evidence {
    pub fn tee(&self) -> &'static str {
        match self {
            Evidence::Snp(_) => "snp",
            Evidence::Tdx(_) => "tdx",
            Evidence::Nvidia(_) => "nvidia",
            Evidence::Dev(_) => "dev",
        }
    }
}

/// What the verifier needs besides the evidence.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The clock for certificate, CRL and collateral validity. Real collateral expires:
    /// callers pass a pinned time in tests, never the wall clock by accident.
    pub now: SystemTime,
    /// For GPU evidence: the SPDM nonce the requester sent (32 bytes).
    pub nonce: Option<Vec<u8>>,
    /// Extra trusted roots (DER certificates, or for `dev` raw Ed25519 public keys) for
    /// test PKIs, tried after the pinned product roots. Empty in production.
    pub extra_roots: Vec<Vec<u8>>,
}

impl VerifyOptions {
    /// Options at a given clock, with no nonce and no extra roots.
    pub fn at(now: SystemTime) -> VerifyOptions {
        VerifyOptions {
            now,
            nonce: None,
            extra_roots: Vec::new(),
        }
    }
}

/// Verified evidence: the TEE kind, the 64 bytes of report data the guest bound into it
/// (for GPU evidence: the nonce), and the claims, as JSON and as the policy needs them.
#[derive(Debug, Clone)]
pub struct Verified {
    pub tee: &'static str,
    pub report_data: Vec<u8>,
    /// Every claim, for the audit log, the token and `attest verify --output json`.
    pub claims: serde_json::Value,
    pub snp: Option<sealrun_policy::attestation::SnpClaims>,
    pub tdx: Option<sealrun_policy::attestation::TdxClaims>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(transparent)]
    Snp(#[from] snp::SnpError),
    #[error(transparent)]
    Tdx(#[from] tdx::TdxError),
    #[error(transparent)]
    Nvidia(#[from] nvidia::NvidiaError),
    #[error(transparent)]
    Dev(#[from] dev::DevError),
}

/// Verify evidence of any kind.
pub fn verify(evidence: &Evidence, opts: &VerifyOptions) -> Result<Verified, EvidenceError> {
    Ok(match evidence {
        Evidence::Snp(e) => snp::verify(e, opts)?,
        Evidence::Tdx(e) => tdx::verify(e, opts)?,
        Evidence::Nvidia(e) => nvidia::verify(e, opts)?,
        Evidence::Dev(e) => dev::verify(e, opts)?,
    })
}
