//! `create`: build the container and leave its init waiting on the exec fifo.
//!
//! The runtime process clones the init directly (no re-exec, no threads), places it
//! in its cgroup, writes its id maps, runs the runtime-side hooks when the init asks,
//! and exits once the init reports ready; the init is then re-parented to the caller's
//! subreaper (containerd's shim), which reaps it and reports its exit status.
//! Any failure before that point kills the init and removes the cgroup and the state
//! directory: a refused container leaves nothing behind.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, LinuxResources};

use super::Runtime;
use crate::bundle;
use crate::cgroups::{self, Cgroup, CgroupConfig};
use crate::channel::{self, Msg};
use crate::error::{Context, Error, Result};
use crate::hooks::{self, Phase};
use crate::init::{self, InitArgs};
use crate::namespaces::{self, Plan};
use crate::seccomp::CompiledSeccomp;
use crate::state::{self, Locked, Private, State, Status};
use crate::sys;

#[derive(Debug, Default, Clone)]
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An already-connected console socket (used by `run`, which proxies the pty
    /// itself); the caller keeps ownership. Takes the place of `console_socket`.
    pub console_fd: Option<std::os::fd::RawFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// The policy to enforce (`--policy`): a path or `library:NAME`. The bundle
    /// annotation `io.sealrun.policy` takes precedence; without either, the default file
    /// [`DEFAULT_POLICY`] if it exists; without any, the container runs unconfined by
    /// policy (plain OCI semantics).
    pub policy: Option<String>,
    /// A check run after the bundle and policy are loaded and before anything is created
    /// (the supply-chain gate lives in the CLI, which joins the gate crates): `Err` refuses
    /// the container, `Ok(Some(record))` is kept as `gate.json` in the state directory.
    pub gate: Option<Gate>,
}

/// See [`CreateOpts::gate`].
pub type Gate = fn(
    spec: &oci_spec::runtime::Spec,
    bundle_dir: &std::path::Path,
    policy: Option<&(String, sealrun_policy::Policy)>,
) -> std::result::Result<Option<serde_json::Value>, String>;

pub const POLICY_ANNOTATION: &str = "io.sealrun.policy";
pub const DEFAULT_POLICY: &str = "/etc/sealrun/policy.toml";

/// Find and load the policy for a bundle; a relative path in the annotation is
/// relative to the bundle directory.
fn load_policy(b: &bundle::Bundle, o: &CreateOpts) -> Result<Option<(String, sealrun_policy::Policy)>> {
    let annotated = b
        .spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(POLICY_ANNOTATION))
        .cloned();
    let reference = match (annotated, &o.policy) {
        (Some(a), _) if !a.starts_with("library:") && !a.starts_with('/') => {
            Some(b.dir.join(a).to_string_lossy().into_owned())
        }
        (Some(a), _) => Some(a),
        (None, Some(p)) => Some(p.clone()),
        (None, None) => std::path::Path::new(DEFAULT_POLICY)
            .is_file()
            .then(|| DEFAULT_POLICY.to_string()),
    };
    let Some(reference) = reference else { return Ok(None) };
    let policy = sealrun_policy::Policy::load_reference(&reference)
        .map_err(|e| Error::Setup(format!("policy {reference}: {e}")))?;
    Ok(Some((reference, policy)))
}

/// Undo everything on the way out unless disarmed.
struct Cleanup<'a> {
    locked: Option<&'a Locked>,
    cgroup: Option<Box<dyn Cgroup>>,
    child: Option<libc::pid_t>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.child.take() {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, 0);
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.destroy() {
                tracing::warn!("cleanup: {e}");
            }
        }
        if let Some(l) = self.locked.take() {
            let _ = l.remove();
        }
    }
}

