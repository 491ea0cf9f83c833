//! seccomp backends compared: seccompiler's stack of linear filters vs the compact binary
//! search (`sealrun_sandbox::seccomp::bpf`), on Docker's default profile and on a small
//! allow-list.
//!
//! `cargo bench -p sealrun-sandbox --bench seccomp`
//!
//! Per profile and backend: filters and instructions, compile time, install time (seccomp(2)
//! of every filter, timed inside a fresh forked child per sample since filters cannot be
//! removed, reported through a pipe), and the cost per call of a syscall loop in a child with
//! the filter installed, against a child without one. Two loops: getppid, whose verdict does
//! not depend on its arguments, so the kernel's seccomp action cache (Linux 5.11+) answers it
//! without running the filter, and personality(0xffffffff), which both profiles allow only for
//! that argument, so every call runs the BPF program.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use sealrun_sandbox::seccomp::{parse_profile, Backend, CompiledSeccomp};
use serde_json::json;

const INSTALL_SAMPLES: usize = 200;
const COMPILE_SAMPLES: usize = 50;
const LOOP_SAMPLES: usize = 15;
const LOOP_CALLS: u64 = 1_000_000;

/// The seccomp profile the runtime builds from `library:model-server-strict` for a
/// bundle without its own `linux.seccomp`, and the median time of the whole step a
/// `create` pays for it: load + validate + resolve `extends` + compile to a
/// confinement (Landlock rules and BPF).
fn strict_policy() -> (oci_spec::runtime::LinuxSeccomp, Duration) {
    let build = || {
        let policy = sealrun_policy::Policy::load_reference("library:model-server-strict").expect("library policy");
        let mut spec = oci_spec::runtime::Spec::default();
        sealrun_sandbox::confine::from_policy(&policy, "library:model-server-strict", &mut spec)
            .expect("policy compiles")
    };
    let mut t = Vec::new();
    for _ in 0..COMPILE_SAMPLES {
        let start = Instant::now();
        let _ = build();
        t.push(start.elapsed());
    }
    let (conf, _, _) = build();
    assert_eq!(conf.seccomp.len(), 1, "no bundle profile: one policy filter");
    (conf.seccomp[0].clone(), median(&t))
}

fn main() {
    let (strict, policy_step) = strict_policy();
    println!(
        "policy load + validate + compile (library:model-server-strict → Landlock rules + compact BPF): {:.1} µs median",
        policy_step.as_secs_f64() * 1e6
    );
    let profiles = [
        ("moby-default", moby_default()),
        ("allow-list-60", allow_list()),
        ("strict-policy", strict),
    ];
    let mut rows: Vec<(&str, Option<Backend>, Option<CompiledSeccomp>)> = vec![("(no filter)", None, None)];
    for (name, profile) in &profiles {
        for backend in [Backend::Seccompiler, Backend::Compact] {
            let compiled = CompiledSeccomp::compile_with(profile, backend).expect("profile compiles");
            rows.push((name, Some(backend), Some(compiled)));
        }
    }

    // The machine is shared: rounds go over every row in turn, so that load that comes and
    // goes spreads over all rows instead of skewing one.
    let mut getppid: Vec<Vec<Duration>> = vec![Vec::new(); rows.len()];
    let mut personality: Vec<Vec<Duration>> = vec![Vec::new(); rows.len()];
    for _ in 0..LOOP_SAMPLES {
        for (i, (_, _, compiled)) in rows.iter().enumerate() {
            getppid[i].push(loop_sample(compiled.as_ref(), Loop::Getppid));
            personality[i].push(loop_sample(compiled.as_ref(), Loop::Personality));
        }
    }
    let mut install: Vec<Vec<Duration>> = vec![Vec::new(); rows.len()];
    for _ in 0..INSTALL_SAMPLES {
        for (i, (_, _, compiled)) in rows.iter().enumerate() {
            if let Some(c) = compiled {
                install[i].push(install_sample(c));
            }
        }
    }
    let base_getppid = median(&getppid[0]);
    let base_personality = median(&personality[0]);

    println!("command: cargo bench -p sealrun-sandbox --bench seccomp");
    println!(
        "kernel {}; medians of {INSTALL_SAMPLES} installs, {COMPILE_SAMPLES} compiles and {LOOP_SAMPLES} loops of \
         {LOOP_CALLS} calls per row; overhead against the row without a filter",
        kernel(),
    );
    println!();
    println!(
        "{:<14} {:<12} {:>7} {:>6} {:>11} {:>11} {:>11} {:>9} {:>15} {:>9}",
        "profile",
        "backend",
        "filters",
        "insns",
        "compile µs",
        "install µs",
        "getppid ns",
        "overhead",
        "personality ns",
        "overhead"
    );
    for (i, (name, backend, compiled)) in rows.iter().enumerate() {
        let (g, p) = (median(&getppid[i]), median(&personality[i]));
        let Some(compiled) = compiled else {
            println!(
                "{:<14} {:<12} {:>7} {:>6} {:>11} {:>11} {:>11.1} {:>9} {:>15.1} {:>9}",
                name,
                "-",
                0,
                0,
                "-",
                "-",
                per_call(g),
                "-",
                per_call(p),
                "-"
            );
            continue;
        };
        let backend = backend.expect("a compiled row has a backend");
        let profile = &profiles.iter().find(|(n, _)| n == name).expect("row of a profile").1;
        let compile_times: Vec<Duration> = (0..COMPILE_SAMPLES)
            .map(|_| {
                let t0 = Instant::now();
                let c = CompiledSeccomp::compile_with(profile, backend).expect("profile compiles");
                let dt = t0.elapsed();
                std::hint::black_box(c);
                dt
            })
            .collect();
        println!(
            "{:<14} {:<12} {:>7} {:>6} {:>11.1} {:>11.1} {:>11.1} {:>8.1}% {:>15.1} {:>8.1}%",
            name,
            format!("{backend:?}").to_lowercase(),
            compiled.filter_count(),
            compiled.instruction_count(),
            micros(median(&compile_times)),
            micros(median(&install[i])),
            per_call(g),
            overhead(g, base_getppid),
            per_call(p),
            overhead(p, base_personality),
        );
    }
}

