//! seccomp: OCI `linux.seccomp` compiled to classic BPF with `seccompiler`, for the native
//! architecture, and installed with seccomp(2) right before `execve`.
//!
//! # Supported
//! - `defaultAction` with `defaultErrnoRet` (EPERM when absent).
//! - Actions `SCMP_ACT_ALLOW`, `_ERRNO`, `_KILL` (= `_KILL_THREAD`), `_KILL_THREAD`,
//!   `_KILL_PROCESS`, `_TRAP`, `_LOG`, `_TRACE`. `ERRNO` and `TRACE` take the rule's `errnoRet`,
//!   else the profile's `defaultErrnoRet`, else EPERM. (runc uses EPERM for a rule without
//!   `errnoRet` and keeps `defaultErrnoRet` for the default action only.)
//! - Argument conditions `SCMP_CMP_NE/LT/LE/EQ/GE/GT/MASKED_EQ`, compared as unsigned 64-bit
//!   values; `MASKED_EQ` is `(arg & value) == valueTwo` (bits of `valueTwo` outside `value` are
//!   ignored). Several args of one rule are ANDed, also several on the same index (runc
//!   instead ORs conditions that share an index); several rules for one syscall are ORed.
//! - `flags`: `SECCOMP_FILTER_FLAG_LOG`, `_SPEC_ALLOW`, `_TSYNC`, passed to every seccomp(2)
//!   call. [`parse_profile`] also accepts `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`, which only
//!   matters for a notify listener, and drops it.
//! - Syscall names unknown on the native architecture are skipped, logged at debug level and
//!   listed by [`CompiledSeccomp::ignored_syscalls`], as runc does.
//!
//! # Not supported
//! - `SCMP_ACT_NOTIFY` (`listenerPath`, `listenerMetadata`): compiling fails, naming the rule.
//! - `architectures`: only the native architecture gets a filter. Other listed architectures
//!   (x86 and x32 beside x86_64, arm beside aarch64) get none, and since every seccompiler
//!   filter starts with an architecture check, a 32-bit x86 or arm syscall is answered with
//!   `SECCOMP_RET_KILL_PROCESS` whatever the profile says. x32 syscalls run under
//!   `AUDIT_ARCH_X86_64` with `__X32_SYSCALL_BIT` set: with a non-ALLOW default action they get
//!   the default action (no rule matches them); with an ALLOW default, the rules are also
//!   compiled for the x32 numbers so that a deny-list cannot be bypassed through x32.
//!
//! # Why a stack of filters
//! A seccompiler [`SeccompFilter`] has one match action and one mismatch action, so a profile
//! with several distinct actions becomes several filters. The kernel runs every installed filter
//! and takes the most restrictive result (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > TRACE >
//! LOG > ALLOW); among equal actions with different data the most recently installed filter
//! wins. The stack is:
//! 1. unless the default action is ALLOW, a *default* filter: mismatch = the default action,
//!    match = ALLOW, matching every syscall that has any explicit rule, with that rule's
//!    conditions;
//! 2. one filter per other distinct action A (ERRNO(1) and ERRNO(38) are distinct):
//!    mismatch = ALLOW, match = A, holding the rules whose action is A.
//!
//! A call that no rule matches gets the default action from filter 1 and ALLOW from all the
//! others. A call that some rules match gets ALLOW from filter 1 and, from the others, the most
//! restrictive action among the matching rules. So Docker's `clone3 → ERRNO(ENOSYS)` beats the
//! default ERRNO(EPERM) even though both are ERRNO: the default filter allows `clone3`, and only
//! the ENOSYS filter returns an errno. Rules whose action equals the default action are no-ops
//! and are dropped. The default filter is installed first, then the others in the order their
//! action first appears in the profile, so among rules of the same kind with different data
//! (say ERRNO(EACCES) and ERRNO(ENOSYS) both matching one call) the later one in the profile
//! wins. One exception: every filter after the first is installed *through* the ones before
//! it, so a filter that may deny seccomp(2) itself is moved to the end of the stack; a profile
//! in which two filters may deny seccomp(2) is rejected at compile time.
//!
//! A profile whose default action is ALLOW and that has no other rule installs no filter at
//! all (runc would install one that allows everything but other architectures).

pub mod bpf;
pub mod edit;
pub mod moby;
pub mod model_server;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::syscalls;

/// Errors from compiling or installing a seccomp profile. Compile errors name the field of the
/// OCI config (`linux.seccomp...`).
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("{path}: expected {expected}, found {found}")]
    InvalidField {
        path: String,
        expected: String,
        found: String,
    },
    #[error("{path}: {what} is not supported by sealrun ({why}); rule for {names}")]
    Unsupported {
        path: String,
        what: String,
        why: &'static str,
        names: String,
    },
    #[error("linux.seccomp: the {filter} filter cannot be built: {source}")]
    Backend {
        filter: String,
        #[source]
        source: BackendError,
    },
    #[error(
        "linux.seccomp: seccomp(2) itself may be denied by two filters ({first} and {second}); \
         sealrun installs one filter per action, each through the ones before it, so at most \
         one filter may deny seccomp(2): allow seccomp in the profile"
    )]
    SeccompDeniedTwice { first: String, second: String },
    #[error("linux.seccomp: the native architecture {arch} is not supported by seccompiler: {source}")]
    Arch {
        arch: &'static str,
        #[source]
        source: BackendError,
    },
    #[error(
        "seccomp(SECCOMP_SET_MODE_FILTER) failed for filter {} of {count} (0-based index {filter}): {source}",
        .filter + 1
    )]
    Install {
        filter: usize,
        count: usize,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC) failed for filter {filter}: \
         thread {tid} cannot be synchronised"
    )]
    ThreadSync { filter: usize, tid: i64 },
}

/// A profile compiled for the native architecture: BPF programs in install order.
pub struct CompiledSeccomp {
    /// Kept as `Box<[sock_filter]>` in the kernel's layout so that `install` only points at them.
    programs: Vec<Box<[libc::sock_filter]>>,
    /// Human-readable name of each program (its match action), for logs and errors.
    labels: Vec<String>,
    flags: libc::c_ulong,
    ignored: Vec<String>,
}

