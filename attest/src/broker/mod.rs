//! The key broker: KBS-shaped protocol (v0.4), server and client.
//!
//! ```text
//! client                                   broker
//!   POST /kbs/v0/auth {version, tee}   ──►  policy accepts tee? new session, 32-byte nonce
//!                                      ◄──  Set-Cookie kbs-session-id; {nonce}
//!   evidence(report_data = SHA-384(JCS(runtime-data)) ‖ 0¹⁶)
//!   POST /kbs/v0/attest {runtime-data: {nonce, tee-pubkey, image-digest, policy-digest},
//!                        tee-evidence}  ──►  nonce fresh + unused, verify, report_data, appraise
//!                                      ◄──  {token}: EdDSA JWT (≤ 5 min)
//!   GET /kbs/v0/resource/R/T/G  (Bearer token)  ──►  keys.release_allowed, JWE to tee-pubkey
//! ```

pub mod client;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod session;
pub mod token;

pub use client::{request_resource, BrokerClient, ClientError, DevTee, EvidenceProvider, FnEvidence};
pub use protocol::{report_data, WorkloadClaims};
pub use server::{AdminToken, Broker, BrokerConfig, Clock, RunningBroker};

/// Errors starting or configuring the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker configuration: {0}")]
    Config(String),
    #[error("broker: could not {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Token(#[from] token::TokenError),
}
