//! The cgroup v2 backend: one directory in the unified hierarchy, values converted from
//! the OCI (v1-shaped) resources as runc converts them.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use super::fs::{self, read, read_keyed, read_opt, read_u64_or_zero, write};
use super::path::{own_v2, read_memberships, target, Target};
use super::stats::{parse_io_stat, HugetlbStats, Stats};
use super::{Cgroup, CgroupConfig, CgroupError, Hierarchy};

/// The controllers enabled for the container's cgroup, when the host offers them.
const CONTROLLERS: &[&str] = &["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"];

pub(crate) struct V2 {
    root: PathBuf,
    /// The container's cgroup relative to `root`.
    rel: PathBuf,
    /// `root/rel`.
    dir: PathBuf,
    /// What [`Cgroup::path`] reports: `/rel`.
    path: PathBuf,
    /// How long `freeze`/`thaw` wait for `cgroup.events` to follow.
    freeze_budget: Duration,
}

/// OCI cpu shares (v1, 2..=262144) to cgroup v2 `cpu.weight` (1..=10000), as runc.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// OCI blkio weight (10..=1000) to cgroup v2 `io.weight` (1..=10000), as runc.
pub(crate) fn blkio_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// `-1` (unlimited) as cgroup v2 writes it.
fn limit_str(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// OCI `swap` is memory+swap (the v1 memsw limit); v2's `memory.swap.max` is swap
/// alone. `None` leaves the file alone.
pub(crate) fn swap_max(limit: Option<i64>, swap: Option<i64>) -> Result<Option<String>, CgroupError> {
    let mem = limit.unwrap_or(0);
    let sw = swap.unwrap_or(0);
    let field = || "linux.resources.memory.swap".to_string();
    match (mem, sw) {
        (-1, 0) => Ok(Some("max".into())),
        (_, 0) => Ok(None),
        (_, s) if s < 0 => Ok(Some("max".into())),
        (m, s) if m <= 0 => Err(CgroupError::InvalidValue {
            field: field(),
            reason: format!("swap {s} needs a memory limit to convert to memory.swap.max (found limit {m})"),
        }),
        (m, s) if s < m => Err(CgroupError::InvalidValue {
            field: field(),
            reason: format!("memory+swap {s} is below the memory limit {m}; expected >= {m}"),
        }),
        (m, s) => Ok(Some((s - m).to_string())),
    }
}

impl V2 {
    pub(crate) fn open(cfg: &CgroupConfig) -> Result<Self, CgroupError> {
        let rel = match target(cfg.cgroups_path.as_deref(), &cfg.id)? {
            Target::Absolute(p) => p,
            Target::Relative(p) => {
                let m = read_memberships(&cfg.proc_self_cgroup)?;
                own_v2(&m, &cfg.proc_self_cgroup)?.join(p)
            }
        };
        Ok(V2 {
            root: cfg.root.clone(),
            dir: cfg.root.join(&rel),
            path: Path::new("/").join(&rel),
            rel,
            freeze_budget: Duration::from_secs(5),
        })
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Controllers this cgroup can use: its own `cgroup.controllers` once created, else
    /// the root's.
    fn available(&self) -> Result<Vec<String>, CgroupError> {
        let own = self.file("cgroup.controllers");
        let f = if own.exists() {
            own
        } else {
            self.root.join("cgroup.controllers")
        };
        Ok(read(&f)?.split_whitespace().map(str::to_string).collect())
    }

    /// Enables `wanted` in `dir/cgroup.subtree_control`, all at once, else one by one
    /// (one that the parent lacks must not stop the others).
    fn enable(&self, dir: &Path, wanted: &[String]) -> Result<(), CgroupError> {
        if wanted.is_empty() {
            return Ok(());
        }
        let file = dir.join("cgroup.subtree_control");
        let all: Vec<String> = wanted.iter().map(|c| format!("+{c}")).collect();
        if write(&file, &all.join(" ")).is_ok() {
            return Ok(());
        }
        let mut enabled = 0;
        let mut last_err = None;
        for c in &all {
            match write(&file, c) {
                Ok(()) => enabled += 1,
                Err(e) => {
                    tracing::warn!(file = %file.display(), controller = %c, error = %e, "cannot enable cgroup controller");
                    last_err = Some(e);
                }
            }
        }
        match last_err {
            Some(e) if enabled == 0 => Err(e),
            _ => Ok(()),
        }
    }

    fn apply_memory(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(m) = r.memory() else { return Ok(()) };
        // 0 is "unset" in runc's Go types; writing it would OOM the container at once.
        let limit = m.limit().filter(|&v| v != 0);
        let swap = m.swap().filter(|&v| v != 0);
        if let Some(v) = swap_max(limit, swap)? {
            let f = self.file("memory.swap.max");
            // Without swap accounting the file is absent; "no limit" is then true anyway.
            if v != "max" || f.exists() {
                write(&f, &v)?;
            }
        }
        if let Some(l) = limit {
            write(&self.file("memory.max"), &limit_str(l))?;
        }
        if let Some(v) = m.reservation().filter(|&v| v != 0) {
            write(&self.file("memory.low"), &limit_str(v))?;
        }
        Ok(())
    }

    fn apply_cpu(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(c) = r.cpu() else { return Ok(()) };
        if let Some(cpus) = c.cpus() {
            write(&self.file("cpuset.cpus"), cpus)?;
        }
        if let Some(mems) = c.mems() {
            write(&self.file("cpuset.mems"), mems)?;
        }
        if let Some(s) = c.shares().filter(|&s| s != 0) {
            write(&self.file("cpu.weight"), &shares_to_weight(s).to_string())?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let mut v = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            if let Some(p) = c.period().filter(|&p| p != 0) {
                v = format!("{v} {p}");
            }
            write(&self.file("cpu.max"), &v)?;
        }
        if let Some(b) = c.burst() {
            write(&self.file("cpu.max.burst"), &b.to_string())?;
        }
        if let Some(idle) = c.idle() {
            write(&self.file("cpu.idle"), &idle.to_string())?;
        }
        Ok(())
    }

    fn apply_io(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(b) = r.block_io() else { return Ok(()) };
        // BFQ takes the OCI weight as is (same 1..=1000 scale); io.weight needs the
        // conversion. As runc: BFQ's file when the scheduler provides it.
        let bfq = self.file("io.bfq.weight");
        let has_bfq = bfq.exists();
        if let Some(w) = b.weight().filter(|&w| w != 0) {
            if has_bfq {
                write(&bfq, &w.to_string())?;
            } else {
                write(&self.file("io.weight"), &blkio_to_io_weight(w).to_string())?;
            }
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                if has_bfq {
                    write(&bfq, &format!("{}:{} {}", d.major(), d.minor(), w))?;
                } else {
                    let v = format!("{}:{} {}", d.major(), d.minor(), blkio_to_io_weight(w));
                    write(&self.file("io.weight"), &v)?;
                }
            }
        }
        // io.max takes one device per write, with any of its four limits.
        let mut per_dev: BTreeMap<(i64, i64), Vec<String>> = BTreeMap::new();
        let limits = [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ];
        for (key, list) in limits {
            for d in list.iter().flatten() {
                per_dev
                    .entry((d.major(), d.minor()))
                    .or_default()
                    .push(format!("{key}={}", d.rate()));
            }
        }
        for ((major, minor), kv) in per_dev {
            write(&self.file("io.max"), &format!("{major}:{minor} {}", kv.join(" ")))?;
        }
        Ok(())
    }

    fn apply_unified(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(map) = r.unified() else {
            return Ok(());
        };
        // Sorted, so a failure is reproducible.
        let sorted: BTreeMap<&String, &String> = map.iter().collect();
        for (key, value) in sorted {
            if key.is_empty() || key.contains('/') || key == "." || key == ".." {
                return Err(CgroupError::InvalidValue {
                    field: format!("linux.resources.unified[{key:?}]"),
                    reason: "expected a cgroup file name such as memory.high".into(),
                });
            }
            let f = self.file(key);
            if !f.exists() {
                let controller = key.split('.').next().unwrap_or_default();
                return Err(CgroupError::MissingController {
                    what: format!("linux.resources.unified[{key:?}]"),
                    controller: controller.to_string(),
                    detail: format!("{} does not exist", f.display()),
                });
            }
            write(&f, value)?;
        }
        Ok(())
    }

    fn events_frozen(text: &str) -> Option<bool> {
        text.lines()
            .find_map(|l| l.strip_prefix("frozen "))
            .map(|v| v.trim() == "1")
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let freeze = self.file("cgroup.freeze");
        let events = self.file("cgroup.events");
        let value = if frozen { "1" } else { "0" };
        write(&freeze, value)?;
        fs::wait_for(
            &events,
            &format!("frozen {value}"),
            self.freeze_budget,
            |_| Ok(()),
            |t| Self::events_frozen(t) == Some(frozen),
        )
    }
}

impl Cgroup for V2 {
    fn hierarchy(&self) -> Hierarchy {
        Hierarchy::Unified
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn create(&self) -> Result<(), CgroupError> {
        let mut available = read(&self.root.join("cgroup.controllers"))?
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>();
        let mut cur = self.root.clone();
        for comp in self.rel.components() {
            // A level offers what its own cgroup.controllers lists (the root's, then
            // each parent's subtree_control).
            if let Some(own) = read_opt(&cur.join("cgroup.controllers"))? {
                available = own.split_whitespace().map(str::to_string).collect();
            }
            let wanted: Vec<String> = CONTROLLERS
                .iter()
                .filter(|c| available.iter().any(|a| a == *c))
                .map(|c| c.to_string())
                .collect();
            self.enable(&cur, &wanted)?;
            cur = cur.join(comp);
            match std::fs::create_dir(&cur) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(source) => return Err(CgroupError::Mkdir { dir: cur, source }),
            }
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        self.apply_cpu(r)?;
        self.apply_memory(r)?;
        if let Some(p) = r.pids() {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".to_string()
            };
            write(&self.file("pids.max"), &v)?;
        }
        self.apply_io(r)?;
        for h in r.hugepage_limits().iter().flatten() {
            let v = h.limit().to_string();
            write(&self.file(&format!("hugetlb.{}.max", h.page_size())), &v)?;
            let rsvd = self.file(&format!("hugetlb.{}.rsvd.max", h.page_size()));
            if rsvd.exists() {
                write(&rsvd, &v)?;
            }
        }
        // Last, so explicit v2 keys win over values converted from the v1 fields.
        self.apply_unified(r)
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        write(&self.file("cgroup.procs"), &pid.to_string())
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        let res = self.set_frozen(true);
        if res.is_err() {
            // Never leave the container half frozen.
            let _ = write(&self.file("cgroup.freeze"), "0");
        }
        res
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        let f = self.file("cgroup.events");
        let text = read(&f)?;
        Self::events_frozen(&text).ok_or_else(|| CgroupError::Parse {
            file: f,
            expected: "a `frozen 0|1` line".into(),
            found: text,
        })
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        fs::procs_recursive(&self.dir)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let mut s = Stats::default();
        let cpu = read_keyed(&self.file("cpu.stat"))?;
        let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        s.cpu.usage.total = get(&cpu, "usage_usec") * 1000;
        s.cpu.usage.user = get(&cpu, "user_usec") * 1000;
        s.cpu.usage.kernel = get(&cpu, "system_usec") * 1000;
        s.cpu.throttling.periods = get(&cpu, "nr_periods");
        s.cpu.throttling.throttled_periods = get(&cpu, "nr_throttled");
        s.cpu.throttling.throttled_time = get(&cpu, "throttled_usec") * 1000;

        if self.file("memory.current").exists() {
            let m = &mut s.memory;
            m.usage.usage = read_u64_or_zero(&self.file("memory.current"))?;
            m.usage.limit = read_u64_or_zero(&self.file("memory.max"))?;
            m.usage.max = read_u64_or_zero(&self.file("memory.peak"))?;
            // v2 has no failcnt; the count of hits on memory.max is the closest.
            m.usage.failcnt = get(&read_keyed(&self.file("memory.events"))?, "max");
            // Swap is reported as memory+swap, the v1 memsw shape runc keeps on v2.
            m.swap.usage = read_u64_or_zero(&self.file("memory.swap.current"))? + m.usage.usage;
            let swap_limit = read_u64_or_zero(&self.file("memory.swap.max"))?;
            m.swap.limit = swap_limit.saturating_add(m.usage.limit);
            m.raw = read_keyed(&self.file("memory.stat"))?;
            m.cache = get(&m.raw, "file");
        }

        s.pids.current = read_u64_or_zero(&self.file("pids.current"))?;
        let max = read_u64_or_zero(&self.file("pids.max"))?;
        s.pids.limit = if max == u64::MAX { 0 } else { max };

        let io = self.file("io.stat");
        if let Some(text) = read_opt(&io)? {
            s.blkio = parse_io_stat(&io, &text)?;
        }

        for size in hugetlb_sizes(&self.dir)? {
            let f = |x: &str| self.file(&format!("hugetlb.{size}.{x}"));
            s.hugetlb.insert(
                size.clone(),
                HugetlbStats {
                    usage: read_u64_or_zero(&f("current"))?,
                    max: 0, // v2 keeps no peak for hugetlb
                    failcnt: get(&read_keyed(&f("events"))?, "max"),
                },
            );
        }
        Ok(s)
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        let f = self.file("memory.events");
        match read_opt(&f)? {
            Some(text) => Ok(fs::parse_keyed(&f, &text)?.get("oom_kill").copied().unwrap_or(0)),
            None => Err(CgroupError::MissingController {
                what: format!("OOM kill count of {}", self.path.display()),
                controller: "memory".into(),
                detail: format!("{} does not exist", f.display()),
            }),
        }
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        fs::remove_tree(&self.dir, Instant::now() + fs::RMDIR_BUDGET)
    }

    fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    fn unenforced(&self, r: &LinuxResources) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(d) = r.devices() {
            out.push(format!(
                "linux.resources.devices: cgroup v2 controls devices only through an eBPF program, and sealrun does not install a device filter yet; {} device rule(s) not enforced",
                d.len()
            ));
        }
        let available = self.available().unwrap_or_default();
        let mut need = |what: &str, controller: &str| {
            if !available.iter().any(|a| a == controller) {
                out.push(format!(
                    "{what}: the {controller} controller is not available to this cgroup (cgroup.controllers: {:?}); not enforced",
                    available.join(" ")
                ));
            }
        };
        if r.memory().is_some() {
            need("linux.resources.memory", "memory");
        }
        if let Some(c) = r.cpu() {
            if c.cpus().is_some() || c.mems().is_some() {
                need("linux.resources.cpu.cpus/mems", "cpuset");
            }
            if c.shares().is_some() || c.quota().is_some() || c.period().is_some() {
                need("linux.resources.cpu", "cpu");
            }
        }
        if r.pids().is_some() {
            need("linux.resources.pids", "pids");
        }
        if r.block_io().is_some() {
            need("linux.resources.blockIO", "io");
        }
        if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
            need("linux.resources.hugepageLimits", "hugetlb");
        }
        if let Some(m) = r.memory() {
            if m.swappiness().is_some() {
                out.push(
                    "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness; not enforced".into(),
                );
            }
            if m.disable_oom_killer() == Some(true) {
                out.push(
                    "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer; not enforced"
                        .into(),
                );
            }
            if m.kernel().is_some() || m.kernel_tcp().is_some() {
                out.push("linux.resources.memory.kernel/kernelTCP: cgroup v2 has no separate kernel memory limits; not enforced".into());
            }
        }
        if let Some(c) = r.cpu() {
            if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
                out.push("linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime CPU controller; not enforced".into());
            }
        }
        if let Some(b) = r.block_io() {
            let leaf =
                b.leaf_weight().is_some() || b.weight_device().iter().flatten().any(|d| d.leaf_weight().is_some());
            if leaf {
                out.push("linux.resources.blockIO leafWeight: cgroup v2 has no leaf weights; not enforced".into());
            }
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                out.push("linux.resources.network: net_cls/net_prio do not exist on cgroup v2; not enforced".into());
            }
        }
        if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
            out.push("linux.resources.rdma: not implemented by sealrun; not enforced".into());
        }
        out
    }
}

