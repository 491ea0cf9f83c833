//! Loading and validating a bundle's `config.json`.
//!
//! The document is parsed with `oci-spec` after one pass over the raw JSON that drops
//! capability names this build does not know (runc ignores them with a warning rather
//! than refusing the container; a newer containerd may send newer names).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
}

fn err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Bundle {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Capability names `caps` (and so this runtime) can set.
fn known_capability(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse::<caps::Capability>().is_ok()
}

pub fn load(dir: &Path) -> Result<Bundle> {
    let dir = std::path::absolute(dir).map_err(|e| err(dir, format!("cannot resolve bundle path: {e}")))?;
    let path = dir.join("config.json");
    let data = std::fs::read(&path).map_err(|e| err(&path, format!("cannot read: {e}")))?;
    let spec = parse(&path, &data)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| err(&path, "root: expected an object with \"path\", found nothing"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    if !rootfs.is_dir() {
        return Err(err(
            &path,
            format!("root.path: expected a directory, found nothing at {}", rootfs.display()),
        ));
    }
    Ok(Bundle { dir, spec, rootfs })
}

/// Parse and validate a config.json document; `path` is only used in messages.
pub fn parse(path: &Path, data: &[u8]) -> Result<Spec> {
    let mut raw: serde_json::Value = serde_json::from_slice(data).map_err(|e| {
        err(
            path,
            format!("not valid JSON at line {} column {}: {e}", e.line(), e.column()),
        )
    })?;
    strip_unknown_capabilities(&mut raw);
    // oci-spec does not model id-mapped mounts and would drop the fields silently;
    // ignoring them would give the mounted files the wrong owners.
    for (i, m) in raw
        .pointer("/mounts")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if m.get("uidMappings").is_some() || m.get("gidMappings").is_some() {
            return Err(err(
                path,
                format!("mounts[{i}].uidMappings: id-mapped mounts are not supported"),
            ));
        }
    }
    // Checked on the raw JSON first: serde alone would only say "unknown variant"
    // without the field's path, and oci-spec does not model every seccomp flag.
    if let Some(sc) = raw.pointer_mut("/linux/seccomp") {
        if !sc.is_null() {
            let parsed = crate::seccomp::parse_profile(sc).map_err(|e| err(path, e.to_string()))?;
            *sc = serde_json::to_value(parsed).expect("seccomp serializes");
        }
    }
    let spec: Spec =
        serde_json::from_value(raw).map_err(|e| err(path, format!("does not match the OCI runtime spec: {e}")))?;
    validate(path, &spec)?;
    Ok(spec)
}

fn strip_unknown_capabilities(raw: &mut serde_json::Value) {
    let Some(caps) = raw.pointer_mut("/process/capabilities").and_then(|c| c.as_object_mut()) else {
        return;
    };
    for (set, list) in caps.iter_mut() {
        if let Some(arr) = list.as_array_mut() {
            arr.retain(|c| {
                let ok = c.as_str().is_some_and(known_capability);
                if !ok {
                    tracing::warn!("process.capabilities.{set}: ignoring unknown capability {c}");
                }
                ok
            });
        }
    }
}

/// Fields of the spec this runtime does not implement. Ignoring one of these changes
/// nothing about isolation (they are labels and tuning), so `create` logs a warning
/// naming each, as runc does on a kernel without the feature; id-mapped mounts are
/// refused in `validate` instead, since ignoring them would give files wrong owners.
pub fn ignored_fields(spec: &Spec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(p) = spec.process() {
        if p.apparmor_profile().is_some() {
            out.push("process.apparmorProfile (AppArmor is not supported)");
        }
        if p.selinux_label().is_some() {
            out.push("process.selinuxLabel (SELinux is not supported)");
        }
        if p.scheduler().is_some() {
            out.push("process.scheduler");
        }
        if p.io_priority().is_some() {
            out.push("process.ioPriority");
        }
        if p.exec_cpu_affinity().is_some() {
            out.push("process.execCPUAffinity");
        }
    }
    if let Some(l) = spec.linux() {
        if l.mount_label().is_some() {
            out.push("linux.mountLabel (SELinux is not supported)");
        }
        if l.intel_rdt().is_some() {
            out.push("linux.intelRdt");
        }
        if l.personality().is_some() {
            out.push("linux.personality");
        }
        if l.memory_policy().is_some() {
            out.push("linux.memoryPolicy");
        }
        if l.net_devices().is_some() {
            out.push("linux.netDevices");
        }
    }
    out
}

fn validate(path: &Path, spec: &Spec) -> Result<()> {
    let v = spec.version();
    if !v.starts_with("1.") {
        return Err(err(path, format!("ociVersion: expected 1.x, found {v:?}")));
    }
    if let Some(p) = spec.process() {
        let args = p.args().as_deref().unwrap_or_default();
        if args.is_empty() || args[0].is_empty() {
            return Err(err(
                path,
                "process.args: expected at least one argument (the program), found none",
            ));
        }
        if !p.cwd().is_absolute() {
            return Err(err(
                path,
                format!("process.cwd: expected an absolute path, found {:?}", p.cwd()),
            ));
        }
    }
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| err(path, "linux: expected the Linux section, found nothing"))?;
    let mut seen = Vec::new();
    for (i, ns) in linux.namespaces().as_deref().unwrap_or_default().iter().enumerate() {
        if seen.contains(&ns.typ()) {
            return Err(err(
                path,
                format!("linux.namespaces[{i}]: namespace {:?} listed twice", ns.typ()),
            ));
        }
        seen.push(ns.typ());
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(err(
                    path,
                    format!("linux.namespaces[{i}].path: expected an absolute path, found {p:?}"),
                ));
            }
        }
    }
    if !seen.contains(&LinuxNamespaceType::Mount) {
        return Err(err(path, "linux.namespaces: expected a \"mount\" namespace (sealrun always gives a container its own mount table), found none"));
    }
    let has_user = seen.contains(&LinuxNamespaceType::User);
    if !has_user && (linux.uid_mappings().is_some() || linux.gid_mappings().is_some()) {
        return Err(err(
            path,
            "linux.uidMappings: id mappings need a \"user\" namespace, found none",
        ));
    }
    for (i, m) in spec.mounts().as_deref().unwrap_or_default().iter().enumerate() {
        if !m.destination().is_absolute() {
            return Err(err(
                path,
                format!(
                    "mounts[{i}].destination: expected an absolute path, found {:?}",
                    m.destination()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                        "capabilities": {"bounding": ["CAP_CHOWN", "CAP_FROM_THE_FUTURE"]}},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]}
        })
    }

    fn parse_v(v: &serde_json::Value) -> Result<Spec> {
        parse(Path::new("/b/config.json"), &serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn seccomp_errors_name_the_field() {
        let mut v = base();
        v["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ROUGHLY"}]}]
        });
        let e = parse_v(&v).unwrap_err().to_string();
        assert!(
            e.contains("linux.seccomp.syscalls[0].args[0].op") && e.contains("SCMP_CMP_ROUGHLY"),
            "{e}"
        );
    }

    #[test]
    fn unknown_capabilities_are_dropped() {
        let spec = parse_v(&base()).unwrap();
        let caps = spec.process().as_ref().unwrap().capabilities().as_ref().unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = base();
        v["process"]["cwd"] = "rel".into();
        let e = parse_v(&v).unwrap_err().to_string();
        assert!(e.contains("/b/config.json") && e.contains("process.cwd"), "{e}");

        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        let e = parse_v(&v).unwrap_err().to_string();
        assert!(e.contains("linux.namespaces") && e.contains("mount"), "{e}");

        let mut v = base();
        v["process"]["args"] = serde_json::json!([]);
        assert!(parse_v(&v).unwrap_err().to_string().contains("process.args"));

        let e = parse(Path::new("/b/config.json"), b"{ nope").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
