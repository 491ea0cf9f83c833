//! What changing one policy into another grants or removes.

use std::fmt::Display;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// The new policy lets the workload do more.
    Grants,
    /// The new policy lets the workload do less.
    Removes,
    /// A change that is not simply more or less (trust, SBOM, attestation, keys, rules,
    /// base profiles).
    Changes,
}

/// One difference between two policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// The key path concerned.
    pub key: String,
    /// One human line, e.g. "grants: write /var/log", "raises memory limit 4 GiB → 8 GiB".
    pub text: String,
}

/// One line per change.
pub fn diff_to_text(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no changes\n".to_string();
    }
    changes.iter().map(|c| format!("{}\n", c.text)).collect()
}

struct Out(Vec<Change>);

impl Out {
    fn push(&mut self, kind: ChangeKind, key: &str, text: String) {
        self.0.push(Change {
            kind,
            key: key.to_string(),
            text,
        });
    }

    /// Items added to / removed from a list of things the workload may do.
    fn grants_list<T: PartialEq + Display>(&mut self, key: &str, what: &str, old: &[T], new: &[T]) {
        for x in new.iter().filter(|x| !old.contains(x)) {
            self.push(ChangeKind::Grants, key, format!("grants: {what} {x}"));
        }
        for x in old.iter().filter(|x| !new.contains(x)) {
            self.push(ChangeKind::Removes, key, format!("removes: {what} {x}"));
        }
    }

    /// Items added to / removed from a list of things the workload may NOT do.
    fn denies_list<T: PartialEq + Display>(&mut self, key: &str, what: &str, old: &[T], new: &[T]) {
        for x in new.iter().filter(|x| !old.contains(x)) {
            self.push(ChangeKind::Removes, key, format!("removes: {what} {x} (now refused)"));
        }
        for x in old.iter().filter(|x| !new.contains(x)) {
            self.push(
                ChangeKind::Grants,
                key,
                format!("grants: {what} {x} (no longer refused)"),
            );
        }
    }

    fn flag(&mut self, key: &str, what: &str, old: bool, new: bool) {
        match (old, new) {
            (false, true) => self.push(ChangeKind::Grants, key, format!("grants: {what}")),
            (true, false) => self.push(ChangeKind::Removes, key, format!("removes: {what}")),
            _ => {}
        }
    }

    /// A limit: higher or absent means more for the workload.
    fn limit<T: PartialOrd + Display>(&mut self, key: &str, what: &str, old: Option<T>, new: Option<T>) {
        match (old, new) {
            (Some(o), Some(n)) if n > o => self.push(ChangeKind::Grants, key, format!("raises {what} {o} → {n}")),
            (Some(o), Some(n)) if n < o => self.push(ChangeKind::Removes, key, format!("lowers {what} {o} → {n}")),
            (Some(o), None) => self.push(ChangeKind::Grants, key, format!("removes the {what} (was {o})")),
            (None, Some(n)) => self.push(ChangeKind::Removes, key, format!("sets a {what} of {n}")),
            _ => {}
        }
    }

    fn changed<T: PartialEq + Display>(&mut self, key: &str, what: &str, old: T, new: T) {
        if old != new {
            self.push(ChangeKind::Changes, key, format!("changes {what}: {old} → {new}"));
        }
    }
}

