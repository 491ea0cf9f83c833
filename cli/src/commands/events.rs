use std::time::Duration;

use anyhow::bail;

use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Print statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between statistics (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id
    pub id: String,
}

fn duration(s: &str) -> anyhow::Result<Duration> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = n
        .parse()
        .map_err(|_| anyhow::anyhow!("--interval: expected e.g. 5s or 500ms, found {s:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => bail!("--interval: expected a unit ms, s or m, found {unit:?}"),
    })
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    if a.stats {
        println!("{}", sealrun_sandbox::container::events::stats_json(&g.runtime, &a.id)?);
        return Ok(0);
    }
    let interval = duration(&a.interval)?;
    sealrun_sandbox::container::events::stream(&g.runtime, &a.id, interval, &mut std::io::stdout())?;
    Ok(0)
}