/// Page sizes with a `hugetlb.<size>.max` file in `dir`.
fn hugetlb_sizes(dir: &Path) -> Result<Vec<String>, CgroupError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(source) => {
            return Err(CgroupError::ReadDir {
                dir: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(size) = name.strip_prefix("hugetlb.").and_then(|s| s.strip_suffix(".max")) {
            if !size.contains('.') {
                out.push(size.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &str = "cpuset cpu io memory hugetlb pids rdma misc";

    /// A fake cgroup2 mount: the files the kernel would show in `dir`.
    fn fake_cgroup(dir: &Path, controllers: &str) {
        std::fs::create_dir_all(dir).unwrap();
        for (f, v) in [
            ("cgroup.controllers", controllers),
            ("cgroup.subtree_control", ""),
            ("cgroup.procs", ""),
            ("cgroup.freeze", "0"),
            ("cgroup.events", "populated 0\nfrozen 0\n"),
        ] {
            std::fs::write(dir.join(f), v).unwrap();
        }
    }

    /// The controller files of a leaf cgroup, with the kernel's defaults.
    fn fake_leaf_files(dir: &Path) {
        for (f, v) in [
            ("memory.max", "max"),
            ("memory.low", "0"),
            ("memory.swap.max", "max"),
            ("memory.current", "4096"),
            ("memory.peak", "8192"),
            ("memory.swap.current", "0"),
            ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
            ("memory.stat", "anon 100\nfile 200\n"),
            ("memory.high", "max"),
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            ("cpu.max.burst", "0"),
            ("cpu.idle", "0"),
            (
                "cpu.stat",
                "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 9\nnr_throttled 4\nthrottled_usec 7\n",
            ),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("pids.max", "max"),
            ("pids.current", "2"),
            ("io.weight", "default 100"),
            ("io.max", ""),
            ("io.stat", "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n"),
            ("hugetlb.2MB.max", "max"),
            ("hugetlb.2MB.current", "0"),
            ("hugetlb.2MB.events", "max 0\n"),
            ("hugetlb.1GB.max", "max"),
        ] {
            std::fs::write(dir.join(f), v).unwrap();
        }
    }

    struct Fake {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        proc_self: PathBuf,
    }

    /// A fake host whose caller sits in `/user.slice/sess`.
    fn fake_host() -> Fake {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cgroup");
        fake_cgroup(&root, ALL);
        fake_cgroup(&root.join("user.slice"), ALL);
        fake_cgroup(&root.join("user.slice/sess"), ALL);
        fake_cgroup(&root.join("default"), "cpu io memory pids");
        let proc_self = tmp.path().join("proc-self-cgroup");
        std::fs::write(&proc_self, "0::/user.slice/sess\n").unwrap();
        Fake {
            _tmp: tmp,
            root,
            proc_self,
        }
    }

    fn open_fake(f: &Fake, cgroups_path: Option<&str>, id: &str) -> V2 {
        let cfg = CgroupConfig {
            root: f.root.clone(),
            proc_self_cgroup: f.proc_self.clone(),
            cgroups_path: cgroups_path.map(PathBuf::from),
            id: id.into(),
        };
        let cg = V2::open(&cfg).unwrap();
        // The public entry point picks v2 for a unified host.
        let boxed = super::super::open_with(&cfg, Hierarchy::Unified).unwrap();
        assert_eq!(boxed.hierarchy(), Hierarchy::Unified);
        assert_eq!(boxed.path(), cg.path());
        cg
    }

    fn read_f(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1, "below range clamps instead of wrapping");
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(swap_max(Some(100), Some(300)).unwrap().as_deref(), Some("200"));
        assert_eq!(swap_max(Some(100), Some(-1)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max(Some(-1), None).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max(Some(100), None).unwrap(), None);
        assert_eq!(swap_max(Some(100), Some(100)).unwrap().as_deref(), Some("0"));
        let e = swap_max(Some(200), Some(100)).unwrap_err().to_string();
        assert!(e.contains("memory.swap") && e.contains("below"), "{e}");
        assert!(swap_max(None, Some(100)).is_err());
    }

    #[test]
    fn relative_nests_under_caller_and_create_enables_controllers() {
        let f = fake_host();
        let cg = open_fake(&f, None, "box1");
        assert_eq!(cg.path(), Path::new("/user.slice/sess/box1"));
        assert!(!cg.exists());
        cg.create().unwrap();
        assert!(cg.exists());
        assert!(f.root.join("user.slice/sess/box1").is_dir());
        // Every ancestor enables the controllers it has, in subtree_control.
        let want = "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc";
        for a in ["", "user.slice", "user.slice/sess"] {
            assert_eq!(read_f(&f.root.join(a).join("cgroup.subtree_control")), want, "{a}");
        }
        // The leaf's own subtree_control is left alone (no internal processes rule).
        assert!(!f.root.join("user.slice/sess/box1/cgroup.subtree_control").exists());

        let cg = open_fake(&f, Some("pods/box2"), "ignored");
        assert_eq!(cg.path(), Path::new("/user.slice/sess/pods/box2"));
    }

    #[test]
    fn absolute_path_is_under_root_and_enables_only_offered_controllers() {
        let f = fake_host();
        let cg = open_fake(&f, Some("/default/box1"), "box1");
        assert_eq!(cg.path(), Path::new("/default/box1"));
        cg.create().unwrap();
        assert!(f.root.join("default/box1").is_dir());
        assert_eq!(
            read_f(&f.root.join("default/cgroup.subtree_control")),
            "+cpu +io +memory +pids"
        );
        assert!(read_f(&f.root.join("cgroup.subtree_control")).contains("+hugetlb"));
        // create is idempotent.
        cg.create().unwrap();
    }

    #[test]
    fn bad_paths_are_rejected() {
        let f = fake_host();
        for (p, needle) in [("/default/../../x", "`..`"), ("machine.slice:sealrun:box", "systemd")] {
            let cfg = CgroupConfig {
                root: f.root.clone(),
                proc_self_cgroup: f.proc_self.clone(),
                cgroups_path: Some(p.into()),
                id: "x".into(),
            };
            let e = V2::open(&cfg).err().unwrap().to_string();
            assert!(e.contains(needle), "{p}: {e}");
        }
        // No v2 line in /proc/self/cgroup: relative paths cannot be placed.
        std::fs::write(&f.proc_self, "4:memory:/x\n").unwrap();
        let cfg = CgroupConfig {
            root: f.root.clone(),
            proc_self_cgroup: f.proc_self.clone(),
            cgroups_path: None,
            id: "x".into(),
        };
        let e = V2::open(&cfg).err().unwrap().to_string();
        assert!(e.contains("0::/path") && e.contains("proc-self-cgroup"), "{e}");
    }

    #[test]
    fn apply_writes_converted_values() {
        let f = fake_host();
        let cg = open_fake(&f, Some("/default/box1"), "box1");
        cg.create().unwrap();
        fake_leaf_files(&cg.dir);
        let r = resources(
            r#"{
            "memory": {"limit": 67108864, "reservation": 33554432, "swap": 100663296},
            "cpu": {"shares": 1024, "quota": 20000, "period": 50000, "cpus": "0-1", "mems": "0",
                    "burst": 1000, "idle": 1},
            "pids": {"limit": 0},
            "blockIO": {"weight": 500,
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 50}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "unified": {"memory.high": "50331648"}
        }"#,
        );
        cg.apply(&r).unwrap();
        let file = |n: &str| read_f(&cg.dir.join(n));
        assert_eq!(file("memory.max"), "67108864");
        assert_eq!(file("memory.low"), "33554432");
        assert_eq!(file("memory.swap.max"), "33554432");
        assert_eq!(file("memory.high"), "50331648");
        assert_eq!(file("cpu.weight"), "39");
        assert_eq!(file("cpu.max"), "20000 50000");
        assert_eq!(file("cpu.max.burst"), "1000");
        assert_eq!(file("cpu.idle"), "1");
        assert_eq!(file("cpuset.cpus"), "0-1");
        assert_eq!(file("cpuset.mems"), "0");
        assert_eq!(file("pids.max"), "max");
        assert_eq!(file("io.weight"), "4950");
        assert_eq!(file("io.max"), "8:0 rbps=1048576 wbps=2097152 riops=100 wiops=50");
        assert_eq!(file("hugetlb.2MB.max"), "4194304");
        assert_eq!(file("hugetlb.1GB.max"), "max", "untouched");

        // Unset fields stay; a quota of -1 lifts the limit, keeping the period given.
        cg.apply(&resources(
            r#"{"cpu": {"quota": -1, "period": 100000}, "pids": {"limit": 7}}"#,
        ))
        .unwrap();
        assert_eq!(file("cpu.max"), "max 100000");
        assert_eq!(file("pids.max"), "7");
        assert_eq!(file("memory.max"), "67108864");
        cg.apply(&resources(r#"{"memory": {"limit": -1}}"#)).unwrap();
        assert_eq!(file("memory.max"), "max");
        assert_eq!(file("memory.swap.max"), "max");

        // With BFQ, its file takes the unconverted weight.
        std::fs::write(cg.dir.join("io.bfq.weight"), "default 100").unwrap();
        cg.apply(&resources(r#"{"blockIO": {"weight": 500}}"#)).unwrap();
        assert_eq!(file("io.bfq.weight"), "500");
    }

    #[test]
    fn apply_errors_name_file_and_field() {
        let f = fake_host();
        let cg = open_fake(&f, Some("/default/box1"), "box1");
        cg.create().unwrap();
        fake_leaf_files(&cg.dir);
        let e = cg.apply(&resources(r#"{"unified": {"../escape": "1"}}"#)).unwrap_err();
        assert!(e.to_string().contains("../escape"), "{e}");
        let e = cg.apply(&resources(r#"{"unified": {"rdma.max": "x"}}"#)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("rdma") && msg.contains("rdma.max"), "{msg}");
        let e = cg
            .apply(&resources(r#"{"memory": {"limit": 200, "swap": 100}}"#))
            .unwrap_err();
        assert!(e.to_string().contains("linux.resources.memory.swap"), "{e}");
        // A controller file that is missing (controller not enabled) names it.
        std::fs::remove_file(cg.dir.join("pids.max")).unwrap();
        let e = cg.apply(&resources(r#"{"pids": {"limit": 5}}"#)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("pids.max") && msg.contains("\"5\""), "{msg}");
    }

    #[test]
    fn freeze_thaw_via_cgroup_freeze_and_events() {
        let f = fake_host();
        let mut cg = open_fake(&f, Some("/default/box1"), "box1");
        cg.create().unwrap();
        fake_cgroup(&cg.dir, "");
        let events = cg.dir.join("cgroup.events");
        // The fake "kernel" has already settled in each case.
        std::fs::write(&events, "populated 1\nfrozen 1\n").unwrap();
        cg.freeze().unwrap();
        assert_eq!(read_f(&cg.dir.join("cgroup.freeze")), "1");
        assert!(cg.is_frozen().unwrap());
        std::fs::write(&events, "populated 1\nfrozen 0\n").unwrap();
        cg.thaw().unwrap();
        assert_eq!(read_f(&cg.dir.join("cgroup.freeze")), "0");
        assert!(!cg.is_frozen().unwrap());
        // A freeze that never completes is an error naming cgroup.events, and rolled back.
        cg.freeze_budget = Duration::from_millis(30);
        let e = cg.freeze().unwrap_err();
        assert!(matches!(e, CgroupError::StateTimeout { .. }), "{e}");
        assert!(e.to_string().contains("cgroup.events"), "{e}");
        assert_eq!(read_f(&cg.dir.join("cgroup.freeze")), "0");
    }

    #[test]
    fn pids_stats_oom_and_add_process() {
        let f = fake_host();
        let cg = open_fake(&f, None, "box1");
        cg.create().unwrap();
        fake_cgroup(&cg.dir, ALL);
        fake_leaf_files(&cg.dir);
        cg.add_process(4242).unwrap();
        assert_eq!(read_f(&cg.dir.join("cgroup.procs")), "4242");
        fake_cgroup(&cg.dir.join("sub"), "");
        std::fs::write(cg.dir.join("sub/cgroup.procs"), "7\n8\n").unwrap();
        assert_eq!(cg.pids().unwrap(), vec![7, 8, 4242]);
        assert_eq!(cg.oom_kill_count().unwrap(), 1);

        let s = cg.stats().unwrap();
        assert_eq!(s.cpu.usage.total, 5000);
        assert_eq!(s.cpu.usage.user, 3000);
        assert_eq!(s.cpu.usage.kernel, 2000);
        assert_eq!(s.cpu.throttling.throttled_periods, 4);
        assert_eq!(s.cpu.throttling.throttled_time, 7000);
        assert_eq!(s.memory.usage.usage, 4096);
        assert_eq!(s.memory.usage.max, 8192);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!(s.memory.usage.failcnt, 3);
        assert_eq!(s.memory.cache, 200);
        assert_eq!(s.pids.current, 2);
        assert_eq!(s.pids.limit, 0);
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_serviced_recursive[1].value, 4);
        assert!(s.hugetlb.contains_key("2MB") && s.hugetlb.contains_key("1GB"));
    }

    #[test]
    fn unenforced_names_devices_and_v1_only_fields() {
        let f = fake_host();
        let cg = open_fake(&f, Some("/default/box1"), "box1");
        let r = resources(
            r#"{"devices": [{"allow": false, "access": "rwm"}],
                "memory": {"swappiness": 10},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
                "network": {"classID": 1}}"#,
        );
        let u = cg.unenforced(&r);
        let all = u.join("\n");
        assert!(u[0].contains("devices") && u[0].contains("eBPF"), "{all}");
        assert!(all.contains("swappiness"), "{all}");
        assert!(all.contains("net_cls"), "{all}");
        assert!(!all.contains("hugetlb controller"), "root offers hugetlb: {all}");
        // Once created under /default, which offers no hugetlb, that is reported too.
        cg.create().unwrap();
        std::fs::write(cg.dir.join("cgroup.controllers"), "cpu io memory pids").unwrap();
        let all = cg.unenforced(&r).join("\n");
        assert!(all.contains("the hugetlb controller is not available"), "{all}");
        assert!(cg.unenforced(&LinuxResources::default()).is_empty());
    }

    #[test]
    fn destroy_missing_is_fine_and_leftovers_are_errors() {
        let f = fake_host();
        let cg = open_fake(&f, Some("/default/box1"), "box1");
        cg.destroy().unwrap();
        cg.create().unwrap();
        // An empty directory (what cgroupfs looks like to rmdir) is removed.
        cg.destroy().unwrap();
        assert!(!cg.exists());
        assert!(f.root.join("default").is_dir(), "ancestors stay");
        cg.create().unwrap();
        std::fs::write(cg.dir.join("stray"), "").unwrap();
        let e = cg.destroy().unwrap_err().to_string();
        assert!(e.contains("default/box1"), "{e}");
    }
}
