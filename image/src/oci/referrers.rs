//! OCI 1.1 referrers in a layout: every manifest reachable from `index.json` whose
//! `subject.digest` is the target, plus cosign's tag scheme (`sha256-<hex>.sig`), each
//! classified and returned with its payload layers' bytes (verified).

use std::collections::HashSet;

use oci_spec::image::Descriptor;

use super::error::OciError;
use super::layout::{descriptor_digest, is_manifest_type, ref_name, BlobDigest, ManifestBlob, OciLayout};

pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const SIGSTORE_BUNDLE_V03_PARAM: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
pub const COSIGN_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const COSIGN_SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";
pub const SPDX_JSON: &str = "application/spdx+json";
pub const SPDX_JSON_TEXT: &str = "text/spdx+json";
pub const IN_TOTO_JSON: &str = "application/vnd.in-toto+json";

/// Payloads are signatures, bundles and SBOMs: held in memory, so bounded.
pub const MAX_PAYLOAD_BYTES: u64 = 64 << 20;

/// What a referrer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferrerKind {
    SigstoreBundle,
    CosignSignature,
    CycloneDx,
    Spdx,
    InToto,
    Unknown,
}

/// How a referrer was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// `subject.digest` equals the target.
    Subject,
    /// Tagged `sha256-<hex>.sig` in `index.json` (cosign without the referrers API).
    CosignTag,
}

/// One payload layer, read and verified.
#[derive(Clone, Debug)]
pub struct Payload {
    pub descriptor: Descriptor,
    /// The layer's media type as written (the policy decides which ones it accepts: the
    /// media type is not signed).
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// A referrer of the target manifest.
#[derive(Clone, Debug)]
pub struct Referrer {
    pub manifest: ManifestBlob,
    /// `artifactType`, else the config media type.
    pub artifact_type: String,
    pub kind: ReferrerKind,
    pub found_by: FoundBy,
    /// The layers whose media type matches `kind`, in layer order.
    pub payloads: Vec<Payload>,
}

/// Lower-case, without blanks around `;` parameters, so `…bundle+json; version=0.3` matches.
fn normalise(media_type: &str) -> String {
    media_type
        .split(';')
        .map(|p| p.trim().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(";")
}

/// The kind a media type (artifact or layer) stands for.
pub fn classify_media_type(media_type: &str) -> ReferrerKind {
    match normalise(media_type).as_str() {
        SIGSTORE_BUNDLE_V03 | SIGSTORE_BUNDLE_V03_PARAM => ReferrerKind::SigstoreBundle,
        COSIGN_SIMPLE_SIGNING => ReferrerKind::CosignSignature,
        CYCLONEDX_JSON => ReferrerKind::CycloneDx,
        SPDX_JSON | SPDX_JSON_TEXT => ReferrerKind::Spdx,
        IN_TOTO_JSON => ReferrerKind::InToto,
        _ => ReferrerKind::Unknown,
    }
}

fn is_empty_config(media_type: &str) -> bool {
    media_type == "application/vnd.oci.empty.v1+json"
}

/// Classify a referrer manifest: its artifact type first, then its layers. A cosign
/// signature layer counts only with its signature annotation.
pub fn classify(manifest: &ManifestBlob) -> (String, ReferrerKind) {
    let m = &manifest.manifest;
    let config = m.config().media_type().to_string();
    let artifact_type = match m.artifact_type() {
        Some(a) => a.to_string(),
        None if !is_empty_config(&config) => config,
        None => String::new(),
    };
    let mut kind = classify_media_type(&artifact_type);
    if kind == ReferrerKind::Unknown {
        kind = m
            .layers()
            .iter()
            .map(|l| classify_media_type(l.media_type().as_ref()))
            .find(|k| *k != ReferrerKind::Unknown)
            .unwrap_or(ReferrerKind::Unknown);
    }
    (artifact_type, kind)
}

fn has_cosign_signature(layer: &Descriptor) -> bool {
    layer
        .annotations()
        .as_ref()
        .is_some_and(|a| a.contains_key(COSIGN_SIGNATURE_ANNOTATION))
}

/// The cosign tag for a manifest digest: `sha256:<hex>` → `sha256-<hex>.sig`.
pub fn cosign_signature_tag(digest: &BlobDigest) -> String {
    format!("{}-{}.sig", digest.algorithm().name(), digest.hex())
}

/// All referrers of `target` (a manifest digest) in the layout, with their payloads read.
pub fn referrers(layout: &OciLayout, target: &str) -> Result<Vec<Referrer>, OciError> {
    let target = BlobDigest::parse(target, "referrers target")?;
    let target_str = target.to_string();
    let sig_tag = cosign_signature_tag(&target);

    // Manifests tagged with cosign's signature tag for this target.
    let mut tagged: HashSet<String> = HashSet::new();
    for desc in layout.descriptors()? {
        if !is_manifest_type(desc.media_type().as_ref()) {
            continue;
        }
        if ref_name(&desc) == Some(sig_tag.as_str()) {
            tagged.insert(descriptor_digest(&desc, "index.json descriptor")?.to_string());
        }
    }

    let mut out = Vec::new();
    for manifest in layout.manifests()? {
        let key = manifest.digest.to_string();
        let by_subject = manifest
            .manifest
            .subject()
            .as_ref()
            .is_some_and(|s| s.digest().to_string() == target_str);
        let found_by = if by_subject {
            FoundBy::Subject
        } else if tagged.contains(&key) {
            FoundBy::CosignTag
        } else {
            continue;
        };
        out.push(referrer(layout, manifest, found_by)?);
    }
    Ok(out)
}

fn referrer(layout: &OciLayout, manifest: ManifestBlob, found_by: FoundBy) -> Result<Referrer, OciError> {
    let (artifact_type, mut kind) = classify(&manifest);
    if found_by == FoundBy::CosignTag && kind == ReferrerKind::Unknown {
        kind = ReferrerKind::CosignSignature;
    }
    let mut payloads = Vec::new();
    if kind != ReferrerKind::Unknown {
        for layer in manifest.manifest.layers() {
            let media_type = layer.media_type().to_string();
            if classify_media_type(&media_type) != kind {
                continue;
            }
            if kind == ReferrerKind::CosignSignature && !has_cosign_signature(layer) {
                continue;
            }
            let bytes = layout.read_blob(layer, MAX_PAYLOAD_BYTES)?;
            payloads.push(Payload {
                descriptor: layer.clone(),
                media_type,
                bytes,
            });
        }
    }
    Ok(Referrer {
        manifest,
        artifact_type,
        kind,
        found_by,
        payloads,
    })
}