impl fmt::Debug for CompiledSeccomp {
    // libc::sock_filter has no Debug without libc's extra_traits feature.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledSeccomp")
            .field("filters", &self.labels)
            .field("instructions", &self.instruction_count())
            .field("flags", &self.flags)
            .field("ignored", &self.ignored)
            .finish()
    }
}

/// One argument comparison, in the order we sort and deduplicate them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Cond {
    index: u8,
    op: Op,
    value: u64,
    value_two: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

impl From<LinuxSeccompOperator> for Op {
    fn from(op: LinuxSeccompOperator) -> Op {
        match op {
            LinuxSeccompOperator::ScmpCmpNe => Op::Ne,
            LinuxSeccompOperator::ScmpCmpLt => Op::Lt,
            LinuxSeccompOperator::ScmpCmpLe => Op::Le,
            LinuxSeccompOperator::ScmpCmpEq => Op::Eq,
            LinuxSeccompOperator::ScmpCmpGe => Op::Ge,
            LinuxSeccompOperator::ScmpCmpGt => Op::Gt,
            LinuxSeccompOperator::ScmpCmpMaskedEq => Op::MaskedEq,
        }
    }
}

impl From<Op> for LinuxSeccompOperator {
    fn from(op: Op) -> LinuxSeccompOperator {
        match op {
            Op::Ne => LinuxSeccompOperator::ScmpCmpNe,
            Op::Lt => LinuxSeccompOperator::ScmpCmpLt,
            Op::Le => LinuxSeccompOperator::ScmpCmpLe,
            Op::Eq => LinuxSeccompOperator::ScmpCmpEq,
            Op::Ge => LinuxSeccompOperator::ScmpCmpGe,
            Op::Gt => LinuxSeccompOperator::ScmpCmpGt,
            Op::MaskedEq => LinuxSeccompOperator::ScmpCmpMaskedEq,
        }
    }
}

/// When one syscall matches within one filter.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Match {
    Always,
    /// Any of these rules, each an AND of (sorted, deduplicated) conditions; never empty.
    AnyOf(BTreeSet<Vec<Cond>>),
}

impl Match {
    fn merge(&mut self, other: &Match) {
        match (&mut *self, other) {
            (Match::Always, _) => {}
            (_, Match::Always) => *self = Match::Always,
            (Match::AnyOf(mine), Match::AnyOf(theirs)) => mine.extend(theirs.iter().cloned()),
        }
    }
}

type RuleMap = BTreeMap<i64, Match>;

/// The rules that share one action (action and data).
struct Group {
    action: SeccompAction,
    rules: RuleMap,
}

/// A filter before it is handed to seccompiler.
struct Planned {
    label: String,
    mismatch: SeccompAction,
    matched: SeccompAction,
    rules: RuleMap,
    may_deny_seccomp: bool,
}

const EPERM: u32 = libc::EPERM as u32;
/// SECCOMP_RET_DATA: the kernel keeps only these bits of an errno or trace value.
const RET_DATA_MAX: u32 = 0xffff;
/// Arguments 0..=5 of `struct seccomp_data`.
const ARG_INDEX_MAX: usize = 5;

/// A profile normalised for either backend: the default action, and the rules grouped by
/// action in order of first appearance (unconditional rules absorb conditional ones, equal
/// rules merge, unknown names are skipped and recorded).
struct Normalised {
    default: SeccompAction,
    groups: Vec<Group>,
    flags: libc::c_ulong,
    ignored: Vec<String>,
}

fn normalise(profile: &LinuxSeccomp) -> Result<Normalised, SeccompError> {
    let default_errno = profile.default_errno_ret();
    let default = to_action(
        profile.default_action(),
        None,
        default_errno,
        "linux.seccomp.defaultAction",
        &[],
    )?;
    log_foreign_architectures(profile.architectures().as_deref().unwrap_or(&[]));

    let mut groups: Vec<Group> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    for (i, rule) in profile.syscalls().iter().flatten().enumerate() {
        let path = format!("linux.seccomp.syscalls[{i}]");
        let action = to_action(rule.action(), rule.errno_ret(), default_errno, &path, rule.names())?;
        let mut conds = rule
            .args()
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, arg)| to_cond(arg, &format!("{path}.args[{j}]")))
            .collect::<Result<Vec<_>, _>>()?;
        // AND is commutative: sorting makes equal rules compare equal, so they merge.
        conds.sort();
        conds.dedup();
        let matching = if conds.is_empty() {
            Match::Always
        } else {
            Match::AnyOf(BTreeSet::from([conds]))
        };
        for name in rule.names() {
            let Some(nr) = syscalls::number(name) else {
                tracing::debug!(
                    syscall = name.as_str(),
                    rule = %path,
                    "seccomp: syscall unknown on this architecture, skipped"
                );
                if !ignored.contains(name) {
                    ignored.push(name.clone());
                }
                continue;
            };
            if action == default {
                continue;
            }
            let at = match groups.iter().position(|g| g.action == action) {
                Some(at) => at,
                None => {
                    groups.push(Group {
                        action: action.clone(),
                        rules: RuleMap::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[at]
                .rules
                .entry(nr)
                .and_modify(|m| m.merge(&matching))
                .or_insert_with(|| matching.clone());
        }
    }

    let mut flags: libc::c_ulong = 0;
    for flag in profile.flags().iter().flatten() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        };
    }
    Ok(Normalised {
        default,
        groups,
        flags,
        ignored,
    })
}

impl CompiledSeccomp {
    /// Compile for the native arch. Errors name the field, e.g.
    /// `linux.seccomp.syscalls[3].args[0].index: expected 0..=5, found 6`.
    pub fn compile(profile: &LinuxSeccomp) -> Result<CompiledSeccomp, SeccompError> {
        let arch = TargetArch::try_from(syscalls::NATIVE_ARCH).map_err(|source| SeccompError::Arch {
            arch: syscalls::NATIVE_ARCH,
            source,
        })?;
        let norm = normalise(profile)?;
        let plan = plan_filters(&norm.default, &norm.groups)?;
        let mut programs = Vec::with_capacity(plan.len());
        let mut labels = Vec::with_capacity(plan.len());
        for planned in plan {
            programs.push(build_program(&planned, arch)?);
            labels.push(planned.label);
        }

        Ok(CompiledSeccomp {
            programs,
            labels,
            flags: norm.flags,
            ignored: norm.ignored,
        })
    }

