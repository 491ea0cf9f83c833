//! The policy's confinement of a container: what the runtime applies on top of the
//! bundle's own settings to every process of the container (the init and each `exec`):
//! a Landlock ruleset and extra seccomp filters. It is stored in the state directory
//! at create time so that `exec` confines exactly as the init was confined, and its
//! compiled form is hashed into the decision record.

use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Context, Error, Result};
use crate::landlock::LandlockRules;
use crate::seccomp::CompiledSeccomp;

const FILE: &str = "confinement.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Confinement {
    pub landlock: Option<LandlockRules>,
    /// Filters stacked after the bundle's own, in install order.
    pub seccomp: Vec<LinuxSeccomp>,
}

/// Ready to apply between fork and exec (nothing left to allocate or parse).
pub struct Compiled {
    pub landlock: Option<LandlockRules>,
    pub seccomp: Vec<CompiledSeccomp>,
}

impl Confinement {
    pub fn compile(&self) -> Result<Compiled> {
        // The compact backend (one filter, a binary search over syscall numbers): on
        // Docker's profile 107 instructions instead of 1623, installed ~13x faster
        // (benches/seccomp.rs), and checked equivalent to seccompiler's in its tests.
        let seccomp = self
            .seccomp
            .iter()
            .map(|p| CompiledSeccomp::compile_with(p, crate::seccomp::Backend::Compact))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Compiled {
            landlock: self.landlock.clone(),
            seccomp,
        })
    }

    pub fn save(&self, state_dir: &Path) -> Result<()> {
        crate::state::write_atomic(&state_dir.join(FILE), &serde_json::to_vec(self).expect("serializes"))
    }

    /// The confinement stored at create time; None for a container without a policy.
    pub fn load(state_dir: &Path) -> Result<Option<Confinement>> {
        let p = state_dir.join(FILE);
        match std::fs::read(&p) {
            Ok(d) => serde_json::from_slice(&d)
                .map(Some)
                .map_err(|e| Error::Setup(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).ctx(|| format!("reading {}", p.display())),
        }
    }
}

impl Compiled {
    /// sha256 over the BPF of every filter that will be installed (bundle's first, then
    /// the policy's), in install order: what the decision record attests.
    pub fn seccomp_sha256(bundle: Option<&CompiledSeccomp>, policy: &[CompiledSeccomp]) -> String {
        let mut h = Sha256::new();
        for s in bundle.into_iter().chain(policy) {
            h.update(s.program_bytes());
        }
        format!("sha256:{:x}", h.finalize())
    }
}

/// Where the base `docker-default` syscall profile (moby's JSON) is read from: the
/// product does not embed Docker's file; operators install it (e.g. from moby/profiles).
pub const MOBY_PROFILE_PATHS: &[&str] = &[
    "/etc/sealrun/seccomp/docker-default.json",
    "/usr/share/sealrun/seccomp/docker-default.json",
];

fn moby_profile_path() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("SEALRUN_MOBY_PROFILE") {
        return Some(p.into());
    }
    MOBY_PROFILE_PATHS
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

fn policy_err(key: &str, msg: impl std::fmt::Display) -> Error {
    Error::Setup(format!("policy: {key}: {msg}"))
}

fn errno_number(name: &str) -> Option<u32> {
    sealrun_policy::names::ERRNOS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v as u32)
}

fn edit_of(rule: &sealrun_policy::sandbox::SyscallRule) -> Result<crate::seccomp::edit::SyscallEdit> {
    use oci_spec::runtime::LinuxSeccompOperator as Op;
    use sealrun_policy::sandbox::ArgOp;
    let args = rule
        .args
        .iter()
        .map(|a| {
            let op = match a.op {
                ArgOp::Eq => Op::ScmpCmpEq,
                ArgOp::Ne => Op::ScmpCmpNe,
                ArgOp::Lt => Op::ScmpCmpLt,
                ArgOp::Le => Op::ScmpCmpLe,
                ArgOp::Gt => Op::ScmpCmpGt,
                ArgOp::Ge => Op::ScmpCmpGe,
                ArgOp::MaskedEq => Op::ScmpCmpMaskedEq,
            };
            (a.index as usize, op, a.value, a.value_two.unwrap_or(0))
        })
        .collect();
    let errno = match &rule.errno {
        Some(e) => {
            Some(errno_number(e).ok_or_else(|| policy_err("sandbox.syscalls.deny", format!("unknown errno {e}")))?)
        }
        None => None,
    };
    Ok(crate::seccomp::edit::SyscallEdit {
        name: rule.name.clone(),
        args,
        errno,
    })
}

