#[derive(clap::Args)]
pub struct Args {
    /// The policy before the change (file or library:NAME)
    pub old: String,
    /// The policy after the change
    pub new: String,
    #[arg(long, value_enum, default_value = "text")]
    pub output: super::Output,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let changes = sealrun_policy::diff(&super::load(&a.old)?, &super::load(&a.new)?);
    match a.output {
        super::Output::Json => println!("{}", serde_json::to_string_pretty(&changes)?),
        super::Output::Text if changes.is_empty() => println!("no change"),
        super::Output::Text => print!("{}", sealrun_policy::diff_to_text(&changes)),
    }
    Ok(0)
}
