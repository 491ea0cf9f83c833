#[derive(clap::Args)]
pub struct Args {
    /// Policy file or library:NAME
    pub policy: String,
    #[arg(long, value_enum, default_value = "text")]
    pub output: super::Output,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let e = sealrun_policy::explain(&super::load(&a.policy)?);
    match a.output {
        super::Output::Json => println!("{}", serde_json::to_string_pretty(&e)?),
        super::Output::Text => print!("{}", e.to_text()),
    }
    Ok(0)
}