/// What a policy did to a bundle: the decision record's content, stored with the
/// container and printed by `sealrun policy`-aware tooling.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub policy_source: String,
    pub policy_digest: String,
    pub policy_chain: Vec<String>,
    pub seccomp_sha256: String,
    pub seccomp_filters: usize,
    pub seccomp_instructions: usize,
    pub landlock_kernel_abi: u8,
    pub landlock: Option<LandlockRules>,
    pub capabilities: Vec<String>,
    pub no_new_privs: bool,
}

/// Compile `policy`'s sandbox part against a bundle: tighten the spec (capabilities,
/// no_new_privs, limits, devices, namespaces) and build the Landlock rules and the
/// seccomp filters to stack. The bundle's own `linux.seccomp` is folded into the
/// returned filters (and removed from the spec), so the result is never weaker than
/// either.
pub fn from_policy(
    policy: &sealrun_policy::Policy,
    source: &str,
    spec: &mut oci_spec::runtime::Spec,
) -> Result<(Confinement, Compiled, Decision)> {
    use oci_spec::runtime::{
        Capability, LinuxCpu, LinuxDeviceBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxNamespaceType,
        LinuxPids,
    };
    use std::collections::HashSet;
    let sb = &policy.sandbox;

    // Capabilities: every set cut down to the policy's keep list.
    let keep: HashSet<Capability> = sb
        .capabilities
        .keep
        .iter()
        .map(|c| serde_json::from_value(serde_json::Value::String(c.clone())))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| policy_err("sandbox.capabilities.keep", e))?;
    let process = spec
        .process_mut()
        .as_mut()
        .ok_or_else(|| policy_err("process", "the bundle has no process"))?;
    process.set_no_new_privileges(Some(true));
    let mut final_caps: Vec<String> = Vec::new();
    if let Some(mut caps) = process.capabilities().clone() {
        let cut = |s: &Option<HashSet<Capability>>| s.as_ref().map(|s| s.intersection(&keep).copied().collect());
        caps.set_bounding(cut(caps.bounding()));
        caps.set_effective(cut(caps.effective()));
        caps.set_permitted(cut(caps.permitted()));
        caps.set_inheritable(cut(caps.inheritable()));
        caps.set_ambient(cut(caps.ambient()));
        final_caps = caps.bounding().iter().flatten().map(|c| format!("CAP_{c}")).collect();
        final_caps.sort();
        process.set_capabilities(Some(caps));
    }

    let linux = spec
        .linux_mut()
        .as_mut()
        .ok_or_else(|| policy_err("linux", "the bundle has no linux section"))?;
    // Network namespace choice.
    let has_net = linux
        .namespaces()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network);
    use sealrun_policy::sandbox::NetNamespace;
    if matches!(sb.net.namespace, NetNamespace::New | NetNamespace::None) && !has_net {
        return Err(policy_err(
            "sandbox.net.namespace",
            format!("expected the container in its own network namespace ({:?}), found the host's (the bundle has no network namespace)", sb.net.namespace.as_str()),
        ));
    }
    // listen() on an unbound socket autobinds an ephemeral port, which Landlock does not
    // check (it sees only bind(2)). Without outgoing TCP there is no use for ephemeral
    // ports: reserve them all in the container's own (new) network namespace, so
    // autobinding fails while an explicit bind of a listed port still works.
    let new_netns = linux
        .namespaces()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none());
    if new_netns && sb.net.tcp_connect.is_empty() {
        let mut sysctl = linux.sysctl().clone().unwrap_or_default();
        sysctl.insert("net.ipv4.ip_local_reserved_ports".to_string(), "1-65535".to_string());
        linux.set_sysctl(Some(sysctl));
    }

    // Landlock's exec list never sees a memfd (it lives on an internal mount), so
    // memfd_create + execveat would run any downloaded code. vm.memfd_noexec is per pid
    // namespace (kernel ≥ 6.3): 2 seals every memfd of the container non-executable and
    // refuses MFD_EXEC. Only a new pid namespace may be changed — writing it for a shared
    // one would change the host's.
    let new_pidns = linux
        .namespaces()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none());
    if new_pidns && Path::new("/proc/sys/vm/memfd_noexec").exists() {
        let mut sysctl = linux.sysctl().clone().unwrap_or_default();
        sysctl.insert("vm.memfd_noexec".to_string(), "2".to_string());
        linux.set_sysctl(Some(sysctl));
    } else {
        tracing::warn!(
            "policy {source}: memfd execution stays possible (needs a new pid namespace and kernel ≥ 6.3 for vm.memfd_noexec)"
        );
    }

    // Limits: the stricter of the bundle's and the policy's.
    let mut r = linux.resources().clone().unwrap_or_default();
    if let Some(m) = &sb.limits.memory {
        let mut mem = r.memory().unwrap_or_default();
        let limit = mem.limit().filter(|l| *l > 0).map_or(m.0 as i64, |l| l.min(m.0 as i64));
        mem.set_limit(Some(limit));
        // No swap beyond the limit: the policy's memory bound is a real bound.
        mem.set_swap(Some(limit));
        r.set_memory(Some(mem));
    }
    if let Some(p) = sb.limits.pids {
        let cur = r.pids().as_ref().map(|p| p.limit()).filter(|l| *l > 0);
        let limit = cur.map_or(p as i64, |c| c.min(p as i64));
        let mut pids = LinuxPids::default();
        pids.set_limit(limit);
        r.set_pids(Some(pids));
    }
    if let Some(cpus) = sb.limits.cpus {
        let mut cpu = r.cpu().clone().unwrap_or(LinuxCpu::default());
        let period = cpu.period().unwrap_or(100_000);
        let quota = (cpus * period as f64).round() as i64;
        let q = cpu.quota().filter(|q| *q > 0).map_or(quota, |c| c.min(quota));
        cpu.set_period(Some(period));
        cpu.set_quota(Some(q));
        r.set_cpu(Some(cpu));
    }
    if let Some(w) = sb.limits.io_weight {
        // The policy speaks cgroup v2's io.weight (1-10000); OCI's blkio weight is v1's 10-1000.
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(((w as u32 * 1000 / 10000).clamp(10, 1000)) as u16));
        r.set_block_io(Some(b));
    }
    // Devices: created in /dev and allowed in the device cgroup.
    let mut devices = linux.devices().clone().unwrap_or_default();
    let mut rules = r.devices().clone().unwrap_or_default();
    for (i, d) in sb.devices.iter().enumerate() {
        let typ = match d.kind {
            sealrun_policy::sandbox::DeviceKind::Char => LinuxDeviceType::C,
            sealrun_policy::sandbox::DeviceKind::Block => LinuxDeviceType::B,
        };
        let dev = LinuxDeviceBuilder::default()
            .path(d.path.clone())
            .typ(typ)
            .major(d.major as i64)
            .minor(d.minor as i64)
            .file_mode(0o666u32)
            .build()
            .map_err(|e| policy_err(&format!("sandbox.devices[{i}]"), e))?;
        devices.retain(|x| x.path() != dev.path());
        devices.push(dev);
        rules.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(typ)
                .major(d.major as i64)
                .minor(d.minor as i64)
                .access(d.access.clone())
                .build()
                .map_err(|e| policy_err(&format!("sandbox.devices[{i}]"), e))?,
        );
    }
    if !sb.devices.is_empty() {
        linux.set_devices(Some(devices));
        r.set_devices(Some(rules));
    }
    linux.set_resources(Some(r));

    // Landlock.
    let paths = |v: &[String]| v.iter().map(std::path::PathBuf::from).collect::<Vec<_>>();
    let landlock = LandlockRules {
        read: paths(&sb.fs.read),
        write: paths(&sb.fs.write),
        exec: paths(&sb.fs.exec),
        tcp_bind: sb.net.tcp_bind.clone(),
        tcp_connect: sb.net.tcp_connect.clone(),
        restrict_net: true,
        scope_signals: sb.scope.signals,
        scope_abstract_unix: sb.scope.abstract_unix,
        min_abi: sb.landlock.min_abi,
        best_effort: sb.landlock.best_effort,
        skip_missing: true,
    };
    let kernel_abi = crate::landlock::kernel_abi();
    if let Some(min) = sb.landlock.min_abi {
        if kernel_abi < min && !sb.landlock.best_effort {
            return Err(policy_err(
                "sandbox.landlock.min_abi",
                format!("expected a kernel with Landlock ABI ≥ {min}, found ABI {kernel_abi}"),
            ));
        }
    }

    // seccomp: base + edits + socket rules, stacked with the bundle's own profile.
    use crate::seccomp::edit;
    use sealrun_policy::sandbox::SyscallBase;
    let base = match sb.syscalls.base {
        SyscallBase::ModelServer => crate::seccomp::model_server::profile(),
        SyscallBase::DockerDefault => {
            let p = moby_profile_path().ok_or_else(|| {
                policy_err(
                    "sandbox.syscalls.base",
                    format!("\"docker-default\" needs Docker's seccomp profile (moby JSON) at {} or $SEALRUN_MOBY_PROFILE, found none", MOBY_PROFILE_PATHS.join(" or ")),
                )
            })?;
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).ctx(|| format!("reading {}", p.display()))?)
                    .map_err(|e| policy_err("sandbox.syscalls.base", format!("{}: {e}", p.display())))?;
            let ctx = crate::seccomp::moby::MobyContext::native(final_caps.clone())
                .map_err(|e| policy_err("sandbox.syscalls.base", e))?;
            crate::seccomp::moby::import(&json, &ctx).map_err(|e| policy_err("sandbox.syscalls.base", e))?
        }
        SyscallBase::None => oci_spec::runtime::LinuxSeccompBuilder::default()
            .default_action(oci_spec::runtime::LinuxSeccompAction::ScmpActAllow)
            .build()
            .expect("static profile"),
    };
    let mut deny: Vec<edit::SyscallEdit> = sb.syscalls.deny.iter().map(edit_of).collect::<Result<_>>()?;
    // TCP Fast Open connects from sendto/sendmsg without connect(2), which is the only
    // call Landlock checks (ABI 7): refused outright, with Landlock's own errno.
    const MSG_FASTOPEN: u64 = 0x2000_0000;
    for (name, flags_arg) in [("sendto", 3), ("sendmsg", 2), ("sendmmsg", 3)] {
        deny.push(edit::SyscallEdit {
            name: name.to_string(),
            args: vec![(
                flags_arg,
                oci_spec::runtime::LinuxSeccompOperator::ScmpCmpMaskedEq,
                MSG_FASTOPEN,
                MSG_FASTOPEN,
            )],
            errno: Some(libc::EACCES as u32),
        });
    }
    deny.extend(edit::socket_edits(&edit::SocketPolicy {
        allow_unix: sb.net.allow_unix,
        allow_inet_tcp: true,
        allow_udp: sb.net.allow_udp,
        allow_raw: sb.net.allow_raw,
        allow_netlink: sb.net.allow_netlink,
        allow_vsock: sb.net.allow_vsock,
        allow_packet: false,
    }));
    let edits = edit::Edits {
        allow: sb.syscalls.allow.iter().map(edit_of).collect::<Result<_>>()?,
        deny,
    };
    let policy_profile = edit::apply(base, &edits);
    let bundle_profile = linux.seccomp().clone();
    linux.set_seccomp(None);
    let seccomp = edit::never_weaker(policy_profile, bundle_profile);
    let conf = Confinement {
        landlock: Some(landlock.clone()),
        seccomp,
    };
    let compiled = conf.compile()?;
    let decision = Decision {
        policy_source: source.to_string(),
        policy_digest: policy.digest(),
        policy_chain: policy.chain().to_vec(),
        seccomp_sha256: Compiled::seccomp_sha256(None, &compiled.seccomp),
        seccomp_filters: compiled.seccomp.iter().map(|s| s.filter_count()).sum(),
        seccomp_instructions: compiled.seccomp.iter().map(|s| s.instruction_count()).sum(),
        landlock_kernel_abi: kernel_abi,
        landlock: Some(landlock),
        capabilities: final_caps,
        no_new_privs: true,
    };
    Ok((conf, compiled, decision))
}
