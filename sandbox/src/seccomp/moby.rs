//! Docker/moby seccomp profiles (the `docker-default` base of `[sandbox.syscalls]`),
//! converted to the OCI IR the way moby's `setupSeccomp` (moby/profiles `seccomp`) does for
//! one container:
//! - `archMap`: the entry whose `architecture` is the native one gives `architectures`
//!   (it and its `subArchitectures`); a profile may give `architectures` or `archMap`, not
//!   both;
//! - each `syscalls[]` group is dropped when an `excludes` filter matches: the arch is in
//!   `excludes.arches`, *any* cap of `excludes.caps` is held, or the kernel is at least
//!   `excludes.minKernel`; and when an `includes` filter fails: the arch is not in
//!   `includes.arches`, *some* cap of `includes.caps` is not held, or the kernel is below
//!   `includes.minKernel`. Arches are Go names (`amd64`, `arm64`, ...); kernel versions
//!   compare `<major>.<minor>` only;
//! - a kept group becomes `{names, action, errnoRet, args}`; the deprecated `name` is
//!   accepted in place of `names`; `defaultAction`, `defaultErrnoRet`, `flags`,
//!   `listenerPath`, `listenerMetadata` are copied.
//!
//! Differences from moby, all stricter:
//! - unknown keys are errors (moby's JSON decoding ignores them), because a misspelt
//!   `excludes` or `includes` would silently make a gated group unconditional;
//! - every group is validated (action, op, values), also the ones the context drops;
//! - a profile without `defaultAction` is an error (moby then runs unconfined);
//! - capability names compare case-insensitively, with or without the `CAP_` prefix.
//!
//! The profile is input, never embedded: the caller reads it (Docker's default lives in
//! the fixtures, `seccomp/moby-default.json`).

use std::str::FromStr;

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSyscall};
use serde_json::{Map, Value};

use super::{parse_profile, SeccompError};

/// What a moby profile is evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobyContext {
    /// The container's final (bounding) capability set, e.g. `CAP_SYS_ADMIN`.
    pub caps: Vec<String>,
    /// The architecture as Go names it (`runtime.GOARCH`): `amd64`, `arm64`, ...
    pub arch: String,
    /// The running kernel as (major, minor), e.g. (6, 18).
    pub kernel: (u32, u32),
}

impl MobyContext {
    /// The native architecture and the running kernel, with `caps`.
    pub fn native(caps: Vec<String>) -> Result<MobyContext, MobyError> {
        Ok(MobyContext {
            caps,
            arch: native_goarch().to_string(),
            kernel: running_kernel()?,
        })
    }
}

/// Errors from reading a moby profile. Paths are relative to the profile's root, e.g.
/// `syscalls[3].includes.minKernel`.
#[derive(Debug, thiserror::Error)]
pub enum MobyError {
    #[error("moby seccomp profile, {path}: expected {expected}, found {found}")]
    InvalidField {
        path: String,
        expected: String,
        found: String,
    },
    #[error("moby seccomp profile, {path}: unknown key {key:?}; expected one of {expected}")]
    UnknownKey {
        path: String,
        key: String,
        expected: &'static str,
    },
    #[error(
        "moby seccomp profile: both `architectures` and `archMap` are given; use one of them \
         (moby refuses such a profile too)"
    )]
    ArchitecturesAndArchMap,
    #[error("moby seccomp profile, {path}: both `name` and `names` are given; use `names`")]
    NameAndNames { path: String },
    #[error("running kernel: expected a release such as \"6.18.0-1-amd64\" from uname(2), found {found:?}")]
    KernelRelease { found: String },
}

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Go architecture names and the libseccomp architecture moby maps them to
/// (moby `nativeToSeccomp`).
const GO_TO_SECCOMP: &[(&str, &str)] = &[
    ("amd64", "SCMP_ARCH_X86_64"),
    ("arm64", "SCMP_ARCH_AARCH64"),
    ("386", "SCMP_ARCH_X86"),
    ("arm", "SCMP_ARCH_ARM"),
    ("mips64", "SCMP_ARCH_MIPS64"),
    ("mips64le", "SCMP_ARCH_MIPSEL64"),
    ("ppc64le", "SCMP_ARCH_PPC64LE"),
    ("riscv64", "SCMP_ARCH_RISCV64"),
    ("s390x", "SCMP_ARCH_S390X"),
    ("loong64", "SCMP_ARCH_LOONGARCH64"),
];

