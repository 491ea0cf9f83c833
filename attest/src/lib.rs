//! sealrun-attest: prove what a confidential VM runs, and release model keys only to that
//! proof. `evidence` verifies SEV-SNP, TDX, NVIDIA GPU and dev evidence into claims;
//! `attester` collects evidence on a real machine; `broker` is the KBS-shaped key broker
//! (server and client); `jwe`, `keystore` and `audit` are its building blocks.

pub mod attester;
pub mod audit;
pub mod broker;
pub mod evidence;
pub mod jwe;
pub mod keystore;
