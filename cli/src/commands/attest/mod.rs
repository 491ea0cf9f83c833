//! `sealrun attest …`: the operator's attestation tools.

pub mod audit;
pub mod bench;
pub mod evidence;
pub mod request;
pub mod verify;

#[derive(clap::Subcommand)]
pub enum Verb {
    /// Collect evidence from this machine's TEE (`--tee dev` for the software TEE)
    Evidence(evidence::Args),
    /// Verify and appraise evidence offline; exit status is the verdict
    Verify(verify::Args),
    /// Attest to a broker and receive a resource (the full client flow)
    Request(request::Args),
    /// Audit log tools
    Audit(audit::Args),
    /// Load-test a broker with concurrent full flows (dev evidence); throughput and latency
    Bench(bench::Args),
}

pub fn run(v: Verb) -> anyhow::Result<i32> {
    match v {
        Verb::Evidence(a) => evidence::run(a),
        Verb::Verify(a) => verify::run(a),
        Verb::Request(a) => request::run(a),
        Verb::Audit(a) => audit::run(a),
        Verb::Bench(a) => bench::run(a),
    }
}
