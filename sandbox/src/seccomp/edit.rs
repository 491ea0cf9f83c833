//! Policy edits on a seccomp profile: allow/deny edits with argument conditions, the rules
//! that confine `socket()` to the families and types the policy allows, and the merge with
//! the bundle's own `linux.seccomp` that is never weaker than either.
//!
//! Everything here works on the OCI IR ([`LinuxSeccomp`]) and relies on how
//! [`super::CompiledSeccomp`] turns it into a stack of filters (see the docs of
//! [`super`]): the kernel runs every filter and takes the most restrictive result
//! (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE > LOG > ALLOW), and among
//! two ERRNO results with different errnos the filter installed last wins.
//!
//! # Why a deny edit is more than an added ERRNO rule
//! An ERRNO rule beats an ALLOW rule of the same syscall, so usually adding
//! `{name, ERRNO(e), args}` is enough. Two cases are not:
//! - the rule's action equals the default action (ERRNO(EPERM) under a default ERRNO(EPERM),
//!   the common case): the compiler drops such rules as no-ops, so a base ALLOW for the
//!   syscall would still win. The base's allowing rules for that syscall are therefore
//!   *restricted* to "and not the deny's conditions", so that the call falls through to the
//!   default action exactly where the deny matches;
//! - the base has an ERRNO rule with another errno for the syscall (Docker's
//!   `clone3 → ENOSYS`): both would match and the errno would depend on filter order; that
//!   rule is restricted the same way.
//!
//! KILL and TRAP rules of the base are kept: they are stricter than any deny edit.
//!
//! An allow edit restricts the base's denying rules for the syscall (ERRNO, KILL, TRAP,
//! TRACE) the same way, then adds the ALLOW rule: an allow edit wins over the base. Deny
//! edits are applied after allow edits and win over them.
//!
//! "Not (c1 and c2 ...)" becomes an OR of negated conditions, each added to a copy of the
//! restricted rule; `MASKED_EQ` is negated bit by bit ("some bit under the mask differs").
//! Copies whose conditions contradict each other are dropped. Should a restriction still
//! need more than [`MAX_SPLIT`] rules, it falls back to the stricter answer (see [`apply`]).
//!
//! # 64-bit comparisons
//! The compiler compares all 64 bits of an argument, while many syscalls take `int`
//! arguments that the kernel truncates. A deny edit written with `EQ` on such an argument
//! can be bypassed by setting high bits; prefer `NE`-style allow-lists, or `MASKED_EQ` with
//! mask `0xffffffff`, for deny conditions. [`socket_rules`] is written that way.

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompOperator, LinuxSyscall,
};

use super::Op;

/// One condition of an edit: `(index, op, value, value_two)`. `value_two` is only read by
/// `MASKED_EQ`, for which the condition is `(arg & value) == value_two`.
pub type ArgCond = (usize, LinuxSeccompOperator, u64, u64);

/// One syscall in an allow or deny edit. All `args` must hold for the edit to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallEdit {
    pub name: String,
    pub args: Vec<ArgCond>,
    /// For deny edits, the errno returned (EPERM when `None`). Ignored for allow edits.
    pub errno: Option<u32>,
}

impl SyscallEdit {
    /// An edit without argument conditions.
    pub fn name(name: &str) -> SyscallEdit {
        SyscallEdit {
            name: name.to_string(),
            args: Vec::new(),
            errno: None,
        }
    }
}

/// The `[sandbox.syscalls]` allow/deny edits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    pub allow: Vec<SyscallEdit>,
    pub deny: Vec<SyscallEdit>,
}

/// Which sockets the workload may create (`[sandbox.net]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketPolicy {
    /// AF_UNIX, any type.
    pub allow_unix: bool,
    /// AF_INET/AF_INET6 SOCK_STREAM with protocol 0 or IPPROTO_TCP (not SCTP, not MPTCP).
    pub allow_inet_tcp: bool,
    /// AF_INET/AF_INET6 SOCK_DGRAM with protocol 0 or IPPROTO_UDP (not ICMP ping sockets,
    /// not UDP-Lite).
    pub allow_udp: bool,
    /// AF_INET/AF_INET6 SOCK_RAW, any protocol.
    pub allow_raw: bool,
    /// AF_NETLINK, any protocol.
    pub allow_netlink: bool,
    /// AF_VSOCK, any type.
    pub allow_vsock: bool,
    /// AF_PACKET, any type.
    pub allow_packet: bool,
}

/// Above this many rules for one syscall, a restriction gives up and takes the stricter
/// answer (see [`apply`]). Keeps the BPF program far below BPF_MAXINSNS.
pub const MAX_SPLIT: usize = 64;

const SOCK_TYPE_MASK: u64 = 0xf;
const SOCK_STREAM: u64 = libc::SOCK_STREAM as u64;
const SOCK_DGRAM: u64 = libc::SOCK_DGRAM as u64;
const SOCK_RAW: u64 = libc::SOCK_RAW as u64;

/// Rules for `socket()`/`socketpair()` that refuse what `net` does not allow:
/// - a family other than the allowed ones (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK,
///   AF_VSOCK, AF_PACKET as enabled; every other family, e.g. AF_ALG, AF_BLUETOOTH,
///   AF_XDP, AF_KEY, is always refused) fails with EAFNOSUPPORT. This is one rule made of
///   `arg0 != family` conditions, so setting the high bits of the `int` argument cannot get
///   around it;
/// - in AF_INET/AF_INET6, a type (`arg1 & 0xf`) other than the allowed ones (STREAM for TCP,
///   DGRAM for UDP, RAW), and a STREAM/DGRAM protocol other than 0/TCP or 0/UDP, fail with
///   EACCES, which socket(2) documents for "creating a socket of this type and/or protocol
///   is denied". (Not EPERM: under a default ERRNO(EPERM) profile an EPERM rule would be a
///   no-op for the compiler, see the module docs; EACCES rules stay effective whether they
///   are appended to a profile or stacked as their own filter.)
///
/// Every rule has action ERRNO, so the list can be appended to any profile whose default
/// action is not ERRNO(EAFNOSUPPORT)/ERRNO(EACCES), or stacked as its own profile with a
/// default ALLOW. [`socket_edits`] gives the same rules as deny edits for [`apply`].
pub fn socket_rules(net: &SocketPolicy) -> Vec<LinuxSyscall> {
    socket_edits(net)
        .iter()
        .map(|e| syscall_rule(&[e.name.as_str()], LinuxSeccompAction::ScmpActErrno, e.errno, &e.args))
        .collect()
}

