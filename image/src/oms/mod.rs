//! OpenSSF model signing (OMS): bundles, DSSE, manifests, hashing, key and certificate verification, signing.
//!
//! Compatible with the Python reference `model_signing` 1.1.1: a model signature is a Sigstore
//! bundle (JSON) holding a DSSE envelope whose payload is an in-toto Statement v1 with the
//! predicate `https://model_signing/signature/v1.0`. The predicate lists every file (or file
//! shard) of the model with its digest; the subject digest is the SHA-256 over those digests
//! in payload order.
//!
//! Where sealrun deliberately differs from the reference (all stricter), it is said at the
//! place that does it: the leaf certificate needs both KU digitalSignature and EKU codeSigning,
//! duplicate resources are refused, the v0.2 format and its PAE need `allow_legacy_v0_2`, and
//! symlinks are governed only by the verifier's `allow_symlinks` (never by the signed
//! manifest's).

mod bundle;
mod certificate;
mod hashing;
mod key;
mod manifest;
mod sign;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use key::generate_p256;
pub use manifest::{HashType, Resource, Serialization, SerializationMethod};

/// The media type `model_signing` writes; the verifier accepts what the caller lists.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE_V1: &str = "https://model_signing/signature/v1.0";
/// The predicate of `model_signing` 0.2 (signed with the buggy legacy PAE).
pub const PREDICATE_TYPE_V0_2: &str = "https://model_signing/Digests/v0.1";
/// Paths `model_signing` ignores by default (relative to the model root).
pub const DEFAULT_IGNORED_PATHS: &[&str] = &[".git", ".gitattributes", ".github", ".gitignore"];

/// Who the caller trusts to have signed the model.
#[derive(Debug, Clone)]
pub enum Verifier {
    /// An ECDSA public key (P-256, P-384 or P-521), PEM (SubjectPublicKeyInfo).
    Key { public_key_pem: Vec<u8> },
    /// CA certificates (PEM, one or more per entry); the bundle's leaf must chain to one.
    Certificate { ca_pems: Vec<Vec<u8>> },
    /// Sigstore keyless: the certificate identity and OIDC issuer, verified offline against
    /// `trusted_root` (a `trusted_root.json` or a client trust config holding one; an empty
    /// path means the Sigstore public-good root embedded in sealrun). A transparency-log
    /// entry is required, a timestamp is not (the policy defaults).
    Sigstore {
        identity: String,
        issuer: String,
        trusted_root: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Paths to leave out, relative to the model directory (a directory covers its children).
    /// Added to the signed manifest's `ignore_paths` and to [`DEFAULT_IGNORED_PATHS`].
    pub ignore_paths: Vec<PathBuf>,
    /// Check only the files the signature lists: files present but not signed are ignored.
    pub ignore_unsigned_files: bool,
    /// Follow symlinks (hashing their targets) instead of refusing them.
    pub allow_symlinks: bool,
    /// Accept `model_signing` 0.2 signatures (predicate `Digests/v0.1`, legacy PAE).
    pub allow_legacy_v0_2: bool,
    /// Bundle media types accepted (the media type is not signed, so the caller pins it).
    pub media_types: Vec<String>,
    /// Bytes hashed so far and in all, updated while the model is hashed.
    pub progress: Option<std::sync::Arc<Progress>>,
}

/// Hashing progress, readable from another thread while `verify_model` runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub total: std::sync::atomic::AtomicU64,
    pub done: std::sync::atomic::AtomicU64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            ignore_paths: Vec::new(),
            ignore_unsigned_files: false,
            allow_symlinks: false,
            allow_legacy_v0_2: false,
            media_types: sealrun_policy::trust::Trust::default().media_types,
            progress: None,
        }
    }
}

/// The verification method that accepted the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Key,
    Certificate,
    Sigstore,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Key => "key",
            Method::Certificate => "certificate",
            Method::Sigstore => "sigstore",
        })
    }
}

