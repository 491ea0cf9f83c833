//! Model media types: ModelPack, Docker model artifacts, KitOps ModelKits.

use sealrun_image::oci::media::{artifact_format, classify_layer, ArtifactFormat};
use sealrun_image::oci::{model_files, Compression, FileKind};

fn manifest(
    config: &str,
    artifact_type: Option<&str>,
    layers: &[(&str, Option<&str>)],
) -> oci_spec::image::ImageManifest {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .enumerate()
        .map(|(i, (media_type, path))| {
            let mut l = serde_json::json!({
                "mediaType": media_type,
                "digest": format!("sha256:{:064x}", i + 1),
                "size": 10 * (i + 1),
            });
            if let Some(p) = path {
                l["annotations"] = serde_json::json!({ "org.opencontainers.image.title": p });
            }
            l
        })
        .collect();
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": config, "digest": format!("sha256:{:064x}", 0), "size": 2 },
        "layers": layers,
    });
    if let Some(a) = artifact_type {
        m["artifactType"] = serde_json::json!(a);
    }
    serde_json::from_value(m).unwrap()
}

#[test]
fn modelpack_layer_types() {
    use Compression::*;
    for (media_type, kind, compression) in [
        ("application/vnd.cncf.model.weight.v1.raw", FileKind::Weight, Raw),
        ("application/vnd.cncf.model.weight.v1.tar", FileKind::Weight, Tar),
        (
            "application/vnd.cncf.model.weight.v1.tar+gzip",
            FileKind::Weight,
            TarGzip,
        ),
        (
            "application/vnd.cncf.model.weight.v1.tar+zstd",
            FileKind::Weight,
            TarZstd,
        ),
        (
            "application/vnd.cncf.model.weight.config.v1.raw",
            FileKind::WeightConfig,
            Raw,
        ),
        ("application/vnd.cncf.model.doc.v1.tar", FileKind::Doc, Tar),
        ("application/vnd.cncf.model.code.v1.tar+gzip", FileKind::Code, TarGzip),
        (
            "application/vnd.cncf.model.dataset.v1.tar+zstd",
            FileKind::Dataset,
            TarZstd,
        ),
    ] {
        assert_eq!(classify_layer(media_type), Some((kind, compression)), "{media_type}");
    }
    assert_eq!(classify_layer("application/vnd.cncf.model.weight.v1.tar+lz4"), None);
    assert_eq!(classify_layer("application/vnd.cncf.model.config.v1+json"), None);
    assert_eq!(classify_layer("application/octet-stream"), None);
}

#[test]
fn docker_model_artifact() {
    let m = manifest(
        "application/vnd.docker.ai.model.config.v0.1+json",
        None,
        &[
            ("application/vnd.docker.ai.gguf.v3", Some("model.gguf")),
            ("application/vnd.docker.ai.license", Some("LICENSE")),
            ("application/vnd.docker.ai.vllm.config.tar", None),
        ],
    );
    assert_eq!(artifact_format(&m), ArtifactFormat::DockerModel);
    let files = model_files(&m);
    assert_eq!(files.len(), 3);
    assert_eq!(files[0].kind, FileKind::Weight);
    assert_eq!(files[0].compression, Compression::Raw);
    assert_eq!(files[0].path.as_deref(), Some("model.gguf"));
    assert_eq!(files[0].size, 10);
    assert_eq!(files[1].kind, FileKind::License);
    assert_eq!(files[2].compression, Compression::Tar);
    assert_eq!(files[2].path, None);
}

#[test]
fn kitops_modelkit() {
    let m = manifest(
        "application/vnd.kitops.modelkit.config.v1+json",
        Some("application/vnd.kitops.modelkit.manifest.v1+json"),
        &[
            ("application/vnd.kitops.modelkit.model.v1.tar+gzip", None),
            ("application/vnd.kitops.modelkit.dataset.v1.tar", None),
            ("application/vnd.kitops.modelkit.code.v1.tar+zstd", None),
            ("application/vnd.kitops.modelkit.docs.v1.tar+gzip", None),
            ("application/vnd.example.unknown", None),
        ],
    );
    assert_eq!(artifact_format(&m), ArtifactFormat::KitOps);
    let files = model_files(&m);
    let got: Vec<_> = files.iter().map(|f| (f.kind.clone(), f.compression)).collect();
    assert_eq!(
        got,
        [
            (FileKind::Weight, Compression::TarGzip),
            (FileKind::Dataset, Compression::Tar),
            (FileKind::Code, Compression::TarZstd),
            (FileKind::Doc, Compression::TarGzip),
        ]
    );
}
