//! The compact backend: a whole OCI seccomp profile as ONE classic BPF program that binary
//! searches the syscall number (as libseccomp does), instead of seccompiler's stack of linear
//! filters. Choose it with [`CompiledSeccomp::compile_with`] and [`super::Backend::Compact`].
//!
//! # Semantics
//! The same as the seccompiler backend (see the parent module): the profile is normalised the
//! same way (rules whose action equals the default are dropped, equal rules merge, conditions
//! are unsigned 64-bit and ANDed within a rule, rules are ORed), and a call gets the most
//! restrictive action among the rules it matches, in the kernel's order (KILL_PROCESS >
//! KILL_THREAD > TRAP > ERRNO > TRACE > LOG > ALLOW), else the default action. Among actions of
//! one kind with different data (ERRNO(13) and ERRNO(38) both matching) the one whose action
//! appears later in the profile wins, as with the stacked filters. Two differences, both
//! consequences of having a single filter:
//! - no profile is rejected because two filters may deny seccomp(2) (there is one filter);
//!   the size limit (BPF_MAXINSNS = 4096) applies to the one program, where seccompiler
//!   applies it per filter;
//! - the seccompiler backend installs the filter that may deny seccomp(2) last, which can
//!   change which ERRNO/TRACE data wins when two such rules match one call; here it is always
//!   the later one in the profile.
//!
//! # Layout
//! ```text
//!   ld  [4]                          arch
//!   jeq AUDIT_ARCH_<native>, 1, 0
//!   ret KILL_PROCESS                 foreign architecture, as seccompiler does
//!   ld  [0]                          syscall number
//!   jge 0x40000000, <ret default>    x86_64 with a non-ALLOW default only: x32 numbers
//!   <search tree>
//!   <leaves and returns, interleaved with the tree>
//! ```
//! The search tree works on *intervals*: the number line 0..=u32::MAX is cut into maximal runs
//! of consecutive syscall numbers that get the same leaf (gaps get the default action), and a
//! balanced tree of `jge <first number of the right half>` picks the interval in
//! ⌈log2(intervals)⌉ comparisons. A subtree whose intervals are only the default and at most
//! [`CHAIN_MAX`] single numbers becomes a chain of `jeq` instead (one instruction per number
//! rather than two boundaries). Coalescing runs is what libseccomp does not do: an allow-list
//! such as Docker's, where most numbers are allowed in long runs, needs a few dozen
//! comparisons rather than one per syscall.
//!
//! A leaf is a `ret` when the syscall's outcome does not depend on its arguments (returns are
//! shared: a jump goes to the nearest `ret` with the same value, or a fresh copy is emitted).
//! Otherwise it is a sequence of rule checks in priority order (most restrictive action first,
//! the first unconditional rule ends it): each rule is an AND of conditions, each condition a
//! 64-bit comparison split into the high and low 32-bit words of `seccomp_data.args[i]`:
//! ```text
//!   EQ  v   ld hi; jeq v.hi, next, FAIL;            ld lo; jeq v.lo, OK, FAIL
//!   NE  v   ld hi; jeq v.hi, next, OK;              ld lo; jeq v.lo, FAIL, OK
//!   GT  v   ld hi; jgt v.hi, OK, next; jeq v.hi, next, FAIL; ld lo; jgt v.lo, OK, FAIL
//!   GE  v   as GT with jge on the low word;  LT = not GE;  LE = not GT
//!   MASKED_EQ m, v   ld hi; and m.hi; jeq (v&m).hi, next, FAIL; ld lo; and m.lo; jeq (v&m).lo, OK, FAIL
//! ```
//! (words the comparison cannot depend on are left out: a zero mask half, `jgt 0xffffffff`,
//! `GE 0`, `LT 0`). FAIL goes to the next rule, after the last rule to `ret <default>`.
//!
//! # Jumps
//! Conditional jumps have 8-bit offsets (at most 255 instructions forward). The program is
//! generated back to front, so every target is already placed when a jump to it is emitted;
//! when a target is too far, a `ja` with a 32-bit offset (a trampoline) is emitted right after
//! the jump, or, for a return, a copy of the `ret`. Trampolines to one target are shared
//! while they are in reach.
//!
//! x32 (x86_64 only): x32 syscalls run under `AUDIT_ARCH_X86_64` with bit 30 set. With a
//! non-ALLOW default they all get the default action (one `jge`); with an ALLOW default the
//! rules are also placed at the x32 numbers, as the seccompiler backend does, so that a
//! deny-list cannot be bypassed through x32.

use std::collections::BTreeMap;

use oci_spec::runtime::LinuxSeccomp;
use seccompiler::SeccompAction;

use super::{normalise, CompiledSeccomp, Cond, Match, Normalised, Op, SeccompError};
use crate::syscalls;

/// The kernel refuses longer programs (BPF_MAXINSNS).
pub const MAX_INSTRUCTIONS: usize = libc::BPF_MAXINSNS as usize;

/// A subtree with at most this many single syscall numbers (and the default around them)
/// becomes a chain of `jeq`.
pub const CHAIN_MAX: usize = 3;

/// First x32 syscall number (`__X32_SYSCALL_BIT`).
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_NATIVE: u32 = 62 | 0x8000_0000 | 0x4000_0000;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_NATIVE: u32 = 183 | 0x8000_0000 | 0x4000_0000;

/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
const DATA_ARGS: u32 = 16;

/// The longest forward distance of a conditional jump.
const MAX_SHORT_JUMP: usize = u8::MAX as usize;

/// Compile `profile` for the native architecture into one compact filter. Same validation and
/// error messages as [`CompiledSeccomp::compile`]; the result has one program (or none when
/// the default action is ALLOW and there are no other rules, as with seccompiler).
pub fn compile(profile: &LinuxSeccomp) -> Result<CompiledSeccomp, SeccompError> {
    let norm = normalise(profile)?;
    let default = u32::from(norm.default.clone());
    let leaves = leaves(&norm);
    let (programs, labels) = if norm.default == SeccompAction::Allow && leaves.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let x32_check = cfg!(target_arch = "x86_64") && norm.default != SeccompAction::Allow;
        let program = generate(default, &leaves, x32_check)?;
        (
            vec![program.into_boxed_slice()],
            vec![format!("compact, default {}", super::label(&norm.default))],
        )
    };
    Ok(CompiledSeccomp {
        programs,
        labels,
        flags: norm.flags,
        ignored: norm.ignored,
    })
}