/// A bundle whose signature verified, and what it signs (no file was hashed).
#[derive(Debug, Clone)]
pub struct SignedManifest {
    pub method: Method,
    /// Key fingerprint, certificate subject, or Sigstore identity.
    pub signer: String,
    /// The subject name (the model directory's name when signed).
    pub model_name: String,
    pub serialization: Serialization,
    /// Hex SHA-256 over the resource digests in payload order.
    pub root_digest: String,
    /// Resources in payload order.
    pub resources: Vec<Resource>,
    /// True for a `model_signing` 0.2 signature.
    pub legacy_v0_2: bool,
    /// Unix seconds the signature was made at, when the bundle proves it (Sigstore).
    pub signed_at: Option<i64>,
}

/// A model directory that matches a verified signature.
#[derive(Debug, Clone)]
pub struct VerifiedModel {
    pub method: Method,
    pub signer: String,
    /// Hex SHA-256 over the resource digests in payload order (the in-toto subject digest).
    pub root_digest: String,
    /// Resource name (file path, or `path:start:end` for shards) → (algorithm, hex digest).
    pub resources: BTreeMap<String, (String, String)>,
}

/// Who signs.
pub enum Signer {
    /// An ECDSA private key (PEM: SEC1 `EC PRIVATE KEY` or PKCS#8 `PRIVATE KEY`).
    Key { private_key_pem: Vec<u8> },
    /// The key plus its certificate chain: leaf first, then intermediates (PEM each; a PEM
    /// may hold several certificates).
    Certificate {
        private_key_pem: Vec<u8>,
        cert_chain_pems: Vec<Vec<u8>>,
    },
}

// The private key must not end up in logs.
impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Key { .. } => f.write_str("Signer::Key"),
            Signer::Certificate { .. } => f.write_str("Signer::Certificate"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SignOptions {
    /// Paths to leave out, relative to the model directory. Recorded in the manifest.
    pub ignore_paths: Vec<PathBuf>,
    /// Leave out [`DEFAULT_IGNORED_PATHS`] (`model_signing`'s default).
    pub ignore_git_paths: bool,
    pub allow_symlinks: bool,
    pub hash_type: HashType,
    /// Shard size in bytes for the `shards` method; `None` signs whole files.
    pub shard_size: Option<u64>,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
            allow_symlinks: false,
            hash_type: HashType::Sha256,
            shard_size: None,
        }
    }
}

/// One way in which the model differs from its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Digest {
        file: String,
        algorithm: String,
        expected: String,
        found: String,
    },
    Algorithm {
        file: String,
        expected: String,
        found: String,
    },
    /// Present in the model, absent from the signature.
    Unsigned { file: String },
    /// Signed, absent from the model.
    Missing { file: String },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Digest {
                file,
                algorithm,
                expected,
                found,
            } => {
                write!(f, "{file}: {algorithm} expected {expected} found {found}")
            }
            Mismatch::Algorithm { file, expected, found } => {
                write!(f, "{file}: digest algorithm expected {expected} found {found}")
            }
            Mismatch::Unsigned { file } => write!(f, "file {file} is not signed"),
            Mismatch::Missing { file } => write!(f, "file {file} is signed but missing"),
        }
    }
}

