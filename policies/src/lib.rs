//! sealrun-policy (placeholder)