/// What one syscall number does: `(return value, when)` in priority order; the first match
/// wins, no match means the default action. Never empty; only the last entry may be
/// [`Match::Always`].
type Leaf = Vec<(u32, Match)>;

/// The kernel's precedence of a return value: lower is more restrictive (KILL_PROCESS is
/// negative as an s32, which is how the kernel compares).
fn precedence(ret: u32) -> i32 {
    (ret & libc::SECCOMP_RET_ACTION_FULL) as i32
}

/// The leaf of every syscall number that has a rule.
fn leaves(norm: &Normalised) -> BTreeMap<u32, Leaf> {
    let add_x32 = cfg!(target_arch = "x86_64") && norm.default == SeccompAction::Allow;
    /// (precedence, later group first, return value, when): sorts into priority order.
    type Entry<'a> = (i32, std::cmp::Reverse<usize>, u32, &'a Match);
    let mut entries: BTreeMap<u32, Vec<Entry>> = BTreeMap::new();
    for (g, group) in norm.groups.iter().enumerate() {
        let ret = u32::from(group.action.clone());
        for (nr, m) in &group.rules {
            let mut numbers = vec![*nr];
            if add_x32 && group.action != SeccompAction::Allow {
                numbers.extend(syscalls::name(*nr).and_then(syscalls::x32_number));
            }
            for n in numbers {
                entries
                    .entry(n as u32)
                    .or_default()
                    .push((precedence(ret), std::cmp::Reverse(g), ret, m));
            }
        }
    }
    entries
        .into_iter()
        .map(|(nr, mut list)| {
            list.sort_by_key(|(p, g, _, _)| (*p, *g));
            let mut leaf = Leaf::new();
            for (_, _, ret, m) in list {
                leaf.push((ret, m.clone()));
                if *m == Match::Always {
                    // Nothing of lower precedence can be reached.
                    break;
                }
            }
            (nr, leaf)
        })
        .collect()
}

/// Where a jump goes: a return value (any `ret` with it will do) or an emitted instruction,
/// named by its index from the END of the program (the program is built back to front).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Ret(u32),
    At(usize),
}

/// Builds a program back to front.
struct Emitter {
    /// The program in reverse order.
    rev: Vec<libc::sock_filter>,
    /// The copy of each target nearest to the end: a `ret` for [`Target::Ret`], a trampoline
    /// (`ja`) for [`Target::At`].
    nearest: BTreeMap<Target, usize>,
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

impl Emitter {
    fn new() -> Emitter {
        Emitter {
            rev: Vec::new(),
            nearest: BTreeMap::new(),
        }
    }

    /// Emit an instruction before everything emitted so far; returns its label.
    fn push(&mut self, insn: libc::sock_filter) -> Target {
        self.rev.push(insn);
        Target::At(self.rev.len() - 1)
    }

    fn load(&mut self, offset: u32) -> Target {
        self.push(stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset))
    }

    fn ret(&mut self, value: u32) -> Target {
        self.push(stmt(libc::BPF_RET | libc::BPF_K, value));
        self.nearest.insert(Target::Ret(value), self.rev.len() - 1);
        Target::Ret(value)
    }

    /// Index (from the end) of the nearest instruction that does what `target` does.
    fn locate(&self, target: Target) -> Option<usize> {
        let copy = self.nearest.get(&target).copied();
        match target {
            Target::Ret(_) => copy,
            Target::At(at) => Some(copy.map_or(at, |c| c.max(at))),
        }
    }

    /// Emit something that does what `target` does right here: a `ret` copy or a long jump.
    fn relay(&mut self, target: Target) {
        match target {
            Target::Ret(value) => {
                self.ret(value);
            }
            Target::At(_) => {
                let to = self.locate(target).expect("an At target is always placed");
                let here = self.rev.len();
                self.push(stmt(libc::BPF_JMP | libc::BPF_JA, (here - to - 1) as u32));
                self.nearest.insert(target, here);
            }
        }
    }

    /// Emit a conditional jump (`code` is BPF_JEQ, BPF_JGT or BPF_JGE), relaying targets that
    /// are out of reach of an 8-bit offset.
    fn jump(&mut self, code: u32, k: u32, jt: Target, jf: Target) -> Target {
        loop {
            let here = self.rev.len();
            let reach = |at: Option<usize>| at.filter(|at| here - at - 1 <= MAX_SHORT_JUMP);
            let Some(t) = reach(self.locate(jt)) else {
                self.relay(jt);
                continue;
            };
            let Some(f) = reach(self.locate(jf)) else {
                self.relay(jf);
                continue;
            };
            return self.push(libc::sock_filter {
                code: (libc::BPF_JMP | code | libc::BPF_K) as u16,
                jt: (here - t - 1) as u8,
                jf: (here - f - 1) as u8,
                k,
            });
        }
    }