/// The native architecture's Go name.
pub fn native_goarch() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "amd64"
    } else {
        "arm64"
    }
}

/// (major, minor) of the running kernel, from uname(2).
pub fn running_kernel() -> Result<(u32, u32), MobyError> {
    let uts = nix::sys::utsname::uname().map_err(|e| MobyError::KernelRelease {
        found: format!("uname failed: {e}"),
    })?;
    let release = uts.release().to_string_lossy().into_owned();
    parse_kernel_version(&release).ok_or(MobyError::KernelRelease { found: release })
}

/// "6.18.0-1-amd64", "3.12-rc5", "4.8" → (major, minor); suffixes are ignored, as moby does.
pub fn parse_kernel_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor_part = parts.next()?;
    let digits: String = minor_part.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((major, digits.parse().ok()?))
}

const TOP_KEYS: &str = "defaultAction, defaultErrnoRet, architectures, archMap, syscalls, flags, \
    listenerPath, listenerMetadata";
const SYSCALL_KEYS: &str = "names, name, action, errnoRet, args, comment, includes, excludes";
const FILTER_KEYS: &str = "caps, arches, minKernel";
const ARCH_KEYS: &str = "architecture, subArchitectures";
const ARG_KEYS: &str = "index, value, valueTwo, op";

/// Convert a moby profile for the container described by `ctx`.
pub fn import(json: &Value, ctx: &MobyContext) -> Result<LinuxSeccomp, MobyError> {
    let root = object(json, "(root)")?;
    check_keys(root, "(root)", TOP_KEYS)?;
    if root.contains_key("architectures") && root.contains_key("archMap") {
        return Err(MobyError::ArchitecturesAndArchMap);
    }

    // Everything but the rules, validated by the OCI parser (paths rewritten to ours).
    let mut head = Map::new();
    for key in [
        "defaultAction",
        "defaultErrnoRet",
        "architectures",
        "flags",
        "listenerPath",
        "listenerMetadata",
    ] {
        if let Some(v) = root.get(key).filter(|v| !v.is_null()) {
            head.insert(key.to_string(), v.clone());
        }
    }
    let mut profile = parse_profile(&Value::Object(head)).map_err(|e| relocate(e, "linux.seccomp", ""))?;

    if let Some(map) = root.get("archMap").filter(|v| !v.is_null()) {
        profile.set_architectures(Some(arch_map(map, &ctx.arch)?));
    }

    let caps: Vec<String> = ctx.caps.iter().map(|c| normalise_cap(c)).collect();
    let mut rules = Vec::new();
    let groups = match root.get("syscalls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(groups)) => groups.clone(),
        Some(other) => return Err(invalid("syscalls", "an array", other)),
    };
    for (i, group) in groups.iter().enumerate() {
        let path = format!("syscalls[{i}]");
        let (rule, includes, excludes) = read_group(group, &path)?;
        if excludes.as_ref().is_some_and(|f| f.any_matches(ctx, &caps)) {
            continue;
        }
        if includes.as_ref().is_some_and(|f| !f.all_match(ctx, &caps)) {
            continue;
        }
        rules.push(rule);
    }
    profile.set_syscalls(Some(rules));
    Ok(profile)
}

/// An `includes` or `excludes` filter.
#[derive(Debug, Default)]
struct Filter {
    caps: Vec<String>,
    arches: Vec<String>,
    min_kernel: Option<(u32, u32)>,
}

impl Filter {
    /// `excludes`: does any part match?
    fn any_matches(&self, ctx: &MobyContext, caps: &[String]) -> bool {
        self.arches.contains(&ctx.arch)
            || self.caps.iter().any(|c| caps.contains(c))
            || self.min_kernel.is_some_and(|min| ctx.kernel >= min)
    }

