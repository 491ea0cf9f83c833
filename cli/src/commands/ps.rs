use anyhow::bail;

use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Container id
    pub id: String,
    /// Accepted for runc compatibility (runc passes them to ps(1)); ignored
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let pids = sealrun_sandbox::container::ps::pids(&g.runtime, &a.id)?;
    if a.format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    if !a.ps_args.is_empty() {
        bail!("ps: options for ps(1) are not supported; use --format json or the default table");
    }
    println!("{:>8} {:>8} {:>6}  CMD", "PID", "PPID", "STAT");
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rfind(')').map(|i| &stat[i + 2..]).unwrap_or("");
        let mut f = after.split(' ');
        let state = f.next().unwrap_or("?");
        let ppid = f.next().unwrap_or("?");
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim().to_string())
            .unwrap_or_default();
        println!("{pid:>8} {ppid:>8} {state:>6}  {cmd}");
    }
    Ok(0)
}
