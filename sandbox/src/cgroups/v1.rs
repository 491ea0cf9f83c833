//! The cgroup v1 backend: one directory per mounted controller, each under
//! `root/<controller>` (legacy and hybrid hosts).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::fs::{self, read_keyed, read_opt, read_u64, read_u64_or_zero, write};
use super::path::{own_v1, read_memberships, target, Target};
use super::stats::{parse_blkio_v1, HugetlbStats, MemoryEntry, Stats};
use super::{Cgroup, CgroupConfig, CgroupError, Hierarchy};

/// The controllers this backend manages, when mounted.
const CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
];

/// How long `freeze`/`thaw` wait for `freezer.state` to settle.
const FREEZE_BUDGET: Duration = Duration::from_secs(5);

pub(crate) struct V1 {
    hierarchy: Hierarchy,
    /// What [`Cgroup::path`] reports.
    path: PathBuf,
    /// Controller → the container's cgroup directory, for mounted controllers only.
    dirs: BTreeMap<&'static str, PathBuf>,
    /// Controller → its mount (the top of its hierarchy).
    mounts: BTreeMap<&'static str, PathBuf>,
}

impl V1 {
    pub(crate) fn open(cfg: &CgroupConfig, hierarchy: Hierarchy) -> Result<Self, CgroupError> {
        let target = target(cfg.cgroups_path.as_deref(), &cfg.id)?;
        let mut mounts = BTreeMap::new();
        for &c in CONTROLLERS {
            let m = cfg.root.join(c);
            // A cgroup mount always shows cgroup.procs; a stray directory does not.
            if m.join("cgroup.procs").exists() {
                // Co-mounted controllers (cpu,cpuacct) appear through symlinks; the
                // canonical mount lets create/destroy visit each directory once.
                let m = m.canonicalize().unwrap_or(m);
                mounts.insert(c, m);
            }
        }
        if mounts.is_empty() {
            return Err(CgroupError::MissingController {
                what: format!("cgroup v1 under {}", cfg.root.display()),
                controller: "any".into(),
                detail: format!("none of {} is mounted", CONTROLLERS.join(", ")),
            });
        }
        let memberships = match target {
            Target::Relative(_) => read_memberships(&cfg.proc_self_cgroup)?,
            Target::Absolute(_) => Vec::new(),
        };
        let mut rels = BTreeMap::new();
        for &c in mounts.keys() {
            let rel = match &target {
                Target::Absolute(p) => p.clone(),
                Target::Relative(p) => own_v1(&memberships, c)
                    .ok_or_else(|| CgroupError::ProcSelfCgroup {
                        file: cfg.proc_self_cgroup.clone(),
                        reason: format!("no line for the mounted {c} controller"),
                    })?
                    .join(p),
            };
            rels.insert(c, rel);
        }
        let shown = rels
            .get("devices")
            .or_else(|| rels.values().next())
            .expect("at least one controller is mounted");
        let path = Path::new("/").join(shown);
        let dirs = rels.iter().map(|(c, rel)| (*c, mounts[c].join(rel))).collect();
        Ok(V1 {
            hierarchy,
            path,
            dirs,
            mounts,
        })
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs.get(controller).map(PathBuf::as_path)
    }

    /// The directories to create, join and remove, each once.
    fn unique_dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.dirs.values().map(PathBuf::as_path).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Writes `value` to `file` of `controller` when it is mounted; an absent
    /// controller is reported by `unenforced`, not here.
    fn set(&self, controller: &str, file: &str, value: &str) -> Result<(), CgroupError> {
        match self.dir(controller) {
            Some(d) => write(&d.join(file), value),
            None => Ok(()),
        }
    }

    /// Whether `file` exists in the container's `controller` directory, else in the
    /// controller's mount (before `create`, the cgroup itself does not exist yet).
    fn has_file(&self, controller: &str, file: &str) -> bool {
        match (self.dir(controller), self.mounts.get(controller)) {
            (Some(d), Some(m)) => {
                if d.is_dir() {
                    d.join(file).exists()
                } else {
                    m.join(file).exists()
                }
            }
            _ => false,
        }
    }

    /// Like `has_file`, but for files the kernel shows only below the root cgroup (for
    /// example `blkio.bfq.weight`): known only once the cgroup exists.
    fn has_child_file(&self, controller: &str, file: &str) -> bool {
        self.dir(controller).is_some_and(|d| d.join(file).exists())
    }

