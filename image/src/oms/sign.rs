//! Signing a model with a key or a certificate, as `model_signing sign key|certificate` does.

use std::path::{Path, PathBuf};

use serde_json::json;
use x509_cert::der::{Decode, Encode};

use super::bundle::{b64_encode, pae, write_bundle};
use super::hashing::{hash_for_signing, normalize_ignores, HashConfig};
use super::key::{EcPrivateKey, EcPublicKey};
use super::manifest::{build_payload, HashType, Serialization, SerializationMethod};
use super::{certificate, OmsError, SignOptions, Signer, DEFAULT_IGNORED_PATHS, IN_TOTO_PAYLOAD_TYPE};

fn serr(s: impl Into<String>) -> OmsError {
    OmsError::Sign(s.into())
}

pub(crate) fn sign_model(model: &Path, signer: &Signer, opts: &SignOptions) -> Result<Vec<u8>, OmsError> {
    // Load the key material first: a bad key should not cost a hash of the model.
    let (key, material) = match signer {
        Signer::Key { private_key_pem } => {
            let key = EcPrivateKey::from_pem(private_key_pem)?;
            let hint = key.public_key().pem_sha256_hex();
            (key, json!({ "publicKey": { "hint": hint } }))
        }
        Signer::Certificate {
            private_key_pem,
            cert_chain_pems,
        } => {
            let key = EcPrivateKey::from_pem(private_key_pem)?;
            let certs = certificate::load_pems(cert_chain_pems, "certificate chain file")?;
            let leaf = certs.first().ok_or_else(|| serr("no signing certificate"))?;
            let der = leaf.to_der().map_err(|e| serr(format!("signing certificate: {e}")))?;
            let leaf_key = leaf_public_key(&der)?;
            if leaf_key.to_pem() != key.public_key().to_pem() {
                return Err(serr("the signing certificate's public key is not the private key's"));
            }
            let mut raw = Vec::new();
            for c in &certs {
                let der = c.to_der().map_err(|e| serr(format!("certificate: {e}")))?;
                raw.push(json!({ "rawBytes": b64_encode(&der) }));
            }
            (key, json!({ "x509CertificateChain": { "certificates": raw } }))
        }
    };

    if opts.hash_type == HashType::Blake3 && opts.shard_size.is_some() {
        return Err(serr(
            "blake3 hashes whole files (the reference switches to the files method): drop the shard size",
        ));
    }
    if opts.shard_size == Some(0) {
        return Err(serr("shard size must be positive"));
    }
    let mut ignore: Vec<PathBuf> = opts.ignore_paths.clone();
    if opts.ignore_git_paths {
        ignore.extend(DEFAULT_IGNORED_PATHS.iter().map(PathBuf::from));
    }
    let ignore = normalize_ignores(&ignore);
    let cfg = HashConfig {
        hash_type: opts.hash_type,
        shard_size: opts.shard_size,
        allow_symlinks: opts.allow_symlinks,
        ignore: ignore.clone(),
        progress: None,
    };
    let resources = hash_for_signing(model, &cfg)?;
    let serialization = Serialization {
        method: match opts.shard_size {
            None => SerializationMethod::Files,
            Some(shard_size) => SerializationMethod::Shards { shard_size },
        },
        hash_type: opts.hash_type,
        allow_symlinks: opts.allow_symlinks,
        ignore_paths: ignore.iter().map(|c| c.join("/")).collect(),
    };
    let payload = build_payload(&model_name(model)?, &serialization, &resources);
    let sig = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload));
    Ok(write_bundle(material, &payload, &sig))
}

fn leaf_public_key(der: &[u8]) -> Result<EcPublicKey, OmsError> {
    let c = x509_cert::Certificate::from_der(der).map_err(|e| serr(format!("signing certificate: {e}")))?;
    let spki_der = c
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| serr(format!("signing certificate key: {e}")))?;
    let spki = x509_cert::spki::SubjectPublicKeyInfoRef::from_der(&spki_der)
        .map_err(|e| serr(format!("signing certificate key: {e}")))?;
    EcPublicKey::from_spki(&spki)
}

/// The subject name: the model directory's (or file's) name, as the reference records it.
fn model_name(model: &Path) -> Result<String, OmsError> {
    let name = match model.file_name() {
        Some(n) => n.to_os_string(),
        None => model
            .canonicalize()
            .map_err(super::io_err(model))?
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default(),
    };
    name.into_string()
        .map_err(|_| serr(format!("{}: model name is not UTF-8", model.display())))
}