/// [`socket_rules`] as deny edits, for [`apply`].
pub fn socket_edits(net: &SocketPolicy) -> Vec<SyscallEdit> {
    let inet = net.allow_inet_tcp || net.allow_udp || net.allow_raw;
    let mut families = Vec::new();
    for (allowed, family) in [
        (net.allow_unix, libc::AF_UNIX),
        (inet, libc::AF_INET),
        (inet, libc::AF_INET6),
        (net.allow_netlink, libc::AF_NETLINK),
        (net.allow_vsock, libc::AF_VSOCK),
        (net.allow_packet, libc::AF_PACKET),
    ] {
        if allowed {
            families.push((0, LinuxSeccompOperator::ScmpCmpNe, family as u64, 0));
        }
    }
    let eafnosupport = Some(libc::EAFNOSUPPORT as u32);
    let eacces = Some(libc::EACCES as u32);
    let mut edits = Vec::new();
    for name in ["socket", "socketpair"] {
        edits.push(SyscallEdit {
            name: name.to_string(),
            args: families.clone(),
            errno: eafnosupport,
        });
    }
    if !inet {
        return edits;
    }

    let mut allowed_types = Vec::new();
    if net.allow_inet_tcp {
        allowed_types.push(SOCK_STREAM);
    }
    if net.allow_udp {
        allowed_types.push(SOCK_DGRAM);
    }
    if net.allow_raw {
        allowed_types.push(SOCK_RAW);
    }
    // Refused types as (mask, value) pairs on arg1: any of bits 2 and 3 set (types 4..=15),
    // or one of the low values 0..=3 that is not allowed.
    let mut refused_types: Vec<(u64, u64)> = vec![(0x4, 0x4), (0x8, 0x8)];
    for low in 0..=3u64 {
        if !allowed_types.contains(&low) {
            refused_types.push((SOCK_TYPE_MASK, low));
        }
    }
    let masked = |mask: u64, value: u64| (1, LinuxSeccompOperator::ScmpCmpMaskedEq, mask, value);
    for family in [libc::AF_INET, libc::AF_INET6] {
        let family = (0, LinuxSeccompOperator::ScmpCmpEq, family as u64, 0);
        for (mask, value) in &refused_types {
            edits.push(SyscallEdit {
                name: "socket".to_string(),
                args: vec![family, masked(*mask, *value)],
                errno: eacces,
            });
        }
        for (allowed, ty, proto) in [
            (net.allow_inet_tcp, SOCK_STREAM, libc::IPPROTO_TCP),
            (net.allow_udp, SOCK_DGRAM, libc::IPPROTO_UDP),
        ] {
            if allowed {
                edits.push(SyscallEdit {
                    name: "socket".to_string(),
                    args: vec![
                        family,
                        masked(SOCK_TYPE_MASK, ty),
                        (2, LinuxSeccompOperator::ScmpCmpNe, 0, 0),
                        (2, LinuxSeccompOperator::ScmpCmpNe, proto as u64, 0),
                    ],
                    errno: eacces,
                });
            }
        }
    }
    edits
}

/// The base profile with the edits applied (see the module docs for what "wins" means).
///
/// When a restriction would need more than [`MAX_SPLIT`] rules, it takes the stricter
/// answer and logs a warning: a deny edit drops the base's allowing rules for that syscall
/// (the call then fails with the default action's errno, which equals the deny's errno in
/// that case) or keeps a base ERRNO rule as it is (the call is still refused, perhaps with
/// that rule's errno); an allow edit keeps the base's denying rule as it is.
pub fn apply(base: LinuxSeccomp, edits: &Edits) -> LinuxSeccomp {
    let mut profile = base;
    let default = resolve(profile.default_action(), None, profile.default_errno_ret());
    let mut rules: Vec<LinuxSyscall> = profile.syscalls().clone().unwrap_or_default();

    for edit in &edits.allow {
        let conds = to_conds(&edit.args);
        rewrite(&mut rules, &edit.name, &conds, profile.default_errno_ret(), |action| {
            // Every rule that may stop the call is restricted, whatever its kind.
            if denies(action.0) {
                Some(Fallback::Keep)
            } else {
                None
            }
        });
        rules.push(syscall_rule(
            &[edit.name.as_str()],
            LinuxSeccompAction::ScmpActAllow,
            None,
            &edit.args,
        ));
    }

    for edit in &edits.deny {
        let errno = edit.errno.unwrap_or(libc::EPERM as u32);
        let deny = (Kind::Errno, Some(errno));
        let conds = to_conds(&edit.args);
        // The compiler drops a rule whose action is the default action: then the base's
        // allowing rules must be cut back so that the default answers where the deny matches.
        let deny_is_default = deny == default;
        rewrite(
            &mut rules,
            &edit.name,
            &conds,
            profile.default_errno_ret(),
            |action| match action.0 {
                Kind::KillProcess | Kind::KillThread | Kind::Trap => None,
                Kind::Errno if action == deny => None,
                Kind::Errno => Some(Fallback::Keep),
                _ if deny_is_default => Some(Fallback::Drop),
                _ => None,
            },
        );
        rules.push(syscall_rule(
            &[edit.name.as_str()],
            LinuxSeccompAction::ScmpActErrno,
            Some(errno),
            &edit.args,
        ));
    }

    profile.set_syscalls(Some(rules));
    profile
}

