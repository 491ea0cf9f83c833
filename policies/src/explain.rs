//! What a policy lets the workload do, in plain words.

use serde::{Deserialize, Serialize};

use crate::attestation::TeeKind;
use crate::sandbox::{NetNamespace, SyscallBase};
use crate::Policy;

/// One plain-English statement about the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// `sandbox`, `trust`, `sbom`, `attestation`, `keys` or `rules`.
    pub section: String,
    pub text: String,
}

/// The explanation of a policy: its digest, where it came from, and statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub digest: String,
    pub chain: Vec<String>,
    pub statements: Vec<Statement>,
}

impl Explanation {
    /// Bullet lines grouped by section.
    pub fn to_text(&self) -> String {
        let mut out = format!("policy {}", self.digest);
        if !self.chain.is_empty() {
            out.push_str(&format!(" (from {})", self.chain.join(" <- ")));
        }
        out.push('\n');
        let mut current = "";
        for s in &self.statements {
            if s.section != current {
                current = &s.section;
                out.push_str(&format!("{current}:\n"));
            }
            out.push_str(&format!("  - {}\n", s.text));
        }
        out
    }
}

fn ports(p: &[u16]) -> String {
    p.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

fn kinds(k: &[TeeKind]) -> String {
    k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// Explains what the policy allows and refuses.
pub fn explain(p: &Policy) -> Explanation {
    let mut st: Vec<Statement> = Vec::new();
    let mut say = |section: &str, text: String| {
        st.push(Statement {
            section: section.into(),
            text,
        })
    };
    let s = &p.sandbox;
    let sb = "sandbox";

    for (verb, list) in [("read", &s.fs.read), ("write", &s.fs.write), ("execute", &s.fs.exec)] {
        if list.is_empty() {
            say(sb, format!("may not {verb} any file"));
        } else {
            say(sb, format!("may {verb}: {}", list.join(", ")));
        }
    }
    say(sb, "may not access any other path".into());
    match (s.landlock.min_abi, s.landlock.best_effort) {
        (Some(a), false) => say(
            sb,
            format!("requires Landlock ABI {a} or newer (refuses to start otherwise)"),
        ),
        (Some(a), true) => say(
            sb,
            format!("uses Landlock ABI {a} or what the kernel supports, recording any downgrade"),
        ),
        (None, false) => say(
            sb,
            "requires the Landlock ABI its rules need (refuses to start otherwise)".into(),
        ),
        (None, true) => say(
            sb,
            "uses what Landlock the kernel supports, recording any downgrade".into(),
        ),
    }
    if s.net.tcp_bind.is_empty() {
        say(sb, "may not listen on any TCP port".into());
    } else {
        say(sb, format!("may listen on TCP {}", ports(&s.net.tcp_bind)));
    }
    if s.net.tcp_connect.is_empty() {
        say(sb, "may not make outgoing TCP connections".into());
    } else {
        say(sb, format!("may connect to TCP {}", ports(&s.net.tcp_connect)));
    }
    for (allowed, what) in [
        (s.net.allow_udp, "UDP sockets"),
        (s.net.allow_raw, "raw sockets"),
        (s.net.allow_netlink, "netlink sockets"),
        (s.net.allow_vsock, "vsock sockets"),
        (s.net.allow_unix, "UNIX domain sockets"),
    ] {
        say(sb, format!("{} open {what}", if allowed { "may" } else { "may not" }));
    }
    say(
        sb,
        match s.net.namespace {
            NetNamespace::New => "network namespace: a new one (isolated from the host's interfaces)".into(),
            NetNamespace::Host => "network namespace: the HOST's (sees every host interface)".into(),
            NetNamespace::None => "network namespace: a new one with loopback only".into(),
        },
    );
    say(
        sb,
        match s.syscalls.base {
            SyscallBase::ModelServer => "syscalls: the model-server allow-list".into(),
            SyscallBase::DockerDefault => "syscalls: Docker's default profile".into(),
            SyscallBase::None => "syscalls: none except those allowed below".into(),
        },
    );
    for r in &s.syscalls.allow {
        say(sb, format!("syscalls: also allowed: {r}"));
    }
    for r in &s.syscalls.deny {
        say(sb, format!("syscalls: refused: {r}"));
    }
    if s.capabilities.keep.is_empty() {
        say(sb, "capabilities: none".into());
    } else {
        say(sb, format!("capabilities: {}", s.capabilities.keep.join(", ")));
    }
    say(
        sb,
        "no_new_privs: always on (setuid binaries and file capabilities grant nothing)".into(),
    );
    match s.limits.memory {
        Some(m) => say(sb, format!("memory limit: {m}")),
        None => say(sb, "no memory limit".into()),
    }
    match s.limits.pids {
        Some(n) => say(sb, format!("at most {n} processes and threads")),
        None => say(sb, "no pids limit".into()),
    }
    match s.limits.cpus {
        Some(c) => say(sb, format!("CPU limit: {c} CPUs")),
        None => say(sb, "no CPU limit".into()),
    }
    if let Some(w) = s.limits.io_weight {
        say(sb, format!("IO weight: {w}"));
    }
    if s.devices.is_empty() {
        say(sb, "may not use any device node beyond the standard ones".into());
    }
    for d in &s.devices {
        let kind = match d.kind {
            crate::sandbox::DeviceKind::Char => "char",
            crate::sandbox::DeviceKind::Block => "block",
        };
        say(
            sb,
            format!(
                "may use device {} ({kind} {}:{}, {})",
                d.path, d.major, d.minor, d.access
            ),
        );
    }
    say(
        sb,
        format!(
            "{} signal processes outside the sandbox",
            if s.scope.signals { "may not" } else { "may" }
        ),
    );
    say(
        sb,
        format!(
            "{} connect to abstract UNIX sockets outside the sandbox",
            if s.scope.abstract_unix { "may not" } else { "may" }
        ),
    );

    let t = &p.trust;
    if t.has_no_signers() {
        say("trust", "no signers: no image can be verified".into());
    }
    for g in &t.signers.sigstore {
        say(
            "trust",
            format!(
                "accepts Sigstore signatures by {} (issuer {}), trusted root {}",
                g.identity, g.issuer, g.trusted_root
            ),
        );
    }
    for k in &t.signers.keys {
        say(
            "trust",
            format!("accepts signatures by the {} key {}", k.algorithm.as_str(), k.path),
        );
    }
    for c in &t.signers.certificates {
        say(
            "trust",
            format!("accepts certificate signatures chaining to the CA {}", c.path),
        );
    }
    say(
        "trust",
        format!("accepts bundle media types: {}", t.media_types.join(", ")),
    );
    say(
        "trust",
        format!(
            "{} a transparency-log entry",
            if t.require_tlog { "requires" } else { "does not require" }
        ),
    );
    say(
        "trust",
        format!(
            "{} a signed timestamp",
            if t.require_timestamp {
                "requires"
            } else {
                "does not require"
            }
        ),
    );

    let b = &p.sbom;
    if b.formats.is_empty() {
        say("sbom", "does not require an SBOM".into());
    } else {
        let f: Vec<&str> = b.formats.iter().map(|f| f.as_str()).collect();
        say("sbom", format!("requires an SBOM in one of: {}", f.join(", ")));
    }
    if b.licenses.allow.is_empty() {
        say("sbom", "licenses: any that is not denied".into());
    } else {
        say("sbom", format!("licenses allowed: {}", b.licenses.allow.join(", ")));
    }
    if !b.licenses.deny.is_empty() {
        say("sbom", format!("licenses denied: {}", b.licenses.deny.join(", ")));
    }
    for d in &b.deny_purls {
        say("sbom", format!("refuses packages matching {d}"));
    }
    match b.max_cvss {
        Some(c) => say("sbom", format!("refuses known vulnerabilities with CVSS above {c}")),
        None => say("sbom", "does not check vulnerabilities".into()),
    }
    if let Some(d) = &b.osv_dir {
        say("sbom", format!("vulnerability database: {d}"));
    }
    for r in &b.rules {
        say("sbom", format!("Rego rules: {r}"));
    }

    let a = &p.attestation;
    if a.tee.is_empty() {
        say("attestation", "accepts no TEE: no attestation can succeed".into());
    } else {
        say("attestation", format!("runs only in: {}", kinds(&a.tee)));
    }
    if a.allow_dev {
        say("attestation", "ACCEPTS the dev TEE (development only)".into());
    }
    if a.tee.contains(&TeeKind::Snp) {
        let n = &a.snp;
        say(
            "attestation",
            format!("SNP: {} accepted measurement(s)", n.measurements.len()),
        );
        say(
            "attestation",
            format!(
                "SNP: TCB at least bootloader {}, tee {}, snp {}, microcode {}",
                n.min_tcb.bootloader, n.min_tcb.tee, n.min_tcb.snp, n.min_tcb.microcode
            ),
        );
        if let Some(v) = n.vmpl {
            say("attestation", format!("SNP: VMPL {v} only"));
        }
        say(
            "attestation",
            format!(
                "SNP: debug guests {}",
                if n.allow_debug { "ACCEPTED" } else { "refused" }
            ),
        );
        say(
            "attestation",
            format!(
                "SNP: migration agent {}",
                if n.allow_migration_agent { "accepted" } else { "refused" }
            ),
        );
        if let Some(h) = &n.host_data {
            say("attestation", format!("SNP: host data must be {h}"));
        }
    }
    if a.tee.contains(&TeeKind::Tdx) {
        let x = &a.tdx;
        say("attestation", format!("TDX: {} accepted MRTD(s)", x.mrtd.len()));
        let st: Vec<&str> = x.allowed_tcb_status.iter().map(|s| s.as_str()).collect();
        say(
            "attestation",
            format!("TDX: TCB status must be one of: {}", st.join(", ")),
        );
        if !x.allowed_advisories.is_empty() {
            say(
                "attestation",
                format!("TDX: tolerates advisories {}", x.allowed_advisories.join(", ")),
            );
        }
        say(
            "attestation",
            format!("TDX: debug TDs {}", if x.allow_debug { "ACCEPTED" } else { "refused" }),
        );
    }
    if a.gpu.count > 0 || a.gpu.require_evidence {
        say(
            "attestation",
            format!(
                "GPU: at least {} GPU(s){}",
                a.gpu.count,
                if a.gpu.require_evidence {
                    ", with verified evidence"
                } else {
                    ""
                }
            ),
        );
    }
    for e in &p.keys.entries {
        say(
            "keys",
            format!(
                "releases key {} only for image {} attested by {}",
                e.id,
                e.image_digest,
                kinds(&e.require_tee)
            ),
        );
    }
    for r in &p.rules {
        let targets: Vec<&str> = r.applies_to.iter().map(|t| t.as_str()).collect();
        let src = r.path.clone().unwrap_or_else(|| "inline module".into());
        say(
            "rules",
            format!("Rego rule {} ({src}) applies to {}", r.name, targets.join(", ")),
        );
    }
    Explanation {
        digest: p.digest(),
        chain: p.chain.clone(),
        statements: st,
    }
}