    /// Code that goes to `ok` when `cond` holds for the syscall's arguments, else to `fail`.
    fn cond(&mut self, cond: &Cond, ok: Target, fail: Target) -> Target {
        let base = DATA_ARGS + 8 * u32::from(cond.index);
        let (lo_at, hi_at) = if cfg!(target_endian = "little") {
            (base, base + 4)
        } else {
            (base + 4, base)
        };
        let hi = |v: u64| (v >> 32) as u32;
        let lo = |v: u64| v as u32;
        let v = cond.value;
        match cond.op {
            Op::Eq => {
                self.jump(libc::BPF_JEQ, lo(v), ok, fail);
                let next = self.load(lo_at);
                self.jump(libc::BPF_JEQ, hi(v), next, fail);
                self.load(hi_at)
            }
            Op::Ne => {
                self.jump(libc::BPF_JEQ, lo(v), fail, ok);
                let next = self.load(lo_at);
                self.jump(libc::BPF_JEQ, hi(v), next, ok);
                self.load(hi_at)
            }
            Op::Gt => self.greater(v, libc::BPF_JGT, lo_at, hi_at, ok, fail),
            Op::Ge => self.greater(v, libc::BPF_JGE, lo_at, hi_at, ok, fail),
            // a < v is not a >= v, a <= v is not a > v.
            Op::Lt => self.greater(v, libc::BPF_JGE, lo_at, hi_at, fail, ok),
            Op::Le => self.greater(v, libc::BPF_JGT, lo_at, hi_at, fail, ok),
            Op::MaskedEq => {
                let mask = v;
                let want = cond.value_two & mask;
                let mut next = ok;
                for (m, w, at) in [(lo(mask), lo(want), lo_at), (hi(mask), hi(want), hi_at)] {
                    // A zero mask half compares 0 with 0: always true.
                    if m == 0 {
                        continue;
                    }
                    self.jump(libc::BPF_JEQ, w, next, fail);
                    if m != u32::MAX {
                        self.push(stmt(libc::BPF_ALU | libc::BPF_AND | libc::BPF_K, m));
                    }
                    next = self.load(at);
                }
                next
            }
        }
    }

    /// `a > v` (`low` = BPF_JGT) or `a >= v` (`low` = BPF_JGE), unsigned 64-bit.
    fn greater(&mut self, v: u64, low: u32, lo_at: u32, hi_at: u32, ok: Target, fail: Target) -> Target {
        let (vhi, vlo) = ((v >> 32) as u32, v as u32);
        if low == libc::BPF_JGE && v == 0 {
            return ok;
        }
        if low == libc::BPF_JGT && v == u64::MAX {
            return fail;
        }
        self.jump(low, vlo, ok, fail);
        let mut next = self.load(lo_at);
        // Reached when hi <= vhi; with vhi == 0 that means hi == 0 already.
        if vhi != 0 {
            next = self.jump(libc::BPF_JEQ, vhi, next, fail);
        }
        // hi > 0xffffffff never holds.
        if vhi != u32::MAX {
            self.jump(libc::BPF_JGT, vhi, ok, next);
        }
        self.load(hi_at)
    }

    /// Code for a leaf (see [`Leaf`]); a plain return when it does not look at arguments.
    fn leaf(&mut self, leaf: &Leaf, default: u32) -> Target {
        let mut next = Target::Ret(default);
        for (ret, m) in leaf.iter().rev() {
            match m {
                Match::Always => next = Target::Ret(*ret),
                Match::AnyOf(rules) => {
                    for rule in rules.iter().rev() {
                        let mut ok = Target::Ret(*ret);
                        for cond in rule.iter().rev() {
                            ok = self.cond(cond, ok, next);
                        }
                        next = ok;
                    }
                }
            }
        }
        next
    }
}

/// A run of syscall numbers from `start` up to the next interval's start, and its leaf
/// (`None`: the default action).
#[derive(Clone, Copy, Debug)]
struct Interval<'a> {
    start: u32,
    leaf: Option<&'a Leaf>,
}

fn intervals(leaves: &BTreeMap<u32, Leaf>) -> Vec<Interval<'_>> {
    fn push<'a>(out: &mut Vec<Interval<'a>>, iv: Interval<'a>) {
        // Neighbouring numbers with the same leaf are one interval.
        if out.last().is_none_or(|last| last.leaf != iv.leaf) {
            out.push(iv);
        }
    }
    let mut out = Vec::new();
    // The first number not covered yet (u64: it may be 2^32).
    let mut uncovered: u64 = 0;
    for (nr, leaf) in leaves {
        if u64::from(*nr) > uncovered {
            let gap = Interval {
                start: uncovered as u32,
                leaf: None,
            };
            push(&mut out, gap);
        }
        let run = Interval {
            start: *nr,
            leaf: Some(leaf),
        };
        push(&mut out, run);
        uncovered = u64::from(*nr) + 1;
    }
    if uncovered <= u64::from(u32::MAX) {
        let rest = Interval {
            start: uncovered as u32,
            leaf: None,
        };
        push(&mut out, rest);
    }
    out
}

/// The whole program for `leaves` (syscall number → leaf) with return value `default` for
/// everything else.
fn generate(
    default: u32,
    leaves: &BTreeMap<u32, Leaf>,
    x32_check: bool,
) -> Result<Vec<libc::sock_filter>, SeccompError> {
    let mut e = Emitter::new();
    // The kernel wants a ret as the last instruction.
    e.ret(default);
    let intervals = intervals(leaves);
    let mut entry = tree(&mut e, &intervals, 1 << 32, default);
    if x32_check {
        entry = e.jump(libc::BPF_JGE, X32_SYSCALL_BIT, Target::Ret(default), entry);
    }
    if let Target::At(_) = entry {
        entry = e.load(DATA_NR);
    }
    e.jump(
        libc::BPF_JEQ,
        AUDIT_ARCH_NATIVE,
        entry,
        Target::Ret(libc::SECCOMP_RET_KILL_PROCESS),
    );
    e.load(DATA_ARCH);

    let mut program = e.rev;
    program.reverse();
    if program.len() > MAX_INSTRUCTIONS {
        return Err(SeccompError::InvalidField {
            path: "linux.seccomp".to_string(),
            expected: format!("a profile that compiles to at most {MAX_INSTRUCTIONS} BPF instructions (BPF_MAXINSNS)"),
            found: format!("{} instructions", program.len()),
        });
    }
    Ok(program)
}