/// The profiles to install, in order, so that the workload is confined at least as much as
/// by `policy` alone and as by `bundle` alone.
///
/// # Why installing both is sound
/// seccomp(2): "If multiple filters exist, they are all executed [...] the return value
/// for the evaluation of a given system call is the first-seen action value of highest
/// precedence". [`super::CompiledSeccomp::install`] of each profile adds its filters to the
/// same stack, so for every call the result is the most restrictive of the policy's result
/// and the bundle's result: a call the policy refuses is refused (or killed, if the bundle
/// kills it), and so is a call the bundle refuses. Where both answer ERRNO with different
/// errnos, the profile installed last gives the errno; the call is refused either way.
///
/// # Order
/// The second profile's filters are installed with seccomp(2) *through* the first one's
/// filters, so the first one must let `seccomp(SECCOMP_SET_MODE_FILTER, flags)` through
/// (`install` uses only seccomp(2), no prctl). The profile that always allows seccomp(2)
/// goes first (the policy when both do). When neither does, the bundle goes first with one
/// added allow edit, `seccomp(arg0 == SECCOMP_SET_MODE_FILTER, arg1 == the policy's
/// flags)`. That is the one call where the result may be weaker than the bundle alone, and
/// only where the policy does not refuse it too; a filter installed that way can only add
/// restrictions (the kernel ANDs them, and no_new_privs stays set), so it grants nothing.
///
/// `None` or a bundle equal to the policy gives just the policy.
pub fn never_weaker(policy: LinuxSeccomp, bundle: Option<LinuxSeccomp>) -> Vec<LinuxSeccomp> {
    let Some(bundle) = bundle else {
        return vec![policy];
    };
    if bundle == policy {
        return vec![policy];
    }
    if !may_deny_seccomp(&policy) {
        return vec![policy, bundle];
    }
    if !may_deny_seccomp(&bundle) {
        return vec![bundle, policy];
    }
    let flags = policy
        .flags()
        .iter()
        .flatten()
        .map(|f| match f {
            oci_spec::runtime::LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            oci_spec::runtime::LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            oci_spec::runtime::LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
        })
        .fold(0, |acc, f| acc | f);
    let let_policy_install = Edits {
        allow: vec![SyscallEdit {
            name: "seccomp".to_string(),
            args: vec![
                (
                    0,
                    LinuxSeccompOperator::ScmpCmpEq,
                    libc::SECCOMP_SET_MODE_FILTER as u64,
                    0,
                ),
                (1, LinuxSeccompOperator::ScmpCmpEq, flags, 0),
            ],
            errno: None,
        }],
        deny: Vec::new(),
    };
    vec![apply(bundle, &let_policy_install), policy]
}

/// May this profile stop a seccomp(2) call? Mirrors the compiler's own check: `false` only
/// when the default action lets it through and no rule denies it, or when an unconditional
/// ALLOW/LOG rule matches it and no rule with another denying action names it.
pub fn may_deny_seccomp(profile: &LinuxSeccomp) -> bool {
    let default_errno = profile.default_errno_ret();
    let default = resolve(profile.default_action(), None, default_errno);
    let mut always_allowed = false;
    for r in profile.syscalls().iter().flatten() {
        if !r.names().iter().any(|n| n == "seccomp") {
            continue;
        }
        let action = resolve(r.action(), r.errno_ret(), default_errno);
        if action == default {
            continue;
        }
        if denies(action.0) {
            return true;
        }
        if r.args().as_ref().is_none_or(|a| a.is_empty()) {
            always_allowed = true;
        }
    }
    denies(default.0) && !always_allowed
}

// ---- internals ------------------------------------------------------------------------------

/// An action as the kernel sees it: KILL is KILL_THREAD, and ERRNO/TRACE carry their data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Allow,
    Log,
    Trace,
    Notify,
    Errno,
    Trap,
    KillThread,
    KillProcess,
}

type Resolved = (Kind, Option<u32>);

/// The action with its data resolved as the compiler does (rule errnoRet, else
/// defaultErrnoRet, else EPERM).
fn resolve(action: LinuxSeccompAction, errno_ret: Option<u32>, default_errno: Option<u32>) -> Resolved {
    let data = Some(errno_ret.or(default_errno).unwrap_or(libc::EPERM as u32));
    match action {
        LinuxSeccompAction::ScmpActAllow => (Kind::Allow, None),
        LinuxSeccompAction::ScmpActLog => (Kind::Log, None),
        LinuxSeccompAction::ScmpActTrace => (Kind::Trace, data),
        LinuxSeccompAction::ScmpActNotify => (Kind::Notify, None),
        LinuxSeccompAction::ScmpActErrno => (Kind::Errno, data),
        LinuxSeccompAction::ScmpActTrap => (Kind::Trap, None),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => (Kind::KillThread, None),
        LinuxSeccompAction::ScmpActKillProcess => (Kind::KillProcess, None),
    }
}

/// Does this action stop the syscall from running?
fn denies(kind: Kind) -> bool {
    !matches!(kind, Kind::Allow | Kind::Log)
}

/// What to do with a rule whose restriction would need more than [`MAX_SPLIT`] rules.
#[derive(Clone, Copy)]
enum Fallback {
    /// Keep the rule unrestricted.
    Keep,
    /// Remove the syscall from the rule.
    Drop,
}

/// How one selected rule is rewritten.
struct Plan {
    fallback: Fallback,
    /// The rule's conditions, sorted.
    own: Vec<Cond>,
    /// "own and not the edit's conditions", `None` when over [`MAX_SPLIT`] by itself.
    restricted: Option<Vec<Vec<Cond>>>,
}

/// For every rule naming `name` whose action `restrict` selects, replace its `name` part by
/// copies restricted to "not `conds`". Other names of the rule keep the rule as it was; the
/// copies take the rule's place, so the order in which actions first appear is kept.
fn rewrite(
    rules: &mut Vec<LinuxSyscall>,
    name: &str,
    conds: &[Cond],
    default_errno: Option<u32>,
    restrict: impl Fn(Resolved) -> Option<Fallback>,
) {
    // First the restricted conditions of every selected rule, to count them all: the limit
    // is on the rules this syscall ends up with, whatever base rules they come from.
    let mut plans: Vec<Option<Plan>> = Vec::with_capacity(rules.len());
    let mut total = 0usize;
    for r in rules.iter() {
        let action = resolve(r.action(), r.errno_ret(), default_errno);
        let plan = match restrict(action) {
            Some(fallback) if r.names().iter().any(|n| n == name) => {
                let mut own = to_conds_oci(r.args().as_deref().unwrap_or(&[]));
                own.sort();
                own.dedup();
                let restricted = restrict_to_not(&own, conds);
                total += restricted.as_ref().map_or(MAX_SPLIT + 1, |r| r.len());
                Some(Plan {
                    fallback,
                    own,
                    restricted,
                })
            }
            _ => None,
        };
        plans.push(plan);
    }
    let over = total > MAX_SPLIT;
    if over {
        tracing::warn!(
            syscall = name,
            limit = MAX_SPLIT,
            "seccomp edit: restricting the base's rules needs too many rules; taking the stricter answer"
        );
    }

    let mut out = Vec::with_capacity(rules.len());
    for (r, plan) in rules.drain(..).zip(plans) {
        let Some(Plan {
            fallback,
            own,
            restricted,
        }) = plan
        else {
            out.push(r);
            continue;
        };
        let restricted = match (over, restricted) {
            (false, Some(list)) => list,
            _ => match fallback {
                Fallback::Keep => vec![own.clone()],
                Fallback::Drop => Vec::new(),
            },
        };
        if restricted.len() == 1 && restricted[0] == own {
            out.push(r);
            continue;
        }
        let others: Vec<String> = r.names().iter().filter(|n| *n != name).cloned().collect();
        if !others.is_empty() {
            let mut kept = r.clone();
            kept.set_names(others);
            out.push(kept);
        }
        for conds in restricted {
            let mut copy = r.clone();
            copy.set_names(vec![name.to_string()]);
            copy.set_args(if conds.is_empty() {
                None
            } else {
                Some(conds.iter().map(|c| c.to_oci()).collect())
            });
            out.push(copy);
        }
    }
    *rules = out;
}

