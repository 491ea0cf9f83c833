use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use sealrun_sandbox::oci_spec::runtime::LinuxResources;

use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// JSON LinuxResources from a file, or "-" for stdin
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g accepted)
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Accepted for runc compatibility; kernel memory limits are not supported
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    /// Container id
    pub id: String,
}

fn bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let (num, mul) = match t.trim_end_matches('b').chars().last() {
        Some('k') => (&t[..t.find('k').unwrap()], 1024),
        Some('m') => (&t[..t.find('m').unwrap()], 1024 * 1024),
        Some('g') => (&t[..t.find('g').unwrap()], 1024 * 1024 * 1024),
        _ => (t.trim_end_matches('b'), 1),
    };
    let n: i64 = num
        .parse()
        .with_context(|| format!("expected a size such as 512m, found {s:?}"))?;
    Ok(n * mul)
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let mut v: serde_json::Value = match &a.resources {
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading resources from stdin")?;
            serde_json::from_str(&s).context("--resources -: not a JSON LinuxResources object")?
        }
        Some(p) => {
            let s = std::fs::read_to_string(p).with_context(|| format!("--resources {}", p.display()))?;
            serde_json::from_str(&s)
                .with_context(|| format!("--resources {}: not a JSON LinuxResources object", p.display()))?
        }
        None => serde_json::json!({}),
    };
    let mut set = |ptr: &str, val: serde_json::Value| {
        let mut cur = &mut v;
        for part in ptr.split('/').filter(|p| !p.is_empty()) {
            if !cur.is_object() {
                *cur = serde_json::json!({});
            }
            cur = cur
                .as_object_mut()
                .unwrap()
                .entry(part)
                .or_insert(serde_json::Value::Null);
        }
        *cur = val;
    };
    if let Some(x) = a.blkio_weight {
        set("blockIO/weight", x.into());
    }
    if let Some(x) = a.cpu_period {
        set("cpu/period", x.into());
    }
    if let Some(x) = a.cpu_quota {
        set("cpu/quota", x.into());
    }
    if let Some(x) = a.cpu_share {
        set("cpu/shares", x.into());
    }
    if let Some(x) = a.cpu_rt_period {
        set("cpu/realtimePeriod", x.into());
    }
    if let Some(x) = a.cpu_rt_runtime {
        set("cpu/realtimeRuntime", x.into());
    }
    if let Some(x) = &a.cpuset_cpus {
        set("cpu/cpus", x.clone().into());
    }
    if let Some(x) = &a.cpuset_mems {
        set("cpu/mems", x.clone().into());
    }
    if let Some(x) = &a.memory {
        set("memory/limit", bytes(x)?.into());
    }
    if let Some(x) = &a.memory_reservation {
        set("memory/reservation", bytes(x)?.into());
    }
    if let Some(x) = &a.memory_swap {
        set("memory/swap", bytes(x)?.into());
    }
    if let Some(x) = a.pids_limit {
        set("pids/limit", x.into());
    }
    if a.kernel_memory.is_some() {
        tracing::warn!("update: --kernel-memory is not supported (deprecated in the kernel); ignored");
    }
    let r: LinuxResources = serde_json::from_value(v).context("resources: not a valid LinuxResources object")?;
    sealrun_sandbox::container::update::update(&g.runtime, &a.id, &r)?;
    Ok(0)
}
