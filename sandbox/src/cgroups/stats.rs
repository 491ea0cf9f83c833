//! The statistics shape `runc events --stats` prints under `"data"`, so tools that parse
//! runc's output (containerd's runc shim, monitoring agents) read ours unchanged. Field
//! names and omission rules follow runc's `types/events.go` (`omitempty` there is
//! `skip_serializing_if` here). The cpuset, intel_rdt and network sections are not
//! collected.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::CgroupError;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    /// Keyed by page size as the kernel names it (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(rename = "percpu_kernel", skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(rename = "percpu_user", skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// One memory counter set, in bytes; a limit of "max" reads as `u64::MAX`, as in runc.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// Memory plus swap, on both backends (as v1's memsw counts it).
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// `memory.stat` as read.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct BlkioStats {
    #[serde(rename = "ioServiceBytesRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct HugetlbStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

fn maj_min(file: &Path, s: &str) -> Result<(u64, u64), CgroupError> {
    let bad = || CgroupError::Parse {
        file: file.to_path_buf(),
        expected: "a device as MAJOR:MINOR".into(),
        found: s.to_string(),
    };
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// Parses a v1 blkio recursive file: `MAJ:MIN Op value` lines and a closing
/// `Total value` line, which is skipped as runc does.
pub(crate) fn parse_blkio_v1(file: &Path, text: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [] | [_, _] => continue,
            [dev, op, value] => {
                let (major, minor) = maj_min(file, dev)?;
                out.push(BlkioEntry {
                    major,
                    minor,
                    op: op.to_string(),
                    value: super::fs::parse_u64(file, value)?,
                });
            }
            _ => {
                return Err(CgroupError::Parse {
                    file: file.to_path_buf(),
                    expected: "lines of the form `MAJ:MIN Op value`".into(),
                    found: line.to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// Parses v2 `io.stat` (`MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...`) into runc's v1
/// shape: bytes as ioServiceBytesRecursive, operations as ioServicedRecursive.
pub(crate) fn parse_io_stat(file: &Path, text: &str) -> Result<BlkioStats, CgroupError> {
    let mut out = BlkioStats::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (major, minor) = maj_min(file, it.next().unwrap_or_default())?;
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(CgroupError::Parse {
                    file: file.to_path_buf(),
                    expected: "key=value fields after the device".into(),
                    found: line.to_string(),
                });
            };
            let value = super::fs::parse_u64(file, v)?;
            let (list, op) = match k {
                "rbytes" => (&mut out.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut out.io_service_bytes_recursive, "Write"),
                "rios" => (&mut out.io_serviced_recursive, "Read"),
                "wios" => (&mut out.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_field_names_match_runc() {
        let mut s = Stats::default();
        s.cpu.throttling.throttled_periods = 3;
        s.cpu.usage.total = 7;
        s.memory.kernel_tcp.limit = 1;
        s.hugetlb.insert("2MB".into(), HugetlbStats::default());
        s.blkio.io_service_bytes_recursive.push(BlkioEntry {
            major: 8,
            minor: 0,
            op: "Read".into(),
            value: 42,
        });
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 3);
        assert!(v["cpu"]["throttling"].get("periods").is_none(), "omitempty");
        assert_eq!(v["cpu"]["usage"]["total"], 7);
        assert_eq!(v["cpu"]["usage"]["kernel"], 0, "kernel is always present");
        assert_eq!(v["memory"]["kernelTCP"]["limit"], 1);
        assert_eq!(v["hugetlb"]["2MB"]["failcnt"], 0);
        assert_eq!(v["blkio"]["ioServiceBytesRecursive"][0]["op"], "Read");
        assert!(v["blkio"]["ioServiceBytesRecursive"][0].get("minor").is_none());
        assert!(v["blkio"].get("ioServicedRecursive").is_none());
    }

    #[test]
    fn blkio_v1_and_io_stat() {
        let f = Path::new("blkio.throttle.io_service_bytes_recursive");
        let e = parse_blkio_v1(f, "254:0 Read 4096\n254:0 Write 0\nTotal 4096\n").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].major, e[0].minor, e[0].op.as_str(), e[0].value),
            (254, 0, "Read", 4096)
        );
        assert!(parse_blkio_v1(f, "x Read 1\n").is_err());

        let f = Path::new("io.stat");
        let s = parse_io_stat(f, "8:16 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n").unwrap();
        assert_eq!(s.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.io_service_bytes_recursive[1].value, 20);
        assert_eq!(s.io_serviced_recursive[0].op, "Read");
        assert_eq!(s.io_serviced_recursive[0].minor, 16);
    }
}
