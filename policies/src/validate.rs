//! Rules beyond what the types express: ranges, formats, name tables and consistency
//! between sections. Runs on the merged document, before normalisation, so key paths and
//! indices match what the author wrote.

use std::collections::BTreeSet;

use crate::attestation::{TcbStatus, TeeKind};
use crate::error::{nearest, Invalid, KeyPath};
use crate::names::{CAPABILITIES, ERRNOS, SYSCALLS};
use crate::sandbox::{ArgOp, SyscallRule};
use crate::Policy;

type R = Result<(), Invalid>;

fn root() -> KeyPath {
    KeyPath::root()
}

fn is_hex(s: &str, bytes: usize) -> bool {
    s.len() == bytes * 2 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn hex(path: KeyPath, s: &str, bytes: usize) -> R {
    if is_hex(s, bytes) {
        Ok(())
    } else {
        Err(Invalid::new(
            path,
            format!("{bytes} bytes as {} hex digits", bytes * 2),
            format!("`{s}` ({} characters)", s.chars().count()),
        ))
    }
}

fn non_empty(path: KeyPath, s: &str, what: &str) -> R {
    if s.trim().is_empty() {
        Err(Invalid::new(path, what, "an empty string"))
    } else {
        Ok(())
    }
}

pub(crate) fn validate(p: &Policy) -> R {
    trust(p)?;
    sbom(p)?;
    sandbox(p)?;
    attestation(p)?;
    keys(p)?;
    rules(p)
}

fn trust(p: &Policy) -> R {
    let t = &p.trust;
    let base = root().key("trust");
    if t.media_types.is_empty() {
        return Err(Invalid::new(
            base.key("media_types"),
            "at least one bundle media type",
            "an empty list",
        ));
    }
    for (i, m) in t.media_types.iter().enumerate() {
        let (ty, sub) = m.split_once('/').unwrap_or(("", ""));
        if ty.is_empty() || sub.is_empty() || m.contains(char::is_whitespace) {
            return Err(Invalid::new(
                base.key("media_types").index(i),
                "a media type such as `application/vnd.dev.sigstore.bundle.v0.3+json`",
                format!("`{m}`"),
            ));
        }
    }
    let s = base.key("signers");
    for (i, g) in t.signers.sigstore.iter().enumerate() {
        let p = s.key("sigstore").index(i);
        non_empty(p.key("identity"), &g.identity, "a certificate identity (email or URI)")?;
        if !g.issuer.starts_with("https://") {
            return Err(Invalid::new(
                p.key("issuer"),
                "an OIDC issuer URL starting with https://",
                format!("`{}`", g.issuer),
            ));
        }
        non_empty(
            p.key("trusted_root"),
            &g.trusted_root,
            "the path of a trusted_root.json",
        )?;
    }
    for (i, k) in t.signers.keys.iter().enumerate() {
        non_empty(
            s.key("keys").index(i).key("path"),
            &k.path,
            "the path of a PEM public key",
        )?;
    }
    for (i, c) in t.signers.certificates.iter().enumerate() {
        non_empty(
            s.key("certificates").index(i).key("path"),
            &c.path,
            "the path of a PEM CA certificate",
        )?;
    }
    Ok(())
}

fn sbom(p: &Policy) -> R {
    let s = &p.sbom;
    let base = root().key("sbom");
    let mut allowed = Vec::new();
    for (i, e) in s.licenses.allow.iter().enumerate() {
        let t = crate::sbom::parse_entry(e).map_err(|why| {
            Invalid::new(
                base.key("licenses").key("allow").index(i),
                format!("an SPDX license such as `Apache-2.0` ({why})"),
                format!("`{e}`"),
            )
        })?;
        allowed.push(t);
    }
    for (i, e) in s.licenses.deny.iter().enumerate() {
        let path = base.key("licenses").key("deny").index(i);
        let t = crate::sbom::parse_entry(e).map_err(|why| {
            Invalid::new(
                path.clone(),
                format!("an SPDX license such as `GPL-3.0-only` ({why})"),
                format!("`{e}`"),
            )
        })?;
        if allowed
            .iter()
            .any(|a| a.id.eq_ignore_ascii_case(&t.id) && a.exception == t.exception)
        {
            return Err(Invalid::new(
                path,
                "a license that is not also in sbom.licenses.allow",
                format!("`{e}` in both lists"),
            ));
        }
    }
    for (i, pat) in s.deny_purls.iter().enumerate() {
        if !pat.starts_with("pkg:") || pat.len() < 5 {
            return Err(Invalid::new(
                base.key("deny_purls").index(i),
                "a purl pattern such as `pkg:pypi/pickle5*`",
                format!("`{pat}`"),
            ));
        }
    }
    if let Some(c) = s.max_cvss {
        if !(0.0..=10.0).contains(&c) {
            return Err(Invalid::new(
                base.key("max_cvss"),
                "a CVSS score from 0.0 to 10.0",
                c.to_string(),
            ));
        }
    }
    if let Some(d) = &s.osv_dir {
        non_empty(base.key("osv_dir"), d, "the path of an OSV database directory")?;
    }
    for (i, r) in s.rules.iter().enumerate() {
        if !r.ends_with(".rego") {
            return Err(Invalid::new(
                base.key("rules").index(i),
                "the path of a .rego file",
                format!("`{r}`"),
            ));
        }
    }
    Ok(())
}

fn fs_path(path: KeyPath, s: &str) -> R {
    let bad = if !s.starts_with('/') {
        Some("a relative path")
    } else if s.split('/').any(|c| c == "..") {
        Some("a path with `..`")
    } else if s.contains('\0') {
        Some("a path with a NUL byte")
    } else {
        None
    };
    match bad {
        Some(why) => Err(Invalid::new(
            path,
            "an absolute path inside the container without `..`",
            format!("`{s}` ({why})"),
        )),
        None => Ok(()),
    }
}

fn syscall_rule(path: KeyPath, r: &SyscallRule, deny: bool) -> R {
    if !SYSCALLS.contains(&r.name.as_str()) {
        return Err(
            Invalid::new(path.key("name"), "a Linux syscall name", format!("`{}`", r.name))
                .suggest(nearest(&r.name, SYSCALLS.iter().copied())),
        );
    }
    for (j, a) in r.args.iter().enumerate() {
        let ap = path.key("args").index(j);
        if a.index > 5 {
            return Err(Invalid::new(
                ap.key("index"),
                "an argument index 0..=5",
                a.index.to_string(),
            ));
        }
        match (a.op, a.value_two) {
            (ArgOp::MaskedEq, None) => {
                return Err(Invalid::new(
                    ap.key("value_two"),
                    "a value for `masked_eq` ((arg & value) == value_two)",
                    "no value_two",
                ));
            }
            (op, Some(v)) if op != ArgOp::MaskedEq => {
                return Err(Invalid::new(
                    ap.key("value_two"),
                    "no value_two (only `masked_eq` uses it)",
                    v.to_string(),
                ));
            }
            _ => {}
        }
    }
    if let Some(e) = &r.errno {
        if !deny {
            return Err(Invalid::new(
                path.key("errno"),
                "no errno in an allow rule (errno is for deny rules)",
                format!("`{e}`"),
            ));
        }
        if !ERRNOS.iter().any(|(n, _)| n == e) {
            return Err(
                Invalid::new(path.key("errno"), "an errno name such as `EPERM`", format!("`{e}`"))
                    .suggest(nearest(e, ERRNOS.iter().map(|(n, _)| *n))),
            );
        }
    }
    Ok(())
}

fn sandbox(p: &Policy) -> R {
    let s = &p.sandbox;
    let base = root().key("sandbox");
    for (name, list) in [("read", &s.fs.read), ("write", &s.fs.write), ("exec", &s.fs.exec)] {
        for (i, v) in list.iter().enumerate() {
            fs_path(base.key("fs").key(name).index(i), v)?;
        }
    }
    if let Some(abi) = s.landlock.min_abi {
        if !(1..=7).contains(&abi) {
            return Err(Invalid::new(
                base.key("landlock").key("min_abi"),
                "a Landlock ABI version 1..=7",
                abi.to_string(),
            ));
        }
    }
    for (name, list) in [("tcp_bind", &s.net.tcp_bind), ("tcp_connect", &s.net.tcp_connect)] {
        if let Some(i) = list.iter().position(|p| *p == 0) {
            return Err(Invalid::new(
                base.key("net").key(name).index(i),
                "a TCP port 1..=65535",
                "0",
            ));
        }
    }
    let sc = base.key("syscalls");
    for (i, r) in s.syscalls.allow.iter().enumerate() {
        syscall_rule(sc.key("allow").index(i), r, false)?;
    }
    for (i, r) in s.syscalls.deny.iter().enumerate() {
        syscall_rule(sc.key("deny").index(i), r, true)?;
        if s.syscalls.allow.iter().any(|a| a.name == r.name && a.args == r.args) {
            return Err(Invalid::new(
                sc.key("deny").index(i),
                "a rule that is not also in sandbox.syscalls.allow",
                format!("`{}` in both lists", r.name),
            ));
        }
    }
    for (i, c) in s.capabilities.keep.iter().enumerate() {
        if !CAPABILITIES.contains(&c.as_str()) {
            let upper = c.to_ascii_uppercase();
            let guess = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            let suggestion = if CAPABILITIES.contains(&guess.as_str()) {
                Some(guess)
            } else {
                nearest(c, CAPABILITIES.iter().copied())
            };
            return Err(Invalid::new(
                base.key("capabilities").key("keep").index(i),
                "a capability name such as `CAP_NET_BIND_SERVICE`",
                format!("`{c}`"),
            )
            .suggest(suggestion));
        }
    }
    let l = base.key("limits");
    if let Some(m) = s.limits.memory {
        if m.0 < 1 << 20 {
            return Err(Invalid::new(
                l.key("memory"),
                "at least 1 MiB",
                format!("{} bytes", m.0),
            ));
        }
    }
    if s.limits.pids == Some(0) {
        return Err(Invalid::new(l.key("pids"), "at least 1 process", "0"));
    }
    if let Some(c) = s.limits.cpus {
        if !(c > 0.0 && c <= 4096.0) {
            return Err(Invalid::new(
                l.key("cpus"),
                "a number of CPUs above 0 (e.g. 0.5, 2)",
                c.to_string(),
            ));
        }
    }
    if let Some(w) = s.limits.io_weight {
        if !(1..=10000).contains(&w) {
            return Err(Invalid::new(
                l.key("io_weight"),
                "an IO weight 1..=10000",
                w.to_string(),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, d) in s.devices.iter().enumerate() {
        let dp = base.key("devices").index(i);
        if !d.path.starts_with("/dev/") || d.path.split('/').any(|c| c == "..") {
            return Err(Invalid::new(
                dp.key("path"),
                "a device path under /dev/",
                format!("`{}`", d.path),
            ));
        }
        if !seen.insert(d.path.clone()) {
            return Err(Invalid::new(
                dp.key("path"),
                "each device listed once",
                format!("`{}` again", d.path),
            ));
        }
        let mut chars: Vec<char> = d.access.chars().collect();
        chars.sort();
        let before = chars.len();
        chars.dedup();
        if d.access.is_empty() || before != chars.len() || !d.access.chars().all(|c| "rwm".contains(c)) {
            return Err(Invalid::new(
                dp.key("access"),
                "some of `r`, `w`, `m`, each at most once",
                format!("`{}`", d.access),
            ));
        }
    }
    if !s.no_new_privs {
        return Err(Invalid::new(
            base.key("no_new_privs"),
            "true (no_new_privs is always on and cannot be disabled)",
            "false",
        ));
    }
    Ok(())
}

fn attestation(p: &Policy) -> R {
    let a = &p.attestation;
    let base = root().key("attestation");
    for (i, k) in a.tee.iter().enumerate() {
        if *k == TeeKind::Dev && !a.allow_dev {
            return Err(Invalid::new(
                base.key("tee").index(i),
                "`snp` or `tdx` (`dev` needs attestation.allow_dev = true)",
                "`dev`",
            ));
        }
    }
    let snp = base.key("snp");
    if a.tee.contains(&TeeKind::Snp) && a.snp.measurements.is_empty() {
        return Err(Invalid::new(
            snp.key("measurements"),
            "at least one launch measurement when attestation.tee has `snp`",
            "an empty list",
        ));
    }
    for (i, m) in a.snp.measurements.iter().enumerate() {
        hex(snp.key("measurements").index(i), m, 48)?;
    }
    if let Some(v) = a.snp.vmpl {
        if v > 3 {
            return Err(Invalid::new(snp.key("vmpl"), "a VMPL 0..=3", v.to_string()));
        }
    }
    if let Some(h) = &a.snp.host_data {
        hex(snp.key("host_data"), h, 32)?;
    }
    let tdx = base.key("tdx");
    if a.tee.contains(&TeeKind::Tdx) && a.tdx.mrtd.is_empty() {
        return Err(Invalid::new(
            tdx.key("mrtd"),
            "at least one MRTD when attestation.tee has `tdx`",
            "an empty list",
        ));
    }
    for (name, list) in [
        ("mrtd", &a.tdx.mrtd),
        ("rtmr0", &a.tdx.rtmr0),
        ("rtmr1", &a.tdx.rtmr1),
        ("rtmr2", &a.tdx.rtmr2),
        ("rtmr3", &a.tdx.rtmr3),
    ] {
        for (i, m) in list.iter().enumerate() {
            hex(tdx.key(name).index(i), m, 48)?;
        }
    }
    if let Some(m) = &a.tdx.mr_config_id {
        hex(tdx.key("mr_config_id"), m, 48)?;
    }
    if a.tdx.allowed_tcb_status.is_empty() {
        return Err(Invalid::new(
            tdx.key("allowed_tcb_status"),
            "at least one TCB status (e.g. `UpToDate`)",
            "an empty list",
        ));
    }
    if let Some(i) = a.tdx.allowed_tcb_status.iter().position(|s| *s == TcbStatus::Revoked) {
        return Err(Invalid::new(
            tdx.key("allowed_tcb_status").index(i),
            "a TCB status other than `Revoked`",
            "`Revoked`",
        ));
    }
    for (i, adv) in a.tdx.allowed_advisories.iter().enumerate() {
        let ok = adv
            .strip_prefix("INTEL-SA-")
            .is_some_and(|n| n.len() == 5 && n.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(Invalid::new(
                tdx.key("allowed_advisories").index(i),
                "an advisory ID such as `INTEL-SA-00837`",
                format!("`{adv}`"),
            ));
        }
    }
    Ok(())
}

fn keys(p: &Policy) -> R {
    let base = root().key("keys").key("entries");
    let mut ids = BTreeSet::new();
    for (i, e) in p.keys.entries.iter().enumerate() {
        let kp = base.index(i);
        non_empty(kp.key("id"), &e.id, "a key identifier")?;
        if !ids.insert(e.id.clone()) {
            return Err(Invalid::new(
                kp.key("id"),
                "each key id listed once",
                format!("`{}` again", e.id),
            ));
        }
        let ok = e
            .image_digest
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        if !ok {
            return Err(Invalid::new(
                kp.key("image_digest"),
                "`sha256:` followed by 64 lowercase hex digits",
                format!("`{}`", e.image_digest),
            ));
        }
        if e.require_tee.is_empty() {
            return Err(Invalid::new(
                kp.key("require_tee"),
                "at least one TEE kind (`snp`, `tdx`)",
                "an empty list",
            ));
        }
        for (j, k) in e.require_tee.iter().enumerate() {
            if !p.attestation.tee.contains(k) {
                return Err(Invalid::new(
                    kp.key("require_tee").index(j),
                    format!(
                        "a TEE kind that attestation.tee accepts ({})",
                        p.attestation
                            .tee
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    format!("`{}`", k.as_str()),
                ));
            }
        }
    }
    Ok(())
}

fn rules(p: &Policy) -> R {
    let base = root().key("rules");
    let mut names = BTreeSet::new();
    for (i, r) in p.rules.iter().enumerate() {
        let rp = base.index(i);
        non_empty(rp.key("name"), &r.name, "a rule name")?;
        if !names.insert(r.name.clone()) {
            return Err(Invalid::new(
                rp.key("name"),
                "each rule name used once",
                format!("`{}` again", r.name),
            ));
        }
        match (&r.path, &r.module) {
            (Some(_), Some(_)) => return Err(Invalid::new(rp, "either `path` or `module`", "both")),
            (None, None) => return Err(Invalid::new(rp, "either `path` or `module`", "neither")),
            (Some(path), None) if !path.ends_with(".rego") => {
                return Err(Invalid::new(
                    rp.key("path"),
                    "the path of a .rego file",
                    format!("`{path}`"),
                ));
            }
            (None, Some(m)) if !m.lines().any(|l| l.trim_start().starts_with("package ")) => {
                return Err(Invalid::new(
                    rp.key("module"),
                    "a Rego module starting with a `package` line",
                    "no package declaration",
                ));
            }
            _ => {}
        }
        if r.applies_to.is_empty() {
            return Err(Invalid::new(
                rp.key("applies_to"),
                "at least one of `trust`, `sbom`, `attestation`, `keys`",
                "an empty list",
            ));
        }
    }
    Ok(())
}
