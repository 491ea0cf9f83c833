//! Warnings: valid policies that are probably not what a security team wants.

use serde::{Deserialize, Serialize};

use crate::attestation::TeeKind;
use crate::names::ROOT_EQUIVALENT_CAPABILITIES;
use crate::sandbox::{NetNamespace, SyscallBase};
use crate::Policy;

/// One lint finding: the key it is about and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Whether `inner` is `outer` or lies beneath it (paths are normalised).
pub(crate) fn is_under(inner: &str, outer: &str) -> bool {
    outer == "/" || inner == outer || inner.starts_with(&format!("{outer}/"))
}

/// Lints a loaded policy. An empty result means no warnings.
pub fn lint(p: &Policy) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |key: &str, message: String| {
        out.push(Warning {
            key: key.to_string(),
            message,
        })
    };
    let s = &p.sandbox;

    if p.chain.iter().any(|c| c == "library:dev-permissive") {
        warn(
            "extends",
            "uses library:dev-permissive, a development profile: not for production".into(),
        );
    }
    // Writing these device nodes is harmless (they discard or are per-process).
    const HARMLESS: [&str; 4] = ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];
    for w in &s.fs.write {
        if HARMLESS.contains(&w.as_str()) {
            continue;
        }
        for sensitive in ["/", "/proc", "/sys", "/dev", "/etc", "/boot"] {
            if is_under(sensitive, w) {
                warn("sandbox.fs.write", format!("write access to {w} includes {sensitive}"));
                break;
            }
            if sensitive != "/" && is_under(w, sensitive) {
                warn("sandbox.fs.write", format!("write access to {w}, inside {sensitive}"));
                break;
            }
        }
    }
    if s.fs.read.iter().any(|r| r == "/") {
        warn("sandbox.fs.read", "read access to the whole filesystem (/)".into());
    }
    for r in &s.fs.read {
        if is_under(r, "/proc") {
            warn(
                "sandbox.fs.read",
                format!("read access to {r} exposes other processes and kernel state"),
            );
        }
    }
    for e in &s.fs.exec {
        for w in &s.fs.write {
            if is_under(e, w) || is_under(w, e) {
                warn(
                    "sandbox.fs.exec",
                    format!("exec on a writable path: {e} overlaps write {w} (the workload can run code it wrote)"),
                );
            }
        }
    }
    for c in &s.capabilities.keep {
        if ROOT_EQUIVALENT_CAPABILITIES.contains(&c.as_str()) {
            warn("sandbox.capabilities.keep", format!("{c} amounts to root"));
        }
    }
    if s.net.namespace == NetNamespace::Host {
        warn(
            "sandbox.net.namespace",
            "the host network namespace: the workload sees and can use every host interface".into(),
        );
    }
    if s.net.allow_raw {
        warn(
            "sandbox.net.allow_raw",
            "raw sockets allow crafting arbitrary packets".into(),
        );
    }
    if s.limits.memory.is_none() {
        warn("sandbox.limits.memory", "no memory limit".into());
    }
    if s.limits.pids.is_none() {
        warn(
            "sandbox.limits.pids",
            "no pids limit (a fork bomb is not contained)".into(),
        );
    }
    if s.syscalls.base == SyscallBase::None {
        warn(
            "sandbox.syscalls.base",
            "base \"none\": only sandbox.syscalls.allow is permitted; check that it is complete".into(),
        );
    }
    if s.syscalls.base == SyscallBase::DockerDefault {
        warn(
            "sandbox.syscalls.base",
            "docker-default is broader than the model-server allow-list".into(),
        );
    }
    match s.landlock.min_abi {
        None if s.landlock.best_effort => warn(
            "sandbox.landlock.best_effort",
            "best_effort without min_abi: on an old kernel the filesystem and network rules may not be enforced at all".into(),
        ),
        Some(abi) if abi < 4 => warn(
            "sandbox.landlock.min_abi",
            format!("TCP port rules need Landlock ABI 4; with min_abi = {abi} a kernel below ABI 4 leaves TCP unrestricted"),
        ),
        Some(abi) if abi < 6 && (s.scope.signals || s.scope.abstract_unix) => warn(
            "sandbox.landlock.min_abi",
            format!("signal and abstract UNIX socket scoping need Landlock ABI 6; with min_abi = {abi} they may not be enforced"),
        ),
        _ => {}
    }
    if !s.scope.signals {
        warn(
            "sandbox.scope.signals",
            "the workload may signal processes outside the sandbox".into(),
        );
    }
    if !s.scope.abstract_unix {
        warn(
            "sandbox.scope.abstract_unix",
            "the workload may connect to abstract UNIX sockets outside the sandbox".into(),
        );
    }
    for d in &s.devices {
        if d.access.contains('m') {
            warn("sandbox.devices", format!("{} allows mknod", d.path));
        }
    }

    let a = &p.attestation;
    if a.allow_dev || a.tee.contains(&TeeKind::Dev) {
        warn(
            "attestation.allow_dev",
            "the dev TEE is accepted: anyone can produce dev evidence; not for production".into(),
        );
    }
    if a.snp.allow_debug {
        warn(
            "attestation.snp.allow_debug",
            "debug SNP guests are accepted: the host can read their memory".into(),
        );
    }
    if a.snp.allow_migration_agent {
        warn(
            "attestation.snp.allow_migration_agent",
            "a migration agent may export guest memory".into(),
        );
    }
    if a.tdx.allow_debug {
        warn(
            "attestation.tdx.allow_debug",
            "debug TDs are accepted: the host can read their memory".into(),
        );
    }

    let t = &p.trust;
    if t.has_no_signers() {
        warn("trust.signers", "no signers: no image signature can verify".into());
    }
    if !t.require_tlog && !t.signers.sigstore.is_empty() {
        warn(
            "trust.require_tlog",
            "Sigstore bundles without a transparency-log entry are accepted".into(),
        );
    }
    for g in &t.signers.sigstore {
        if g.identity.trim_matches('*').is_empty() {
            warn(
                "trust.signers.sigstore",
                format!(
                    "identity `{}` accepts anyone with a certificate from {}",
                    g.identity, g.issuer
                ),
            );
        }
    }
    if p.sbom.max_cvss.is_some() && p.sbom.osv_dir.is_none() {
        warn(
            "sbom.max_cvss",
            "max_cvss without osv_dir: vulnerabilities can only be found if the caller supplies an OSV directory"
                .into(),
        );
    }
    out
}
