//! sealrun-image: everything about the model image before it runs — the OCI layout and its
//! referrers, the model signature (OpenSSF model signing: key, certificate, Sigstore),
//! cosign image signatures, and unpacking layers without escaping the target.

pub mod oci;
pub mod oms;
pub mod sigstore;