fn join_mismatches(m: &[Mismatch]) -> String {
    m.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum OmsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("signature bundle: {field}: {reason}")]
    Bundle { field: String, reason: String },
    #[error("signature bundle: mediaType {found:?} is not accepted (expected one of {accepted:?})")]
    MediaType { found: String, accepted: Vec<String> },
    #[error("DSSE envelope: payloadType expected {expected:?} found {found:?}")]
    PayloadType { expected: String, found: String },
    #[error("DSSE payload: {field}: {reason}")]
    Payload { field: String, reason: String },
    #[error(
        "DSSE payload: predicateType {PREDICATE_TYPE_V0_2} (model_signing 0.2) is refused unless legacy v0.2 signatures are allowed"
    )]
    LegacyNotAllowed,
    #[error("DSSE payload: subject digest expected {expected} (signed) found {found} (over the resources)")]
    RootDigest { expected: String, found: String },
    #[error("signature: {0}")]
    Signature(String),
    #[error(
        "signature bundle: verificationMaterial.publicKey.hint expected {expected} (sha256 of the given public key) found {found}"
    )]
    KeyHint { expected: String, found: String },
    #[error("key: {0}")]
    Key(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("Sigstore: {0}")]
    Sigstore(#[source] crate::sigstore::SigstoreError),
    #[error("{}: is a symlink (symlinks are refused unless allowed)", path.display())]
    Symlink { path: PathBuf },
    #[error("{}: {reason}", path.display())]
    BadPath { path: PathBuf, reason: String },
    #[error("model does not match its signature: {}", join_mismatches(.0))]
    Mismatch(Vec<Mismatch>),
    #[error("signing: {0}")]
    Sign(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OmsError + '_ {
    move |source| OmsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Verify a bundle's signature and decode what it signs, without hashing anything.
pub fn verify_bundle_manifest(
    bundle_json: &[u8],
    verifier: &Verifier,
    opts: &VerifyOptions,
) -> Result<SignedManifest, OmsError> {
    let bundle = bundle::Bundle::parse(bundle_json)?;
    // A 0.2 signature fails the v1 PAE; say why rather than "does not verify".
    let legacy_refused = |e: OmsError| match e {
        OmsError::Signature(_) if !opts.allow_legacy_v0_2 && manifest::is_v0_2(&bundle.payload) => {
            OmsError::LegacyNotAllowed
        }
        e => e,
    };
    let trust = sealrun_policy::trust::Trust {
        media_types: opts.media_types.clone(),
        ..sealrun_policy::trust::Trust::default()
    };
    if !trust.accepts_media_type(&bundle.media_type) {
        return Err(OmsError::MediaType {
            found: bundle.media_type.clone(),
            accepted: opts.media_types.clone(),
        });
    }
    let (method, signer, legacy_pae, signed_at, payload_type, payload) = match verifier {
        Verifier::Key { public_key_pem } => {
            let key = key::EcPublicKey::from_pem(public_key_pem)?;
            let legacy = bundle::verify_with_key(&bundle, &key, opts.allow_legacy_v0_2).map_err(legacy_refused)?;
            let signer = format!("key sha256:{}", key.pem_sha256_hex());
            (
                Method::Key,
                signer,
                legacy,
                None,
                bundle.payload_type.clone(),
                bundle.payload.clone(),
            )
        }
        Verifier::Certificate { ca_pems } => {
            let chain = bundle.certificates()?;
            let leaf = certificate::verify_chain(&chain, ca_pems)?;
            let legacy =
                bundle::verify_with_certificate(&bundle, &leaf.key, opts.allow_legacy_v0_2).map_err(legacy_refused)?;
            (
                Method::Certificate,
                leaf.description,
                legacy,
                None,
                bundle.payload_type.clone(),
                bundle.payload.clone(),
            )
        }
        Verifier::Sigstore {
            identity,
            issuer,
            trusted_root,
        } => {
            let trust_defaults = sealrun_policy::trust::Trust::default();
            let policy = crate::sigstore::SigstorePolicy {
                identity,
                issuer,
                trusted_root,
                require_tlog: trust_defaults.require_tlog,
                require_timestamp: trust_defaults.require_timestamp,
            };
            let artifact = crate::sigstore::Artifact::Dsse;
            let vb = if trusted_root.as_os_str().is_empty() {
                let root = crate::sigstore::embedded_production_root();
                crate::sigstore::verify_bundle_with_root(bundle_json, artifact, &policy, &root)
            } else {
                crate::sigstore::verify_bundle(bundle_json, artifact, &policy)
            }
            .map_err(OmsError::Sigstore)?;
            let payload_type = vb.payload_type.ok_or_else(|| OmsError::Bundle {
                field: "dsseEnvelope".into(),
                reason: "Sigstore verification returned no DSSE payload type".into(),
            })?;
            let payload = vb.payload.ok_or_else(|| OmsError::Bundle {
                field: "dsseEnvelope".into(),
                reason: "Sigstore verification returned no DSSE payload".into(),
            })?;
            let signer = format!("{} (issuer {})", vb.identity, vb.issuer);
            (Method::Sigstore, signer, false, vb.signed_at, payload_type, payload)
        }
    };
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(OmsError::PayloadType {
            expected: IN_TOTO_PAYLOAD_TYPE.into(),
            found: payload_type,
        });
    }
    let m = manifest::parse_payload(&payload, opts.allow_legacy_v0_2)?;
    if legacy_pae && !m.legacy_v0_2 {
        // The legacy PAE exists only for 0.2 signatures; a v1 payload must use the real PAE.
        return Err(OmsError::Signature(
            "a v1.0 payload signed with the legacy (v0.2) PAE".into(),
        ));
    }
    Ok(SignedManifest {
        method,
        signer,
        model_name: m.model_name,
        serialization: m.serialization,
        root_digest: m.root_digest,
        resources: m.resources,
        legacy_v0_2: m.legacy_v0_2,
        signed_at,
    })
}

/// Verify the signature at `bundle_path` and that `model_dir` (a directory, or a single file)
/// is exactly what it signs.
pub fn verify_model(
    model_dir: &Path,
    bundle_path: &Path,
    verifier: &Verifier,
    opts: &VerifyOptions,
) -> Result<VerifiedModel, OmsError> {
    let bundle_json = std::fs::read(bundle_path).map_err(io_err(bundle_path))?;
    let signed = verify_bundle_manifest(&bundle_json, verifier, opts)?;

    let mut ignore: Vec<PathBuf> = opts.ignore_paths.clone();
    ignore.extend(signed.serialization.ignore_paths.iter().map(PathBuf::from));
    ignore.extend(DEFAULT_IGNORED_PATHS.iter().map(PathBuf::from));
    if let Some(rel) = hashing::relative_to_model(model_dir, bundle_path) {
        ignore.push(rel);
    }
    let cfg = hashing::HashConfig {
        hash_type: signed.serialization.hash_type,
        shard_size: match signed.serialization.method {
            SerializationMethod::Files => None,
            SerializationMethod::Shards { shard_size } => Some(shard_size),
        },
        allow_symlinks: opts.allow_symlinks,
        ignore: hashing::normalize_ignores(&ignore),
        progress: opts.progress.clone(),
    };
    let files = if opts.ignore_unsigned_files {
        hashing::signed_files(model_dir, &cfg, &signed.resources)?
    } else {
        hashing::list_files(model_dir, &cfg)?
    };
    let actual = hashing::hash_model(model_dir, &files, &cfg)?;
    let mut mismatches = Vec::new();

    let mut expected: BTreeMap<&str, &Resource> = BTreeMap::new();
    for r in &signed.resources {
        expected.insert(r.name.as_str(), r);
    }
    let shown = |name: &str| hashing::display_name(model_dir, name);
    for (name, (alg, digest)) in &actual {
        match expected.get(name.as_str()) {
            // With `ignore_unsigned_files` only signed files were hashed, so anything unexpected
            // here is a shard a signed file grew: never ignored.
            None => mismatches.push(Mismatch::Unsigned { file: shown(name) }),
            Some(r) if r.algorithm != *alg => mismatches.push(Mismatch::Algorithm {
                file: shown(name),
                expected: r.algorithm.clone(),
                found: alg.clone(),
            }),
            Some(r) if r.digest != *digest => mismatches.push(Mismatch::Digest {
                file: shown(name),
                algorithm: alg.clone(),
                expected: r.digest.clone(),
                found: digest.clone(),
            }),
            Some(_) => {}
        }
    }
    for name in expected.keys() {
        if !actual.contains_key(*name) {
            mismatches.push(Mismatch::Missing { file: shown(name) });
        }
    }
    if !mismatches.is_empty() {
        return Err(OmsError::Mismatch(mismatches));
    }
    Ok(VerifiedModel {
        method: signed.method,
        signer: signed.signer,
        root_digest: signed.root_digest,
        resources: signed
            .resources
            .into_iter()
            .map(|r| (r.name, (r.algorithm, r.digest)))
            .collect(),
    })
}

/// Hash `model_dir` and sign it; returns the bundle JSON (write it where you like: a signature
/// file inside the model directory must be listed in `opts.ignore_paths`).
pub fn sign_model(model_dir: &Path, signer: &Signer, opts: &SignOptions) -> Result<Vec<u8>, OmsError> {
    sign::sign_model(model_dir, signer, opts)
}