pub fn create(rt: &Runtime, o: &CreateOpts) -> Result<i32> {
    let mut b = bundle::load(&o.bundle)?;
    // The policy tightens the spec before anything else reads it.
    let policy = load_policy(&b, o)?;
    let gate_record = match o.gate {
        Some(gate) => gate(&b.spec, &b.dir, policy.as_ref()).map_err(Error::Refused)?,
        None => None,
    };
    let (confinement, compiled) = match &policy {
        Some((source, p)) => {
            let (conf, compiled, decision) = crate::confine::from_policy(p, source, &mut b.spec)?;
            (Some((conf, decision)), Some(compiled))
        }
        None => (None, None),
    };
    let spec = &b.spec;
    let cfg_path = b.dir.join("config.json");
    let process = spec.process().as_ref().ok_or_else(|| Error::Bundle {
        path: cfg_path.clone(),
        msg: "process: expected the process to run, found nothing".into(),
    })?;
    let linux = spec.linux().as_ref().expect("validated");
    for f in bundle::ignored_fields(spec) {
        tracing::warn!("{}: {f}: not implemented, ignored", cfg_path.display());
    }
    if rt.systemd_cgroup {
        return Err(if std::path::Path::new("/run/systemd/system").is_dir() {
            Error::Unsupported("--systemd-cgroup: the systemd cgroup driver is not implemented yet; use the cgroupfs driver (containerd: SystemdCgroup = false)".into())
        } else {
            Error::Unsupported("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver (containerd: SystemdCgroup = false)".into())
        });
    }
    if process.terminal().unwrap_or(false) && o.console_socket.is_none() && o.console_fd.is_none() {
        return Err(Error::Bundle {
            path: cfg_path,
            msg: "process.terminal is true: --console-socket is required".into(),
        });
    }
    // Everything that can fail on bad input is checked before anything is created.
    let seccomp = linux.seccomp().as_ref().map(CompiledSeccomp::compile).transpose()?;
    let ns = Plan::from_spec(linux)?;
    if !ns.creates(LinuxNamespaceType::Pid) {
        // The init will share a pid namespace that other processes can already see
        // (the host's, or a pod's): it must not run from a writable binary there.
        crate::sealed_exe::reexec_sealed()?;
    }
    let console = match (o.console_fd, &o.console_socket) {
        (Some(fd), _) => Some(dup_cloexec(fd).ctx(|| "duplicating the console socket".into())?),
        (None, Some(p)) => Some(channel::connect_unix(p).ctx(|| format!("--console-socket {}", p.display()))?),
        (None, None) => None,
    };
    let cg = cgroups::open(&CgroupConfig::new(linux.cgroups_path().clone(), &o.id))?;

    let locked = rt.store.create(&o.id)?;
    let mut cleanup = Cleanup {
        locked: Some(&locked),
        cgroup: None,
        child: None,
    };
    let mut st = State {
        oci_version: state::OCI_VERSION.to_string(),
        id: o.id.clone(),
        status: Status::Creating,
        pid: 0,
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        private: Private {
            init_start_time: 0,
            cgroups_path: linux.cgroups_path().clone(),
            use_systemd: false,
        },
    };
    state::write_atomic(
        &locked.config_path(),
        &serde_json::to_vec(spec).expect("spec serializes"),
    )?;
    if let Some(record) = &gate_record {
        state::write_atomic(
            &locked.dir.join("gate.json"),
            &serde_json::to_vec_pretty(record).expect("json"),
        )?;
    }
    if let Some((conf, decision)) = &confinement {
        conf.save(&locked.dir)?;
        state::write_atomic(
            &locked.dir.join("decision.json"),
            &serde_json::to_vec_pretty(decision).expect("json"),
        )?;
        tracing::info!(
            "policy {} ({}): seccomp {} ({} filters, {} instructions), landlock ABI {}",
            decision.policy_source,
            decision.policy_digest,
            decision.seccomp_sha256,
            decision.seccomp_filters,
            decision.seccomp_instructions,
            decision.landlock_kernel_abi
        );
    }
    let fifo = sys::cstring(&locked.fifo()).ctx(|| "fifo path".into())?;
    // SAFETY: mkfifo with a valid C string.
    if unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) } < 0 {
        return Err(Error::Io {
            what: format!("creating {}", locked.fifo().display()),
            source: std::io::Error::last_os_error(),
        });
    }
    // With a user namespace the init runs as the host uid mapped to container root:
    // the fifo must be that uid's to open.
    if let Some((uid, gid)) = host_root_ids(linux) {
        std::os::unix::fs::chown(locked.fifo(), Some(uid), Some(gid))
            .ctx(|| format!("chown {} to the container's root {uid}:{gid}", locked.fifo().display()))?;
    }
    let state_dir: OwnedFd =
        sys::open(&locked.dir, libc::O_PATH | libc::O_DIRECTORY, 0).ctx(|| "opening the state dir".into())?;

    cg.create()?;
    let cg_ref = cleanup.cgroup.insert(cg);
    let resources = effective_resources(linux);
    for w in cg_ref.unenforced(&resources) {
        tracing::warn!("linux.resources: {w}");
    }
    cg_ref.apply(&resources)?;

    let (parent_ch, child_ch) = channel::pair().ctx(|| "socketpair".into())?;
    let time_offsets: Vec<(String, i64, u32)> = linux
        .time_offsets()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.secs().unwrap_or(0), v.nanosecs().unwrap_or(0)))
        .collect();
    let restore = ns.prepare_parent(&time_offsets)?;
    // SAFETY: getpid always succeeds.
    let parent_pid = unsafe { libc::getpid() };
    let pid = sys::clone_fork(ns.clone_flags()).ctx(|| format!("clone({:#x})", ns.clone_flags()))?;
    if pid == 0 {
        drop(parent_ch);
        init::run(InitArgs {
            spec,
            bundle: &b.dir,
            rootfs: &b.rootfs,
            ns: &ns,
            ch: &child_ch,
            console: console.as_ref(),
            state_dir: &state_dir,
            seccomp: seccomp.as_ref(),
            confine: compiled.as_ref(),
            no_pivot: o.no_pivot,
            no_new_keyring: o.no_new_keyring,
            preserve_fds: o.preserve_fds,
            parent_pid,
            lock_fd: locked.lock_fd(),
        });
    }
    cleanup.child = Some(pid);
    namespaces::restore_parent(&restore)?;
    drop(child_ch);
    drop(console);

    cleanup.cgroup.as_ref().expect("set").add_process(pid)?;
    if ns.creates(LinuxNamespaceType::User) {
        namespaces::write_id_maps(pid, linux)?;
    }
    if let Err(e) = parent_ch.send(&Msg::Go) {
        // The init died before we could release it: its last words explain why.
        if let Ok(Some(Msg::Error(msg))) = parent_ch.recv() {
            return Err(Error::Setup(msg));
        }
        return Err(Error::Io {
            what: "sync with init".into(),
            source: e,
        });
    }
    st.pid = pid;
    st.private.init_start_time = sys::process_start_time(pid).unwrap_or(0);
    locked.save(&st)?;

    loop {
        match parent_ch.recv().ctx(|| "sync with init".into())? {
            Some(Msg::Hooks) => {
                if let Some(h) = spec.hooks() {
                    let json = serde_json::to_vec(&st.oci_json()).expect("json");
                    hooks::run(Phase::Prestart, &Phase::Prestart.of(h), &json)?;
                    hooks::run(Phase::CreateRuntime, &Phase::CreateRuntime.of(h), &json)?;
                }
                parent_ch.send(&Msg::HooksDone).ctx(|| "sync with init".into())?;
            }
            Some(Msg::Ready) => break,
            Some(Msg::Error(e)) => return Err(Error::Setup(e)),
            Some(m) => return Err(Error::Setup(format!("sync with init: unexpected {m:?}"))),
            None => {
                let (_, status) = sys::waitpid(pid, 0).unwrap_or((0, 0));
                cleanup.child = None;
                return Err(Error::Setup(format!(
                    "the container's init exited during setup (status {})",
                    sys::exit_code_of(status)
                )));
            }
        }
    }

    st.status = Status::Created;
    locked.save(&st)?;
    if let Some(pf) = &o.pid_file {
        let pf = std::path::absolute(pf).unwrap_or_else(|_| pf.clone());
        state::write_atomic(&pf, pid.to_string().as_bytes())?;
    }
    cleanup.child = None;
    cleanup.cgroup = None;
    cleanup.locked = None;
    Ok(pid)
}