    /// Install every filter, in the order computed by [`CompiledSeccomp::compile`]. Meant for
    /// a single-threaded, freshly forked child right before execve: it does not allocate.
    /// Needs no_new_privs or CAP_SYS_ADMIN; the caller ensures that.
    pub fn install(&self) -> Result<(), SeccompError> {
        for (i, program) in self.programs.iter().enumerate() {
            let fprog = libc::sock_fprog {
                // compile() keeps programs within BPF_MAXINSNS (4096), so this fits.
                len: program.len() as libc::c_ushort,
                // The kernel only reads the program (copy_from_user); the field is *mut in C.
                filter: program.as_ptr() as *mut libc::sock_filter,
            };
            // SAFETY: `fprog` points at a live, well-formed sock_fprog whose `filter` points at
            // `len` instructions owned by `self`, which outlives the call; the kernel copies
            // the program and keeps no pointer to our memory.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
                    self.flags,
                    &fprog as *const libc::sock_fprog,
                )
            };
            if rc < 0 {
                return Err(SeccompError::Install {
                    filter: i,
                    count: self.programs.len(),
                    source: std::io::Error::last_os_error(),
                });
            }
            if rc > 0 {
                // With TSYNC, a positive result is the thread that could not be synchronised.
                return Err(SeccompError::ThreadSync {
                    filter: i,
                    tid: rc as i64,
                });
            }
        }
        Ok(())
    }

    pub fn filter_count(&self) -> usize {
        self.programs.len()
    }

    /// Total BPF instructions over all filters.
    pub fn instruction_count(&self) -> usize {
        self.programs.iter().map(|p| p.len()).sum()
    }

    /// Syscall names of the profile that the native architecture does not have.
    pub fn ignored_syscalls(&self) -> &[String] {
        &self.ignored
    }

    /// The match action of each filter, in install order (e.g. `SCMP_ACT_ERRNO(38)`).
    pub fn filter_labels(&self) -> &[String] {
        &self.labels
    }

    /// The seccomp(2) flags passed with every filter.
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }

    /// The programs as `struct sock_filter` bytes (native endianness), concatenated in install
    /// order: stable for a given profile and sealrun version, so they can be hashed.
    pub fn program_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.instruction_count() * 8);
        for insn in self.programs.iter().flat_map(|p| p.iter()) {
            out.extend_from_slice(&insn.code.to_ne_bytes());
            out.push(insn.jt);
            out.push(insn.jf);
            out.extend_from_slice(&insn.k.to_ne_bytes());
        }
        out
    }

    // ---- backend choice (the compact code generator lives in bpf.rs) -----------------------

    /// Compile for the native arch with the chosen code generator. `compile` is
    /// `compile_with(profile, Backend::Seccompiler)`. Both validate the same way and give the
    /// same verdicts; [`bpf`] lists the corner cases where they differ.
    pub fn compile_with(profile: &LinuxSeccomp, backend: Backend) -> Result<CompiledSeccomp, SeccompError> {
        match backend {
            Backend::Seccompiler => Self::compile(profile),
            Backend::Compact => bpf::compile(profile),
        }
    }
}

/// Which code generator turns a profile into BPF.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// seccompiler: a stack of linear filters, one per distinct action (see the module docs).
    #[default]
    Seccompiler,
    /// [`bpf`]: one filter, binary search on the syscall number, several return actions.
    Compact,
}

/// The seccompiler action for an OCI action; `data` is the errno or trace value.
fn to_action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    default_errno: Option<u32>,
    path: &str,
    names: &[String],
) -> Result<SeccompAction, SeccompError> {
    let data = || -> Result<u32, SeccompError> {
        let (value, field) = match (errno_ret, default_errno) {
            (Some(v), _) => (v, format!("{path}.errnoRet")),
            (None, Some(v)) => (v, "linux.seccomp.defaultErrnoRet".to_string()),
            (None, None) => (EPERM, String::new()),
        };
        if value > RET_DATA_MAX {
            return Err(SeccompError::InvalidField {
                path: field,
                expected: format!("a value in 0..={RET_DATA_MAX} (SECCOMP_RET_DATA)"),
                found: value.to_string(),
            });
        }
        Ok(value)
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(data()?),
        // libseccomp's SCMP_ACT_KILL is SECCOMP_RET_KILL_THREAD.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => SeccompAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(data()?),
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::Unsupported {
                path: if names.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}.action")
                },
                what: "SCMP_ACT_NOTIFY".to_string(),
                why: "no seccomp user-notification agent support",
                names: if names.is_empty() {
                    "the default action".to_string()
                } else {
                    names.join(", ")
                },
            })
        }
    })
}

fn to_cond(arg: &LinuxSeccompArg, path: &str) -> Result<Cond, SeccompError> {
    let index = arg.index();
    if index > ARG_INDEX_MAX {
        return Err(SeccompError::InvalidField {
            path: format!("{path}.index"),
            expected: format!("an argument index in 0..={ARG_INDEX_MAX}"),
            found: index.to_string(),
        });
    }
    let op = Op::from(arg.op());
    Ok(Cond {
        index: index as u8,
        op,
        value: arg.value(),
        // Only MASKED_EQ reads valueTwo; zeroing it elsewhere lets equal rules merge.
        value_two: if op == Op::MaskedEq {
            arg.value_two().unwrap_or(0)
        } else {
            0
        },
    })
}

fn log_foreign_architectures(archs: &[Arch]) {
    let native = if cfg!(target_arch = "x86_64") {
        Arch::ScmpArchX86_64
    } else {
        Arch::ScmpArchAarch64
    };
    for arch in archs {
        if *arch != native && *arch != Arch::ScmpArchNative {
            tracing::debug!(
                architecture = %arch,
                "seccomp: no filter for a non-native architecture; its syscalls are killed"
            );
        }
    }
}