/// One argument comparison (the compiler's semantics: unsigned 64-bit, MASKED_EQ compares
/// `arg & value` with `value_two & value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Cond {
    index: usize,
    op: Op,
    value: u64,
    value_two: u64,
}

impl Cond {
    fn new(index: usize, op: LinuxSeccompOperator, value: u64, value_two: u64) -> Cond {
        let op = Op::from(op);
        let value_two = if op == Op::MaskedEq { value_two & value } else { 0 };
        Cond {
            index,
            op,
            value,
            value_two,
        }
    }

    fn to_oci(self) -> LinuxSeccompArg {
        let op = LinuxSeccompOperator::from(self.op);
        let builder = LinuxSeccompArgBuilder::default()
            .index(self.index)
            .op(op)
            .value(self.value);
        let builder = if self.op == Op::MaskedEq {
            builder.value_two(self.value_two)
        } else {
            builder
        };
        // Every field has a default: the builder cannot fail.
        builder.build().expect("LinuxSeccompArg from set fields")
    }

    /// "Not this condition" as an OR of conditions (empty: never true).
    fn negate(&self) -> Vec<Cond> {
        let with = |op, value| Cond {
            index: self.index,
            op,
            value,
            value_two: 0,
        };
        match self.op {
            Op::Eq => vec![with(Op::Ne, self.value)],
            Op::Ne => vec![with(Op::Eq, self.value)],
            Op::Lt => vec![with(Op::Ge, self.value)],
            Op::Le => vec![with(Op::Gt, self.value)],
            Op::Gt => vec![with(Op::Le, self.value)],
            Op::Ge => vec![with(Op::Lt, self.value)],
            // (arg & m) != v: some bit under the mask differs from v's.
            Op::MaskedEq => (0..64)
                .map(|b| 1u64 << b)
                .filter(|bit| self.value & bit != 0)
                .map(|bit| Cond {
                    index: self.index,
                    op: Op::MaskedEq,
                    value: bit,
                    value_two: !self.value_two & bit,
                })
                .collect(),
        }
    }
}

fn to_conds(args: &[ArgCond]) -> Vec<Cond> {
    args.iter().map(|&(i, op, v, v2)| Cond::new(i, op, v, v2)).collect()
}

fn to_conds_oci(args: &[LinuxSeccompArg]) -> Vec<Cond> {
    args.iter()
        .map(|a| Cond::new(a.index(), a.op(), a.value(), a.value_two().unwrap_or(0)))
        .collect()
}

