pub fn run() -> anyhow::Result<i32> {
    println!("{}", serde_json::to_string_pretty(&sealrun_policy::json_schema())?);
    Ok(0)
}