/// Code that sends each number in the span of `intervals` (up to `end`, exclusive) to its
/// leaf.
fn tree(e: &mut Emitter, intervals: &[Interval], end: u64, default: u32) -> Target {
    if let [only] = intervals {
        return match only.leaf {
            Some(leaf) => e.leaf(leaf, default),
            None => Target::Ret(default),
        };
    }
    let end_of = |i: usize| intervals.get(i + 1).map_or(end, |next| u64::from(next.start));
    // The default plus a few single numbers: one `jeq` per number.
    let with_leaf: Vec<(usize, &Leaf)> = intervals
        .iter()
        .enumerate()
        .filter_map(|(i, iv)| iv.leaf.map(|leaf| (i, leaf)))
        .collect();
    let all_single = with_leaf
        .iter()
        .all(|(i, _)| end_of(*i) == u64::from(intervals[*i].start) + 1);
    if all_single && with_leaf.len() <= CHAIN_MAX {
        // Leaves first: they follow the chain in the program.
        let targets: Vec<Target> = with_leaf.iter().rev().map(|(_, leaf)| e.leaf(leaf, default)).collect();
        let mut next = Target::Ret(default);
        for ((i, _), target) in with_leaf.iter().rev().zip(targets) {
            next = e.jump(libc::BPF_JEQ, intervals[*i].start, target, next);
        }
        return next;
    }
    let mid = intervals.len() / 2;
    let right = tree(e, &intervals[mid..], end, default);
    let left = tree(e, &intervals[..mid], u64::from(intervals[mid].start), default);
    e.jump(libc::BPF_JGE, intervals[mid].start, right, left)
}

#[cfg(test)]
mod tests {
    //! Every probe runs in a forked child under NO_NEW_PRIVS with a *sentinel* filter installed
    //! first: it answers every syscall but exit, exit_group and seccomp with ERRNO(SENTINEL).
    //! The kernel takes the most restrictive result over all filters and, among ERRNOs, the
    //! newest filter's data, so a probed call never runs (we can probe reboot or kexec_load
    //! as root safely): ERRNO(x), KILL and TRAP from the filter under test show through, and
    //! ALLOW, LOG and TRACE show as ERRNO(SENTINEL). A child runs probes until one kills it;
    //! results go to a shared mapping, and the next child resumes after the killing probe.
    use std::collections::BTreeSet;

    use super::*;
    use crate::seccomp::parse_profile;
    use serde_json::json;

    const SENTINEL: i64 = 4000;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Outcome {
        /// The raw result: minus the errno, or the value when the call did not fail.
        Returned(i64),
        Signaled(i32),
    }

    const ALLOWED: Outcome = Outcome::Returned(-SENTINEL);