/// What going from `old` to `new` grants or removes, sandbox first.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let mut out = Out(Vec::new());
    let (a, b) = (&old.sandbox, &new.sandbox);
    out.grants_list("sandbox.fs.read", "read", &a.fs.read, &b.fs.read);
    out.grants_list("sandbox.fs.write", "write", &a.fs.write, &b.fs.write);
    out.grants_list("sandbox.fs.exec", "execute", &a.fs.exec, &b.fs.exec);
    out.changed(
        "sandbox.landlock.min_abi",
        "minimum Landlock ABI",
        a.landlock.min_abi.map_or("unset".to_string(), |v| v.to_string()),
        b.landlock.min_abi.map_or("unset".to_string(), |v| v.to_string()),
    );
    out.flag(
        "sandbox.landlock.best_effort",
        "best-effort Landlock (runs on kernels that cannot enforce every rule)",
        a.landlock.best_effort,
        b.landlock.best_effort,
    );
    out.grants_list("sandbox.net.tcp_bind", "TCP listen", &a.net.tcp_bind, &b.net.tcp_bind);
    out.grants_list(
        "sandbox.net.tcp_connect",
        "TCP connect",
        &a.net.tcp_connect,
        &b.net.tcp_connect,
    );
    out.flag("sandbox.net.allow_udp", "UDP sockets", a.net.allow_udp, b.net.allow_udp);
    out.flag("sandbox.net.allow_raw", "raw sockets", a.net.allow_raw, b.net.allow_raw);
    out.flag(
        "sandbox.net.allow_netlink",
        "netlink sockets",
        a.net.allow_netlink,
        b.net.allow_netlink,
    );
    out.flag(
        "sandbox.net.allow_vsock",
        "vsock sockets",
        a.net.allow_vsock,
        b.net.allow_vsock,
    );
    out.flag(
        "sandbox.net.allow_unix",
        "UNIX domain sockets",
        a.net.allow_unix,
        b.net.allow_unix,
    );
    if a.net.namespace != b.net.namespace {
        let kind = if b.net.namespace == crate::sandbox::NetNamespace::Host {
            ChangeKind::Grants
        } else {
            ChangeKind::Changes
        };
        out.push(
            kind,
            "sandbox.net.namespace",
            format!(
                "{}network namespace {} → {}",
                if kind == ChangeKind::Grants {
                    "grants: "
                } else {
                    "changes "
                },
                a.net.namespace.as_str(),
                b.net.namespace.as_str()
            ),
        );
    }
    out.changed(
        "sandbox.syscalls.base",
        "syscall base",
        a.syscalls.base.as_str(),
        b.syscalls.base.as_str(),
    );
    out.grants_list(
        "sandbox.syscalls.allow",
        "syscall",
        &a.syscalls.allow,
        &b.syscalls.allow,
    );
    out.denies_list("sandbox.syscalls.deny", "syscall", &a.syscalls.deny, &b.syscalls.deny);
    out.grants_list(
        "sandbox.capabilities.keep",
        "capability",
        &a.capabilities.keep,
        &b.capabilities.keep,
    );
    out.limit(
        "sandbox.limits.memory",
        "memory limit",
        a.limits.memory,
        b.limits.memory,
    );
    out.limit("sandbox.limits.pids", "pids limit", a.limits.pids, b.limits.pids);
    out.limit("sandbox.limits.cpus", "CPU limit", a.limits.cpus, b.limits.cpus);
    out.limit(
        "sandbox.limits.io_weight",
        "IO weight",
        a.limits.io_weight,
        b.limits.io_weight,
    );
    let dev = |d: &crate::sandbox::Device| {
        let k = if d.kind == crate::sandbox::DeviceKind::Char {
            "c"
        } else {
            "b"
        };
        format!("{} ({k} {}:{} {})", d.path, d.major, d.minor, d.access)
    };
    let da: Vec<String> = a.devices.iter().map(dev).collect();
    let db: Vec<String> = b.devices.iter().map(dev).collect();
    out.grants_list("sandbox.devices", "device", &da, &db);
    // `scope.*` = true confines; false grants.
    out.flag(
        "sandbox.scope.signals",
        "signalling processes outside the sandbox",
        !a.scope.signals,
        !b.scope.signals,
    );
    out.flag(
        "sandbox.scope.abstract_unix",
        "abstract UNIX sockets outside the sandbox",
        !a.scope.abstract_unix,
        !b.scope.abstract_unix,
    );

    // Trust: signers are what matters most; phrase them individually.
    let sig = |s: &crate::trust::SigstoreSigner| format!("Sigstore signer {} ({})", s.identity, s.issuer);
    let key = |k: &crate::trust::KeySigner| format!("key signer {} ({})", k.path, k.algorithm.as_str());
    let ca = |c: &crate::trust::CertificateSigner| format!("certificate CA {}", c.path);
    let signers = |t: &crate::trust::Trust| -> Vec<String> {
        t.signers
            .sigstore
            .iter()
            .map(sig)
            .chain(t.signers.keys.iter().map(key))
            .chain(t.signers.certificates.iter().map(ca))
            .collect()
    };
    let (sa, sb) = (signers(&old.trust), signers(&new.trust));
    for s in sb.iter().filter(|s| !sa.contains(s)) {
        out.push(ChangeKind::Changes, "trust.signers", format!("changes trust: adds {s}"));
    }
    for s in sa.iter().filter(|s| !sb.contains(s)) {
        out.push(
            ChangeKind::Changes,
            "trust.signers",
            format!("changes trust: removes {s}"),
        );
    }
    // Everything else outside the sandbox: a structural diff with key paths.
    for section in ["trust", "sbom", "attestation", "keys", "rules"] {
        let mut va = serde_json::to_value(old).unwrap_or(Value::Null)[section].take();
        let mut vb = serde_json::to_value(new).unwrap_or(Value::Null)[section].take();
        if section == "trust" {
            va["signers"] = Value::Null;
            vb["signers"] = Value::Null;
        }
        json_diff(&mut out, section, section, &va, &vb);
    }
    out.0
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "unset".into(),
        other => other.to_string(),
    }
}

fn json_diff(out: &mut Out, section: &str, key: &str, a: &Value, b: &Value) {
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            for (k, va) in ma {
                let vb = mb.get(k).unwrap_or(&Value::Null);
                json_diff(out, section, &format!("{key}.{k}"), va, vb);
            }
            for (k, vb) in mb.iter().filter(|(k, _)| !ma.contains_key(*k)) {
                json_diff(out, section, &format!("{key}.{k}"), &Value::Null, vb);
            }
        }
        (Value::Array(la), Value::Array(lb)) => {
            for x in lb.iter().filter(|x| !la.contains(x)) {
                out.push(
                    ChangeKind::Changes,
                    key,
                    format!("changes {section}: {key} adds {}", short(x)),
                );
            }
            for x in la.iter().filter(|x| !lb.contains(x)) {
                out.push(
                    ChangeKind::Changes,
                    key,
                    format!("changes {section}: {key} removes {}", short(x)),
                );
            }
        }
        (x, y) if x != y => {
            out.push(
                ChangeKind::Changes,
                key,
                format!("changes {section}: {key} {} → {}", short(x), short(y)),
            );
        }
        _ => {}
    }
}
