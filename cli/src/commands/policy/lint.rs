#[derive(clap::Args)]
pub struct Args {
    /// Policy file or library:NAME
    pub policy: String,
    /// Exit non-zero on warnings too
    #[arg(long)]
    pub strict: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub output: super::Output,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let p = super::load(&a.policy)?;
    let warnings = sealrun_policy::lint(&p);
    if a.output == super::Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "policy": a.policy, "digest": p.digest(), "valid": true, "warnings": warnings
            }))?
        );
    } else {
        for w in &warnings {
            println!("warning: {}: {}", w.key, w.message);
        }
        println!("{}: valid, {} warning(s), {}", a.policy, warnings.len(), p.digest());
    }
    Ok(if a.strict && !warnings.is_empty() { 1 } else { 0 })
}