    /// Creates the cpuset directory level by level, copying `cpuset.cpus` and
    /// `cpuset.mems` from the parent into each level that has none: a cpuset without
    /// them rejects tasks with ENOSPC.
    fn create_cpuset(&self, mount: &Path, dir: &Path) -> Result<(), CgroupError> {
        let rel = dir.strip_prefix(mount).unwrap_or(Path::new(""));
        let mut parent = mount.to_path_buf();
        for comp in rel.components() {
            let cur = parent.join(comp);
            match std::fs::create_dir(&cur) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(source) => return Err(CgroupError::Mkdir { dir: cur, source }),
            }
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if fs::read(&cur.join(f))?.is_empty() {
                    let inherited = fs::read(&parent.join(f))?;
                    write(&cur.join(f), &inherited)?;
                }
            }
            parent = cur;
        }
        Ok(())
    }

    fn apply_memory(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(m) = r.memory() else { return Ok(()) };
        let Some(dir) = self.dir("memory") else {
            return Ok(());
        };
        let limit_file = dir.join("memory.limit_in_bytes");
        let memsw_file = dir.join("memory.memsw.limit_in_bytes");
        let has_memsw = memsw_file.exists();
        // 0 is "unset" in runc's Go types; writing it would OOM the container at once.
        let limit = m.limit().filter(|&v| v != 0);
        let mut swap = m.swap().filter(|&v| v != 0);
        // Unlimited memory with swap left unset means unlimited swap too (as runc).
        if limit == Some(-1) && swap.is_none() && has_memsw {
            swap = Some(-1);
        }
        match (limit, swap.filter(|_| has_memsw)) {
            (Some(l), Some(s)) => {
                // The kernel keeps memsw >= memory at every step: when raising, memsw
                // goes first; when lowering, memory goes first.
                let current = read_u64(&limit_file)?;
                if s == -1 || (current as i128) < s as i128 {
                    write(&memsw_file, &s.to_string())?;
                    write(&limit_file, &l.to_string())?;
                } else {
                    write(&limit_file, &l.to_string())?;
                    write(&memsw_file, &s.to_string())?;
                }
            }
            (Some(l), None) => write(&limit_file, &l.to_string())?,
            (None, Some(s)) => write(&memsw_file, &s.to_string())?,
            (None, None) => {}
        }
        if let Some(v) = m.reservation() {
            write(&dir.join("memory.soft_limit_in_bytes"), &v.to_string())?;
        }
        if let Some(v) = m.kernel_tcp() {
            let f = dir.join("memory.kmem.tcp.limit_in_bytes");
            if f.exists() {
                write(&f, &v.to_string())?;
            }
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                return Err(CgroupError::InvalidValue {
                    field: "linux.resources.memory.swappiness".into(),
                    reason: format!("expected 0..=100, found {v}"),
                });
            }
            let f = dir.join("memory.swappiness");
            if f.exists() {
                write(&f, &v.to_string())?;
            }
        }
        if let Some(disable) = m.disable_oom_killer() {
            write(&dir.join("memory.oom_control"), if disable { "1" } else { "0" })?;
        }
        Ok(())
    }

    fn apply_cpu(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(c) = r.cpu() else { return Ok(()) };
        if let Some(d) = self.dir("cpuset") {
            if let Some(cpus) = c.cpus() {
                write(&d.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = c.mems() {
                write(&d.join("cpuset.mems"), mems)?;
            }
        }
        let Some(dir) = self.dir("cpu") else {
            return Ok(());
        };
        if let Some(shares) = c.shares() {
            let f = dir.join("cpu.shares");
            write(&f, &shares.to_string())?;
            // The kernel clamps out-of-range shares silently; say so instead.
            let kept = read_u64(&f)?;
            if kept != shares {
                return Err(CgroupError::InvalidValue {
                    field: "linux.resources.cpu.shares".into(),
                    reason: format!(
                        "wrote {shares} to {}, the kernel kept {kept} (allowed 2..=262144)",
                        f.display()
                    ),
                });
            }
        }
        let quota_file = dir.join("cpu.cfs_quota_us");
        let period_file = dir.join("cpu.cfs_period_us");
        let mut period_pending = None;
        if let Some(p) = c.period() {
            if let Err(e) = write(&period_file, &p.to_string()) {
                // A shorter period can be refused (EINVAL) while the old quota would
                // exceed the parent's; retry it after the quota is written (as runc).
                let einval = matches!(&e, CgroupError::Write { source, .. }
                    if source.raw_os_error() == Some(libc::EINVAL));
                if !einval || c.quota().is_none() {
                    return Err(e);
                }
                period_pending = Some(p);
            }
        }
        if let Some(q) = c.quota() {
            write(&quota_file, &q.to_string())?;
            if let Some(p) = period_pending {
                write(&period_file, &p.to_string())?;
            }
        }
        if let Some(b) = c.burst() {
            let f = dir.join("cpu.cfs_burst_us");
            if f.exists() {
                write(&f, &b.to_string())?;
            }
        }
        // The period first: the runtime must fit in it.
        if let Some(p) = c.realtime_period() {
            let f = dir.join("cpu.rt_period_us");
            if f.exists() {
                write(&f, &p.to_string())?;
            }
        }
        if let Some(rt) = c.realtime_runtime() {
            let f = dir.join("cpu.rt_runtime_us");
            if f.exists() {
                write(&f, &rt.to_string())?;
            }
        }
        if let Some(idle) = c.idle() {
            let f = dir.join("cpu.idle");
            if f.exists() {
                write(&f, &idle.to_string())?;
            }
        }
        Ok(())
    }

    fn apply_blkio(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(b) = r.block_io() else { return Ok(()) };
        let Some(dir) = self.dir("blkio") else {
            return Ok(());
        };
        // CFQ's files, else BFQ's (kernels without CFQ); same range 10..=1000.
        let pick = |a: &str, b: &str| -> Option<PathBuf> { [a, b].iter().map(|f| dir.join(f)).find(|p| p.exists()) };
        if let Some(w) = b.weight() {
            if let Some(f) = pick("blkio.weight", "blkio.bfq.weight") {
                write(&f, &w.to_string())?;
            }
        }
        if let Some(w) = b.leaf_weight() {
            let f = dir.join("blkio.leaf_weight");
            if f.exists() {
                write(&f, &w.to_string())?;
            }
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                if let Some(f) = pick("blkio.weight_device", "blkio.bfq.weight_device") {
                    write(&f, &format!("{}:{} {}", d.major(), d.minor(), w))?;
                }
            }
            if let Some(w) = d.leaf_weight() {
                let f = dir.join("blkio.leaf_weight_device");
                if f.exists() {
                    write(&f, &format!("{}:{} {}", d.major(), d.minor(), w))?;
                }
            }
        }
        let throttles = [
            ("blkio.throttle.read_bps_device", b.throttle_read_bps_device()),
            ("blkio.throttle.write_bps_device", b.throttle_write_bps_device()),
            ("blkio.throttle.read_iops_device", b.throttle_read_iops_device()),
            ("blkio.throttle.write_iops_device", b.throttle_write_iops_device()),
        ];
        for (file, list) in throttles {
            for d in list.iter().flatten() {
                write(&dir.join(file), &format!("{}:{} {}", d.major(), d.minor(), d.rate()))?;
            }
        }
        Ok(())
    }

    fn apply_devices(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(rules) = r.devices() else {
            return Ok(());
        };
        let Some(dir) = self.dir("devices") else {
            return Ok(());
        };
        // The rules are the whole allowlist: start from deny-all, then replay them.
        write(&dir.join("devices.deny"), "a")?;
        for rule in rules {
            let Some(line) = device_rule(rule) else {
                continue; // reported by unenforced()
            };
            let file = if rule.allow() { "devices.allow" } else { "devices.deny" };
            write(&dir.join(file), &line)?;
        }
        Ok(())
    }

    fn memory_entry(&self, dir: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
        let f = |s: &str| dir.join(format!("{prefix}.{s}"));
        Ok(MemoryEntry {
            limit: read_u64_or_zero(&f("limit_in_bytes"))?,
            usage: read_u64_or_zero(&f("usage_in_bytes"))?,
            max: read_u64_or_zero(&f("max_usage_in_bytes"))?,
            failcnt: read_u64_or_zero(&f("failcnt"))?,
        })
    }

    fn cpu_stats(&self, stats: &mut Stats) -> Result<(), CgroupError> {
        if let Some(d) = self.dir("cpuacct") {
            let u = &mut stats.cpu.usage;
            u.total = read_u64_or_zero(&d.join("cpuacct.usage"))?;
            u.percpu = read_list(&d.join("cpuacct.usage_percpu"))?;
            u.percpu_kernel = read_list(&d.join("cpuacct.usage_percpu_sys"))?;
            u.percpu_user = read_list(&d.join("cpuacct.usage_percpu_user"))?;
            if d.join("cpuacct.usage_user").exists() {
                u.user = read_u64(&d.join("cpuacct.usage_user"))?;
                u.kernel = read_u64(&d.join("cpuacct.usage_sys"))?;
            } else {
                // Older kernels: only cpuacct.stat, in clock ticks.
                let st = read_keyed(&d.join("cpuacct.stat"))?;
                let ns_per_tick = 1_000_000_000 / clock_ticks();
                u.user = st.get("user").copied().unwrap_or(0) * ns_per_tick;
                u.kernel = st.get("system").copied().unwrap_or(0) * ns_per_tick;
            }
        }
        if let Some(d) = self.dir("cpu") {
            let st = read_keyed(&d.join("cpu.stat"))?;
            let t = &mut stats.cpu.throttling;
            t.periods = st.get("nr_periods").copied().unwrap_or(0);
            t.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
            t.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
        }
        Ok(())
    }

    fn memory_stats(&self, stats: &mut Stats) -> Result<(), CgroupError> {
        let Some(d) = self.dir("memory") else {
            return Ok(());
        };
        let m = &mut stats.memory;
        m.usage = self.memory_entry(d, "memory")?;
        m.swap = self.memory_entry(d, "memory.memsw")?;
        m.kernel = self.memory_entry(d, "memory.kmem")?;
        m.kernel_tcp = self.memory_entry(d, "memory.kmem.tcp")?;
        m.raw = read_keyed(&d.join("memory.stat"))?;
        m.cache = m.raw.get("cache").copied().unwrap_or(0);
        Ok(())
    }

    fn blkio_stats(&self, stats: &mut Stats) -> Result<(), CgroupError> {
        let Some(d) = self.dir("blkio") else {
            return Ok(());
        };
        // BFQ, CFQ and throttle keep separate counters; take the first that has any,
        // as a device without BFQ/CFQ is only seen by the throttle layer.
        for prefix in ["blkio.bfq.", "blkio.", "blkio.throttle."] {
            let bytes_file = d.join(format!("{prefix}io_service_bytes_recursive"));
            let ops_file = d.join(format!("{prefix}io_serviced_recursive"));
            let bytes = match read_opt(&bytes_file)? {
                Some(t) => parse_blkio_v1(&bytes_file, &t)?,
                None => continue,
            };
            let ops = match read_opt(&ops_file)? {
                Some(t) => parse_blkio_v1(&ops_file, &t)?,
                None => Vec::new(),
            };
            if !bytes.is_empty() || !ops.is_empty() {
                stats.blkio.io_service_bytes_recursive = bytes;
                stats.blkio.io_serviced_recursive = ops;
                break;
            }
        }
        Ok(())
    }

    fn hugetlb_stats(&self, stats: &mut Stats) -> Result<(), CgroupError> {
        let Some(d) = self.dir("hugetlb") else {
            return Ok(());
        };
        for size in hugetlb_sizes(d)? {
            let f = |s: &str| d.join(format!("hugetlb.{size}.{s}"));
            stats.hugetlb.insert(
                size.clone(),
                HugetlbStats {
                    usage: read_u64_or_zero(&f("usage_in_bytes"))?,
                    max: read_u64_or_zero(&f("max_usage_in_bytes"))?,
                    failcnt: read_u64_or_zero(&f("failcnt"))?,
                },
            );
        }
        Ok(())
    }

    fn freezer_state(&self) -> Result<PathBuf, CgroupError> {
        self.dir("freezer")
            .map(|d| d.join("freezer.state"))
            .ok_or_else(|| CgroupError::MissingController {
                what: format!("freeze {}", self.path.display()),
                controller: "freezer".into(),
                detail: "not mounted".into(),
            })
    }
}