/// Does this action stop the syscall from running (so a seccomp(2) call would fail)?
fn denies(action: &SeccompAction) -> bool {
    !matches!(action, SeccompAction::Allow | SeccompAction::Log)
}

fn label(action: &SeccompAction) -> String {
    match action {
        SeccompAction::Allow => "SCMP_ACT_ALLOW".into(),
        SeccompAction::Errno(e) => format!("SCMP_ACT_ERRNO({e})"),
        SeccompAction::KillThread => "SCMP_ACT_KILL_THREAD".into(),
        SeccompAction::KillProcess => "SCMP_ACT_KILL_PROCESS".into(),
        SeccompAction::Log => "SCMP_ACT_LOG".into(),
        SeccompAction::Trace(d) => format!("SCMP_ACT_TRACE({d})"),
        SeccompAction::Trap => "SCMP_ACT_TRAP".into(),
    }
}

/// The filters in install order (see the module docs).
fn plan_filters(default: &SeccompAction, groups: &[Group]) -> Result<Vec<Planned>, SeccompError> {
    let seccomp_nr = syscalls::number("seccomp");
    let mut plan = Vec::new();

    if *default != SeccompAction::Allow {
        let mut union = RuleMap::new();
        for group in groups {
            for (nr, m) in &group.rules {
                union.entry(*nr).and_modify(|u| u.merge(m)).or_insert_with(|| m.clone());
            }
        }
        let seccomp_always_allowed = seccomp_nr.is_some_and(|nr| union.get(&nr) == Some(&Match::Always));
        plan.push(Planned {
            label: format!("default {}", label(default)),
            mismatch: default.clone(),
            matched: SeccompAction::Allow,
            may_deny_seccomp: denies(default) && !seccomp_always_allowed,
            rules: union,
        });
    }

    // With a non-ALLOW default, x32 numbers match no rule of the default filter and so get
    // the default action; with an ALLOW default nothing would stop them, so the deny rules
    // are compiled for the x32 numbers too.
    let add_x32 = cfg!(target_arch = "x86_64") && *default == SeccompAction::Allow;
    for group in groups {
        if group.action == SeccompAction::Allow {
            continue;
        }
        let mut rules = group.rules.clone();
        if add_x32 {
            for (nr, m) in &group.rules {
                let x32 = syscalls::name(*nr).and_then(syscalls::x32_number);
                if let Some(x32) = x32 {
                    rules.insert(x32, m.clone());
                }
            }
        }
        plan.push(Planned {
            label: label(&group.action),
            mismatch: SeccompAction::Allow,
            matched: group.action.clone(),
            may_deny_seccomp: denies(&group.action) && seccomp_nr.is_some_and(|nr| group.rules.contains_key(&nr)),
            rules,
        });
    }

    // Each seccomp(2) call runs through the filters already installed: the one filter that may
    // deny it goes last. Conditions are not evaluated here, so "may" is conservative.
    let (mut ordered, deniers): (Vec<Planned>, Vec<Planned>) = plan.into_iter().partition(|p| !p.may_deny_seccomp);
    if let [first, second, ..] = deniers.as_slice() {
        return Err(SeccompError::SeccompDeniedTwice {
            first: first.label.clone(),
            second: second.label.clone(),
        });
    }
    ordered.extend(deniers);
    Ok(ordered)
}

