//! OCI image layouts, referrers, model media types, cosign signatures, safe unpacking.

pub mod cosign;
pub mod error;
pub mod layout;
pub mod media;
pub mod referrers;
pub mod unpack;

pub use cosign::{verify_image as verify_cosign, CosignVerified, SimpleSigning};
pub use error::OciError;
pub use layout::{BlobDigest, BlobReader, DigestAlgorithm, IndexBlob, ManifestBlob, OciLayout};
pub use media::{model_files, ArtifactFormat, Compression, FileKind, ModelFile};
pub use referrers::{referrers, FoundBy, Payload, Referrer, ReferrerKind};
pub use unpack::{unpack_layer, unpack_tar, write_raw, UnpackLimits, UnpackReport};
