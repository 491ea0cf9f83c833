//! `sealrun policy …`: the security team's tools for the policy document. One file per
//! verb; each loads the policy (a path or `library:NAME`) with the same loader the
//! runtime uses, so what is linted is exactly what is enforced.

pub mod diff;
pub mod digest;
pub mod explain;
pub mod lint;
pub mod schema;
pub mod test;

use anyhow::Context;
use sealrun_policy::Policy;

#[derive(clap::Subcommand)]
pub enum Verb {
    /// Validate a policy and warn about risky grants
    Lint(lint::Args),
    /// Say what a policy lets the workload do, in plain words or JSON
    Explain(explain::Args),
    /// Print the policy's canonical digest (sha256 over RFC 8785 JSON)
    Digest(digest::Args),
    /// Print the JSON Schema of the policy document
    Schema,
    /// Run table tests (and report Rego tests) against a policy
    Test(test::Args),
    /// Say what changing policy A into B grants or removes
    Diff(diff::Args),
}

pub fn run(v: Verb) -> anyhow::Result<i32> {
    match v {
        Verb::Lint(a) => lint::run(a),
        Verb::Explain(a) => explain::run(a),
        Verb::Digest(a) => digest::run(a),
        Verb::Schema => schema::run(),
        Verb::Test(a) => test::run(a),
        Verb::Diff(a) => diff::run(a),
    }
}

/// Load a policy from a path or `library:NAME`.
pub fn load(reference: &str) -> anyhow::Result<Policy> {
    Policy::load_reference(reference).with_context(|| format!("policy {reference}"))
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}