/// Can all of `conds` hold at once? Conservative: `false` only for a proven contradiction.
fn satisfiable(conds: &[Cond]) -> bool {
    let mut indexes: Vec<usize> = conds.iter().map(|c| c.index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes.into_iter().all(|index| {
        let (mut lo, mut hi) = (0u64, u64::MAX);
        let (mut ones, mut zeros) = (0u64, 0u64);
        let mut eq: Option<u64> = None;
        let mut ne = Vec::new();
        for c in conds.iter().filter(|c| c.index == index) {
            match c.op {
                Op::Eq if eq.is_some_and(|e| e != c.value) => return false,
                Op::Eq => eq = Some(c.value),
                Op::Ne => ne.push(c.value),
                Op::Lt if c.value == 0 => return false,
                Op::Lt => hi = hi.min(c.value - 1),
                Op::Le => hi = hi.min(c.value),
                Op::Gt if c.value == u64::MAX => return false,
                Op::Gt => lo = lo.max(c.value + 1),
                Op::Ge => lo = lo.max(c.value),
                Op::MaskedEq => {
                    ones |= c.value_two & c.value;
                    zeros |= c.value & !c.value_two;
                }
            }
        }
        if lo > hi || ones & zeros != 0 {
            return false;
        }
        if lo == hi {
            eq = eq.or(Some(lo));
        }
        match eq {
            Some(e) => lo <= e && e <= hi && !ne.contains(&e) && e & ones == ones && e & zeros == 0,
            None => true,
        }
    })
}

/// Does `rule` imply `cond` (is `rule and not cond` impossible)?
fn implies(rule: &[Cond], cond: &Cond) -> bool {
    cond.negate().iter().all(|n| !satisfiable(&with(rule, n)))
}

fn with(rule: &[Cond], extra: &Cond) -> Vec<Cond> {
    let mut v = rule.to_vec();
    if !v.contains(extra) {
        v.push(*extra);
        v.sort();
    }
    v
}

/// `rule and not (all of deny)` as a list of ORed rules (each an AND of conditions), or
/// `None` when that takes more than [`MAX_SPLIT`] rules.
fn restrict_to_not(rule: &[Cond], deny: &[Cond]) -> Option<Vec<Vec<Cond>>> {
    let mut rule = rule.to_vec();
    rule.sort();
    rule.dedup();
    // The deny never matches where the rule does: nothing to cut.
    let mut both = rule.clone();
    both.extend_from_slice(deny);
    if !satisfiable(&both) {
        return Some(vec![rule]);
    }
    // The rule already implies one of "not d": same answer.
    for d in deny {
        if d.negate().iter().any(|n| implies(&rule, n)) {
            return Some(vec![rule]);
        }
    }
    let mut out: Vec<Vec<Cond>> = Vec::new();
    for d in deny {
        for n in d.negate() {
            let candidate = with(&rule, &n);
            if satisfiable(&candidate) && !out.contains(&candidate) {
                out.push(candidate);
                if out.len() > MAX_SPLIT {
                    return None;
                }
            }
        }
    }
    Some(out)
}

/// One OCI rule for `names` with the conditions `args`.
pub(crate) fn syscall_rule(
    names: &[&str],
    action: LinuxSeccompAction,
    errno: Option<u32>,
    args: &[ArgCond],
) -> LinuxSyscall {
    let mut r = LinuxSyscall::default();
    r.set_names(names.iter().map(|n| n.to_string()).collect());
    r.set_action(action);
    r.set_errno_ret(errno);
    r.set_args(if args.is_empty() {
        None
    } else {
        Some(to_conds(args).iter().map(|c| c.to_oci()).collect())
    });
    r
}

/// Helpers for the fork-and-probe tests of the seccomp submodules.
#[cfg(test)]
pub(crate) mod test_support {
    use super::super::{parse_profile, CompiledSeccomp};
    use oci_spec::runtime::LinuxSeccomp;

    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum Outcome {
        /// Exit code: the probe's result (an errno, 0 on success), or 101..=103 for setup
        /// failures (no_new_privs, install, panic).
        Exited(i32),
        Signaled(i32),
    }

    pub const OK: Outcome = Outcome::Exited(0);

    pub fn errno(e: i32) -> Outcome {
        Outcome::Exited(e)
    }

    pub fn profile(v: serde_json::Value) -> LinuxSeccomp {
        parse_profile(&v).expect("test profile parses")
    }

    pub fn compile(p: &LinuxSeccomp) -> CompiledSeccomp {
        CompiledSeccomp::compile(p).unwrap_or_else(|e| panic!("profile compiles: {e}"))
    }

    /// Run `probe` in a forked child that sets no_new_privs and installs `filters` in order.
    /// The probe may allocate and spawn threads: glibc's fork resets the malloc locks in
    /// the child, and the probe only touches state it creates itself. A panic in the probe
    /// ends the child with 103 instead of unwinding into the test harness's copy.
    pub fn run_in_child(filters: &[&CompiledSeccomp], probe: impl FnOnce() -> i32) -> Outcome {
        // SAFETY: see the function docs; the child never returns from this block.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: prctl with valid arguments; _exit never returns.
            unsafe {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(101);
                }
            }
            for f in filters {
                if f.install().is_err() {
                    // SAFETY: _exit is always safe to call.
                    unsafe { libc::_exit(102) };
                }
            }
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(probe)).unwrap_or(103);
            // SAFETY: as above.
            unsafe { libc::_exit(code) };
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

    /// errno of a raw syscall's result, 0 when it did not fail.
    pub fn errno_of(rc: libc::c_long) -> i32 {
        if rc == -1 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(255)
        } else {
            0
        }
    }

    /// socket(domain, ty, protocol): 0 when created (and closed again), else the errno.
    pub fn socket(domain: i32, ty: i32, protocol: i32) -> i32 {
        // SAFETY: socket takes no pointers.
        let fd = unsafe { libc::socket(domain, ty, protocol) };
        if fd < 0 {
            return std::io::Error::last_os_error().raw_os_error().unwrap_or(255);
        }
        // SAFETY: closing the fd we just created.
        unsafe { libc::close(fd) };
        0
    }

    /// mkdirat(AT_FDCWD, path, 0700) through the raw syscall: 0 or the errno.
    pub fn mkdir(path: &std::ffi::CStr) -> i32 {
        // SAFETY: path is a valid NUL-terminated string.
        errno_of(unsafe { libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, path.as_ptr(), 0o700) })
    }

    /// fchmodat(AT_FDCWD, path, 0700): 0 or the errno.
    pub fn chmod(path: &std::ffi::CStr) -> i32 {
        // SAFETY: path is a valid NUL-terminated string.
        errno_of(unsafe { libc::syscall(libc::SYS_fchmodat, libc::AT_FDCWD, path.as_ptr(), 0o700) })
    }

    pub fn fixtures() -> std::path::PathBuf {
        match std::env::var_os("SEALRUN_FIXTURES") {
            Some(dir) => dir.into(),
            None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::seccomp::CompiledSeccomp;
    use serde_json::json;
    use std::ffi::CString;

    fn exit_rule() -> serde_json::Value {
        json!({"names": ["exit_group", "exit"], "action": "SCMP_ACT_ALLOW"})
    }

    /// A deny-by-default base that allows what the probes need.
    fn strict_base(extra: &[&str]) -> LinuxSeccomp {
        let mut names = vec![
            "socket",
            "socketpair",
            "close",
            "mkdirat",
            "fchmodat",
            "getpid",
            "seccomp",
        ];
        names.extend_from_slice(extra);
        profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(), {"names": names, "action": "SCMP_ACT_ALLOW"}]
        }))
    }

    fn tmp_path(dir: &tempfile::TempDir, name: &str) -> CString {
        CString::new(dir.path().join(name).into_os_string().into_encoded_bytes()).expect("no NUL")
    }

    fn getpid_args(a0: u64, a1: u64) -> i32 {
        // SAFETY: getpid ignores its arguments; they are there for the filter to see.
        errno_of(unsafe { libc::syscall(libc::SYS_getpid, a0, a1) })
    }

    // ---- deny and allow edits ---------------------------------------------------------------

    #[test]
    fn deny_edit_wins_over_base_allow_with_default_errno() {
        // Deny with EPERM under a default ERRNO(EPERM): the added rule alone would be a no-op.
        let edits = Edits {
            allow: vec![],
            deny: vec![SyscallEdit::name("mkdirat")],
        };
        let edited = apply(strict_base(&[]), &edits);
        let c = compile(&edited);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = tmp_path(&dir, "d");
        assert_eq!(run_in_child(&[&compile(&strict_base(&[]))], || mkdir(&path)), OK);
        let path = tmp_path(&dir, "e");
        assert_eq!(run_in_child(&[&c], || mkdir(&path)), errno(libc::EPERM));
        assert!(!dir.path().join("e").exists());
        // Other names of the same base rule stay allowed.
        assert_eq!(run_in_child(&[&c], || getpid_args(0, 0)), OK);
    }

    #[test]
    fn deny_edit_with_its_own_errno_and_condition() {
        let edits = Edits {
            allow: vec![],
            deny: vec![SyscallEdit {
                name: "getpid".into(),
                args: vec![(0, LinuxSeccompOperator::ScmpCmpEq, 7, 0)],
                errno: Some(libc::EACCES as u32),
            }],
        };
        let c = compile(&apply(strict_base(&[]), &edits));
        assert_eq!(run_in_child(&[&c], || getpid_args(7, 0)), errno(libc::EACCES));
        assert_eq!(run_in_child(&[&c], || getpid_args(8, 0)), OK);
    }

    #[test]
    fn conditional_deny_with_default_errno_cuts_the_base_allow() {
        // getpid(arg0 & 0xf0 == 0x20) → EPERM, the default's errno: the base's ALLOW must be
        // split into "some bit under the mask differs".
        let edits = Edits {
            allow: vec![],
            deny: vec![SyscallEdit {
                name: "getpid".into(),
                args: vec![(0, LinuxSeccompOperator::ScmpCmpMaskedEq, 0xf0, 0x20)],
                errno: None,
            }],
        };
        let edited = apply(strict_base(&[]), &edits);
        let getpid_rules = edited
            .syscalls()
            .iter()
            .flatten()
            .filter(|r| r.names() == &["getpid"] && r.action() == LinuxSeccompAction::ScmpActAllow)
            .count();
        assert_eq!(getpid_rules, 4, "one ALLOW copy per bit of the mask");
        let c = compile(&edited);
        assert_eq!(run_in_child(&[&c], || getpid_args(0x25, 0)), errno(libc::EPERM));
        assert_eq!(
            run_in_child(&[&c], || getpid_args(0x1_0000_0020, 0)),
            errno(libc::EPERM)
        );
        assert_eq!(run_in_child(&[&c], || getpid_args(0x35, 0)), OK);
        assert_eq!(run_in_child(&[&c], || getpid_args(0x00, 0)), OK);
        assert_eq!(run_in_child(&[&c], || getpid_args(0xa0, 0)), OK);
    }

    #[test]
    fn deny_edit_overrides_a_base_errno_of_another_value() {
        // Base: getppid → ENOSYS (like Docker's clone3). Deny with EACCES must give EACCES,
        // whatever the filter order.
        let base = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(),
                {"names": ["getpid", "seccomp"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
        }));
        let edits = Edits {
            allow: vec![],
            deny: vec![SyscallEdit {
                errno: Some(libc::EACCES as u32),
                ..SyscallEdit::name("getppid")
            }],
        };
        let c = compile(&apply(base, &edits));
        // SAFETY: getppid has no arguments.
        let ppid = || errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
        assert_eq!(run_in_child(&[&c], ppid), errno(libc::EACCES));
    }

    #[test]
    fn deny_edit_keeps_a_base_kill() {
        let base = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"}]
        }));
        let edits = Edits {
            allow: vec![],
            deny: vec![SyscallEdit::name("getpid")],
        };
        let c = compile(&apply(base, &edits));
        assert_eq!(
            run_in_child(&[&c], || getpid_args(0, 0)),
            Outcome::Signaled(libc::SIGSYS)
        );
    }

    #[test]
    fn allow_edit_with_argument_condition() {
        let edits = Edits {
            allow: vec![SyscallEdit {
                name: "getppid".into(),
                args: vec![(0, LinuxSeccompOperator::ScmpCmpLe, 3, 0)],
                errno: None,
            }],
            deny: vec![],
        };
        let c = compile(&apply(strict_base(&[]), &edits));
        // SAFETY: getppid ignores its argument.
        let ppid = |a0: u64| errno_of(unsafe { libc::syscall(libc::SYS_getppid, a0) });
        assert_eq!(run_in_child(&[&c], || ppid(3)), OK);
        assert_eq!(run_in_child(&[&c], || ppid(4)), errno(libc::EPERM));
    }

    #[test]
    fn allow_edit_wins_over_base_deny_and_deny_edit_over_allow_edit() {
        let base = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(),
                {"names": ["getpid", "seccomp"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
        }));
        let edits = Edits {
            allow: vec![SyscallEdit::name("getppid")],
            deny: vec![SyscallEdit {
                name: "getppid".into(),
                args: vec![(0, LinuxSeccompOperator::ScmpCmpEq, 9, 0)],
                errno: None,
            }],
        };
        let c = compile(&apply(base, &edits));
        // SAFETY: getppid ignores its argument.
        let ppid = |a0: u64| errno_of(unsafe { libc::syscall(libc::SYS_getppid, a0) });
        assert_eq!(run_in_child(&[&c], || ppid(0)), OK);
        assert_eq!(run_in_child(&[&c], || ppid(9)), errno(libc::EPERM));
    }

    #[test]
    fn restriction_falls_back_to_stricter_when_too_large() {
        // Two full-width MASKED_EQ denies (64-bit equality) on one allowed syscall: about
        // 3 × 63 copies would be needed; the base allow is dropped instead and getpid is
        // refused altogether, also for values neither deny names.
        let wide = |v: u64| SyscallEdit {
            name: "getpid".into(),
            args: vec![(0, LinuxSeccompOperator::ScmpCmpMaskedEq, u64::MAX, v)],
            errno: None,
        };
        let edits = Edits {
            allow: vec![],
            deny: vec![wide(1), wide(2)],
        };
        let one = compile(&apply(
            strict_base(&[]),
            &Edits {
                allow: vec![],
                deny: vec![wide(1)],
            },
        ));
        assert_eq!(run_in_child(&[&one], || getpid_args(5, 0)), OK, "one deny fits");
        assert_eq!(run_in_child(&[&one], || getpid_args(1, 0)), errno(libc::EPERM));
        let c = compile(&apply(strict_base(&[]), &edits));
        assert_eq!(run_in_child(&[&c], || getpid_args(5, 0)), errno(libc::EPERM));
        assert_eq!(run_in_child(&[&c], || getpid_args(1, 0)), errno(libc::EPERM));
    }

    #[test]
    fn negation_and_satisfiability() {
        let c = |op, v, v2| Cond::new(0, op, v, v2);
        use LinuxSeccompOperator::*;
        // x == 5 and x != 5: contradiction; x >= 3 and x < 3 too; masks disagreeing too.
        assert!(!satisfiable(&[c(ScmpCmpEq, 5, 0), c(ScmpCmpNe, 5, 0)]));
        assert!(!satisfiable(&[c(ScmpCmpGe, 3, 0), c(ScmpCmpLt, 3, 0)]));
        assert!(!satisfiable(&[c(ScmpCmpMaskedEq, 0xf, 1), c(ScmpCmpMaskedEq, 0x1, 0)]));
        assert!(!satisfiable(&[c(ScmpCmpEq, 2, 0), c(ScmpCmpMaskedEq, 0x1, 1)]));
        assert!(satisfiable(&[c(ScmpCmpEq, 3, 0), c(ScmpCmpMaskedEq, 0x1, 1)]));
        assert!(satisfiable(&[c(ScmpCmpGt, 3, 0), c(ScmpCmpLe, 4, 0)]));
        // Negation is exact for every op, on a sample of values.
        let eval = |c: &Cond, x: u64| match c.op {
            Op::Ne => x != c.value,
            Op::Lt => x < c.value,
            Op::Le => x <= c.value,
            Op::Eq => x == c.value,
            Op::Ge => x >= c.value,
            Op::Gt => x > c.value,
            Op::MaskedEq => x & c.value == c.value_two & c.value,
        };
        for op in [
            ScmpCmpNe,
            ScmpCmpLt,
            ScmpCmpLe,
            ScmpCmpEq,
            ScmpCmpGe,
            ScmpCmpGt,
            ScmpCmpMaskedEq,
        ] {
            let cond = c(op, 0x12, 0x10);
            for x in [0u64, 1, 0x10, 0x11, 0x12, 0x13, 0x32, u64::MAX, 0x1_0000_0012] {
                let neg = cond.negate().iter().any(|n| eval(n, x));
                assert_eq!(neg, !eval(&cond, x), "{op:?} x={x:#x}");
            }
        }
    }

    // ---- socket rules ---------------------------------------------------------------------

    fn with_sockets(base: LinuxSeccomp, net: &SocketPolicy) -> CompiledSeccomp {
        compile(&apply(
            base,
            &Edits {
                allow: vec![],
                deny: socket_edits(net),
            },
        ))
    }

    #[test]
    fn udp_denied_tcp_allowed() {
        let net = SocketPolicy {
            allow_unix: true,
            allow_inet_tcp: true,
            ..Default::default()
        };
        let c = with_sockets(strict_base(&[]), &net);
        let run = |d, t, p| run_in_child(&[&c], move || socket(d, t, p));
        assert_eq!(run(libc::AF_INET, libc::SOCK_STREAM, 0), OK);
        assert_eq!(
            run(
                libc::AF_INET6,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                libc::IPPROTO_TCP
            ),
            OK
        );
        assert_eq!(run(libc::AF_UNIX, libc::SOCK_DGRAM, 0), OK);
        assert_eq!(run(libc::AF_INET, libc::SOCK_DGRAM, 0), errno(libc::EACCES));
        assert_eq!(
            run(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0),
            errno(libc::EACCES)
        );
        // SCTP over a stream socket is not TCP.
        assert_eq!(
            run(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP),
            errno(libc::EACCES)
        );
        assert_eq!(
            run(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
            errno(libc::EACCES)
        );
        assert_eq!(run(libc::AF_INET, libc::SOCK_SEQPACKET, 0), errno(libc::EACCES));
    }

    #[test]
    fn raw_netlink_vsock_packet_denied() {
        let net = SocketPolicy {
            allow_inet_tcp: true,
            allow_udp: true,
            ..Default::default()
        };
        let c = with_sockets(strict_base(&[]), &net);
        let run = |d, t, p| run_in_child(&[&c], move || socket(d, t, p));
        assert_eq!(run(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_UDP), OK);
        assert_eq!(
            run(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
            errno(libc::EACCES)
        );
        assert_eq!(
            run(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP),
            errno(libc::EACCES)
        );
        assert_eq!(run(libc::AF_NETLINK, libc::SOCK_RAW, 0), errno(libc::EAFNOSUPPORT));
        assert_eq!(run(libc::AF_VSOCK, libc::SOCK_STREAM, 0), errno(libc::EAFNOSUPPORT));
        assert_eq!(run(libc::AF_PACKET, libc::SOCK_RAW, 0), errno(libc::EAFNOSUPPORT));
        assert_eq!(run(libc::AF_UNIX, libc::SOCK_STREAM, 0), errno(libc::EAFNOSUPPORT));
        assert_eq!(run(libc::AF_ALG, libc::SOCK_SEQPACKET, 0), errno(libc::EAFNOSUPPORT));
        // High bits on the int domain do not get past the family allow-list.
        // SAFETY: socket takes no pointers.
        let high = || errno_of(unsafe { libc::syscall(libc::SYS_socket, 0x1_0000_0010u64, libc::SOCK_RAW, 0) });
        assert_eq!(run_in_child(&[&c], high), errno(libc::EAFNOSUPPORT));
        // socketpair follows the family rule.
        let pair = || {
            let mut fds = [0i32; 2];
            // SAFETY: fds has room for two descriptors.
            errno_of(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } as i64)
        };
        assert_eq!(run_in_child(&[&c], pair), errno(libc::EAFNOSUPPORT));
    }

    #[test]
    fn enabled_families_work() {
        let net = SocketPolicy {
            allow_raw: true,
            allow_netlink: true,
            allow_packet: true,
            allow_unix: true,
            ..Default::default()
        };
        let c = with_sockets(strict_base(&[]), &net);
        let run = |d, t, p| run_in_child(&[&c], move || socket(d, t, p));
        assert_eq!(run(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP), OK);
        assert_eq!(run(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE), OK);
        assert_eq!(run(libc::AF_PACKET, libc::SOCK_RAW, 0), OK);
        assert_eq!(run(libc::AF_INET, libc::SOCK_STREAM, 0), errno(libc::EACCES));
        assert_eq!(run(libc::AF_INET, libc::SOCK_DGRAM, 0), errno(libc::EACCES));
        assert_eq!(run(libc::AF_VSOCK, libc::SOCK_STREAM, 0), errno(libc::EAFNOSUPPORT));
        let pair = || {
            let mut fds = [0i32; 2];
            // SAFETY: fds has room for two descriptors.
            errno_of(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } as i64)
        };
        assert_eq!(run_in_child(&[&c], pair), OK);
    }

    #[test]
    fn socket_rules_stack_over_an_allow_default() {
        // socket_rules as their own filter with a default ALLOW, beside a permissive profile.
        let net = SocketPolicy {
            allow_inet_tcp: true,
            ..Default::default()
        };
        let mut own = profile(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        own.set_syscalls(Some(socket_rules(&net)));
        let c = compile(&own);
        let run = |d, t, p| run_in_child(&[&c], move || socket(d, t, p));
        assert_eq!(run(libc::AF_INET, libc::SOCK_STREAM, 0), OK);
        assert_eq!(run(libc::AF_INET, libc::SOCK_DGRAM, 0), errno(libc::EACCES));
        assert_eq!(run(libc::AF_NETLINK, libc::SOCK_DGRAM, 0), errno(libc::EAFNOSUPPORT));
    }

    #[test]
    fn real_bases_with_net_policy_and_edits() {
        // model-server (default EPERM, unconditional socket ALLOW) and Docker's default
        // (conditional socket ALLOWs) with TCP-only networking and a mkdir deny.
        let moby: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join("seccomp/moby-default.json")).expect("fixture"),
        )
        .expect("JSON");
        let ctx = crate::seccomp::moby::MobyContext {
            caps: crate::seccomp::moby::DOCKER_DEFAULT_CAPS
                .iter()
                .map(|c| c.to_string())
                .collect(),
            arch: crate::seccomp::moby::native_goarch().to_string(),
            kernel: (6, 18),
        };
        let docker = crate::seccomp::moby::import(&moby, &ctx).expect("imports");
        let net = SocketPolicy {
            allow_unix: true,
            allow_inet_tcp: true,
            ..Default::default()
        };
        let mut deny = socket_edits(&net);
        deny.push(SyscallEdit::name("mkdirat"));
        deny.push(SyscallEdit::name("mkdir"));
        let edits = Edits { allow: vec![], deny };
        let dir = tempfile::tempdir().expect("tempdir");
        for (label, base) in [
            ("model-server", crate::seccomp::model_server::profile()),
            ("docker", docker),
        ] {
            let c = compile(&apply(base, &edits));
            let run = |d, t, p| run_in_child(&[&c], move || socket(d, t, p));
            assert_eq!(run(libc::AF_INET, libc::SOCK_STREAM, 0), OK, "{label}");
            assert_eq!(run(libc::AF_UNIX, libc::SOCK_STREAM, 0), OK, "{label}");
            assert_eq!(run(libc::AF_INET, libc::SOCK_DGRAM, 0), errno(libc::EACCES), "{label}");
            assert_eq!(
                run(libc::AF_NETLINK, libc::SOCK_RAW, 0),
                errno(libc::EAFNOSUPPORT),
                "{label}"
            );
            let path = tmp_path(&dir, label);
            assert_eq!(run_in_child(&[&c], || mkdir(&path)), errno(libc::EPERM), "{label}");
            assert_eq!(run_in_child(&[&c], || getpid_args(0, 0)), OK, "{label}");
        }
    }

    // ---- never weaker --------------------------------------------------------------------

    #[test]
    fn never_weaker_denies_what_either_denies() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("f"), b"x").expect("write");
        // The policy denies mkdirat (default) and allows fchmodat; the bundle the reverse.
        let policy = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(),
                {"names": ["fchmodat", "getpid", "seccomp"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let bundle = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        }));
        let list = never_weaker(policy.clone(), Some(bundle.clone()));
        assert_eq!(
            list,
            vec![policy.clone(), bundle.clone()],
            "the policy allows seccomp: first"
        );
        let compiled: Vec<CompiledSeccomp> = list.iter().map(compile).collect();
        let refs: Vec<&CompiledSeccomp> = compiled.iter().collect();

        let (m, f) = (tmp_path(&dir, "m"), tmp_path(&dir, "f"));
        // Alone, each profile allows one of the two.
        assert_eq!(run_in_child(&[&compile(&bundle)], || mkdir(&m)), OK);
        assert_eq!(run_in_child(&[&compile(&policy)], || chmod(&f)), OK);
        let m2 = tmp_path(&dir, "m2");
        assert_eq!(run_in_child(&refs, || mkdir(&m2)), errno(libc::EPERM));
        assert_eq!(run_in_child(&refs, || chmod(&f)), errno(libc::EACCES));
        assert_eq!(run_in_child(&refs, || getpid_args(0, 0)), OK);
    }

    #[test]
    fn never_weaker_orders_the_profile_that_allows_seccomp_first() {
        let policy = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(), {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let bundle = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        }));
        assert!(may_deny_seccomp(&policy));
        assert!(!may_deny_seccomp(&bundle));
        let list = never_weaker(policy.clone(), Some(bundle.clone()));
        assert_eq!(list, vec![bundle, policy.clone()]);
        let compiled: Vec<CompiledSeccomp> = list.iter().map(compile).collect();
        let refs: Vec<&CompiledSeccomp> = compiled.iter().collect();
        assert_eq!(run_in_child(&refs, || getpid_args(0, 0)), OK);
        // Both refuse getppid, with different errnos: the policy, installed last, answers.
        // SAFETY: getppid has no arguments.
        let ppid = || errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
        assert_eq!(run_in_child(&refs, ppid), errno(libc::EPERM));

        assert_eq!(never_weaker(policy.clone(), None), vec![policy.clone()]);
        assert_eq!(never_weaker(policy.clone(), Some(policy.clone())), vec![policy]);
    }

    #[test]
    fn never_weaker_when_both_deny_seccomp() {
        let policy = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [exit_rule(), {"names": ["getpid", "getppid"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let bundle = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 13,
            "syscalls": [exit_rule(), {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
        }));
        // Installed naively, the second install fails.
        let naive = [compile(&policy), compile(&bundle)];
        assert_eq!(run_in_child(&[&naive[0], &naive[1]], || 0), Outcome::Exited(102));

        let list = never_weaker(policy.clone(), Some(bundle));
        assert_eq!(list.len(), 2);
        assert_eq!(list[1], policy);
        let compiled: Vec<CompiledSeccomp> = list.iter().map(compile).collect();
        let refs: Vec<&CompiledSeccomp> = compiled.iter().collect();
        assert_eq!(run_in_child(&refs, || getpid_args(0, 0)), OK);
        // The bundle refuses getppid (EACCES), the policy allows it: refused.
        // SAFETY: getppid has no arguments.
        let ppid = || errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
        assert_eq!(run_in_child(&refs, ppid), errno(libc::EACCES));
        // After both are installed, seccomp(2) is still refused (by the policy).
        let probe = || {
            let action: u32 = 0;
            // SAFETY: SECCOMP_GET_ACTION_AVAIL reads a u32 from a valid pointer.
            errno_of(unsafe { libc::syscall(libc::SYS_seccomp, 2, 0, &action as *const u32) })
        };
        assert_eq!(run_in_child(&refs, probe), errno(libc::EPERM));
    }
}
