//! The one error type of the OCI side: every message names the layout, blob, entry or field,
//! with what was expected and what was found.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: imageLayoutVersion expected 1.0.0, found {found}")]
    LayoutVersion { path: PathBuf, found: String },
    #[error("{what}: not a valid {kind}: {reason}")]
    Parse {
        what: String,
        kind: &'static str,
        reason: String,
    },
    #[error("{what}: invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        what: String,
        digest: String,
        reason: String,
    },
    #[error("{what}: digest algorithm expected sha256 or sha512, found {algorithm:?}")]
    UnsupportedAlgorithm { what: String, algorithm: String },
    #[error("{blob}: missing from the layout {layout}")]
    BlobMissing { layout: PathBuf, blob: String },
    #[error("{blob}: resolves to {resolved}, outside {layout}/blobs")]
    BlobEscapes {
        layout: PathBuf,
        blob: String,
        resolved: PathBuf,
    },
    #[error("{blob}: expected a regular file, found {found}")]
    BlobNotFile { blob: String, found: String },
    #[error("{blob}: size expected {expected}, found {found}")]
    SizeMismatch { blob: String, expected: u64, found: u64 },
    #[error("{blob}: digest expected {expected}, found {found}")]
    DigestMismatch {
        blob: String,
        expected: String,
        found: String,
    },
    #[error("{blob}: size {size} is over the limit of {limit} bytes for {kind}")]
    BlobTooLarge {
        blob: String,
        kind: &'static str,
        size: u64,
        limit: u64,
    },
    #[error("{layout}: reference {reference:?} not found (tags in index.json: {available})")]
    RefNotFound {
        layout: PathBuf,
        reference: String,
        available: String,
    },
    #[error("{layout}: reference {reference:?} is ambiguous: {candidates}")]
    RefAmbiguous {
        layout: PathBuf,
        reference: String,
        candidates: String,
    },
    #[error("{what}: media type expected {expected}, found {found}")]
    MediaType {
        what: String,
        expected: String,
        found: String,
    },
    #[error("{what}: {field} expected {expected}, found {found}")]
    Field {
        what: String,
        field: String,
        expected: String,
        found: String,
    },
    #[error("{layout}: image indexes nested deeper than {limit} levels (or in a cycle) at {digest}")]
    IndexTooDeep {
        layout: PathBuf,
        digest: String,
        limit: usize,
    },
    #[error("{layer}: entry {entry:?}: {reason}")]
    UnsafeEntry {
        layer: String,
        entry: String,
        reason: String,
    },
    #[error("{layer}: entry {entry:?}: over the limit of {limit} entries")]
    TooManyEntries { layer: String, entry: String, limit: u64 },
    #[error("{layer}: entry {entry:?}: {size} bytes bring the unpacked total to {total}, over the limit of {limit}")]
    TooLarge {
        layer: String,
        entry: String,
        size: u64,
        total: u64,
        limit: u64,
    },
    #[error("{layer}: entry {entry:?}: {op}: {source}")]
    UnpackIo {
        layer: String,
        entry: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{layer}: {reason}")]
    Layer { layer: String, reason: String },
    #[error("{what}: cosign signature does not verify: {reason}")]
    SignatureInvalid { what: String, reason: String },
    #[error("{what}: {reason}")]
    Cosign { what: String, reason: String },
    #[error("{layout}: no cosign signature for {image} (looked for referrers and the tag {tag})")]
    NoSignature {
        layout: PathBuf,
        image: String,
        tag: String,
    },
}

impl OciError {
    /// An `io::Error` from a reader chain may carry one of ours (a digest or size mismatch
    /// found by a `BlobReader` at EOF): give that back instead of burying it.
    pub(crate) fn from_io(err: io::Error, path: impl Into<PathBuf>) -> OciError {
        match take_inner(err) {
            Ok(oci) => oci,
            Err(source) => OciError::Io {
                path: path.into(),
                source,
            },
        }
    }

    /// Carry this error through an `io::Read` chain.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

/// The `OciError` inside an `io::Error`, if there is one.
pub(crate) fn take_inner(err: io::Error) -> Result<OciError, io::Error> {
    if err.get_ref().is_some_and(|e| e.is::<OciError>()) {
        let inner = err.into_inner().expect("checked by get_ref");
        Ok(*inner.downcast::<OciError>().expect("checked by is"))
    } else {
        Err(err)
    }
}