fn build_program(planned: &Planned, arch: TargetArch) -> Result<Box<[libc::sock_filter]>, SeccompError> {
    let backend = |source| SeccompError::Backend {
        filter: planned.label.clone(),
        source,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (nr, m) in &planned.rules {
        let chain = match m {
            // seccompiler: an empty rule vector matches the syscall unconditionally.
            Match::Always => Vec::new(),
            Match::AnyOf(set) => set
                .iter()
                .map(|conds| {
                    let conds = conds.iter().map(to_seccompiler_cond).collect::<Result<Vec<_>, _>>()?;
                    SeccompRule::new(conds)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?,
        };
        rules.insert(*nr, chain);
    }
    let filter = SeccompFilter::new(rules, planned.mismatch.clone(), planned.matched.clone(), arch).map_err(backend)?;
    let program = BpfProgram::try_from(filter).map_err(backend)?;
    Ok(program
        .into_iter()
        .map(|insn| libc::sock_filter {
            code: insn.code,
            jt: insn.jt,
            jf: insn.jf,
            k: insn.k,
        })
        .collect())
}

fn to_seccompiler_cond(c: &Cond) -> Result<SeccompCondition, BackendError> {
    let (op, value) = match c.op {
        Op::Ne => (SeccompCmpOp::Ne, c.value),
        Op::Lt => (SeccompCmpOp::Lt, c.value),
        Op::Le => (SeccompCmpOp::Le, c.value),
        Op::Eq => (SeccompCmpOp::Eq, c.value),
        Op::Ge => (SeccompCmpOp::Ge, c.value),
        Op::Gt => (SeccompCmpOp::Gt, c.value),
        // OCI: (arg & value) == valueTwo; seccompiler: MaskedEq(mask) compared with value.
        Op::MaskedEq => (SeccompCmpOp::MaskedEq(c.value), c.value_two),
    };
    SeccompCondition::new(c.index, SeccompCmpArgLen::Qword, op, value)
}

const ACTIONS: &str = "one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, \
    SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG, SCMP_ACT_TRACE, \
    SCMP_ACT_NOTIFY";
const OPS: &str = "one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, \
    SCMP_CMP_GT, SCMP_CMP_MASKED_EQ";
const FLAGS: &str = "one of SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, \
    SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";
const ARCHS: &str = "an SCMP_ARCH_* name (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, SCMP_ARCH_X86, \
    SCMP_ARCH_X32, SCMP_ARCH_ARM, ...)";
const WAIT_KILLABLE_RECV: &str = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";

/// Parse the JSON of `linux.seccomp` into a [`LinuxSeccomp`], checking the enumerated fields
/// first so that a bad value is reported with its path (serde alone says only "unknown
/// variant"). `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`, which oci-spec does not model and
/// which only concerns a notify listener, is accepted and dropped.
pub fn parse_profile(json: &serde_json::Value) -> Result<LinuxSeccomp, SeccompError> {
    let root = "linux.seccomp";
    let invalid = |path: String, expected: &str, found: &serde_json::Value| SeccompError::InvalidField {
        path,
        expected: expected.to_string(),
        found: found.to_string(),
    };
    let obj = json
        .as_object()
        .ok_or_else(|| invalid(root.to_string(), "an object", json))?;

    let check_enum = |value: &serde_json::Value,
                      path: String,
                      expected: &str,
                      valid: &dyn Fn(&str) -> bool|
     -> Result<(), SeccompError> {
        match value.as_str() {
            Some(s) if valid(s) => Ok(()),
            _ => Err(invalid(path, expected, value)),
        }
    };
    let is_action = |s: &str| LinuxSeccompAction::from_str(s).is_ok();
    let array = |value: &serde_json::Value, path: String| -> Result<Vec<serde_json::Value>, _> {
        match value {
            serde_json::Value::Array(items) => Ok(items.clone()),
            serde_json::Value::Null => Ok(Vec::new()),
            other => Err(invalid(path, "an array", other)),
        }
    };

    let mut cleaned = obj.clone();
    match obj.get("defaultAction") {
        Some(v) => check_enum(v, format!("{root}.defaultAction"), ACTIONS, &is_action)?,
        None => {
            return Err(invalid(
                format!("{root}.defaultAction"),
                ACTIONS,
                &serde_json::Value::Null,
            ))
        }
    }
    if let Some(v) = obj.get("architectures") {
        for (i, a) in array(v, format!("{root}.architectures"))?.iter().enumerate() {
            check_enum(a, format!("{root}.architectures[{i}]"), ARCHS, &|s| {
                Arch::from_str(s).is_ok()
            })?;
        }
    }
    if let Some(v) = obj.get("flags") {
        let mut kept = Vec::new();
        for (i, f) in array(v, format!("{root}.flags"))?.into_iter().enumerate() {
            check_enum(&f, format!("{root}.flags[{i}]"), FLAGS, &|s| {
                s == WAIT_KILLABLE_RECV || LinuxSeccompFilterFlag::from_str(s).is_ok()
            })?;
            if f.as_str() == Some(WAIT_KILLABLE_RECV) {
                tracing::debug!("seccomp: {WAIT_KILLABLE_RECV} only concerns notify listeners; ignored");
            } else {
                kept.push(f);
            }
        }
        cleaned.insert("flags".into(), serde_json::Value::Array(kept));
    }
    if let Some(v) = obj.get("syscalls") {
        for (i, rule) in array(v, format!("{root}.syscalls"))?.iter().enumerate() {
            let path = format!("{root}.syscalls[{i}]");
            let rule = rule
                .as_object()
                .ok_or_else(|| invalid(path.clone(), "an object", rule))?;
            match rule.get("action") {
                Some(a) => check_enum(a, format!("{path}.action"), ACTIONS, &is_action)?,
                None => return Err(invalid(format!("{path}.action"), ACTIONS, &serde_json::Value::Null)),
            }
            match rule.get("names") {
                Some(serde_json::Value::Array(names)) => {
                    for (j, n) in names.iter().enumerate() {
                        if !n.is_string() {
                            return Err(invalid(format!("{path}.names[{j}]"), "a string", n));
                        }
                    }
                }
                other => {
                    return Err(invalid(
                        format!("{path}.names"),
                        "an array of syscall names",
                        other.unwrap_or(&serde_json::Value::Null),
                    ))
                }
            }
            if let Some(args) = rule.get("args") {
                for (j, arg) in array(args, format!("{path}.args"))?.iter().enumerate() {
                    let apath = format!("{path}.args[{j}]");
                    let arg = arg
                        .as_object()
                        .ok_or_else(|| invalid(apath.clone(), "an object", arg))?;
                    let op = arg.get("op").unwrap_or(&serde_json::Value::Null);
                    check_enum(op, format!("{apath}.op"), OPS, &|s| {
                        LinuxSeccompOperator::from_str(s).is_ok()
                    })?;
                    for (field, expected) in [
                        ("index", "an argument index in 0..=5"),
                        ("value", "an unsigned 64-bit integer"),
                        ("valueTwo", "an unsigned 64-bit integer"),
                    ] {
                        match arg.get(field) {
                            None if field == "valueTwo" => {}
                            Some(v) if v.is_u64() => {}
                            other => {
                                return Err(invalid(
                                    format!("{apath}.{field}"),
                                    expected,
                                    other.unwrap_or(&serde_json::Value::Null),
                                ))
                            }
                        }
                    }
                }
            }
        }
    }

    serde_json::from_value(serde_json::Value::Object(cleaned)).map_err(|e| SeccompError::InvalidField {
        path: root.to_string(),
        expected: "an OCI LinuxSeccomp object".to_string(),
        found: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        parse_profile(&v).expect("test profile parses")
    }

    fn compile(v: serde_json::Value) -> CompiledSeccomp {
        CompiledSeccomp::compile(&profile(v)).expect("test profile compiles")
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        /// Exit code: the errno of the probed syscall, 0 on success, or 100+ for setup failures.
        Exited(i32),
        Signaled(i32),
    }

    const SETUP_NNP: i32 = 101;
    const SETUP_INSTALL: i32 = 102;

    /// Run `probe` in a forked child that has `compiled` installed; the probe returns the exit
    /// code. Only async-signal-safe work happens in the child (the test harness has threads):
    /// prctl, the allocation-free install, raw syscalls and _exit.
    fn run_in_child(compiled: &CompiledSeccomp, probe: fn() -> i32) -> Outcome {
        // SAFETY: the child only calls async-signal-safe functions (prctl, seccomp(2) through
        // install(), which does not allocate, the probe's raw syscalls) and leaves with _exit,
        // so no lock or allocator state inherited from other threads is touched.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: plain prctl/_exit calls with valid arguments, in the child.
            unsafe {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(SETUP_NNP);
                }
                if compiled.install().is_err() {
                    libc::_exit(SETUP_INSTALL);
                }
                libc::_exit(probe());
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child with a valid status pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
        if libc::WIFEXITED(status) {
            Outcome::Exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            Outcome::Signaled(libc::WTERMSIG(status))
        } else {
            panic!("unexpected wait status {status:#x}");
        }
    }

    /// errno of the last failed call, or 0 when `rc` is not -1.
    fn errno_of(rc: libc::c_long) -> i32 {
        if rc == -1 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(255)
        } else {
            0
        }
    }

    fn getpid_args(a0: u64, a1: u64) -> i32 {
        // SAFETY: getpid ignores its arguments; they are there for the filter to see.
        errno_of(unsafe { libc::syscall(libc::SYS_getpid, a0, a1) })
    }

    /// Rules that let the child leave through _exit under a deny-by-default profile.
    fn exit_rule() -> serde_json::Value {
        json!({"names": ["exit_group", "exit"], "action": "SCMP_ACT_ALLOW"})
    }

    // ---- actions -------------------------------------------------------------------------

    #[test]
    fn errno_from_rule_errno_ret() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        }));
        assert_eq!(c.filter_count(), 1);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Exited(libc::EACCES));
    }

    #[test]
    fn errno_from_default_errno_ret() {
        // The default action uses defaultErrnoRet, and so does a rule without errnoRet.
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "syscalls": [exit_rule(), {"names": ["getppid"], "action": "SCMP_ACT_ALLOW"}]
        }));
        assert_eq!(c.filter_count(), 1);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Exited(libc::ENOSYS));
        // SAFETY: getppid has no arguments and cannot fail.
        let ppid = || errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
        assert_eq!(run_in_child(&c, ppid), Outcome::Exited(0));

        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "defaultErrnoRet": 38,
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]
        }));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Exited(libc::ENOSYS));
    }

    #[test]
    fn errno_defaults_to_eperm() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule()]
        }));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Exited(libc::EPERM));
    }

    #[test]
    fn allow_rule_under_errno_default() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(), {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
        }));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Exited(0));
    }

    #[test]
    fn kill_process_and_kill_thread_send_sigsys() {
        for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL"] {
            let c = compile(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getpid"], "action": action}]
            }));
            assert_eq!(
                run_in_child(&c, || getpid_args(0, 0)),
                Outcome::Signaled(libc::SIGSYS),
                "{action}"
            );
            // Other syscalls are untouched.
            assert_eq!(run_in_child(&c, || 0), Outcome::Exited(0), "{action}");
        }
    }

    #[test]
    fn kill_as_default_action() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_KILL_PROCESS",
            "syscalls": [exit_rule()]
        }));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Signaled(libc::SIGSYS));
        assert_eq!(run_in_child(&c, || 7), Outcome::Exited(7));
    }

    #[test]
    fn trap_sends_sigsys() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_TRAP"}]
        }));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Signaled(libc::SIGSYS));
    }

    #[test]
    fn log_allows() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(), {"names": ["getpid"], "action": "SCMP_ACT_LOG"}]
        }));
        // The default filter denies seccomp(2), so it is installed last.
        assert_eq!(c.filter_labels(), ["SCMP_ACT_LOG", "default SCMP_ACT_ERRNO(1)"]);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Exited(0));
        // SAFETY: getppid has no arguments.
        let ppid = || errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
        assert_eq!(run_in_child(&c, ppid), Outcome::Exited(libc::EPERM));
    }

    #[test]
    fn trace_without_tracer_gives_enosys() {
        // seccomp(2): with no tracer attached, SECCOMP_RET_TRACE fails the call with ENOSYS.
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5}]
        }));
        assert_eq!(c.filter_labels(), ["SCMP_ACT_TRACE(5)"]);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Exited(libc::ENOSYS));
    }

    #[test]
    fn flags_are_passed_to_seccomp() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        }));
        assert_eq!(
            c.flags(),
            libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW | libc::SECCOMP_FILTER_FLAG_TSYNC
        );
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), Outcome::Exited(libc::EACCES));
    }

    // ---- argument conditions --------------------------------------------------------------

    #[test]
    fn personality_allowed_only_for_query() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 13,
            "syscalls": [exit_rule(), {
                "names": ["personality"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_EQ"}]
            }]
        }));
        // SAFETY: personality(0xffffffff) only queries the persona.
        let query = || errno_of(unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu64) });
        // SAFETY: personality(0) sets the default persona, harmless in the child.
        let set = || errno_of(unsafe { libc::syscall(libc::SYS_personality, 0u64) });
        assert_eq!(run_in_child(&c, query), Outcome::Exited(0));
        assert_eq!(run_in_child(&c, set), Outcome::Exited(libc::EACCES));
    }

    fn getpid_rule(args: serde_json::Value) -> CompiledSeccomp {
        compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                          "args": args}]
        }))
    }

    const DENIED: Outcome = Outcome::Exited(libc::EACCES);
    const ALLOWED: Outcome = Outcome::Exited(0);

    #[test]
    fn masked_eq() {
        let c = getpid_rule(json!([
            {"index": 0, "value": 0xf0, "valueTwo": 0x20, "op": "SCMP_CMP_MASKED_EQ"}
        ]));
        assert_eq!(run_in_child(&c, || getpid_args(0x25, 0)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(0x1_0000_0027, 0)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(0x35, 0)), ALLOWED);
        assert_eq!(run_in_child(&c, || getpid_args(0x02, 0)), ALLOWED);

        // The mask reaches the upper 32 bits.
        let c = getpid_rule(json!([
            {"index": 1, "value": 0xff_0000_0000u64, "valueTwo": 0x12_0000_0000u64,
             "op": "SCMP_CMP_MASKED_EQ"}
        ]));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0x12_dead_beef)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0x13_0000_0000)), ALLOWED);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0x12)), ALLOWED);
    }

    #[test]
    fn comparisons_are_64_bit() {
        let c = getpid_rule(json!([{"index": 1, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_GT"}]));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0x1_0000_0001)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0xffff_ffff)), ALLOWED);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0x1_0000_0000)), ALLOWED);

        let c = getpid_rule(json!([{"index": 0, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_LT"}]));
        assert_eq!(run_in_child(&c, || getpid_args(0xffff_ffff, 0)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(0x1_0000_0000, 0)), ALLOWED);

        let c = getpid_rule(json!([{"index": 0, "value": 5, "op": "SCMP_CMP_NE"}]));
        assert_eq!(run_in_child(&c, || getpid_args(0x1_0000_0005, 0)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(5, 0)), ALLOWED);
    }

    #[test]
    fn args_of_one_rule_are_anded() {
        let c = getpid_rule(json!([
            {"index": 0, "value": 10, "op": "SCMP_CMP_GE"},
            {"index": 0, "value": 20, "op": "SCMP_CMP_LE"},
            {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}
        ]));
        assert_eq!(run_in_child(&c, || getpid_args(10, 1)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(20, 1)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(15, 0)), ALLOWED);
        assert_eq!(run_in_child(&c, || getpid_args(9, 1)), ALLOWED);
        assert_eq!(run_in_child(&c, || getpid_args(21, 1)), ALLOWED);
    }

    #[test]
    fn rules_for_one_syscall_are_ored() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}
            ]
        }));
        assert_eq!(c.filter_count(), 1);
        assert_eq!(run_in_child(&c, || getpid_args(1, 0)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(2, 0)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(3, 0)), ALLOWED);
    }

    // ---- normalisation ------------------------------------------------------------------------

    #[test]
    fn unconditional_rule_wins_over_conditional() {
        for rules in [
            // conditional first, then unconditional, and the other way round
            json!([
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
            ]),
            json!([
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}
            ]),
        ] {
            let c = compile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}));
            assert_eq!(run_in_child(&c, || getpid_args(0, 0)), DENIED);
            assert_eq!(run_in_child(&c, || getpid_args(5, 0)), DENIED);
        }

        // Same in the default filter: an unconditional ALLOW beside a conditional one.
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(),
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
            ]
        }));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), ALLOWED);
    }

    #[test]
    fn duplicates_merge_and_default_action_rules_are_no_ops() {
        let once = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(), {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let twice = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                exit_rule(),
                {"names": ["getpid", "getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": []},
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["exit"], "action": "SCMP_ACT_ALLOW"}
            ]
        }));
        assert_eq!(twice.filter_count(), 1);
        assert_eq!(once.program_bytes(), twice.program_bytes());

        // Conditions in another order are the same rule.
        let a = getpid_rule(json!([
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}
        ]));
        let b = getpid_rule(json!([
            {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}
        ]));
        assert_eq!(a.program_bytes(), b.program_bytes());
    }

    // ---- stacking ---------------------------------------------------------------------------

    #[test]
    fn second_errno_action_beats_default_errno() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "syscalls": [
                exit_rule(),
                {"names": ["getpid", "seccomp"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        }));
        assert_eq!(c.filter_count(), 2);
        assert_eq!(c.filter_labels(), ["default SCMP_ACT_ERRNO(1)", "SCMP_ACT_ERRNO(38)"]);
        // SAFETY: clone3 with a null args pointer would fail with EFAULT if it ran.
        let clone3 = || errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) });
        assert_eq!(run_in_child(&c, clone3), Outcome::Exited(libc::ENOSYS));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), ALLOWED);
        // SAFETY: getppid has no arguments.
        let ppid = || errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
        assert_eq!(run_in_child(&c, ppid), Outcome::Exited(libc::EPERM));
    }

    #[test]
    fn most_restrictive_action_wins_across_filters() {
        // getpid(1) matches both the ERRNO and the KILL_PROCESS rule: kill wins.
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ]
        }));
        assert_eq!(c.filter_count(), 2);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), DENIED);
        assert_eq!(run_in_child(&c, || getpid_args(1, 0)), Outcome::Signaled(libc::SIGSYS));
    }

    #[test]
    fn filter_that_denies_seccomp_is_installed_last() {
        // The default filter does not allow seccomp(2): it must come after the ENOSYS filter,
        // or installing that one would fail with EPERM.
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                exit_rule(),
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        }));
        assert_eq!(c.filter_labels(), ["SCMP_ACT_ERRNO(38)", "default SCMP_ACT_ERRNO(1)"]);
        // SAFETY: getppid has no arguments.
        let ppid = || errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
        assert_eq!(run_in_child(&c, ppid), Outcome::Exited(libc::ENOSYS));
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), ALLOWED);

        let err = CompiledSeccomp::compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                // The default filter matches seccomp only conditionally, and the ENOSYS
                // filter denies it when it matches: either may stop the other's install.
                {"names": ["seccomp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "args": [{"index": 0, "value": 99, "op": "SCMP_CMP_EQ"}]}
            ]
        })))
        .unwrap_err();
        assert!(matches!(err, SeccompError::SeccompDeniedTwice { .. }), "{err}");
    }

    // ---- unknown names, errors ------------------------------------------------------------

    #[test]
    fn unknown_names_are_ignored_and_reported() {
        let c = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getpid", "no_such_syscall", "socketcall"],
                 "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["no_such_syscall"], "action": "SCMP_ACT_KILL"}
            ]
        }));
        // socketcall exists on 32-bit x86 and arm only; each name is reported once.
        assert_eq!(c.ignored_syscalls(), ["no_such_syscall", "socketcall"]);
        assert_eq!(c.filter_count(), 1);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), DENIED);
    }

    #[test]
    fn unknown_op_names_the_field() {
        let err = parse_profile(&json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ROUGHLY"}]}
            ]
        }))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.seccomp.syscalls[1].args[0].op: expected one of SCMP_CMP_NE, SCMP_CMP_LT, \
             SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ, found \
             \"SCMP_CMP_ROUGHLY\""
        );
    }

    #[test]
    fn other_parse_errors_name_the_field() {
        let cases = [
            (
                json!({"defaultAction": "SCMP_ACT_MAYBE"}),
                "linux.seccomp.defaultAction",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"]}),
                "linux.seccomp.flags[0]",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}),
                "linux.seccomp.architectures[0]",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_DENY"}]}),
                "linux.seccomp.syscalls[0].action",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}),
                "linux.seccomp.syscalls[0].names",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                     "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}),
                "linux.seccomp.syscalls[0].args[0].value",
            ),
        ];
        for (json, path) in cases {
            let err = parse_profile(&json).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{path}: expected ")), "{err}");
        }
    }

    #[test]
    fn compile_errors_name_the_field() {
        let err = CompiledSeccomp::compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ]
        })))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.seccomp.syscalls[1].args[0].index: expected an argument index in 0..=5, found 6"
        );

        let err = CompiledSeccomp::compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]
        })))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.seccomp.syscalls[0].errnoRet: expected a value in 0..=65535"),
            "{err}"
        );
    }

    #[test]
    fn notify_is_rejected_naming_the_rule() {
        let err = CompiledSeccomp::compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mount", "umount2"], "action": "SCMP_ACT_NOTIFY"}
            ]
        })))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY is not supported by sealrun (no \
             seccomp user-notification agent support); rule for mount, umount2"
        );

        let err = CompiledSeccomp::compile(&profile(json!({"defaultAction": "SCMP_ACT_NOTIFY"}))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported"),
            "{err}"
        );
    }

    #[test]
    fn program_bytes_are_the_instructions() {
        let c = getpid_rule(json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]));
        let bytes = c.program_bytes();
        assert_eq!(bytes.len(), c.instruction_count() * 8);
        // Every seccompiler program starts by loading seccomp_data.arch (offset 4).
        assert_eq!(&bytes[..8], &[0x20, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(
            bytes,
            getpid_rule(json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}])).program_bytes()
        );
    }

    #[test]
    fn default_allow_without_rules_installs_nothing() {
        let c = compile(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        assert_eq!(c.filter_count(), 0);
        assert_eq!(c.instruction_count(), 0);
        assert_eq!(run_in_child(&c, || getpid_args(0, 0)), ALLOWED);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn deny_rules_cover_x32_numbers_under_allow_default() {
        let c = getpid_rule(serde_json::Value::Null);
        let insns = c.programs[0].clone();
        let jeq = |nr: u32| {
            insns
                .iter()
                .any(|i| i.code == (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16 && i.k == nr)
        };
        assert!(jeq(libc::SYS_getpid as u32));
        assert!(jeq(0x4000_0000 | libc::SYS_getpid as u32));
    }

    // ---- Docker's default profile -----------------------------------------------------------

    fn fixtures() -> std::path::PathBuf {
        match std::env::var_os("SEALRUN_FIXTURES") {
            Some(dir) => dir.into(),
            None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
        }
    }

    /// Docker's profile as containerd would pass it for Docker's default capabilities:
    /// the product's own importer does the conversion.
    fn moby_to_oci(moby: &serde_json::Value) -> serde_json::Value {
        let caps = crate::seccomp::moby::DOCKER_DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect();
        let ctx = crate::seccomp::moby::MobyContext::native(caps).expect("native context");
        serde_json::to_value(crate::seccomp::moby::import(moby, &ctx).expect("moby profile imports")).expect("json")
    }

    #[test]
    fn docker_default_profile() {
        let path = fixtures().join("seccomp/moby-default.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let moby: serde_json::Value = serde_json::from_str(&text).expect("moby profile is JSON");
        let oci = moby_to_oci(&moby);
        let c = CompiledSeccomp::compile(&profile(oci)).expect("Docker's profile compiles");
        println!(
            "moby-default: {} filters ({:?}), {} BPF instructions, {} names ignored on this arch",
            c.filter_count(),
            c.filter_labels(),
            c.instruction_count(),
            c.ignored_syscalls().len()
        );
        assert_eq!(c.filter_count(), 2);
        assert_eq!(c.filter_labels(), ["default SCMP_ACT_ERRNO(1)", "SCMP_ACT_ERRNO(38)"]);
        // 32-bit-only names of the profile are ignored, native ones are not.
        assert!(c.ignored_syscalls().iter().any(|n| n == "clock_gettime64"));
        assert!(!c.ignored_syscalls().iter().any(|n| n == "getpid" || n == "clone3"));

        // SAFETY: getpid takes no arguments.
        let getpid = || errno_of(unsafe { libc::syscall(libc::SYS_getpid) });
        // SAFETY: clone3 with a null args pointer would fail with EFAULT if it ran.
        let clone3 = || errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) });
        // SAFETY: KEYCTL_GET_KEYRING_ID (0) of the session keyring (-3), no pointers.
        let keyctl = || errno_of(unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i64, 0) });
        // SAFETY: null pointers: add_key would fail with EFAULT/EINVAL if it ran.
        let add_key = || errno_of(unsafe { libc::syscall(libc::SYS_add_key, 0usize, 0usize, 0usize, 0usize, 0usize) });
        // SAFETY: BPF_PROG_LOAD with a null attr would fail with EFAULT if it ran.
        let bpf = || errno_of(unsafe { libc::syscall(libc::SYS_bpf, 5, 0usize, 0u32) });
        // SAFETY: personality(0xffffffff) only queries the persona.
        let personality_query = || errno_of(unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu64) });
        // SAFETY: ADDR_NO_RANDOMIZE would only change this child's persona.
        let no_aslr = || errno_of(unsafe { libc::syscall(libc::SYS_personality, 0x0040000u64) });

        assert_eq!(run_in_child(&c, getpid), Outcome::Exited(0));
        assert_eq!(run_in_child(&c, clone3), Outcome::Exited(libc::ENOSYS));
        assert_eq!(run_in_child(&c, keyctl), Outcome::Exited(libc::EPERM));
        assert_eq!(run_in_child(&c, add_key), Outcome::Exited(libc::EPERM));
        assert_eq!(run_in_child(&c, bpf), Outcome::Exited(libc::EPERM));
        assert_eq!(run_in_child(&c, personality_query), Outcome::Exited(0));
        assert_eq!(run_in_child(&c, no_aslr), Outcome::Exited(libc::EPERM));
    }
}