#[derive(Clone, Copy)]
enum Loop {
    Getppid,
    Personality,
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn per_call(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9 / LOOP_CALLS as f64
}

fn overhead(d: Duration, baseline: Duration) -> f64 {
    (d.as_secs_f64() / baseline.as_secs_f64() - 1.0) * 100.0
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Run `body` in a forked child under NO_NEW_PRIVS; it returns nanoseconds, sent back
/// through a pipe.
fn in_child(body: &dyn Fn() -> u64) -> Duration {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array it is given.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0, "pipe2");
    // SAFETY: the bench is single-threaded; the child runs `body` (raw syscalls, Instant,
    // no allocation), writes 8 bytes and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let nanos = body();
        // SAFETY: writing 8 bytes from a live u64 to our pipe, then leaving the child.
        unsafe {
            libc::write(fds[1], (&nanos as *const u64).cast(), 8);
            libc::_exit(0);
        }
    }
    // SAFETY: the descriptors come from pipe2 above and are owned here from now on.
    let (mut read_end, write_end) = unsafe {
        (
            std::fs::File::from(OwnedFd::from_raw_fd(fds[0])),
            OwnedFd::from_raw_fd(fds[1]),
        )
    };
    drop(write_end);
    let mut buf = [0u8; 8];
    read_end.read_exact(&mut buf).expect("the child reports its timing");
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid status pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    Duration::from_nanos(u64::from_ne_bytes(buf))
}

fn no_new_privs() {
    // SAFETY: plain prctl with valid arguments.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, 0);
}

fn install_sample(compiled: &CompiledSeccomp) -> Duration {
    in_child(&|| {
        no_new_privs();
        let t0 = Instant::now();
        compiled.install().expect("install");
        t0.elapsed().as_nanos() as u64
    })
}

fn loop_sample(compiled: Option<&CompiledSeccomp>, which: Loop) -> Duration {
    in_child(&|| {
        no_new_privs();
        if let Some(c) = compiled {
            c.install().expect("install");
        }
        let call = || match which {
            // SAFETY: getppid takes no arguments.
            Loop::Getppid => unsafe { libc::syscall(libc::SYS_getppid) },
            // SAFETY: personality(0xffffffff) only queries the persona.
            Loop::Personality => unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu64) },
        };
        for _ in 0..10_000 {
            std::hint::black_box(call());
        }
        let t0 = Instant::now();
        for _ in 0..LOOP_CALLS {
            std::hint::black_box(call());
        }
        t0.elapsed().as_nanos() as u64
    })
}

/// About 60 syscalls a model server needs, ERRNO for the rest; personality only as a query
/// (as Docker's profile has it), so that the personality loop runs the filter.
fn allow_list() -> oci_spec::runtime::LinuxSeccomp {
    let names = [
        "accept4",
        "bind",
        "brk",
        "clock_gettime",
        "clock_nanosleep",
        "clone",
        "close",
        "connect",
        "dup",
        "dup3",
        "epoll_create1",
        "epoll_ctl",
        "epoll_pwait",
        "epoll_wait",
        "eventfd2",
        "execve",
        "exit",
        "exit_group",
        "fcntl",
        "fstat",
        "futex",
        "getcwd",
        "getdents64",
        "getpid",
        "getppid",
        "getrandom",
        "getsockname",
        "getsockopt",
        "gettid",
        "getuid",
        "ioctl",
        "listen",
        "lseek",
        "madvise",
        "mmap",
        "mprotect",
        "mremap",
        "munmap",
        "nanosleep",
        "newfstatat",
        "openat",
        "pipe2",
        "poll",
        "pread64",
        "prlimit64",
        "read",
        "readlink",
        "recvfrom",
        "recvmsg",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "sched_getaffinity",
        "sched_yield",
        "sendmsg",
        "sendto",
        "set_robust_list",
        "set_tid_address",
        "setsockopt",
        "shutdown",
        "sigaltstack",
        "socket",
        "statx",
        "write",
        "writev",
    ];
    parse_profile(&json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": &names[..], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    }))
    .expect("allow-list parses")
}

fn moby_default() -> oci_spec::runtime::LinuxSeccomp {
    let dir = match std::env::var_os("SEALRUN_FIXTURES") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    };
    let path = dir.join("seccomp/moby-default.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let moby: serde_json::Value = serde_json::from_str(&text).expect("moby profile is JSON");
    parse_profile(&moby_to_oci(&moby)).expect("converted moby profile parses")
}

/// Moby's profile format to OCI for Docker's default capabilities on this architecture (the
/// same conversion as the seccomp module's tests).
/// Docker's profile for Docker's default capabilities, through the product's importer.
fn moby_to_oci(moby: &serde_json::Value) -> serde_json::Value {
    use sealrun_sandbox::seccomp::moby;
    let caps = moby::DOCKER_DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    let ctx = moby::MobyContext::native(caps).expect("native context");
    serde_json::to_value(moby::import(moby, &ctx).expect("moby profile imports")).expect("json")
}