/// `TYPE MAJOR:MINOR ACCESS` as devices.allow/deny take it; `None` for rules the
/// device controller cannot express (FIFOs).
fn device_rule(rule: &LinuxDeviceCgroup) -> Option<String> {
    let typ = match rule.typ().unwrap_or_default() {
        LinuxDeviceType::A => "a",
        LinuxDeviceType::B => "b",
        // 'u' (unbuffered character) is a character device to the kernel.
        LinuxDeviceType::C | LinuxDeviceType::U => "c",
        LinuxDeviceType::P => return None,
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let access = match rule.access().as_deref() {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => "rwm".to_string(),
    };
    Some(format!("{typ} {}:{} {access}", num(rule.major()), num(rule.minor())))
}

fn read_list(file: &Path) -> Result<Vec<u64>, CgroupError> {
    match read_opt(file)? {
        Some(t) => t.split_whitespace().map(|v| fs::parse_u64(file, v)).collect(),
        None => Ok(Vec::new()),
    }
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Page sizes with a hugetlb limit file in `dir` (`hugetlb.2MB.limit_in_bytes` → `2MB`).
fn hugetlb_sizes(dir: &Path) -> Result<Vec<String>, CgroupError> {
    let rd = std::fs::read_dir(dir).map_err(|source| CgroupError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(size) = name
            .strip_prefix("hugetlb.")
            .and_then(|s| s.strip_suffix(".limit_in_bytes"))
        {
            if !size.contains('.') {
                out.push(size.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Cgroup for V1 {
    fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn create(&self) -> Result<(), CgroupError> {
        for (&c, dir) in &self.dirs {
            if c == "cpuset" {
                self.create_cpuset(&self.mounts[c], dir)?;
            } else {
                std::fs::create_dir_all(dir).map_err(|source| CgroupError::Mkdir {
                    dir: dir.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(CgroupError::Unsupported {
                what: "linux.resources.unified".into(),
                backend: "v1",
                reason: "its keys are cgroup v2 files; this host runs cgroup v1 controllers".into(),
            });
        }
        self.apply_cpu(r)?;
        self.apply_memory(r)?;
        if let Some(p) = r.pids() {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".to_string()
            };
            self.set("pids", "pids.max", &v)?;
        }
        self.apply_blkio(r)?;
        for h in r.hugepage_limits().iter().flatten() {
            let file = format!("hugetlb.{}.limit_in_bytes", h.page_size());
            self.set("hugetlb", &file, &h.limit().to_string())?;
        }
        self.apply_devices(r)?;
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                self.set("net_cls", "net_cls.classid", &id.to_string())?;
            }
            for p in n.priorities().iter().flatten() {
                let v = format!("{} {}", p.name(), p.priority());
                self.set("net_prio", "net_prio.ifpriomap", &v)?;
            }
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for d in self.unique_dirs() {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        let file = self.freezer_state()?;
        let res = fs::wait_for(
            &file,
            "FROZEN",
            FREEZE_BUDGET,
            |round| {
                // A freeze can stall in FREEZING (a task in an uninterruptible
                // sleep); thawing and freezing again now and then unsticks it, as runc
                // does.
                if round % 50 == 49 {
                    write(&file, "THAWED")?;
                }
                write(&file, "FROZEN")
            },
            |s| s == "FROZEN",
        );
        if res.is_err() {
            // Never leave the container half frozen.
            let _ = write(&file, "THAWED");
        }
        res
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        let file = self.freezer_state()?;
        fs::wait_for(
            &file,
            "THAWED",
            FREEZE_BUDGET,
            |_| write(&file, "THAWED"),
            |s| s == "THAWED",
        )
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(fs::read(&self.freezer_state()?)? == "FROZEN")
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let d = self
            .dir("devices")
            .or_else(|| self.dirs.values().next().map(PathBuf::as_path))
            .expect("at least one controller is mounted");
        fs::procs_recursive(d)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let mut s = Stats::default();
        self.cpu_stats(&mut s)?;
        self.memory_stats(&mut s)?;
        if let Some(d) = self.dir("pids") {
            s.pids.current = read_u64_or_zero(&d.join("pids.current"))?;
            let max = read_u64_or_zero(&d.join("pids.max"))?;
            s.pids.limit = if max == u64::MAX { 0 } else { max };
        }
        self.blkio_stats(&mut s)?;
        self.hugetlb_stats(&mut s)?;
        Ok(s)
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        let d = self.dir("memory").ok_or_else(|| CgroupError::MissingController {
            what: format!("OOM kill count of {}", self.path.display()),
            controller: "memory".into(),
            detail: "not mounted".into(),
        })?;
        let f = d.join("memory.oom_control");
        Ok(fs::parse_keyed(&f, &fs::read(&f)?)?
            .get("oom_kill")
            .copied()
            .unwrap_or(0))
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + fs::RMDIR_BUDGET;
        let mut first_err = None;
        // Try every controller even after a failure, so one busy hierarchy does not
        // leave the others behind; report the first failure.
        for d in self.unique_dirs() {
            if let Err(e) = fs::remove_tree(d, deadline) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn exists(&self) -> bool {
        self.unique_dirs().iter().any(|d| d.is_dir())
    }

    fn unenforced(&self, r: &LinuxResources) -> Vec<String> {
        let mut out = Vec::new();
        let mut absent = |what: &str, controller: &str| {
            if !self.mounts.contains_key(controller) {
                out.push(format!(
                    "{what}: the {controller} controller is not mounted (cgroup v1); not enforced"
                ));
                false
            } else {
                true
            }
        };
        let mut file_checks: Vec<(String, &str, &str)> = Vec::new();
        if let Some(m) = r.memory() {
            if absent("linux.resources.memory", "memory") {
                if m.swap().is_some() {
                    file_checks.push(("memory.swap".into(), "memory", "memory.memsw.limit_in_bytes"));
                }
                if m.swappiness().is_some() {
                    file_checks.push(("memory.swappiness".into(), "memory", "memory.swappiness"));
                }
                if m.kernel_tcp().is_some() {
                    file_checks.push(("memory.kernelTCP".into(), "memory", "memory.kmem.tcp.limit_in_bytes"));
                }
            }
        }
        let kernel_mem = r.memory().and_then(|m| m.kernel()).is_some();
        if let Some(c) = r.cpu() {
            if c.cpus().is_some() || c.mems().is_some() {
                absent("linux.resources.cpu.cpus/mems", "cpuset");
            }
            let wants_cpu = c.shares().is_some()
                || c.quota().is_some()
                || c.period().is_some()
                || c.burst().is_some()
                || c.realtime_period().is_some()
                || c.realtime_runtime().is_some()
                || c.idle().is_some();
            if wants_cpu && absent("linux.resources.cpu", "cpu") {
                if c.burst().is_some() {
                    file_checks.push(("cpu.burst".into(), "cpu", "cpu.cfs_burst_us"));
                }
                if c.realtime_period().is_some() {
                    file_checks.push(("cpu.realtimePeriod".into(), "cpu", "cpu.rt_period_us"));
                }
                if c.realtime_runtime().is_some() {
                    file_checks.push(("cpu.realtimeRuntime".into(), "cpu", "cpu.rt_runtime_us"));
                }
                if c.idle().is_some() {
                    file_checks.push(("cpu.idle".into(), "cpu", "cpu.idle"));
                }
            }
        }
        if r.pids().is_some() {
            absent("linux.resources.pids", "pids");
        }
        let mut blkio_weight_missing = false;
        let mut blkio_leaf_missing = false;
        if let Some(b) = r.block_io() {
            if absent("linux.resources.blockIO", "blkio") {
                let wants_weight =
                    b.weight().is_some() || b.weight_device().iter().flatten().any(|d| d.weight().is_some());
                // Weight files exist only below the root cgroup, so this is known once
                // the cgroup has been created.
                if wants_weight
                    && self.dir("blkio").is_some_and(|d| d.is_dir())
                    && !self.has_child_file("blkio", "blkio.weight")
                    && !self.has_child_file("blkio", "blkio.bfq.weight")
                {
                    blkio_weight_missing = true;
                }
                let wants_leaf =
                    b.leaf_weight().is_some() || b.weight_device().iter().flatten().any(|d| d.leaf_weight().is_some());
                if wants_leaf && !self.has_child_file("blkio", "blkio.leaf_weight") {
                    blkio_leaf_missing = true;
                }
            }
        }
        if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
            absent("linux.resources.hugepageLimits", "hugetlb");
        }
        let mut fifos = 0;
        if let Some(devs) = r.devices() {
            if absent("linux.resources.devices", "devices") {
                fifos = devs.iter().filter(|d| device_rule(d).is_none()).count();
            }
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() {
                absent("linux.resources.network.classID", "net_cls");
            }
            if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                absent("linux.resources.network.priorities", "net_prio");
            }
        }
        for (what, controller, file) in file_checks {
            if !self.has_file(controller, file) {
                out.push(format!(
                    "linux.resources.{what}: {file} does not exist on this kernel; not enforced"
                ));
            }
        }
        if fifos > 0 {
            out.push(format!(
                "linux.resources.devices: {fifos} rule(s) of type p (FIFO) cannot be expressed by the devices controller; skipped"
            ));
        }
        if kernel_mem {
            out.push(
                "linux.resources.memory.kernel: kernel memory limits are deprecated and not set; not enforced".into(),
            );
        }
        if blkio_weight_missing {
            out.push("linux.resources.blockIO weight: neither blkio.weight nor blkio.bfq.weight exists (no CFQ/BFQ scheduler); not enforced".into());
        }
        if blkio_leaf_missing {
            out.push(
                "linux.resources.blockIO leafWeight: blkio.leaf_weight does not exist on this kernel; not enforced"
                    .into(),
            );
        }
        if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
            out.push("linux.resources.rdma: not implemented by sealrun; not enforced".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn v1_host() -> bool {
        matches!(
            super::super::detect(Path::new("/sys/fs/cgroup")),
            Ok(Hierarchy::Legacy | Hierarchy::Hybrid)
        )
    }

    fn unique(tag: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        format!(
            "sealrun-test-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Owns a real cgroup; on drop (also when the test panics) kills what is left in
    /// it, thaws it and removes it.
    struct Guard(V1);

    impl Guard {
        fn new(cgroups_path: Option<PathBuf>, id: &str) -> Guard {
            let cfg = CgroupConfig::new(cgroups_path, id);
            let h = super::super::detect(&cfg.root).unwrap();
            let cg = V1::open(&cfg, h).unwrap();
            cg.create().unwrap();
            Guard(cg)
        }
        fn absolute(tag: &str) -> Guard {
            Guard::new(Some(PathBuf::from(format!("/{}", unique(tag)))), "unused")
        }
        fn file(&self, controller: &str, file: &str) -> String {
            fs::read(&self.0.dir(controller).unwrap().join(file)).unwrap()
        }
        /// `cgroup.procs` of every controller, opened before forking so the child
        /// only has to `write(2)`.
        fn procs_files(&self) -> Vec<File> {
            self.0
                .unique_dirs()
                .iter()
                .map(|d| {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(d.join("cgroup.procs"))
                        .unwrap()
                })
                .collect()
        }
        /// Spawns `cmd` inside the cgroup: the child joins before it execs.
        fn spawn(&self, cmd: &mut Command) -> std::process::Child {
            // The files stay open (and the descriptors valid) until after spawn.
            let files = self.procs_files();
            let fds_owned: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
            // SAFETY: the closure runs between fork and exec and only calls write(2),
            // which is async-signal-safe, on descriptors opened beforehand.
            unsafe {
                cmd.pre_exec(move || {
                    for &fd in &fds_owned {
                        // "0" moves the writing task itself.
                        if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
            let child = cmd.spawn().unwrap();
            drop(files);
            child
        }
        /// Forks a child that joins the cgroup, runs `body` and exits with its code.
        /// `body` must stay async-signal-safe (raw syscalls only).
        fn fork_in(&self, body: fn() -> i32) -> nix::unistd::Pid {
            let files = self.procs_files();
            // SAFETY: the child only calls write(2), `body` (restricted to raw
            // syscalls) and _exit(2): nothing that needs locks held by other threads.
            match unsafe { nix::unistd::fork() }.unwrap() {
                nix::unistd::ForkResult::Child => {
                    for f in &files {
                        // SAFETY: writing a static buffer to an open descriptor.
                        if unsafe { libc::write(f.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
                            // SAFETY: _exit is async-signal-safe.
                            unsafe { libc::_exit(100) };
                        }
                    }
                    let code = body();
                    // SAFETY: _exit is async-signal-safe.
                    unsafe { libc::_exit(code) }
                }
                nix::unistd::ForkResult::Parent { child } => child,
            }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            for pid in self.0.pids().unwrap_or_default() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
            let _ = self.0.thaw();
            let res = self.0.destroy();
            if !std::thread::panicking() {
                res.expect("destroy the test cgroup");
                assert!(!self.0.exists(), "destroy left {:?}", self.0.dirs);
            }
        }
    }

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn create_apply_read_back_and_destroy() {
        if !v1_host() {
            return;
        }
        let id = unique("basic");
        let g = Guard::new(None, &id);
        // Relative (here: the default id) nests under our own cgroup per controller.
        let own = read_memberships(Path::new("/proc/self/cgroup")).unwrap();
        let want = Path::new("/sys/fs/cgroup/memory")
            .join(own_v1(&own, "memory").unwrap())
            .join(&id);
        assert_eq!(g.0.dir("memory").unwrap(), want);
        assert!(want.is_dir());
        assert!(g.0.path().ends_with(&id));

        let r = resources(
            r#"{
            "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728,
                       "swappiness": 10, "disableOOMKiller": false},
            "cpu": {"shares": 512, "quota": 20000, "period": 50000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 42},
            "blockIO": {"weight": 300,
                        "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                        "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]},
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 136, "access": "rw"}]
        }"#,
        );
        g.0.apply(&r).unwrap();
        assert_eq!(g.file("memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(g.file("memory", "memory.soft_limit_in_bytes"), "33554432");
        if g.0.has_file("memory", "memory.memsw.limit_in_bytes") {
            assert_eq!(g.file("memory", "memory.memsw.limit_in_bytes"), "134217728");
        }
        assert_eq!(g.file("memory", "memory.swappiness"), "10");
        assert_eq!(g.file("cpu", "cpu.shares"), "512");
        assert_eq!(g.file("cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(g.file("cpu", "cpu.cfs_period_us"), "50000");
        assert_eq!(g.file("cpuset", "cpuset.cpus"), "0");
        assert_eq!(g.file("cpuset", "cpuset.mems"), "0");
        assert_eq!(g.file("pids", "pids.max"), "42");
        if g.0.has_child_file("blkio", "blkio.weight") {
            assert_eq!(g.file("blkio", "blkio.weight"), "300");
        } else if g.0.has_child_file("blkio", "blkio.bfq.weight") {
            assert!(g.file("blkio", "blkio.bfq.weight").ends_with("300"));
        }
        assert_eq!(g.file("blkio", "blkio.throttle.read_bps_device"), "254:0 1048576");
        assert_eq!(g.file("blkio", "blkio.throttle.write_iops_device"), "254:0 100");
        assert_eq!(g.file("devices", "devices.list"), "c 1:3 rwm\nc 136:* rw");

        // Raising limit and swap together needs memsw first; lowering, memory first.
        if g.0.has_file("memory", "memory.memsw.limit_in_bytes") {
            g.0.apply(&resources(r#"{"memory": {"limit": 268435456, "swap": 536870912}}"#))
                .unwrap();
            assert_eq!(g.file("memory", "memory.limit_in_bytes"), "268435456");
            assert_eq!(g.file("memory", "memory.memsw.limit_in_bytes"), "536870912");
            g.0.apply(&resources(r#"{"memory": {"limit": 33554432, "swap": 33554432}}"#))
                .unwrap();
            assert_eq!(g.file("memory", "memory.limit_in_bytes"), "33554432");
            assert_eq!(g.file("memory", "memory.memsw.limit_in_bytes"), "33554432");
            let s = g.0.stats().unwrap();
            assert_eq!(s.memory.usage.limit, 33554432);
            assert_eq!(s.memory.swap.limit, 33554432);
            // -1 with swap unset lifts both.
            g.0.apply(&resources(r#"{"memory": {"limit": -1}}"#)).unwrap();
            assert!(g.file("memory", "memory.memsw.limit_in_bytes").len() > 15);
        }
        // Unset fields are left alone.
        g.0.apply(&resources(r#"{"pids": {"limit": 0}}"#)).unwrap();
        assert_eq!(g.file("pids", "pids.max"), "max");
        assert_eq!(g.file("cpu", "cpu.shares"), "512");

        let s = g.0.stats().unwrap();
        assert_eq!(s.pids.limit, 0);
        assert_eq!(
            s.memory.usage.limit,
            read_u64(&g.0.dir("memory").unwrap().join("memory.limit_in_bytes")).unwrap()
        );
        assert!(!s.memory.raw.is_empty());
        assert_eq!(!s.cpu.usage.percpu.is_empty(), g.0.dir("cpuacct").is_some());

        let dirs: Vec<PathBuf> = g.0.unique_dirs().iter().map(|p| p.to_path_buf()).collect();
        drop(g);
        for d in dirs {
            assert!(!d.exists(), "{} left behind", d.display());
        }
    }

    #[test]
    fn rejects_bad_values_with_named_files() {
        if !v1_host() {
            return;
        }
        let g = Guard::absolute("bad");
        let e = g.0.apply(&resources(r#"{"cpu": {"shares": 1000000}}"#)).unwrap_err();
        assert!(e.to_string().contains("cpu.shares"), "{e}");
        let e = g.0.apply(&resources(r#"{"cpu": {"cpus": "9999"}}"#)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cpuset.cpus") && msg.contains("9999"), "{msg}");
        let e =
            g.0.apply(&resources(r#"{"unified": {"memory.max": "1"}}"#))
                .unwrap_err();
        assert!(matches!(e, CgroupError::Unsupported { .. }), "{e}");
    }

    #[test]
    fn cpuset_is_inherited_so_tasks_can_join() {
        if !v1_host() {
            return;
        }
        // Two new levels below the root: each must get cpus/mems from its parent.
        let outer_path = format!("/{}", unique("cpuset"));
        let g = Guard::new(Some(PathBuf::from(format!("{outer_path}/inner"))), "x");
        // Declared second so it drops first: removes the outer level (and, deepest
        // first, the inner one) even when an assertion fails.
        let outer = Guard::new(Some(PathBuf::from(&outer_path)), "x");
        for f in ["cpuset.cpus", "cpuset.mems"] {
            assert!(!outer.file("cpuset", f).is_empty(), "{f}");
            assert_eq!(g.file("cpuset", f), outer.file("cpuset", f), "{f}");
        }
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let res = g.0.add_process(child.id() as i32);
        let pids = g.0.pids();
        child.kill().unwrap();
        child.wait().unwrap();
        res.unwrap();
        assert!(pids.unwrap().contains(&(child.id() as i32)));
        drop(outer);
        assert!(!g.0.exists());
    }

    #[test]
    fn pids_limit_stops_forks() {
        if !v1_host() {
            return;
        }
        let g = Guard::absolute("pids");
        g.0.apply(&resources(r#"{"pids": {"limit": 3}}"#)).unwrap();
        let out = g
            .spawn(
                Command::new("sh")
                    .arg("-c")
                    .arg("for i in 1 2 3 4 5 6; do sleep 1 & done; wait")
                    .stderr(std::process::Stdio::null()),
            )
            .wait()
            .unwrap();
        // sh's own exit status depends on the shell; the counters below are the proof.
        let _ = out;
        let events = fs::read_keyed(&g.0.dir("pids").unwrap().join("pids.events")).unwrap();
        assert!(events["max"] >= 1, "no fork was refused: {events:?}");
        if g.0.has_file("pids", "pids.peak") {
            let peak: u64 = g.file("pids", "pids.peak").parse().unwrap();
            assert!(peak <= 3, "pids.peak {peak} exceeds the limit 3");
        }
        assert_eq!(g.0.stats().unwrap().pids.limit, 3);
    }

    fn allocate_64mib() -> i32 {
        let len = 64 << 20;
        // SAFETY: an anonymous private mapping; only this child touches it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return 2;
        }
        // SAFETY: p points to `len` writable bytes; writing every byte faults them in.
        unsafe { libc::memset(p, 0x5a, len) };
        0
    }

    #[test]
    fn memory_limit_oom_kills() {
        if !v1_host() {
            return;
        }
        let g = Guard::absolute("oom");
        let swap = if g.0.has_file("memory", "memory.memsw.limit_in_bytes") {
            r#", "swap": 16777216"#
        } else {
            ""
        };
        g.0.apply(&resources(&format!(r#"{{"memory": {{"limit": 16777216{swap}}}}}"#)))
            .unwrap();
        assert_eq!(g.0.oom_kill_count().unwrap(), 0);
        let pid = g.fork_in(allocate_64mib);
        let status = nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(
            status,
            nix::sys::wait::WaitStatus::Signaled(pid, nix::sys::signal::Signal::SIGKILL, false),
            "the 64 MiB child should be OOM-killed"
        );
        assert!(g.0.oom_kill_count().unwrap() >= 1);
        // The peak charge reached the limit and never passed it.
        let peak = g.0.stats().unwrap().memory.usage.max;
        assert!(peak > 8 << 20 && peak <= 16 << 20, "peak {peak}");
    }

    fn busy_300ms() -> i32 {
        let now = || {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: clock_gettime writes into the timespec we own.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            ts.tv_sec * 1_000_000_000 + ts.tv_nsec
        };
        let end = now() + 300_000_000;
        while now() < end {}
        0
    }

    #[test]
    fn cpu_quota_throttles() {
        if !v1_host() {
            return;
        }
        let g = Guard::absolute("cpu");
        g.0.apply(&resources(r#"{"cpu": {"quota": 10000, "period": 100000}}"#))
            .unwrap();
        let pid = g.fork_in(busy_300ms);
        let status = nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(status, nix::sys::wait::WaitStatus::Exited(pid, 0));
        let s = g.0.stats().unwrap();
        assert!(s.cpu.throttling.throttled_periods > 0, "{:?}", s.cpu);
        assert!(s.cpu.throttling.periods >= s.cpu.throttling.throttled_periods);
        assert!(s.cpu.usage.total > 0, "{:?}", s.cpu);
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["cpu"]["throttling"]["throttledPeriods"].as_u64().unwrap() > 0);
    }

    #[test]
    fn freeze_thaw_and_pids() {
        if !v1_host() {
            return;
        }
        let g = Guard::absolute("freeze");
        let mut child = g.spawn(Command::new("sleep").arg("30"));
        let pid = child.id() as i32;
        assert_eq!(g.0.pids().unwrap(), vec![pid]);
        assert!(!g.0.is_frozen().unwrap());
        g.0.freeze().unwrap();
        assert!(g.0.is_frozen().unwrap());
        assert_eq!(g.file("freezer", "freezer.state"), "FROZEN");
        g.0.thaw().unwrap();
        assert!(!g.0.is_frozen().unwrap());
        child.kill().unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn destroy_missing_is_fine_and_unenforced_names_absent_controllers() {
        if !v1_host() {
            return;
        }
        let cfg = CgroupConfig::new(Some(PathBuf::from(format!("/{}", unique("none")))), "x");
        let cg = V1::open(&cfg, Hierarchy::Hybrid).unwrap();
        assert!(!cg.exists());
        cg.destroy().unwrap();
        let r = resources(
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
                "network": {"classID": 1},
                "memory": {"kernel": 1},
                "devices": [{"allow": true, "type": "p", "access": "rwm"}]}"#,
        );
        let u = cg.unenforced(&r).join("\n");
        for (ctrl, text) in [("hugetlb", "hugepageLimits"), ("net_cls", "classID")] {
            if !cg.mounts.contains_key(ctrl) {
                assert!(u.contains(text) && u.contains(ctrl), "{u}");
            }
        }
        assert!(u.contains("memory.kernel"), "{u}");
        assert!(u.contains("FIFO"), "{u}");
    }

    #[test]
    fn device_rules() {
        let r: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow": true, "type": "b", "major": 8, "access": "r"}"#).unwrap();
        assert_eq!(device_rule(&r).unwrap(), "b 8:* r");
        let r: LinuxDeviceCgroup = serde_json::from_str(r#"{"allow": false}"#).unwrap();
        assert_eq!(device_rule(&r).unwrap(), "a *:* rwm");
        let r: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow": true, "type": "u", "major": 5, "minor": 1}"#).unwrap();
        assert_eq!(device_rule(&r).unwrap(), "c 5:1 rwm");
    }
}