/// The spec's resources with the device rules every container needs appended, as
/// runc does: the default /dev nodes and pty devices, mknod of any node (access to it
/// is still governed by the rules), and the spec's own `linux.devices`.
pub fn effective_resources(linux: &oci_spec::runtime::Linux) -> LinuxResources {
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType as T};
    let mut r = linux.resources().clone().unwrap_or_default();
    let Some(spec_rules) = r.devices().clone() else {
        return r;
    };
    let rule = |typ: T, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(true).typ(typ).access(access);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().expect("static rule")
    };
    let mut rules = spec_rules;
    rules.push(rule(T::C, None, None, "m"));
    rules.push(rule(T::B, None, None, "m"));
    for (ma, mi) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2)] {
        rules.push(rule(T::C, Some(ma), Some(mi), "rwm"));
    }
    rules.push(rule(T::C, Some(136), None, "rwm"));
    for d in linux.devices().as_deref().unwrap_or_default() {
        rules.push(rule(d.typ(), Some(d.major()), Some(d.minor()), "rwm"));
    }
    r.set_devices(Some(rules));
    r
}

/// The host uid and gid that container root maps to, when the container has a new
/// user namespace with mappings.
fn host_root_ids(linux: &oci_spec::runtime::Linux) -> Option<(u32, u32)> {
    let new_userns = linux
        .namespaces()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    if !new_userns {
        return None;
    }
    let find = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.as_deref()
            .unwrap_or_default()
            .iter()
            .find(|m| m.container_id() == 0 && m.size() > 0)
            .map(|m| m.host_id())
    };
    Some((find(linux.uid_mappings())?, find(linux.gid_mappings()).unwrap_or(0)))
}

fn dup_cloexec(fd: std::os::fd::RawFd) -> std::io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_DUPFD_CLOEXEC returns a new fd (or -1) that we then own.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}
