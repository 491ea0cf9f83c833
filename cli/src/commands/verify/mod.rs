//! `sealrun verify …`: the supply-chain gate's checks, by hand. Exit status is the verdict
//! (0 verified, 1 refused), the reason on stderr.

pub mod blob;
pub mod image;
pub mod model;
pub mod sbom;

#[derive(clap::Subcommand)]
pub enum Verb {
    /// Verify an OpenSSF model signature over a model directory
    Model(model::Args),
    /// Verify a Sigstore bundle over a file or a sha256 digest
    Blob(blob::Args),
    /// Verify an OCI model image (signature + SBOM) against a policy
    Image(image::Args),
    /// Check an SBOM against a policy's [sbom] section
    Sbom(sbom::Args),
}

pub fn run(v: Verb) -> anyhow::Result<i32> {
    match v {
        Verb::Model(a) => model::run(a),
        Verb::Blob(a) => blob::run(a),
        Verb::Image(a) => image::run(a),
        Verb::Sbom(a) => sbom::run(a),
    }
}