    /// `includes`: do all parts match? (An empty part matches.)
    fn all_match(&self, ctx: &MobyContext, caps: &[String]) -> bool {
        (self.arches.is_empty() || self.arches.contains(&ctx.arch))
            && self.caps.iter().all(|c| caps.contains(c))
            && self.min_kernel.is_none_or(|min| ctx.kernel >= min)
    }
}

fn read_group(group: &Value, path: &str) -> Result<(LinuxSyscall, Option<Filter>, Option<Filter>), MobyError> {
    let obj = object(group, path)?;
    check_keys(obj, path, SYSCALL_KEYS)?;
    let names = match (obj.get("name"), obj.get("names")) {
        (Some(Value::String(_)), Some(names)) if !names.is_null() => {
            return Err(MobyError::NameAndNames { path: path.to_string() })
        }
        (Some(Value::String(name)), _) => Value::Array(vec![Value::String(name.clone())]),
        (Some(other), _) if !other.is_null() => return Err(invalid(&format!("{path}.name"), "a string", other)),
        (_, Some(names)) => names.clone(),
        (_, None) => Value::Null,
    };
    if let Some(Value::Array(args)) = obj.get("args") {
        for (j, arg) in args.iter().enumerate() {
            let apath = format!("{path}.args[{j}]");
            check_keys(object(arg, &apath)?, &apath, ARG_KEYS)?;
        }
    }

    // The rule itself goes through the OCI parser, which names the bad field.
    let mut rule = Map::new();
    rule.insert("names".into(), names);
    for key in ["action", "errnoRet", "args"] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            rule.insert(key.to_string(), v.clone());
        }
    }
    let wrapper = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [Value::Object(rule)]});
    let parsed = parse_profile(&wrapper).map_err(|e| relocate(e, "linux.seccomp.syscalls[0]", path))?;
    let rule = parsed
        .syscalls()
        .as_ref()
        .and_then(|s| s.first())
        .cloned()
        .expect("the wrapper holds one rule");

    let filter = |key: &str| -> Result<Option<Filter>, MobyError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => read_filter(v, &format!("{path}.{key}")).map(Some),
        }
    };
    Ok((rule, filter("includes")?, filter("excludes")?))
}

fn read_filter(v: &Value, path: &str) -> Result<Filter, MobyError> {
    let obj = object(v, path)?;
    check_keys(obj, path, FILTER_KEYS)?;
    let caps = strings(obj.get("caps"), &format!("{path}.caps"))?
        .iter()
        .map(|c| normalise_cap(c))
        .collect();
    let arches = strings(obj.get("arches"), &format!("{path}.arches"))?;
    let min_kernel = match obj.get("minKernel") {
        None | Some(Value::Null) => None,
        // moby: an empty version means "no minimum".
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(parse_min_kernel(s).ok_or_else(|| {
            invalid(
                &format!("{path}.minKernel"),
                "\"<kernel>.<major>\" such as \"4.8\"",
                &Value::String(s.clone()),
            )
        })?),
        Some(other) => {
            return Err(invalid(
                &format!("{path}.minKernel"),
                "\"<kernel>.<major>\" such as \"4.8\"",
                other,
            ))
        }
    };
    Ok(Filter {
        caps,
        arches,
        min_kernel,
    })
}

/// moby reads minKernel with `Sscanf("%d.%d")`: two numbers, anything after is ignored.
fn parse_min_kernel(s: &str) -> Option<(u32, u32)> {
    let (major, rest) = s.split_once('.')?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((major.parse().ok()?, digits.parse().ok()?))
}

