//! Namespaces: which to create, which to join by path, and in what order.
//!
//! Order matters. The user namespace comes first (it owns the others and grants the
//! capabilities to make them). pid and time namespaces only apply to *children* of the
//! caller (`pid_for_children`, `time_for_children`), so the runtime parent enters or
//! creates them before it clones the init; everything else is done by the child.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Linux, LinuxNamespaceType};

use crate::error::{Context, Result};
use crate::sys;

pub fn clone_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// The name under /proc/PID/ns/.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// setns order for joining: user first, mount last (after it, host paths are gone).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// The spec's namespaces split into "create new" and "join this path" (opened now, in
/// the parent, so a bad path fails before anything is created).
pub struct Plan {
    pub new: Vec<LinuxNamespaceType>,
    pub join: Vec<(LinuxNamespaceType, OwnedFd, PathBuf)>,
}

impl Plan {
    pub fn from_spec(linux: &Linux) -> Result<Plan> {
        let mut plan = Plan {
            new: Vec::new(),
            join: Vec::new(),
        };
        for ns in linux.namespaces().as_deref().unwrap_or_default() {
            match ns.path() {
                None => plan.new.push(ns.typ()),
                Some(p) => {
                    let fd = sys::open(p, libc::O_RDONLY, 0).ctx(|| {
                        format!(
                            "linux.namespaces: opening {} namespace path {}",
                            proc_name(ns.typ()),
                            p.display()
                        )
                    })?;
                    plan.join.push((ns.typ(), fd, p.clone()));
                }
            }
        }
        Ok(plan)
    }

    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(&t)
    }

    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.creates(t) || self.join.iter().any(|(j, _, _)| *j == t)
    }

    /// Flags for unshare(2) in the child: everything new except user and pid, which
    /// the clone itself creates, and time, which the parent unshares.
    pub fn unshare_flags(&self) -> libc::c_int {
        self.new
            .iter()
            .filter(|t| {
                !matches!(
                    t,
                    LinuxNamespaceType::User | LinuxNamespaceType::Pid | LinuxNamespaceType::Time
                )
            })
            .fold(0, |f, t| f | clone_flag(*t))
    }

    pub fn clone_flags(&self) -> libc::c_int {
        let mut f = 0;
        if self.creates(LinuxNamespaceType::User) {
            f |= libc::CLONE_NEWUSER;
        }
        if self.creates(LinuxNamespaceType::Pid) {
            f |= libc::CLONE_NEWPID;
        }
        f
    }

    /// In the parent, before clone: pid and time namespaces to join or create take
    /// effect for the children of the caller only.
    ///
    /// Returns what [`restore_parent`] needs to put the runtime's own children (hooks)
    /// back in the runtime's namespaces once the init is cloned.
    pub fn prepare_parent(&self, time_offsets: &[(String, i64, u32)]) -> Result<Vec<(libc::c_int, OwnedFd)>> {
        let mut restore = Vec::new();
        let touches_pid = self.join.iter().any(|(t, _, _)| *t == LinuxNamespaceType::Pid);
        let touches_time = self.has(LinuxNamespaceType::Time);
        for (flag, name, needed) in [
            (libc::CLONE_NEWPID, "pid", touches_pid),
            (libc::CLONE_NEWTIME, "time", touches_time),
        ] {
            if needed {
                let own = sys::open(Path::new(&format!("/proc/self/ns/{name}")), libc::O_RDONLY, 0)
                    .ctx(|| format!("opening our own {name} namespace"))?;
                restore.push((flag, own));
            }
        }
        for (t, fd, p) in &self.join {
            if matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                sys::setns(fd.as_raw_fd(), clone_flag(*t))
                    .ctx(|| format!("joining {} namespace {}", proc_name(*t), p.display()))?;
            }
        }
        if self.creates(LinuxNamespaceType::Time) {
            sys::unshare(libc::CLONE_NEWTIME).ctx(|| "creating a time namespace".into())?;
            // Offsets can only be written before the first process enters the namespace.
            let mut s = String::new();
            for (clock, secs, nanos) in time_offsets {
                s.push_str(&format!("{clock} {secs} {nanos}\n"));
            }
            if !s.is_empty() {
                std::fs::write("/proc/self/timens_offsets", s)
                    .ctx(|| "linux.timeOffsets: writing /proc/self/timens_offsets".into())?;
            }
        }
        Ok(restore)
    }

    /// In the child: join the namespaces given by path (user first), except pid/time.
    pub fn join_in_child(&self) -> Result<()> {
        for want in JOIN_ORDER {
            for (t, fd, p) in &self.join {
                if *t == want && !matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                    sys::setns(fd.as_raw_fd(), clone_flag(*t))
                        .ctx(|| format!("joining {} namespace {}", proc_name(*t), p.display()))?;
                }
            }
        }
        Ok(())
    }
}

/// Undo [`Plan::prepare_parent`] for the runtime's later children (hooks run in the
/// runtime's namespaces, not the container's).
pub fn restore_parent(restore: &[(libc::c_int, OwnedFd)]) -> Result<()> {
    for (flag, fd) in restore {
        sys::setns(fd.as_raw_fd(), *flag).ctx(|| "returning to the runtime's own namespaces".into())?;
    }
    Ok(())
}

/// Namespace fds of a running container's init, for `exec`: only the types the
/// container has, and only where they differ from ours.
pub fn of_process(pid: i32, types: &[LinuxNamespaceType]) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
    let mut out = Vec::new();
    for want in JOIN_ORDER {
        if !types.contains(&want) {
            continue;
        }
        let theirs = PathBuf::from(format!("/proc/{pid}/ns/{}", proc_name(want)));
        let ours = PathBuf::from(format!("/proc/self/ns/{}", proc_name(want)));
        if same_ns(&theirs, &ours) {
            continue;
        }
        let fd = sys::open(&theirs, libc::O_RDONLY, 0).ctx(|| format!("opening {}", theirs.display()))?;
        out.push((want, fd));
    }
    Ok(out)
}

fn same_ns(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.ino() == y.ino() && x.dev() == y.dev(),
        _ => false,
    }
}

/// Write the id maps of a freshly cloned child's user namespace (from the parent,
/// which holds CAP_SETUID/CAP_SETGID in the parent namespace).
pub fn write_id_maps(pid: i32, linux: &Linux) -> Result<()> {
    let fmt = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.as_deref()
            .unwrap_or_default()
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    let uid = fmt(linux.uid_mappings());
    let gid = fmt(linux.gid_mappings());
    if !uid.is_empty() {
        std::fs::write(format!("/proc/{pid}/uid_map"), &uid).ctx(|| format!("linux.uidMappings: writing {uid:?}"))?;
    }
    if !gid.is_empty() {
        std::fs::write(format!("/proc/{pid}/gid_map"), &gid).ctx(|| format!("linux.gidMappings: writing {gid:?}"))?;
    }
    Ok(())
}
