//! An OCI image layout directory: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`.
//!
//! Every blob is read through a [`BlobReader`], which checks the size and the digest as the
//! bytes stream past and fails at EOF on a mismatch. Manifests and indexes are parsed with
//! `oci-spec`, but their raw bytes are kept: digests and signatures are over those bytes,
//! never over a re-serialisation.

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use super::error::OciError;

/// The only `imageLayoutVersion` there is.
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";
/// The annotation that names a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Manifests, indexes and `index.json` are small documents; a bigger one is refused before
/// it is read into memory.
pub const MAX_DOCUMENT_BYTES: u64 = 4 << 20;
/// Nested indexes deeper than this are refused (it also stops cycles).
pub const MAX_INDEX_DEPTH: usize = 8;

/// The digest algorithms a blob may be named by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

/// A validated blob digest: `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
/// Validation is what keeps a blob path inside `blobs/`: the hex part can hold no `/` or `..`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobDigest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl BlobDigest {
    /// Parse `alg:hex`; `what` names where the digest came from, for the error.
    pub fn parse(digest: &str, what: &str) -> Result<BlobDigest, OciError> {
        let invalid = |reason: &str| OciError::InvalidDigest {
            what: what.to_string(),
            digest: digest.to_string(),
            reason: reason.to_string(),
        };
        let (alg, hex) = digest
            .split_once(':')
            .ok_or_else(|| invalid("no ':' between algorithm and value"))?;
        let algorithm = match alg {
            "sha256" => DigestAlgorithm::Sha256,
            "sha512" => DigestAlgorithm::Sha512,
            other => {
                return Err(OciError::UnsupportedAlgorithm {
                    what: what.to_string(),
                    algorithm: other.to_string(),
                })
            }
        };
        if hex.len() != algorithm.hex_len() {
            return Err(invalid(&format!(
                "value length expected {}, found {}",
                algorithm.hex_len(),
                hex.len()
            )));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid("value is not lowercase hex"));
        }
        Ok(BlobDigest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The digest of `bytes` under `algorithm`.
    pub fn of(algorithm: DigestAlgorithm, bytes: &[u8]) -> BlobDigest {
        let mut h = Hasher::new(algorithm);
        h.update(bytes);
        h.finish()
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// `blobs/<alg>/<hex>`, relative to the layout root.
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Display for BlobDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

/// A streaming hash in the blob's own algorithm, through aws-lc's assembly (layer blobs
/// are the model's weights: hashing them is the gate's whole cost).
pub(crate) struct Hasher {
    algorithm: DigestAlgorithm,
    ctx: aws_lc_rs::digest::Context,
}

impl Hasher {
    pub(crate) fn new(algorithm: DigestAlgorithm) -> Hasher {
        let alg = match algorithm {
            DigestAlgorithm::Sha256 => &aws_lc_rs::digest::SHA256,
            DigestAlgorithm::Sha512 => &aws_lc_rs::digest::SHA512,
        };
        Hasher {
            algorithm,
            ctx: aws_lc_rs::digest::Context::new(alg),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.ctx.update(bytes);
    }

    pub(crate) fn finish(self) -> BlobDigest {
        let (algorithm, bytes) = (self.algorithm, self.ctx.finish().as_ref().to_vec());
        BlobDigest {
            algorithm,
            hex: to_hex(&bytes),
        }
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Reads one blob and checks it as it goes: more bytes than declared is an error as soon as
/// the extra byte is read; at EOF a short blob or a wrong digest is an error. The bytes
/// handed out before EOF are unverified: a consumer must undo what it did with them when
/// the final read fails (unpack does).
pub struct BlobReader {
    file: File,
    label: String,
    expected: BlobDigest,
    expected_size: u64,
    file_len: u64,
    hasher: Option<Hasher>,
    read: u64,
    verified: bool,
    failed: bool,
}

impl BlobReader {
    /// `blobs/<alg>/<hex>`: how errors name this blob.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn digest(&self) -> &BlobDigest {
        &self.expected
    }

    pub fn size(&self) -> u64 {
        self.expected_size
    }

    /// True once EOF was reached with the right size and digest.
    pub fn verified(&self) -> bool {
        self.verified
    }

    fn fail(&mut self, err: OciError) -> io::Error {
        self.failed = true;
        err.into_io()
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other(format!("{}: already failed", self.label)));
        }
        if self.verified || buf.is_empty() {
            return Ok(0);
        }
        // Ask for at most one byte past the declared size: that byte is enough to know the
        // blob is too long, without reading the rest of it.
        let remaining = self.expected_size - self.read;
        let want = (buf.len() as u64).min(remaining.saturating_add(1)) as usize;
        let n = loop {
            match self.file.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            if self.read != self.expected_size {
                let err = OciError::SizeMismatch {
                    blob: self.label.clone(),
                    expected: self.expected_size,
                    found: self.read,
                };
                return Err(self.fail(err));
            }
            let found = self.hasher.take().expect("hasher until EOF").finish();
            if found != self.expected {
                let err = OciError::DigestMismatch {
                    blob: self.label.clone(),
                    expected: self.expected.to_string(),
                    found: found.to_string(),
                };
                return Err(self.fail(err));
            }
            self.verified = true;
            return Ok(0);
        }
        self.read += n as u64;
        if self.read > self.expected_size {
            let err = OciError::SizeMismatch {
                blob: self.label.clone(),
                expected: self.expected_size,
                found: self.read.max(self.file_len),
            };
            return Err(self.fail(err));
        }
        self.hasher.as_mut().expect("hasher until EOF").update(&buf[..n]);
        Ok(n)
    }
}

/// A manifest with the bytes its digest is over.
#[derive(Clone, Debug)]
pub struct ManifestBlob {
    /// The descriptor it was reached through (digest, size, media type, annotations).
    pub descriptor: Descriptor,
    pub digest: BlobDigest,
    pub raw: Vec<u8>,
    pub manifest: ImageManifest,
}

/// An index with the bytes its digest is over.
#[derive(Clone, Debug)]
pub struct IndexBlob {
    pub descriptor: Descriptor,
    pub digest: BlobDigest,
    pub raw: Vec<u8>,
    pub index: ImageIndex,
}

/// An opened OCI image layout.
#[derive(Debug)]
pub struct OciLayout {
    root: PathBuf,
    index_raw: Vec<u8>,
    index: ImageIndex,
}

/// True for an image manifest media type (OCI, or Docker schema 2 which has the same shape).
pub fn is_manifest_type(media_type: &str) -> bool {
    media_type == MEDIA_OCI_MANIFEST || media_type == MEDIA_DOCKER_MANIFEST
}

/// True for an image index media type (OCI, or a Docker manifest list).
pub fn is_index_type(media_type: &str) -> bool {
    media_type == MEDIA_OCI_INDEX || media_type == MEDIA_DOCKER_LIST
}

/// The descriptor's digest, validated.
pub fn descriptor_digest(desc: &Descriptor, what: &str) -> Result<BlobDigest, OciError> {
    BlobDigest::parse(desc.digest().as_ref(), what)
}

/// The `org.opencontainers.image.ref.name` annotation of a descriptor.
pub fn ref_name(desc: &Descriptor) -> Option<&str> {
    desc.annotations()
        .as_ref()
        .and_then(|a| a.get(REF_NAME))
        .map(String::as_str)
}

fn read_small_file(path: &Path) -> Result<Vec<u8>, OciError> {
    let file = File::open(path).map_err(|source| OciError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut raw = Vec::new();
    file.take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|source| OciError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if raw.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(OciError::BlobTooLarge {
            blob: path.display().to_string(),
            kind: "a layout document",
            size: raw.len() as u64,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(raw)
}

/// index.json is not covered by any digest: a key the image-index format does not have
/// (a renamed `mediaType`, say) is refused rather than silently ignored.
fn check_index_keys(raw: &[u8], path: &Path) -> Result<(), OciError> {
    const INDEX: &[&str] = &[
        "schemaVersion",
        "mediaType",
        "artifactType",
        "manifests",
        "subject",
        "annotations",
    ];
    const DESCRIPTOR: &[&str] = &[
        "mediaType",
        "digest",
        "size",
        "urls",
        "annotations",
        "data",
        "artifactType",
        "platform",
    ];
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return Ok(()); // the typed parse reports the syntax error
    };
    let unknown = |obj: &serde_json::Value, allowed: &[&str], at: &str| -> Result<(), OciError> {
        if let Some(o) = obj.as_object() {
            if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(OciError::Field {
                    what: path.display().to_string(),
                    field: format!("{at}{k}"),
                    expected: format!("one of {}", allowed.join(", ")),
                    found: format!("unknown key `{k}`"),
                });
            }
        }
        Ok(())
    };
    unknown(&v, INDEX, "")?;
    if let Some(ms) = v.get("manifests").and_then(|m| m.as_array()) {
        for (i, d) in ms.iter().enumerate() {
            unknown(d, DESCRIPTOR, &format!("manifests[{i}]."))?;
        }
    }
    Ok(())
}

impl OciLayout {
    /// Open a layout: check `oci-layout` and parse `index.json`.
    pub fn open(root: impl AsRef<Path>) -> Result<OciLayout, OciError> {
        let root = root.as_ref().to_path_buf();
        let layout_file = root.join("oci-layout");
        let raw = read_small_file(&layout_file)?;
        let value: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| OciError::Parse {
            what: layout_file.display().to_string(),
            kind: "oci-layout JSON document",
            reason: e.to_string(),
        })?;
        match value.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some(IMAGE_LAYOUT_VERSION) => {}
            Some(other) => {
                return Err(OciError::LayoutVersion {
                    path: layout_file,
                    found: format!("{other:?}"),
                })
            }
            None => {
                return Err(OciError::LayoutVersion {
                    path: layout_file,
                    found: "no imageLayoutVersion string".to_string(),
                })
            }
        }

        let index_file = root.join("index.json");
        let index_raw = read_small_file(&index_file)?;
        check_index_keys(&index_raw, &index_file)?;
        let index: ImageIndex = serde_json::from_slice(&index_raw).map_err(|e| OciError::Parse {
            what: index_file.display().to_string(),
            kind: "OCI image index",
            reason: e.to_string(),
        })?;
        if index.schema_version() != 2 {
            return Err(OciError::Field {
                what: index_file.display().to_string(),
                field: "schemaVersion".to_string(),
                expected: "2".to_string(),
                found: index.schema_version().to_string(),
            });
        }
        if let Some(mt) = index.media_type() {
            if mt.to_string() != MEDIA_OCI_INDEX {
                return Err(OciError::MediaType {
                    what: format!("{} mediaType", index_file.display()),
                    expected: MEDIA_OCI_INDEX.to_string(),
                    found: mt.to_string(),
                });
            }
        }
        Ok(OciLayout { root, index_raw, index })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `index.json` as parsed.
    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    /// `index.json` as read.
    pub fn index_raw(&self) -> &[u8] {
        &self.index_raw
    }

    /// Open a blob by digest with its declared size. The file must be a regular file whose
    /// real path is inside `blobs/`; a file of the wrong length is refused before reading.
    pub fn open_blob(&self, digest: &BlobDigest, size: u64) -> Result<BlobReader, OciError> {
        let label = digest.blob_path();
        let path = self.root.join(&label);
        let resolved = match fs::canonicalize(&path) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(OciError::BlobMissing {
                    layout: self.root.clone(),
                    blob: label,
                })
            }
            Err(source) => return Err(OciError::Io { path, source }),
        };
        let blobs_dir = fs::canonicalize(self.root.join("blobs")).map_err(|source| OciError::Io {
            path: self.root.join("blobs"),
            source,
        })?;
        if !resolved.starts_with(&blobs_dir) {
            return Err(OciError::BlobEscapes {
                layout: self.root.clone(),
                blob: label,
                resolved,
            });
        }
        // The canonical path has no symlink left in it; O_NOFOLLOW keeps the last component
        // from being swapped for one between the check and the open.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&resolved)
            .map_err(|source| OciError::Io {
                path: resolved.clone(),
                source,
            })?;
        let meta = file.metadata().map_err(|source| OciError::Io {
            path: resolved.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(OciError::BlobNotFile {
                blob: label,
                found: format!("{:?}", meta.file_type()),
            });
        }
        if meta.len() != size {
            return Err(OciError::SizeMismatch {
                blob: label,
                expected: size,
                found: meta.len(),
            });
        }
        Ok(BlobReader {
            file,
            label,
            expected: digest.clone(),
            expected_size: size,
            file_len: meta.len(),
            hasher: Some(Hasher::new(digest.algorithm())),
            read: 0,
            verified: false,
            failed: false,
        })
    }

    /// Open the blob a descriptor points to.
    pub fn open_descriptor(&self, desc: &Descriptor) -> Result<BlobReader, OciError> {
        let digest = descriptor_digest(desc, "descriptor")?;
        self.open_blob(&digest, desc.size())
    }

    /// Read a whole blob into memory, verified. A declared size over `limit` is refused
    /// before anything is read.
    pub fn read_blob(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>, OciError> {
        let digest = descriptor_digest(desc, "descriptor")?;
        if desc.size() > limit {
            return Err(OciError::BlobTooLarge {
                blob: digest.blob_path(),
                kind: "an in-memory read",
                size: desc.size(),
                limit,
            });
        }
        let mut reader = self.open_blob(&digest, desc.size())?;
        let mut bytes = Vec::with_capacity(desc.size() as usize);
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| OciError::from_io(e, self.root.join(digest.blob_path())))?;
        debug_assert!(reader.verified());
        Ok(bytes)
    }

    /// Read and parse the image manifest a descriptor points to.
    pub fn read_manifest(&self, desc: &Descriptor) -> Result<ManifestBlob, OciError> {
        let digest = descriptor_digest(desc, "manifest descriptor")?;
        let what = digest.blob_path();
        let media_type = desc.media_type().to_string();
        if !is_manifest_type(&media_type) {
            return Err(OciError::MediaType {
                what,
                expected: MEDIA_OCI_MANIFEST.to_string(),
                found: media_type,
            });
        }
        let raw = self.read_blob(desc, MAX_DOCUMENT_BYTES)?;
        let manifest: ImageManifest = serde_json::from_slice(&raw).map_err(|e| OciError::Parse {
            what: what.clone(),
            kind: "OCI image manifest",
            reason: e.to_string(),
        })?;
        if manifest.schema_version() != 2 {
            return Err(OciError::Field {
                what,
                field: "schemaVersion".to_string(),
                expected: "2".to_string(),
                found: manifest.schema_version().to_string(),
            });
        }
        // The index's artifactType is a copy of the manifest's (index.json is not covered by
        // any digest, so it must agree with what is).
        if let Some(at) = desc.artifact_type() {
            let inner = manifest.artifact_type().as_ref().map(|m| m.to_string());
            if inner.as_deref() != Some(at.to_string().as_str()) {
                return Err(OciError::Field {
                    what: format!("{what} (descriptor in the index)"),
                    field: "artifactType".to_string(),
                    expected: inner.unwrap_or_else(|| "none (the manifest has no artifactType)".into()),
                    found: at.to_string(),
                });
            }
        }
        // The descriptor's media type is what chose the parser; a document that says it is
        // something else is a confusion attempt.
        if let Some(inner) = manifest.media_type() {
            if inner.to_string() != media_type {
                return Err(OciError::MediaType {
                    what: format!("{what} mediaType"),
                    expected: media_type,
                    found: inner.to_string(),
                });
            }
        }
        Ok(ManifestBlob {
            descriptor: desc.clone(),
            digest,
            raw,
            manifest,
        })
    }

    /// Read and parse the image index a descriptor points to.
    pub fn read_index(&self, desc: &Descriptor) -> Result<IndexBlob, OciError> {
        let digest = descriptor_digest(desc, "index descriptor")?;
        let what = digest.blob_path();
        let media_type = desc.media_type().to_string();
        if !is_index_type(&media_type) {
            return Err(OciError::MediaType {
                what,
                expected: MEDIA_OCI_INDEX.to_string(),
                found: media_type,
            });
        }
        let raw = self.read_blob(desc, MAX_DOCUMENT_BYTES)?;
        let index: ImageIndex = serde_json::from_slice(&raw).map_err(|e| OciError::Parse {
            what: what.clone(),
            kind: "OCI image index",
            reason: e.to_string(),
        })?;
        if let Some(inner) = index.media_type() {
            if inner.to_string() != media_type {
                return Err(OciError::MediaType {
                    what: format!("{what} mediaType"),
                    expected: media_type,
                    found: inner.to_string(),
                });
            }
        }
        Ok(IndexBlob {
            descriptor: desc.clone(),
            digest,
            raw,
            index,
        })
    }

    /// Every descriptor reachable from `index.json`, nested indexes walked depth-first
    /// (index descriptors included, each digest once).
    pub fn descriptors(&self) -> Result<Vec<Descriptor>, OciError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.walk(self.index.manifests(), 0, &mut seen, &mut out)?;
        Ok(out)
    }

    fn walk(
        &self,
        manifests: &[Descriptor],
        depth: usize,
        seen: &mut HashSet<String>,
        out: &mut Vec<Descriptor>,
    ) -> Result<(), OciError> {
        for desc in manifests {
            let digest = descriptor_digest(desc, "index.json descriptor")?;
            if !seen.insert(digest.to_string()) {
                continue;
            }
            out.push(desc.clone());
            if is_index_type(desc.media_type().as_ref()) {
                if depth + 1 >= MAX_INDEX_DEPTH {
                    return Err(OciError::IndexTooDeep {
                        layout: self.root.clone(),
                        digest: digest.to_string(),
                        limit: MAX_INDEX_DEPTH,
                    });
                }
                let nested = self.read_index(desc)?;
                self.walk(nested.index.manifests(), depth + 1, seen, out)?;
            }
        }
        Ok(())
    }

    /// Every image manifest reachable from `index.json`, read and verified.
    pub fn manifests(&self) -> Result<Vec<ManifestBlob>, OciError> {
        self.descriptors()?
            .iter()
            .filter(|d| is_manifest_type(d.media_type().as_ref()))
            .map(|d| self.read_manifest(d))
            .collect()
    }

    /// The tags named in `index.json` and the indexes below it.
    pub fn tags(&self) -> Result<Vec<String>, OciError> {
        Ok(self
            .descriptors()?
            .iter()
            .filter_map(|d| ref_name(d).map(str::to_string))
            .collect())
    }

    /// Resolve a tag (`org.opencontainers.image.ref.name`, exact, or the part after the last
    /// `:` of a full reference) or a `sha256:`/`sha512:` digest to its image manifest. An
    /// index on the way is followed to its only manifest, or to the one for this platform.
    pub fn resolve(&self, reference: &str) -> Result<ManifestBlob, OciError> {
        let all = self.descriptors()?;
        let is_digest = reference.starts_with("sha256:") || reference.starts_with("sha512:");
        let found: Vec<&Descriptor> = if is_digest {
            let wanted = BlobDigest::parse(reference, "reference")?;
            all.iter()
                .filter(|d| d.digest().to_string() == wanted.to_string())
                .collect()
        } else {
            let exact: Vec<&Descriptor> = all.iter().filter(|d| ref_name(d) == Some(reference)).collect();
            if exact.is_empty() && !reference.contains(':') && !reference.contains('/') {
                all.iter()
                    .filter(|d| {
                        ref_name(d).is_some_and(|name| {
                            name.rsplit_once(':')
                                .is_some_and(|(repo, tag)| tag == reference && !repo.is_empty())
                        })
                    })
                    .collect()
            } else {
                exact
            }
        };
        let mut distinct: Vec<&Descriptor> = Vec::new();
        for d in found {
            if !distinct.iter().any(|x| x.digest() == d.digest()) {
                distinct.push(d);
            }
        }
        match distinct.as_slice() {
            [] => Err(OciError::RefNotFound {
                layout: self.root.clone(),
                reference: reference.to_string(),
                available: {
                    let tags: Vec<String> = all.iter().filter_map(|d| ref_name(d).map(str::to_string)).collect();
                    if tags.is_empty() {
                        "none".to_string()
                    } else {
                        tags.join(", ")
                    }
                },
            }),
            [one] => self.manifest_for(one, 0),
            many => Err(OciError::RefAmbiguous {
                layout: self.root.clone(),
                reference: reference.to_string(),
                candidates: many
                    .iter()
                    .map(|d| d.digest().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn manifest_for(&self, desc: &Descriptor, depth: usize) -> Result<ManifestBlob, OciError> {
        let media_type = desc.media_type().to_string();
        if is_manifest_type(&media_type) {
            return self.read_manifest(desc);
        }
        if !is_index_type(&media_type) {
            return Err(OciError::MediaType {
                what: desc.digest().to_string(),
                expected: format!("{MEDIA_OCI_MANIFEST} or {MEDIA_OCI_INDEX}"),
                found: media_type,
            });
        }
        if depth + 1 >= MAX_INDEX_DEPTH {
            return Err(OciError::IndexTooDeep {
                layout: self.root.clone(),
                digest: desc.digest().to_string(),
                limit: MAX_INDEX_DEPTH,
            });
        }
        let nested = self.read_index(desc)?;
        let children = nested.index.manifests();
        let chosen: Vec<&Descriptor> = if children.len() == 1 {
            children.iter().collect()
        } else {
            children.iter().filter(|d| platform_matches(d)).collect()
        };
        match chosen.as_slice() {
            [one] => self.manifest_for(one, depth + 1),
            [] => Err(OciError::RefNotFound {
                layout: self.root.clone(),
                reference: format!("{} for linux/{}", nested.digest, host_arch()),
                available: format!("{} manifests for other platforms", children.len()),
            }),
            many => Err(OciError::RefAmbiguous {
                layout: self.root.clone(),
                reference: nested.digest.to_string(),
                candidates: many
                    .iter()
                    .map(|d| d.digest().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// The GOARCH name of this machine.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn platform_matches(desc: &Descriptor) -> bool {
    desc.platform()
        .as_ref()
        .is_some_and(|p| p.os().to_string() == "linux" && p.architecture().to_string() == host_arch())
}