/// The native entry of `archMap`: it and its sub-architectures.
fn arch_map(map: &Value, goarch: &str) -> Result<Vec<Arch>, MobyError> {
    let entries = match map {
        Value::Array(entries) => entries,
        other => return Err(invalid("archMap", "an array", other)),
    };
    let native = GO_TO_SECCOMP.iter().find(|(go, _)| *go == goarch).map(|(_, s)| *s);
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("archMap[{i}]");
        let obj = object(entry, &path)?;
        check_keys(obj, &path, ARCH_KEYS)?;
        let arch = match obj.get("architecture") {
            Some(Value::String(s)) => s.as_str(),
            other => {
                return Err(invalid(
                    &format!("{path}.architecture"),
                    "an SCMP_ARCH_* name",
                    other.unwrap_or(&Value::Null),
                ))
            }
        };
        let subs = strings(obj.get("subArchitectures"), &format!("{path}.subArchitectures"))?;
        // Entries for other architectures are not read further: oci-spec does not know
        // every SCMP_ARCH name (LOONGARCH64), and moby does not look at them either.
        if Some(arch) != native || !out.is_empty() {
            continue;
        }
        let parse = |name: &str, field: String| {
            Arch::from_str(name).map_err(|_| invalid(&field, "an SCMP_ARCH_* name", &Value::String(name.to_string())))
        };
        out.push(parse(arch, format!("{path}.architecture"))?);
        for (j, sub) in subs.iter().enumerate() {
            out.push(parse(sub, format!("{path}.subArchitectures[{j}]"))?);
        }
    }
    Ok(out)
}

fn normalise_cap(c: &str) -> String {
    let upper = c.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, MobyError> {
    v.as_object().ok_or_else(|| invalid(path, "an object", v))
}

fn strings(v: Option<&Value>, path: &str) -> Result<Vec<String>, MobyError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(invalid(&format!("{path}[{i}]"), "a string", other)),
            })
            .collect(),
        Some(other) => Err(invalid(path, "an array of strings", other)),
    }
}

fn check_keys(obj: &Map<String, Value>, path: &str, expected: &'static str) -> Result<(), MobyError> {
    for key in obj.keys() {
        if !expected.split(", ").any(|k| k == key) {
            return Err(MobyError::UnknownKey {
                path: path.to_string(),
                key: key.clone(),
                expected,
            });
        }
    }
    Ok(())
}

