//! Model artifact media types: CNCF ModelPack, Docker model artifacts, KitOps ModelKits.
//!
//! [`model_files`] lists what a model manifest carries. For a `.raw` layer the layer is the
//! file itself, so its digest is the file's sha256: the gate compares it with the OMS
//! manifest's resource digest instead of hashing the file a second time.

use oci_spec::image::{Descriptor, ImageManifest};

// CNCF ModelPack (model-spec).
pub const MODELPACK_ARTIFACT: &str = "application/vnd.cncf.model.manifest.v1+json";
pub const MODELPACK_CONFIG: &str = "application/vnd.cncf.model.config.v1+json";
const MODELPACK_PREFIX: &str = "application/vnd.cncf.model.";
/// ModelPack's layer annotation for the file path (and the pre-CNCF spelling).
pub const ANNOTATION_FILEPATH: &str = "org.cncf.model.filepath";
pub const ANNOTATION_FILEPATH_CNAI: &str = "org.cnai.model.filepath";
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";

// Docker model artifacts (docker model package / model-runner).
pub const DOCKER_MODEL_CONFIG: &str = "application/vnd.docker.ai.model.config.v0.1+json";
pub const DOCKER_GGUF: &str = "application/vnd.docker.ai.gguf.v3";
pub const DOCKER_LICENSE: &str = "application/vnd.docker.ai.license";
const DOCKER_PREFIX: &str = "application/vnd.docker.ai.";

// KitOps ModelKits.
pub const KITOPS_ARTIFACT: &str = "application/vnd.kitops.modelkit.manifest.v1+json";
pub const KITOPS_CONFIG: &str = "application/vnd.kitops.modelkit.config.v1+json";
const KITOPS_PREFIX: &str = "application/vnd.kitops.modelkit.";

/// Which model packaging a manifest follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactFormat {
    ModelPack,
    DockerModel,
    KitOps,
    /// Not a model manifest we know.
    Unknown,
}

/// How a layer's bytes map to files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// The layer is the file itself, written at the annotated path.
    Raw,
    Tar,
    TarGzip,
    TarZstd,
}

/// What a layer holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Weights (ModelPack `weight`, Docker `gguf`/`safetensors`, KitOps `model`/`modelpart`).
    Weight,
    /// Files that configure the weights (ModelPack `weight.config`: tokenizer, config.json).
    WeightConfig,
    Doc,
    Code,
    Dataset,
    License,
    /// A kind this module does not name; the string is the media type's kind part.
    Other(String),
}

/// One file (or tarball of files) of a model artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFile {
    /// The annotated path (`org.cncf.model.filepath`, else `org.opencontainers.image.title`):
    /// the file for `.raw` layers, the layer's name for tarballs. `None` when unannotated.
    pub path: Option<String>,
    /// The layer digest (`sha256:…`); for `.raw` layers also the file's digest.
    pub digest: String,
    pub size: u64,
    pub kind: FileKind,
    pub compression: Compression,
    pub media_type: String,
}

/// The packaging a manifest follows, from its `artifactType` or config media type.
pub fn artifact_format(manifest: &ImageManifest) -> ArtifactFormat {
    let artifact = manifest.artifact_type().as_ref().map(|m| m.to_string());
    let config = manifest.config().media_type().to_string();
    let either = |a: &str, c: &str| artifact.as_deref() == Some(a) || config == c;
    if either(MODELPACK_ARTIFACT, MODELPACK_CONFIG) {
        ArtifactFormat::ModelPack
    } else if config.starts_with("application/vnd.docker.ai.model.config.") {
        ArtifactFormat::DockerModel
    } else if either(KITOPS_ARTIFACT, KITOPS_CONFIG) {
        ArtifactFormat::KitOps
    } else {
        ArtifactFormat::Unknown
    }
}

/// Kind and compression of one layer media type, if it is a model layer we know.
pub fn classify_layer(media_type: &str) -> Option<(FileKind, Compression)> {
    if let Some(rest) = media_type.strip_prefix(MODELPACK_PREFIX) {
        // `<kind>.v1.<format>`, the kind possibly dotted (`weight.config`).
        let (kind, format) = rest.split_once(".v1.")?;
        let compression = tar_format(format)?;
        let kind = match kind {
            "weight" => FileKind::Weight,
            "weight.config" => FileKind::WeightConfig,
            "doc" => FileKind::Doc,
            "code" => FileKind::Code,
            "dataset" => FileKind::Dataset,
            other => FileKind::Other(other.to_string()),
        };
        return Some((kind, compression));
    }
    if let Some(rest) = media_type.strip_prefix(KITOPS_PREFIX) {
        // `<kind>.v1.tar[+gzip|+zstd]`; the config is JSON, not a layer.
        let (kind, format) = rest.split_once(".v1.")?;
        let compression = match tar_format(format)? {
            Compression::Raw => return None,
            c => c,
        };
        let kind = match kind {
            "model" | "modelpart" => FileKind::Weight,
            "docs" => FileKind::Doc,
            "code" => FileKind::Code,
            "dataset" => FileKind::Dataset,
            other => FileKind::Other(other.to_string()),
        };
        return Some((kind, compression));
    }
    if let Some(rest) = media_type.strip_prefix(DOCKER_PREFIX) {
        // Docker's model layers: single files (`gguf.v3`, `license`, `safetensors`,
        // `mmproj`, …; older `model.file.v1+gguf`) and config tarballs (`….config.tar`).
        if rest.starts_with("model.config.") {
            return None;
        }
        let compression = if rest.ends_with(".tar") {
            Compression::Tar
        } else {
            Compression::Raw
        };
        let kind = if rest.contains("gguf") || rest.contains("safetensors") {
            FileKind::Weight
        } else if rest.starts_with("license") {
            FileKind::License
        } else if rest.contains("config") {
            FileKind::WeightConfig
        } else {
            FileKind::Other(rest.to_string())
        };
        return Some((kind, compression));
    }
    None
}

fn tar_format(format: &str) -> Option<Compression> {
    match format {
        "raw" => Some(Compression::Raw),
        "tar" => Some(Compression::Tar),
        "tar+gzip" => Some(Compression::TarGzip),
        "tar+zstd" => Some(Compression::TarZstd),
        _ => None,
    }
}

/// The path annotation of a layer.
pub fn layer_path(layer: &Descriptor) -> Option<String> {
    let annotations = layer.annotations().as_ref()?;
    [ANNOTATION_FILEPATH, ANNOTATION_FILEPATH_CNAI, ANNOTATION_TITLE]
        .iter()
        .find_map(|k| annotations.get(*k).cloned())
}

/// The model files of a manifest, in layer order; layers that are not model layers (an
/// unknown media type) are left out.
pub fn model_files(manifest: &ImageManifest) -> Vec<ModelFile> {
    manifest
        .layers()
        .iter()
        .filter_map(|layer| {
            let media_type = layer.media_type().to_string();
            let (kind, compression) = classify_layer(&media_type)?;
            Some(ModelFile {
                path: layer_path(layer),
                digest: layer.digest().to_string(),
                size: layer.size(),
                kind,
                compression,
                media_type,
            })
        })
        .collect()
}
