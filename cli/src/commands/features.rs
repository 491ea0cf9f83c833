pub fn run() -> anyhow::Result<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&sealrun_sandbox::features::features())?
    );
    Ok(0)
}