fn invalid(path: &str, expected: &str, found: &Value) -> MobyError {
    MobyError::InvalidField {
        path: path.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// An OCI parser error with its `linux.seccomp...` prefix replaced by our path.
fn relocate(e: SeccompError, from: &str, to: &str) -> MobyError {
    match e {
        SeccompError::InvalidField { path, expected, found } => {
            let rest = path.strip_prefix(from).unwrap_or(&path);
            let path = match (to, rest.strip_prefix('.')) {
                ("", Some(r)) => r.to_string(),
                ("", None) if rest.is_empty() => "(root)".to_string(),
                _ => format!("{to}{rest}"),
            };
            MobyError::InvalidField { path, expected, found }
        }
        other => MobyError::InvalidField {
            path: to.to_string(),
            expected: "a valid seccomp rule".to_string(),
            found: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::edit::test_support::{compile, errno, errno_of, fixtures, run_in_child, OK};
    use oci_spec::runtime::LinuxSeccompAction;
    use serde_json::json;

    fn docker_profile() -> Value {
        let path = fixtures().join("seccomp/moby-default.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).expect("the moby profile is JSON")
    }

    fn ctx(extra: &[&str], arch: &str, kernel: (u32, u32)) -> MobyContext {
        MobyContext {
            caps: DOCKER_DEFAULT_CAPS.iter().chain(extra).map(|c| c.to_string()).collect(),
            arch: arch.to_string(),
            kernel,
        }
    }

    const KERNEL: (u32, u32) = (6, 18);

    /// The names a container keeps, computed from the JSON independently of `import`:
    /// a flat walk with string comparisons, no shared helpers.
    fn expected_names(moby: &Value, caps: &[&str], arch: &str, kernel: (u32, u32)) -> (usize, usize) {
        let list = |v: &Value, key: &str| -> Vec<String> {
            v.get(key)
                .and_then(|a| a.as_array())
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let version = |v: &Value| -> Option<(u32, u32)> {
            let s = v.get("minKernel")?.as_str()?;
            let (a, b) = s.split_once('.')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let (mut names, mut groups) = (0, 0);
        for g in moby["syscalls"].as_array().unwrap() {
            let empty = json!({});
            let inc = g.get("includes").unwrap_or(&empty);
            let exc = g.get("excludes").unwrap_or(&empty);
            let excluded = list(exc, "arches").iter().any(|a| a == arch)
                || list(exc, "caps").iter().any(|c| caps.contains(&c.as_str()))
                || version(exc).is_some_and(|v| kernel >= v);
            let arches = list(inc, "arches");
            let included = (arches.is_empty() || arches.iter().any(|a| a == arch))
                && list(inc, "caps").iter().all(|c| caps.contains(&c.as_str()))
                && version(inc).is_none_or(|v| kernel >= v);
            if !excluded && included {
                groups += 1;
                names += g["names"].as_array().unwrap().len();
            }
        }
        (names, groups)
    }

    fn count(p: &LinuxSeccomp) -> (usize, usize) {
        let rules = p.syscalls().as_deref().unwrap_or(&[]);
        (rules.iter().map(|r| r.names().len()).sum(), rules.len())
    }

    /// Names with an unconditional rule of this action.
    fn has(p: &LinuxSeccomp, name: &str, action: LinuxSeccompAction) -> bool {
        p.syscalls().iter().flatten().any(|r| {
            r.action() == action
                && r.names().iter().any(|n| n == name)
                && r.args().as_ref().is_none_or(|a| a.is_empty())
        })
    }

    #[test]
    fn docker_default_with_default_caps() {
        let moby = docker_profile();
        let mut caps: Vec<&str> = DOCKER_DEFAULT_CAPS.to_vec();
        let p = import(&moby, &ctx(&[], "amd64", KERNEL)).expect("imports");
        assert_eq!(count(&p), expected_names(&moby, &caps, "amd64", KERNEL));
        // Cross-checked by hand against the fixture: 15 groups, 377 names.
        assert_eq!(count(&p), (377, 15));
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(1));
        assert_eq!(
            p.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        let clone3 = p
            .syscalls()
            .iter()
            .flatten()
            .find(|r| r.names() == &["clone3"])
            .expect("a clone3 rule");
        assert_eq!(clone3.action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(clone3.errno_ret(), Some(libc::ENOSYS as u32));
        for name in ["mount", "unshare", "setns", "bpf", "reboot", "open_by_handle_at"] {
            assert!(!has(&p, name, LinuxSeccompAction::ScmpActAllow), "{name}");
        }
        assert!(has(&p, "arch_prctl", LinuxSeccompAction::ScmpActAllow));
        assert!(
            has(&p, "chroot", LinuxSeccompAction::ScmpActAllow),
            "CAP_SYS_CHROOT is a default cap"
        );
        assert!(!has(&p, "arm_fadvise64_64", LinuxSeccompAction::ScmpActAllow));

        // Each added capability opens its group, and only that.
        for (cap, name) in [
            ("CAP_SYS_ADMIN", "mount"),
            ("CAP_SYS_PTRACE", "kcmp"),
            ("CAP_SYS_BOOT", "reboot"),
            ("CAP_SYS_MODULE", "finit_module"),
            ("CAP_SYS_TIME", "clock_settime"),
            ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
            ("CAP_BPF", "bpf"),
            ("CAP_PERFMON", "perf_event_open"),
        ] {
            caps.push(cap);
            let with = import(&moby, &ctx(&[cap], "amd64", KERNEL)).expect("imports");
            assert!(has(&with, name, LinuxSeccompAction::ScmpActAllow), "{cap} → {name}");
            assert_eq!(
                count(&with),
                expected_names(&moby, &[DOCKER_DEFAULT_CAPS, &[cap]].concat(), "amd64", KERNEL),
                "{cap}"
            );
        }
        // All of them at once.
        let all = import(&moby, &ctx(&caps[DOCKER_DEFAULT_CAPS.len()..], "amd64", KERNEL)).expect("imports");
        assert_eq!(count(&all), expected_names(&moby, &caps, "amd64", KERNEL));
    }

    #[test]
    fn sys_admin_allows_mount_unshare_and_clone3() {
        let moby = docker_profile();
        let default = compile(&import(&moby, &ctx(&[], "amd64", KERNEL)).expect("imports"));
        let admin_profile = import(&moby, &ctx(&["CAP_SYS_ADMIN"], "amd64", KERNEL)).expect("imports");
        assert!(has(&admin_profile, "unshare", LinuxSeccompAction::ScmpActAllow));
        // The ENOSYS rule and the flag-checked clone are excluded with CAP_SYS_ADMIN.
        assert!(!admin_profile
            .syscalls()
            .iter()
            .flatten()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActErrno));
        let admin = compile(&admin_profile);

        // SAFETY (probes): null pointers and no-op flags; nothing is changed if they run.
        let unshare0 = || errno_of(unsafe { libc::syscall(libc::SYS_unshare, 0) });
        let mount_null = || errno_of(unsafe { libc::syscall(libc::SYS_mount, 0usize, 0usize, 0usize, 0usize, 0usize) });
        let clone3 = || errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) });
        assert_eq!(run_in_child(&[&default], unshare0), errno(libc::EPERM));
        assert_eq!(run_in_child(&[&default], mount_null), errno(libc::EPERM));
        assert_eq!(run_in_child(&[&default], clone3), errno(libc::ENOSYS));
        assert_eq!(run_in_child(&[&admin], unshare0), OK);
        assert_eq!(run_in_child(&[&admin], mount_null), errno(libc::EFAULT));
        assert_eq!(run_in_child(&[&admin], clone3), errno(libc::EINVAL));
    }

    #[test]
    fn ptrace_follows_min_kernel_and_cap_sys_ptrace() {
        let moby = docker_profile();
        // SAFETY: PTRACE_CONT on ourselves fails with ESRCH (we are not traced) if it runs.
        let ptrace = || errno_of(unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_CONT, libc::getpid(), 0, 0) });
        // ≥ 4.8: ptrace is in the default group (moby allows it since seccomp can no longer
        // be bypassed through ptrace).
        let now = compile(&import(&moby, &ctx(&[], "amd64", KERNEL)).expect("imports"));
        assert_eq!(run_in_child(&[&now], ptrace), errno(libc::ESRCH));
        // On 4.7 only CAP_SYS_PTRACE opens it.
        let old = import(&moby, &ctx(&[], "amd64", (4, 7))).expect("imports");
        assert_eq!(count(&old), expected_names(&moby, DOCKER_DEFAULT_CAPS, "amd64", (4, 7)));
        assert_eq!(run_in_child(&[&compile(&old)], ptrace), errno(libc::EPERM));
        let traced = compile(&import(&moby, &ctx(&["CAP_SYS_PTRACE"], "amd64", (4, 7))).expect("imports"));
        assert_eq!(run_in_child(&[&traced], ptrace), errno(libc::ESRCH));
        // 4.8 itself is enough; 3.99 is not.
        assert!(has(
            &import(&moby, &ctx(&[], "amd64", (4, 8))).unwrap(),
            "ptrace",
            LinuxSeccompAction::ScmpActAllow
        ));
        assert!(!has(
            &import(&moby, &ctx(&[], "amd64", (3, 99))).unwrap(),
            "ptrace",
            LinuxSeccompAction::ScmpActAllow
        ));
    }

    #[test]
    fn arm64_context_uses_its_arch_map_and_groups() {
        let moby = docker_profile();
        let p = import(&moby, &ctx(&[], "arm64", KERNEL)).expect("imports");
        assert_eq!(
            p.architectures().as_deref(),
            Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
        );
        assert!(has(&p, "arm_fadvise64_64", LinuxSeccompAction::ScmpActAllow));
        assert!(!has(&p, "arch_prctl", LinuxSeccompAction::ScmpActAllow));
        assert_eq!(count(&p), expected_names(&moby, DOCKER_DEFAULT_CAPS, "arm64", KERNEL));
        // s390x: the s390 clone rule (flags in arg 1) replaces the generic one.
        let s390 = import(&moby, &ctx(&[], "s390x", KERNEL)).expect("imports");
        let clone_args: Vec<usize> = s390
            .syscalls()
            .iter()
            .flatten()
            .filter(|r| r.names() == &["clone"])
            .flat_map(|r| r.args().clone().unwrap_or_default())
            .map(|a| a.index())
            .collect();
        assert_eq!(clone_args, [1]);
        assert_eq!(
            s390.architectures().as_deref(),
            Some(&[Arch::ScmpArchS390x, Arch::ScmpArchS390][..])
        );
    }

    #[test]
    fn filters_legacy_name_excludes_min_kernel_and_cap_spelling() {
        let moby = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"name": "getpid", "action": "SCMP_ACT_ALLOW"},
                {"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
                {"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["sys_nice"]}},
                {"names": ["getuid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": ""}},
                {"names": ["getgid"], "action": "SCMP_ACT_ALLOW",
                 "includes": {"arches": ["amd64"], "caps": ["CAP_KILL", "CAP_SYS_NICE"]}}
            ]
        });
        let names = |p: &LinuxSeccomp| -> Vec<String> {
            p.syscalls().iter().flatten().flat_map(|r| r.names().clone()).collect()
        };
        let old_nice = MobyContext {
            caps: vec!["CAP_SYS_NICE".into()],
            arch: "amd64".into(),
            kernel: (5, 4),
        };
        assert_eq!(
            names(&import(&moby, &old_nice).unwrap()),
            ["getpid", "getppid", "gettid", "getuid"]
        );
        let new_both = MobyContext {
            caps: vec!["cap_kill".into(), "SYS_NICE".into()],
            arch: "amd64".into(),
            kernel: (5, 10),
        };
        assert_eq!(
            names(&import(&moby, &new_both).unwrap()),
            ["getpid", "gettid", "getuid", "getgid"]
        );
        assert!(import(&moby, &new_both).unwrap().architectures().is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4"}}]}),
                "moby seccomp profile, syscalls[0].includes.minKernel: expected \"<kernel>.<major>\" such as \
                 \"4.8\", found \"4\"",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                                    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "exclude": {"caps": []}}]}),
                "moby seccomp profile, syscalls[1]: unknown key \"exclude\"; expected one of names, name, action, \
                 errnoRet, args, comment, includes, excludes",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_DENY"}]}),
                "moby seccomp profile, syscalls[0].action: expected one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, \
                 SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG, \
                 SCMP_ACT_TRACE, SCMP_ACT_NOTIFY, found \"SCMP_ACT_DENY\"",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                     "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ", "valuetwo": 2}]}]}),
                "moby seccomp profile, syscalls[0].args[0]: unknown key \"valuetwo\"; expected one of index, \
                 value, valueTwo, op",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                     "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}),
                "moby seccomp profile, syscalls[0].args[0].value: expected an unsigned 64-bit integer, found -1",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO",
                       "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}),
                "moby seccomp profile, syscalls[0]: both `name` and `names` are given; use `names`",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                       "archMap": []}),
                "moby seccomp profile: both `architectures` and `archMap` are given; use one of them (moby \
                 refuses such a profile too)",
            ),
            (
                json!({"syscalls": []}),
                "moby seccomp profile, defaultAction: expected one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, \
                 SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG, \
                 SCMP_ACT_TRACE, SCMP_ACT_NOTIFY, found null",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO",
                       "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_Z80"]}]}),
                "moby seccomp profile, archMap[0].subArchitectures[0]: expected an SCMP_ARCH_* name, found \
                 \"SCMP_ARCH_Z80\"",
            ),
        ];
        let c = ctx(&[], "amd64", KERNEL);
        for (profile, message) in cases {
            assert_eq!(import(&profile, &c).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel_version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_kernel_version("3.12-rc5"), Some((3, 12)));
        assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel_version("6"), None);
        assert_eq!(parse_min_kernel("4.8"), Some((4, 8)));
        assert_eq!(parse_min_kernel("x.8"), None);
        let (major, _) = running_kernel().expect("uname");
        assert!(major >= 3, "{major}");
        let native = MobyContext::native(vec![]).expect("native context");
        assert_eq!(native.arch, native_goarch());
    }
}