    #[derive(Clone, Copy, Debug)]
    struct Probe {
        nr: i64,
        args: [u64; 6],
    }

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        parse_profile(&v).expect("test profile parses")
    }

    fn sentinel() -> CompiledSeccomp {
        CompiledSeccomp::compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": SENTINEL,
            "syscalls": [{"names": ["exit", "exit_group", "seccomp"], "action": "SCMP_ACT_ALLOW"}]
        })))
        .expect("sentinel compiles")
    }

    /// Native numbers that are never probed: those the sentinel lets through, and uretprobe
    /// and uprobe, which the kernel passes without running any seccomp filter (since 6.11 and
    /// 6.18): they would run for real whatever the profile says.
    fn unprobed(nr: i64) -> bool {
        ["exit", "exit_group", "seccomp", "uretprobe", "uprobe"]
            .iter()
            .any(|n| syscalls::number(n) == Some(nr))
    }

    /// A shared anonymous mapping of i64 slots, unmapped on drop.
    struct Shared {
        ptr: *mut i64,
        len: usize,
    }

    impl Shared {
        fn new(slots: usize) -> Shared {
            let len = slots * 8;
            // SAFETY: a fresh anonymous mapping; no existing memory is affected.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(ptr, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
            Shared {
                ptr: ptr as *mut i64,
                len,
            }
        }

        fn get(&self, i: usize) -> i64 {
            assert!(i * 8 < self.len);
            // SAFETY: in bounds of the mapping; volatile because a child process writes it.
            unsafe { self.ptr.add(i).read_volatile() }
        }

        fn set(&self, i: usize, v: i64) {
            assert!(i * 8 < self.len);
            // SAFETY: in bounds of the mapping, which lives as long as self.
            unsafe { self.ptr.add(i).write_volatile(v) }
        }
    }

    impl Drop for Shared {
        fn drop(&mut self) {
            // SAFETY: unmapping exactly the mapping created in new(), no longer referenced.
            unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
        }
    }

    /// The outcome of every probe under `compiled` (see the module docs).
    fn run_probes(compiled: &CompiledSeccomp, probes: &[Probe]) -> Vec<Outcome> {
        let sentinel = sentinel();
        // Slot 0: probes done so far; slot 1 + i: the result of probe i.
        let shared = Shared::new(probes.len() + 1);
        let mut out: Vec<Option<Outcome>> = vec![None; probes.len()];
        let mut start = 0;
        while start < probes.len() {
            shared.set(0, start as i64);
            // SAFETY: the child only makes raw syscalls (setrlimit, prctl, seccomp through the
            // allocation-free install(), the probes), writes the shared mapping and leaves with
            // _exit: nothing that could touch locks or allocator state of the parent's threads.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
            if pid == 0 {
                // SAFETY: see above; every pointer passed is valid for the call.
                unsafe {
                    let no_core = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                        libc::_exit(101);
                    }
                    if sentinel.install().is_err() {
                        libc::_exit(102);
                    }
                    if compiled.install().is_err() {
                        libc::_exit(103);
                    }
                    for (i, p) in probes.iter().enumerate().skip(start) {
                        let [a0, a1, a2, a3, a4, a5] = p.args;
                        let rc = libc::syscall(p.nr as libc::c_long, a0, a1, a2, a3, a4, a5);
                        let v = if rc == -1 {
                            -i64::from(*libc::__errno_location())
                        } else {
                            rc as i64
                        };
                        shared.set(1 + i, v);
                        shared.set(0, i as i64 + 1);
                    }
                    libc::_exit(0);
                }
            }
            let mut status = 0;
            // SAFETY: waiting for our own child with a valid status pointer.
            let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
            assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
            let done = shared.get(0) as usize;
            for (i, slot) in out.iter_mut().enumerate().take(done).skip(start) {
                *slot = Some(Outcome::Returned(shared.get(1 + i)));
            }
            if libc::WIFEXITED(status) {
                assert_eq!(libc::WEXITSTATUS(status), 0, "probe child setup failed");
                assert_eq!(done, probes.len());
                start = done;
            } else if libc::WIFSIGNALED(status) {
                assert!(done < probes.len(), "killed after the last probe");
                out[done] = Some(Outcome::Signaled(libc::WTERMSIG(status)));
                start = done + 1;
            } else {
                panic!("unexpected wait status {status:#x}");
            }
        }
        out.into_iter().map(|o| o.expect("every probe ran")).collect()
    }

    // ---- the reference: the semantics in plain Rust ------------------------------------------

    fn holds(c: &Cond, a: u64) -> bool {
        match c.op {
            Op::Eq => a == c.value,
            Op::Ne => a != c.value,
            Op::Lt => a < c.value,
            Op::Le => a <= c.value,
            Op::Gt => a > c.value,
            Op::Ge => a >= c.value,
            Op::MaskedEq => a & c.value == c.value_two & c.value,
        }
    }

    fn matches(m: &Match, args: &[u64; 6]) -> bool {
        match m {
            Match::Always => true,
            Match::AnyOf(rules) => rules
                .iter()
                .any(|rule| rule.iter().all(|c| holds(c, args[c.index as usize]))),
        }
    }

    /// The native number whose rules apply to `nr` as the filter sees it.
    fn native_of(norm: &Normalised, nr: i64) -> Option<i64> {
        let x32 = cfg!(target_arch = "x86_64") && (nr as u32) >= X32_SYSCALL_BIT;
        if !x32 {
            return Some(nr);
        }
        if norm.default != SeccompAction::Allow {
            return None;
        }
        let name = syscalls::X32.iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)?;
        syscalls::number(name)
    }

    /// The return value of the profile for a call; `x32` rules only for non-ALLOW actions.
    fn reference(norm: &Normalised, nr: i64, args: &[u64; 6]) -> u32 {
        let default = u32::from(norm.default.clone());
        let Some(native) = native_of(norm, nr) else {
            return default;
        };
        let x32 = native != nr;
        norm.groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !(x32 && g.action == SeccompAction::Allow))
            .filter(|(_, g)| g.rules.get(&native).is_some_and(|m| matches(m, args)))
            .map(|(i, g)| (precedence(u32::from(g.action.clone())), std::cmp::Reverse(i), g))
            .min_by_key(|(p, i, _)| (*p, *i))
            .map_or(default, |(_, _, g)| u32::from(g.action.clone()))
    }

    /// What a probe sees of a return value under the sentinel.
    fn observed(ret: u32) -> Outcome {
        match ret & libc::SECCOMP_RET_ACTION_FULL {
            libc::SECCOMP_RET_ERRNO => Outcome::Returned(-i64::from(ret & 0xffff)),
            libc::SECCOMP_RET_KILL_PROCESS | libc::SECCOMP_RET_KILL_THREAD | libc::SECCOMP_RET_TRAP => {
                Outcome::Signaled(libc::SIGSYS)
            }
            _ => ALLOWED,
        }
    }

    // ---- probes -----------------------------------------------------------------------------

    /// Argument values around a condition's boundaries.
    fn candidates(c: &Cond) -> Vec<u64> {
        let v = c.value;
        let mut out = match c.op {
            Op::MaskedEq => {
                let m = c.value;
                let w = c.value_two & m;
                let low_bit = m & m.wrapping_neg();
                let high_bit = if m == 0 { 0 } else { 1u64 << (63 - m.leading_zeros()) };
                vec![w, w | !m, w ^ low_bit, w ^ high_bit, !w, c.value_two]
            }
            _ => vec![
                v,
                v.wrapping_sub(1),
                v.wrapping_add(1),
                v ^ (1 << 32),
                v & 0xffff_ffff,
                v | 0xffff_ffff_0000_0000,
                v.wrapping_add(1 << 32),
                v.wrapping_sub(1 << 32),
            ],
        };
        out.sort();
        out.dedup();
        out
    }

    /// Argument vectors that satisfy `rule` and that miss it by one boundary.
    fn vectors_for_rule(rule: &[Cond], out: &mut Vec<[u64; 6]>) {
        let mut sat = [0u64; 6];
        for index in 0..6u8 {
            let on_index: Vec<&Cond> = rule.iter().filter(|c| c.index == index).collect();
            let pick = on_index
                .iter()
                .flat_map(|c| candidates(c))
                .find(|a| on_index.iter().all(|c| holds(c, *a)));
            sat[index as usize] = pick.unwrap_or(0);
        }
        out.push(sat);
        for c in rule {
            for a in candidates(c) {
                let mut v = sat;
                v[c.index as usize] = a;
                out.push(v);
            }
        }
    }

    /// Probes for `numbers` (and their neighbours), with argument vectors from every rule of
    /// the profile that concerns them.
    fn probes_for(norm: &Normalised, numbers: impl IntoIterator<Item = i64>) -> Vec<Probe> {
        let mut nrs: BTreeSet<i64> = BTreeSet::new();
        for nr in numbers {
            nrs.extend([nr - 1, nr, nr + 1]);
        }
        for group in &norm.groups {
            for nr in group.rules.keys() {
                nrs.extend([nr - 1, *nr, nr + 1]);
                if let Some(x32) = syscalls::name(*nr).and_then(syscalls::x32_number) {
                    nrs.extend([x32 - 1, x32, x32 + 1]);
                }
            }
        }
        let mut probes = Vec::new();
        for nr in nrs.into_iter().filter(|nr| !unprobed(*nr) && *nr >= -1) {
            let mut vectors = vec![[0; 6], [u64::MAX; 6], [1, 2, 3, 4, 5, 6]];
            if let Some(native) = native_of(norm, nr).or(Some(nr)) {
                for group in &norm.groups {
                    if let Some(Match::AnyOf(rules)) = group.rules.get(&native) {
                        for rule in rules {
                            vectors_for_rule(rule, &mut vectors);
                        }
                    }
                }
            }
            vectors.sort();
            vectors.dedup();
            probes.extend(vectors.into_iter().map(|args| Probe { nr, args }));
        }
        probes
    }

    /// Every native number, the x32 ones, the neighbourhood of each, and odd values.
    fn all_numbers() -> Vec<i64> {
        let mut out: Vec<i64> = syscalls::NATIVE.iter().map(|(_, nr)| *nr).collect();
        if cfg!(target_arch = "x86_64") {
            out.extend(syscalls::X32.iter().map(|(_, nr)| *nr));
        }
        out.extend([
            0x3fff_ffff,
            0x4000_0000,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_fffe,
            1000,
            -1,
        ]);
        out
    }

    fn describe(p: &Probe) -> String {
        let name = syscalls::name(p.nr).unwrap_or("?");
        format!("{name}({:#x}) args {:x?}", p.nr, p.args)
    }

    struct Checked {
        linear: Option<CompiledSeccomp>,
        compact: CompiledSeccomp,
        probes: usize,
    }

    /// Compile `json` with both backends, run the probes under each and compare them with each
    /// other and with the reference. The seccompiler backend may refuse a profile (too long):
    /// then only the compact one is checked against the reference.
    fn check(json: serde_json::Value, numbers: impl IntoIterator<Item = i64>) -> Checked {
        let p = profile(json);
        let norm = normalise(&p).expect("profile normalises");
        let compact = compile(&p).expect("compact backend compiles");
        let linear = CompiledSeccomp::compile(&p).ok();
        let probes = probes_for(&norm, numbers);
        let want: Vec<Outcome> = probes
            .iter()
            .map(|p| observed(reference(&norm, p.nr, &p.args)))
            .collect();
        let compare = |what: &str, got: &[Outcome]| {
            let bad: Vec<String> = probes
                .iter()
                .zip(got.iter().zip(&want))
                .filter(|(_, (g, w))| g != w)
                .take(10)
                .map(|(p, (g, w))| format!("{}: got {g:?}, want {w:?}", describe(p)))
                .collect();
            assert!(bad.is_empty(), "{what} differs from the reference:\n{}", bad.join("\n"));
        };
        compare("compact", &run_probes(&compact, &probes));
        if let Some(linear) = &linear {
            compare("seccompiler", &run_probes(linear, &probes));
        }
        Checked {
            linear,
            compact,
            probes: probes.len(),
        }
    }

    fn exit_rule() -> serde_json::Value {
        json!({"names": ["exit_group", "exit"], "action": "SCMP_ACT_ALLOW"})
    }

    fn nr(name: &str) -> i64 {
        syscalls::number(name).unwrap_or_else(|| panic!("{name} is native"))
    }

    fn has_long_jump(c: &CompiledSeccomp) -> bool {
        c.programs
            .iter()
            .flatten()
            .any(|i| u32::from(i.code) == libc::BPF_JMP | libc::BPF_JA)
    }

    // ---- the harness itself -------------------------------------------------------------------

    #[test]
    fn probes_see_errno_kill_and_allow() {
        let c = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}
            ]
        })))
        .unwrap();
        let probe = |name: &str| Probe {
            nr: nr(name),
            args: [0; 6],
        };
        let got = run_probes(
            &c,
            &[probe("getpid"), probe("getppid"), probe("getuid"), probe("getpid")],
        );
        assert_eq!(
            got,
            [
                Outcome::Returned(-13),
                Outcome::Signaled(libc::SIGSYS),
                ALLOWED,
                Outcome::Returned(-13)
            ]
        );
    }

    // ---- equivalence --------------------------------------------------------------------------

    fn fixtures() -> std::path::PathBuf {
        match std::env::var_os("SEALRUN_FIXTURES") {
            Some(dir) => dir.into(),
            None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
        }
    }

    /// Moby's profile format to OCI for Docker's default capabilities on this architecture;
    /// a copy of the conversion in the parent module's tests, which are private to them.
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

    fn moby_default() -> serde_json::Value {
        let path = fixtures().join("seccomp/moby-default.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        moby_to_oci(&serde_json::from_str(&text).expect("moby profile is JSON"))
    }

    #[test]
    fn docker_default_profile_is_equivalent_and_smaller() {
        let checked = check(moby_default(), all_numbers());
        let linear = checked.linear.expect("seccompiler compiles Docker's profile");
        let compact = checked.compact;
        println!(
            "moby-default: seccompiler {} filters, {} instructions; compact {} filter, {} instructions; \
             {} probes agree",
            linear.filter_count(),
            linear.instruction_count(),
            compact.filter_count(),
            compact.instruction_count(),
            checked.probes
        );
        assert_eq!(compact.filter_count(), 1);
        assert!(compact.instruction_count() < linear.instruction_count());
        assert_eq!(compact.ignored_syscalls(), linear.ignored_syscalls());

        // A few outcomes spelled out, beside the reference.
        let probe = |name: &str, a0: u64| Probe {
            nr: nr(name),
            args: [a0, 0, 0, 0, 0, 0],
        };
        let got = run_probes(
            &compact,
            &[
                probe("getpid", 0),
                probe("clone3", 0),
                probe("keyctl", 0),
                probe("personality", 0xffff_ffff),
                probe("personality", 0x0040000),
                probe("reboot", 0),
            ],
        );
        let eperm = Outcome::Returned(-i64::from(libc::EPERM));
        assert_eq!(
            got,
            [
                ALLOWED,
                Outcome::Returned(-i64::from(libc::ENOSYS)),
                eperm,
                ALLOWED,
                eperm,
                eperm
            ]
        );
    }

    #[test]
    fn hand_written_profiles_are_equivalent() {
        let profiles = [
            // Allow-list with a conditional rule, ERRNO default.
            json!({
                "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
                "syscalls": [exit_rule(),
                    {"names": ["read", "write", "close", "getpid", "getppid", "mmap", "munmap",
                               "brk", "futex", "openat", "fstat", "newfstatat"],
                     "action": "SCMP_ACT_ALLOW"},
                    {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"},
                              {"index": 1, "value": 0xf, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}
                ]
            }),
            // Deny-list under ALLOW with every kind of action: x32 numbers carry the rules.
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["getpid", "ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                    {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"},
                    {"names": ["getuid"], "action": "SCMP_ACT_KILL_THREAD"},
                    {"names": ["getgid"], "action": "SCMP_ACT_TRAP"},
                    {"names": ["geteuid"], "action": "SCMP_ACT_LOG"},
                    {"names": ["getegid"], "action": "SCMP_ACT_TRACE", "errnoRet": 3},
                    {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                     "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
                ]
            }),
            // One syscall, overlapping rules of several actions and data: precedence and
            // "later ERRNO data wins".
            json!({
                "defaultAction": "SCMP_ACT_KILL_PROCESS",
                "syscalls": [exit_rule(),
                    {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                     "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GE"}]},
                    {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                     "args": [{"index": 0, "value": 20, "op": "SCMP_CMP_GE"}]},
                    {"names": ["getpid"], "action": "SCMP_ACT_TRAP",
                     "args": [{"index": 0, "value": 30, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["getpid"], "action": "SCMP_ACT_LOG",
                     "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["getppid", "gettid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                     "args": [{"index": 2, "value": 0x8000_0000_0000_0000u64, "op": "SCMP_CMP_LT"}]}
                ]
            }),
            // A default that is not the most restrictive answer (rules with KILL under ERRNO).
            json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [exit_rule(),
                    {"names": ["read", "write", "getpid"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["write"], "action": "SCMP_ACT_KILL",
                     "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_GT"}]}
                ]
            }),
            // Everything the default: only the architecture check and a return.
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [exit_rule()]}),
        ];
        for (i, json) in profiles.into_iter().enumerate() {
            let checked = check(json, all_numbers());
            let linear = checked.linear.expect("seccompiler compiles");
            println!(
                "profile {i}: seccompiler {} instructions, compact {}, {} probes",
                linear.instruction_count(),
                checked.compact.instruction_count(),
                checked.probes
            );
        }
    }

    #[test]
    fn conditions_at_64_bit_boundaries() {
        let values: [u64; 9] = [
            0,
            1,
            0x7fff_ffff,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0001,
            0x8000_0000_0000_0000,
            0xffff_ffff_0000_0000,
            u64::MAX,
        ];
        let ops = [
            "SCMP_CMP_EQ",
            "SCMP_CMP_NE",
            "SCMP_CMP_LT",
            "SCMP_CMP_LE",
            "SCMP_CMP_GT",
            "SCMP_CMP_GE",
        ];
        // One syscall number per (op, value), each with its own errno; the argument index
        // varies too. The probed calls never run (see the module docs), so any number will do.
        let mut rules = vec![exit_rule()];
        let mut n = 0;
        let numbers: Vec<i64> = syscalls::NATIVE
            .iter()
            .map(|(_, nr)| *nr)
            .filter(|nr| !unprobed(*nr))
            .collect();
        let name_of = |n: usize| syscalls::name(numbers[n]).expect("native");
        for (o, op) in ops.iter().enumerate() {
            for value in values {
                rules.push(json!({"names": [name_of(n)], "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 10 + o, "args": [{"index": n % 6, "value": value, "op": op}]}));
                n += 1;
            }
        }
        for (mask, want) in [
            (0xffff_ffffu64, 0x1234u64),
            (0xffff_ffff_0000_0000, 0x1_0000_0000),
            (u64::MAX, u64::MAX),
            (0x8000_0000_0000_0001, 0x8000_0000_0000_0000),
            (0, 0),
            (0xf0, 0x2f),
        ] {
            rules.push(
                json!({"names": [name_of(n)], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
                "args": [{"index": n % 6, "value": mask, "valueTwo": want, "op": "SCMP_CMP_MASKED_EQ"}]}),
            );
            n += 1;
        }
        // Under an ALLOW default too, so that the x32 copies are checked.
        for default in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_ALLOW"] {
            let checked = check(json!({"defaultAction": default, "syscalls": rules}), []);
            assert!(checked.linear.is_some());
            assert!(checked.probes > 1000, "{} probes", checked.probes);
        }
    }

    #[test]
    fn more_than_300_syscalls_with_long_jumps() {
        let names: Vec<&str> = syscalls::NATIVE
            .iter()
            .filter(|(_, nr)| !unprobed(*nr))
            .map(|(name, _)| *name)
            .collect();
        assert!(names.len() > 300);

        // Every syscall has its own conditional rule: about 6 instructions each, so the tree
        // needs trampolines to reach its right halves.
        let conditional = |copies: u64| {
            let rules: Vec<serde_json::Value> = std::iter::once(exit_rule())
                .chain((0..copies).flat_map(|copy| {
                    names.iter().enumerate().map(move |(i, name)| {
                        json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 + i % 5,
                               "args": [{"index": i % 6, "value": (i as u64) << 32 | copy, "op": "SCMP_CMP_EQ"}]})
                    })
                }))
                .collect();
            json!({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": rules})
        };
        let checked = check(conditional(1), all_numbers());
        println!(
            "{} conditional rules: compact {} instructions; seccompiler {:?}",
            names.len(),
            checked.compact.instruction_count(),
            checked.linear.as_ref().map(|c| c.instruction_count())
        );
        assert!(has_long_jump(&checked.compact));

        // Four such rules per syscall are too long for one program.
        let err = compile(&profile(conditional(4))).unwrap_err().to_string();
        assert!(
            err.starts_with("linux.seccomp: expected a profile that compiles to at most 4096 BPF instructions"),
            "{err}"
        );

        // An allow-list of every syscall with alternating actions, so that no run coalesces.
        let rules: Vec<serde_json::Value> = std::iter::once(exit_rule())
            .chain(names.iter().enumerate().map(|(i, name)| {
                if i % 2 == 0 {
                    json!({"names": [name], "action": "SCMP_ACT_ALLOW"})
                } else {
                    json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": 2 + i % 7})
                }
            }))
            .collect();
        let checked = check(
            json!({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": rules}),
            all_numbers(),
        );
        let linear = checked.linear.expect("seccompiler compiles");
        println!(
            "{} alternating rules: compact {} instructions, seccompiler {}",
            names.len(),
            checked.compact.instruction_count(),
            linear.instruction_count()
        );
    }

    /// xorshift64*: deterministic, good enough to spread profiles.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn random_action(rng: &mut Rng) -> serde_json::Value {
        let errno = 1 + rng.below(3);
        match rng.below(8) {
            0..=2 => json!({"action": "SCMP_ACT_ALLOW"}),
            3 | 4 => json!({"action": "SCMP_ACT_ERRNO", "errnoRet": errno}),
            5 => json!({"action": "SCMP_ACT_KILL_PROCESS"}),
            6 => json!({"action": (["SCMP_ACT_TRAP", "SCMP_ACT_KILL_THREAD"][rng.below(2)])}),
            _ => json!({"action": (["SCMP_ACT_LOG", "SCMP_ACT_TRACE"][rng.below(2)]), "errnoRet": errno}),
        }
    }

    fn random_value(rng: &mut Rng) -> u64 {
        let interesting = [0, 1, 2, 0xffff_ffff, 0x1_0000_0000, u64::MAX, 1 << 63, 0x8000_0000];
        match rng.below(3) {
            0 => rng.next(),
            1 => rng.next() & 0xff,
            _ => interesting[rng.below(interesting.len())],
        }
    }

    #[test]
    fn random_profiles_are_equivalent() {
        let mut rng = Rng(0x5ea1_5eed_0bad_cafe);
        // A small pool of neighbouring numbers, so that rules overlap and runs form.
        let pool: Vec<&str> = syscalls::NATIVE
            .iter()
            .filter(|(_, nr)| (20..60).contains(nr) || (200..215).contains(nr))
            .filter(|(_, nr)| !unprobed(*nr))
            .map(|(name, _)| *name)
            .collect();
        let ops = [
            "SCMP_CMP_EQ",
            "SCMP_CMP_NE",
            "SCMP_CMP_LT",
            "SCMP_CMP_LE",
            "SCMP_CMP_GT",
            "SCMP_CMP_GE",
            "SCMP_CMP_MASKED_EQ",
        ];
        for round in 0..40 {
            let mut rules = vec![exit_rule()];
            for _ in 0..5 + rng.below(30) {
                let names: Vec<&str> = (0..1 + rng.below(6)).map(|_| pool[rng.below(pool.len())]).collect();
                let mut rule = random_action(&mut rng);
                rule["names"] = json!(names);
                if rng.below(2) == 0 {
                    let args: Vec<serde_json::Value> = (0..1 + rng.below(3))
                        .map(|_| {
                            json!({"index": rng.below(3), "op": ops[rng.below(ops.len())],
                                   "value": random_value(&mut rng), "valueTwo": random_value(&mut rng)})
                        })
                        .collect();
                    rule["args"] = json!(args);
                }
                rules.push(rule);
            }
            let mut json = random_action(&mut rng);
            json["defaultAction"] = json["action"].take();
            if let Some(errno) = json.get("errnoRet").cloned() {
                json["defaultErrnoRet"] = errno;
            }
            json["syscalls"] = json!(rules);
            let snapshot = json.clone();
            let checked = std::panic::catch_unwind(|| check(json, [0x4000_0000 + 20, 500]))
                .unwrap_or_else(|_| panic!("round {round}: {snapshot:#}"));
            assert!(checked.linear.is_some(), "round {round}");
        }
    }

    // ---- structure ----------------------------------------------------------------------------

    #[test]
    fn program_shape() {
        let c = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(), {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
        })))
        .unwrap();
        let p = &c.programs[0];
        let code = |i: usize| u32::from(p[i].code);
        // Architecture check as seccompiler does it, then the number.
        assert_eq!(
            (code(0), p[0].k),
            (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, DATA_ARCH)
        );
        assert_eq!(
            (code(1), p[1].k),
            (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, AUDIT_ARCH_NATIVE)
        );
        assert_eq!(
            (code(2), p[2].k),
            (libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_KILL_PROCESS)
        );
        assert_eq!((code(3), p[3].k), (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, DATA_NR));
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                (code(4), p[4].k),
                (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, X32_SYSCALL_BIT)
            );
        }
        assert_eq!(u32::from(p[p.len() - 1].code), libc::BPF_RET | libc::BPF_K);
        assert!(!has_long_jump(&c));
        // Three numbers (exit, exit_group, getpid): a handful of instructions.
        assert!(p.len() <= 14, "{} instructions", p.len());

        // Same bytes for the same profile.
        let again = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}, exit_rule()]
        })))
        .unwrap();
        assert_eq!(c.program_bytes(), again.program_bytes());
    }

    #[test]
    fn default_allow_without_rules_installs_nothing() {
        let c = compile(&profile(json!({"defaultAction": "SCMP_ACT_ALLOW"}))).unwrap();
        assert_eq!(c.filter_count(), 0);
    }

    #[test]
    fn compile_with_chooses_the_backend() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [exit_rule(),
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
        }));
        let linear = CompiledSeccomp::compile_with(&p, super::super::Backend::Seccompiler).unwrap();
        let compact = CompiledSeccomp::compile_with(&p, super::super::Backend::Compact).unwrap();
        assert_eq!(linear.filter_count(), 2);
        assert_eq!(compact.filter_count(), 1);
        assert_eq!(
            linear.program_bytes(),
            CompiledSeccomp::compile(&p).unwrap().program_bytes()
        );
    }

    #[test]
    fn errors_are_the_same_as_seccompiler_backend() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]
        }));
        assert_eq!(
            compile(&p).unwrap_err().to_string(),
            CompiledSeccomp::compile(&p).unwrap_err().to_string()
        );
    }
}
