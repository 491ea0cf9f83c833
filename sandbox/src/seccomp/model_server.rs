//! sealrun's own seccomp allow-list for model servers (Python, Rust and C++ inference
//! servers, on CPU or GPU): the `model-server` base of `[sandbox.syscalls]`.
//!
//! Default action ERRNO(EPERM): what is not listed fails as if the process lacked the
//! privilege, which every runtime handles. The list is what such a server does: file I/O,
//! memory mapping, threads, polling, sockets, time, signals, randomness. Names that the
//! native architecture does not have (`open` on aarch64, ...) are skipped by the compiler.
//!
//! Conditions and special answers:
//! - `clone3` → ENOSYS: its flags live in memory that seccomp cannot read, so glibc and
//!   Rust fall back to `clone`, whose flags register is checked;
//! - `clone` only without namespace flags (`flags & 0x7e020000 == 0`, as Docker does):
//!   CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. (CLONE_NEWTIME lies in
//!   the exit-signal byte of `clone` and is only reachable through `clone3`/`unshare`.)
//! - `ioctl` is allowed because GPU stacks live on it: the NVIDIA driver (`/dev/nvidia*`,
//!   `/dev/nvidia-uvm`), ROCm's `/dev/kfd` and DRM render nodes take every request through
//!   ioctl, with driver-private numbers that cannot be listed here. Device access is bounded
//!   by the device cgroup and Landlock instead. Terminal injection is refused:
//!   `TIOCSTI` and `TIOCLINUX` fail with EIO (what a kernel with `dev.tty.legacy_tiocsti=0`
//!   answers for TIOCSTI), matched on the low 32 bits because the kernel truncates the
//!   request to `unsigned int`;
//! - `prctl` only for the options in [`PRCTL_OPTIONS`] (names, death signal, dumpable
//!   query, no_new_privs, child subreaper, timer slack, THP, VMA names, MDWE, seccomp mode
//!   query, capability bounding set query);
//! - `personality` only for the query `personality(0xffffffff)`;
//! - `seccomp` and `landlock_*` are allowed: they only add restrictions to the caller, and
//!   the runtime may stack the bundle's own profile after this one (see
//!   [`super::edit::never_weaker`]).
//!
//! Socket families and types are narrowed by `[sandbox.net]` through
//! [`super::edit::socket_rules`]; this base allows `socket()` itself.
//!
//! Deliberately absent, with the reason, in [`DENIED`].

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

use super::edit::syscall_rule as rule;

/// Allowed without conditions.
pub const ALLOWED: &[&str] = &[
    // files: open, read, write, seek, sync, space
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "read",
    "readv",
    "pread64",
    "preadv",
    "preadv2",
    "write",
    "writev",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "lseek",
    "sendfile",
    "copy_file_range",
    "splice",
    "tee",
    "fsync",
    "fdatasync",
    "syncfs",
    "sync_file_range",
    "fallocate",
    "ftruncate",
    "truncate",
    "fadvise64",
    "readahead",
    "flock",
    // directories and metadata
    "getdents",
    "getdents64",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "umask",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "getxattrat",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "listxattrat",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    // memory
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "msync",
    "mincore",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "membarrier",
    "memfd_create",
    "mseal",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    "map_shadow_stack",
    // processes and threads (clone: see CLONE_NS_FLAGS)
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "arch_prctl",
    "futex",
    "futex_waitv",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getpgid",
    "getpgrp",
    "getsid",
    "setsid",
    "setpgid",
    "capget",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "getrusage",
    "times",
    "getpriority",
    "setpriority",
    "ioprio_get",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_setparam",
    "sched_getscheduler",
    "sched_setscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "sched_getattr",
    "sched_setattr",
    "getcpu",
    "uname",
    "sysinfo",
    "seccomp",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    // Linux AIO (io_uring is not here: see DENIED)
    "io_setup",
    "io_destroy",
    "io_submit",
    "io_cancel",
    "io_getevents",
    "io_pgetevents",
    // polling, pipes, events
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "pipe",
    "pipe2",
    "eventfd",
    "eventfd2",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    // sockets (families and types: [sandbox.net] through edit::socket_rules)
    "socket",
    "socketpair",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "shutdown",
    // time
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "gettimeofday",
    "time",
    "nanosleep",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "alarm",
    "getitimer",
    "setitimer",
    // signals (whom they reach is scoped by Landlock)
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "pause",
    "restart_syscall",
    "kill",
    "tkill",
    "tgkill",
    "pidfd_open",
    "pidfd_send_signal",
    // randomness
    "getrandom",
];

/// Deliberately absent (they fail with EPERM), and why.
pub const DENIED: &[(&str, &str)] = &[
    ("mount", "changes the mount table; the runtime prepares the rootfs"),
    ("umount2", "changes the mount table"),
    ("fsopen", "new mount API"),
    ("fsconfig", "new mount API"),
    ("fsmount", "new mount API"),
    ("fspick", "new mount API"),
    ("move_mount", "new mount API"),
    ("open_tree", "new mount API: clones mount trees"),
    ("mount_setattr", "changes mount flags"),
    ("pivot_root", "changes the root"),
    (
        "chroot",
        "changes the root; the classic escape with an open directory fd",
    ),
    (
        "unshare",
        "new namespaces: user namespaces open a large kernel attack surface",
    ),
    ("setns", "joins other namespaces"),
    ("ptrace", "reads and writes other processes"),
    ("process_vm_readv", "reads another process's memory"),
    ("process_vm_writev", "writes another process's memory"),
    ("process_madvise", "acts on another process's memory"),
    ("kcmp", "compares kernel objects of other processes"),
    ("pidfd_getfd", "steals file descriptors from other processes"),
    ("bpf", "loads programs into the kernel"),
    (
        "perf_event_open",
        "kernel profiling: side channels and a long CVE history",
    ),
    ("keyctl", "kernel keyrings are not namespaced"),
    ("add_key", "kernel keyrings are not namespaced"),
    ("request_key", "kernel keyrings are not namespaced"),
    (
        "io_uring_setup",
        "io_uring: a large kernel attack surface that also bypasses seccomp for its operations",
    ),
    ("io_uring_enter", "io_uring"),
    ("io_uring_register", "io_uring"),
    (
        "userfaultfd",
        "stalls kernel page faults: a building block of kernel exploits",
    ),
    ("kexec_load", "replaces the running kernel"),
    ("kexec_file_load", "replaces the running kernel"),
    ("init_module", "loads kernel modules"),
    ("finit_module", "loads kernel modules"),
    ("delete_module", "unloads kernel modules"),
    (
        "open_by_handle_at",
        "opens files by handle, past the mount namespace (the 'shocker' escape)",
    ),
    ("name_to_handle_at", "companion of open_by_handle_at"),
    ("reboot", "reboots the machine"),
    ("clock_settime", "sets the machine's clock"),
    ("clock_adjtime", "adjusts the machine's clock"),
    ("settimeofday", "sets the machine's clock"),
    ("adjtimex", "adjusts the machine's clock"),
    ("swapon", "changes the machine's swap"),
    ("swapoff", "changes the machine's swap"),
    ("acct", "process accounting for the machine"),
    ("quotactl", "filesystem quotas"),
    ("quotactl_fd", "filesystem quotas"),
    ("sethostname", "UTS names belong to the runtime"),
    ("setdomainname", "UTS names belong to the runtime"),
    ("syslog", "the kernel log leaks addresses"),
    ("vhangup", "hangs up the terminal"),
    ("iopl", "raw port I/O"),
    ("ioperm", "raw port I/O"),
    ("mknod", "creates device nodes; devices come from the runtime"),
    ("mknodat", "creates device nodes"),
    ("lookup_dcookie", "kernel profiling"),
    ("fanotify_init", "watches whole filesystems"),
    ("move_pages", "moves another process's pages"),
    ("migrate_pages", "moves another process's pages"),
    ("set_mempolicy_home_node", "NUMA policy for ranges; not needed"),
    ("memfd_secret", "not needed; hides memory from the kernel's own checks"),
    ("setuid", "identity is fixed by the runtime"),
    ("setgid", "identity is fixed by the runtime"),
    ("setreuid", "identity is fixed by the runtime"),
    ("setregid", "identity is fixed by the runtime"),
    ("setresuid", "identity is fixed by the runtime"),
    ("setresgid", "identity is fixed by the runtime"),
    ("setgroups", "identity is fixed by the runtime"),
    ("setfsuid", "identity is fixed by the runtime"),
    ("setfsgid", "identity is fixed by the runtime"),
    ("capset", "capabilities are fixed by the runtime"),
    ("chown", "a model server does not give files away"),
    ("fchown", "a model server does not give files away"),
    ("lchown", "a model server does not give files away"),
    ("fchownat", "a model server does not give files away"),
    ("setxattr", "extended attributes carry security labels and capabilities"),
    ("lsetxattr", "extended attributes"),
    ("fsetxattr", "extended attributes"),
    ("setxattrat", "extended attributes"),
    ("removexattr", "extended attributes"),
    ("lremovexattr", "extended attributes"),
    ("fremovexattr", "extended attributes"),
    ("removexattrat", "extended attributes"),
    ("sync", "flushes every filesystem of the machine"),
    ("vmsplice", "not needed; page-reference tricks behind past exploits"),
    (
        "shmget",
        "System V IPC is not needed (POSIX shared memory is files in /dev/shm)",
    ),
    ("shmat", "System V IPC"),
    ("shmctl", "System V IPC"),
    ("shmdt", "System V IPC"),
    ("semget", "System V IPC"),
    ("semop", "System V IPC"),
    ("semtimedop", "System V IPC"),
    ("semctl", "System V IPC"),
    ("msgget", "System V IPC"),
    ("msgsnd", "System V IPC"),
    ("msgrcv", "System V IPC"),
    ("msgctl", "System V IPC"),
    ("ioprio_set", "not needed"),
    ("uselib", "obsolete loader"),
    ("modify_ldt", "16-bit segments: not needed, past exploits"),
    ("get_robust_list", "reads another process's robust list head"),
    ("fanotify_mark", "watches whole filesystems"),
    ("statmount", "mount table details"),
    ("listmount", "mount table details"),
];

/// Namespace flags that `clone` may not carry: CLONE_NEWNS | CLONE_NEWCGROUP |
/// CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET (0x7e020000).
pub const CLONE_NS_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// PR_SET_VMA (glibc names its anonymous mappings); not in every libc release.
const PR_SET_VMA: u64 = 0x53564d41;
/// PR_SET_MDWE / PR_GET_MDWE: memory-deny-write-execute for the caller only.
const PR_SET_MDWE: u64 = 65;
const PR_GET_MDWE: u64 = 66;

/// The `prctl` options the workload may use.
pub const PRCTL_OPTIONS: &[(u64, &str)] = &[
    (libc::PR_SET_PDEATHSIG as u64, "PR_SET_PDEATHSIG"),
    (libc::PR_GET_PDEATHSIG as u64, "PR_GET_PDEATHSIG"),
    (libc::PR_GET_DUMPABLE as u64, "PR_GET_DUMPABLE"),
    (libc::PR_GET_KEEPCAPS as u64, "PR_GET_KEEPCAPS"),
    (libc::PR_SET_NAME as u64, "PR_SET_NAME"),
    (libc::PR_GET_NAME as u64, "PR_GET_NAME"),
    (libc::PR_GET_SECCOMP as u64, "PR_GET_SECCOMP"),
    (libc::PR_CAPBSET_READ as u64, "PR_CAPBSET_READ"),
    (libc::PR_SET_TIMERSLACK as u64, "PR_SET_TIMERSLACK"),
    (libc::PR_GET_TIMERSLACK as u64, "PR_GET_TIMERSLACK"),
    (libc::PR_SET_CHILD_SUBREAPER as u64, "PR_SET_CHILD_SUBREAPER"),
    (libc::PR_GET_CHILD_SUBREAPER as u64, "PR_GET_CHILD_SUBREAPER"),
    (libc::PR_SET_NO_NEW_PRIVS as u64, "PR_SET_NO_NEW_PRIVS"),
    (libc::PR_GET_NO_NEW_PRIVS as u64, "PR_GET_NO_NEW_PRIVS"),
    (libc::PR_SET_THP_DISABLE as u64, "PR_SET_THP_DISABLE"),
    (libc::PR_GET_THP_DISABLE as u64, "PR_GET_THP_DISABLE"),
    (PR_SET_VMA, "PR_SET_VMA"),
    (PR_SET_MDWE, "PR_SET_MDWE"),
    (PR_GET_MDWE, "PR_GET_MDWE"),
];

/// `ioctl` requests refused with EIO: terminal input injection and console control.
pub const IOCTL_REFUSED: &[(u64, &str)] = &[(libc::TIOCSTI, "TIOCSTI"), (libc::TIOCLINUX, "TIOCLINUX")];

/// The `model-server` profile for the native architecture.
pub fn profile() -> LinuxSeccomp {
    use LinuxSeccompOperator::{ScmpCmpEq, ScmpCmpMaskedEq};
    let allow = LinuxSeccompAction::ScmpActAllow;
    let errno = LinuxSeccompAction::ScmpActErrno;

    let mut rules = vec![rule(ALLOWED, allow, None, &[])];
    rules.push(rule(
        &["clone"],
        allow,
        None,
        &[(0, ScmpCmpMaskedEq, CLONE_NS_FLAGS, 0)],
    ));
    rules.push(rule(&["clone3"], errno, Some(libc::ENOSYS as u32), &[]));
    for (option, _) in PRCTL_OPTIONS {
        rules.push(rule(&["prctl"], allow, None, &[(0, ScmpCmpEq, *option, 0)]));
    }
    rules.push(rule(&["personality"], allow, None, &[(0, ScmpCmpEq, 0xffff_ffff, 0)]));
    rules.push(rule(&["ioctl"], allow, None, &[]));
    for (request, _) in IOCTL_REFUSED {
        rules.push(rule(
            &["ioctl"],
            errno,
            Some(libc::EIO as u32),
            &[(1, ScmpCmpMaskedEq, 0xffff_ffff, *request)],
        ));
    }

    let mut p = LinuxSeccomp::default();
    p.set_default_action(LinuxSeccompAction::ScmpActErrno);
    p.set_default_errno_ret(Some(libc::EPERM as u32));
    p.set_architectures(Some(vec![if cfg!(target_arch = "x86_64") {
        Arch::ScmpArchX86_64
    } else {
        Arch::ScmpArchAarch64
    }]));
    p.set_syscalls(Some(rules));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::edit::test_support::{compile, errno, errno_of, fixtures, run_in_child, OK};
    use crate::seccomp::CompiledSeccomp;
    use crate::syscalls;
    use std::io::{Read, Write};

    fn compiled() -> CompiledSeccomp {
        compile(&profile())
    }

    #[test]
    fn names_are_real_and_lists_disjoint() {
        let known = |n: &str| {
            syscalls::lookup(syscalls::X86_64, n).is_some() || syscalls::lookup(syscalls::AARCH64, n).is_some()
        };
        for name in ALLOWED.iter().chain(DENIED.iter().map(|(n, _)| n)) {
            assert!(known(name), "{name} is not a syscall on x86_64 or aarch64");
        }
        for (name, _) in DENIED {
            assert!(!ALLOWED.contains(name), "{name} is both allowed and denied");
            let named = profile()
                .syscalls()
                .iter()
                .flatten()
                .any(|r| r.names().iter().any(|n| n == name));
            assert!(!named, "{name} appears in a rule");
        }
        let mut sorted = ALLOWED.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALLOWED.len(), "duplicate names in ALLOWED");
    }

    #[test]
    fn compiles_to_two_filters() {
        let c = compiled();
        // default ERRNO(EPERM) with the allow-list, ENOSYS for clone3, EIO for TIOCSTI.
        assert_eq!(
            c.filter_labels(),
            ["default SCMP_ACT_ERRNO(1)", "SCMP_ACT_ERRNO(38)", "SCMP_ACT_ERRNO(5)"]
        );
        // Only names the native architecture lacks are skipped.
        for name in c.ignored_syscalls() {
            assert!(syscalls::number(name).is_none(), "{name}");
        }
        if cfg!(target_arch = "x86_64") {
            assert!(c.ignored_syscalls().is_empty(), "{:?}", c.ignored_syscalls());
        }
        assert_eq!(CLONE_NS_FLAGS, 0x7e02_0000);
    }

    /// File I/O, a thread, TCP over loopback, getrandom, a child process: each step has its
    /// own exit code so that a failure says which one.
    fn workload(dir: &std::path::Path) -> i32 {
        let path = dir.join("model.bin");
        if std::fs::write(&path, b"weights").is_err() {
            return 10;
        }
        match std::fs::read(&path) {
            Ok(data) if data == b"weights" => {}
            _ => return 11,
        }
        let mut f = match std::fs::OpenOptions::new().append(true).open(&path) {
            Ok(f) => f,
            Err(_) => return 12,
        };
        if f.write_all(b"!").is_err() || f.sync_all().is_err() {
            return 13;
        }
        if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(8) {
            return 14;
        }
        match std::thread::spawn(|| 6 * 7).join() {
            Ok(42) => {}
            _ => return 20,
        }
        let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(_) => return 30,
        };
        let Ok(addr) = listener.local_addr() else { return 31 };
        let server = std::thread::spawn(move || -> Option<Vec<u8>> {
            let (mut s, _) = listener.accept().ok()?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).ok()?;
            s.write_all(b"pong").ok()?;
            Some(buf.to_vec())
        });
        let Ok(mut client) = std::net::TcpStream::connect(addr) else {
            return 32;
        };
        if client.write_all(b"ping").is_err() {
            return 33;
        }
        let mut reply = [0u8; 4];
        if client.read_exact(&mut reply).is_err() || &reply != b"pong" {
            return 34;
        }
        match server.join() {
            Ok(Some(got)) if got == b"ping" => {}
            _ => return 35,
        }
        let mut buf = [0u8; 32];
        // SAFETY: buf is valid for 32 bytes.
        let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n != 32 || buf == [0u8; 32] {
            return 40;
        }
        // A child process (clone3 → ENOSYS, then clone without namespace flags).
        match std::process::Command::new("/bin/true").status() {
            Ok(s) if s.success() => {}
            _ => return 50,
        }
        0
    }

    #[test]
    fn model_server_workload_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = compiled();
        let d = dir.path().to_path_buf();
        assert_eq!(run_in_child(&[&c], move || workload(&d)), OK);
        assert_eq!(
            std::fs::read(dir.path().join("model.bin")).expect("written"),
            b"weights!"
        );
    }

    #[test]
    fn workload_runs_under_policy_stacked_with_docker_bundle() {
        use crate::seccomp::{edit, moby};
        let text = std::fs::read_to_string(fixtures().join("seccomp/moby-default.json")).expect("fixture");
        let docker = moby::import(
            &serde_json::from_str(&text).expect("JSON"),
            &moby::MobyContext {
                caps: moby::DOCKER_DEFAULT_CAPS.iter().map(|c| c.to_string()).collect(),
                arch: moby::native_goarch().to_string(),
                kernel: (6, 18),
            },
        )
        .expect("imports");
        let net = edit::SocketPolicy {
            allow_unix: true,
            allow_inet_tcp: true,
            ..Default::default()
        };
        let policy = edit::apply(
            profile(),
            &edit::Edits {
                allow: vec![],
                deny: edit::socket_edits(&net),
            },
        );
        let list = edit::never_weaker(policy.clone(), Some(docker.clone()));
        assert_eq!(
            list,
            vec![policy, docker],
            "model-server allows seccomp(2): installed first"
        );
        let compiled: Vec<CompiledSeccomp> = list.iter().map(compile).collect();
        let refs: Vec<&CompiledSeccomp> = compiled.iter().collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_path_buf();
        assert_eq!(run_in_child(&refs, move || workload(&d)), OK);
        // Docker's profile allows UDP; the policy does not.
        // SAFETY: socket takes no pointers.
        let udp = || errno_of(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) } as libc::c_long);
        assert_eq!(run_in_child(&refs, udp), errno(libc::EACCES));
    }

    #[test]
    fn denied_calls_fail_with_eperm() {
        // Each call has arguments that make it harmless should the filter let it through
        // (bad pointers, invalid flags), and an answer other than EPERM in that case.
        let probes: Vec<Probe> = vec![
            // SAFETY (all probes): raw syscalls with null pointers or invalid values; none
            // dereferences memory we do not own.
            ("mount", || unsafe {
                libc::syscall(libc::SYS_mount, 0usize, 0usize, 0usize, 0usize, 0usize)
            }),
            ("umount2", || unsafe { libc::syscall(libc::SYS_umount2, 0usize, 0) }),
            ("unshare", || unsafe { libc::syscall(libc::SYS_unshare, 0) }),
            ("setns", || unsafe { libc::syscall(libc::SYS_setns, -1, 0) }),
            ("ptrace", || unsafe {
                libc::syscall(libc::SYS_ptrace, libc::PTRACE_CONT, libc::getpid(), 0, 0)
            }),
            ("process_vm_readv", || unsafe {
                libc::syscall(libc::SYS_process_vm_readv, libc::getpid(), 0usize, 0, 0usize, 0, 0)
            }),
            ("process_vm_writev", || unsafe {
                libc::syscall(libc::SYS_process_vm_writev, libc::getpid(), 0usize, 0, 0usize, 0, 0)
            }),
            ("bpf", || unsafe { libc::syscall(libc::SYS_bpf, 5, 0usize, 0) }),
            ("perf_event_open", || unsafe {
                libc::syscall(libc::SYS_perf_event_open, 0usize, 0, -1, -1, 0)
            }),
            ("keyctl", || unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i64, 0) }),
            ("add_key", || unsafe {
                libc::syscall(libc::SYS_add_key, 0usize, 0usize, 0usize, 0usize, 0)
            }),
            ("request_key", || unsafe {
                libc::syscall(libc::SYS_request_key, 0usize, 0usize, 0usize, 0)
            }),
            ("io_uring_setup", || unsafe {
                libc::syscall(libc::SYS_io_uring_setup, 0, 0usize)
            }),
            ("userfaultfd", || unsafe { libc::syscall(libc::SYS_userfaultfd, 0) }),
            ("kexec_load", || unsafe {
                libc::syscall(libc::SYS_kexec_load, 0, 0, 0usize, 0xdead_0000u64)
            }),
            ("kexec_file_load", || unsafe {
                libc::syscall(libc::SYS_kexec_file_load, -1, -1, 0, 0usize, 0xdead_0000u64)
            }),
            ("init_module", || unsafe {
                libc::syscall(libc::SYS_init_module, 0usize, 0, 0usize)
            }),
            ("finit_module", || unsafe {
                libc::syscall(libc::SYS_finit_module, -1, 0usize, 0)
            }),
            ("delete_module", || unsafe {
                libc::syscall(libc::SYS_delete_module, 0usize, 0)
            }),
            ("open_by_handle_at", || unsafe {
                libc::syscall(libc::SYS_open_by_handle_at, -1, 0usize, 0)
            }),
            ("name_to_handle_at", || unsafe {
                libc::syscall(libc::SYS_name_to_handle_at, -1, 0usize, 0usize, 0usize, 0)
            }),
            // Bad magic: EINVAL if it ran.
            ("reboot", || unsafe { libc::syscall(libc::SYS_reboot, 0, 0, 0, 0usize) }),
            ("clock_settime", || unsafe {
                libc::syscall(libc::SYS_clock_settime, libc::CLOCK_REALTIME, 0usize)
            }),
            ("settimeofday", || unsafe {
                libc::syscall(libc::SYS_settimeofday, 8usize, 0usize)
            }),
            ("adjtimex", || unsafe { libc::syscall(libc::SYS_adjtimex, 0usize) }),
            ("swapon", || unsafe { libc::syscall(libc::SYS_swapon, 0usize, 0) }),
            ("swapoff", || unsafe { libc::syscall(libc::SYS_swapoff, 0usize) }),
            ("pivot_root", || unsafe {
                libc::syscall(libc::SYS_pivot_root, 0usize, 0usize)
            }),
            ("chroot", || unsafe { libc::syscall(libc::SYS_chroot, 0usize) }),
            // An empty path: ENOENT if it ran (NULL would switch accounting off).
            ("acct", || unsafe { libc::syscall(libc::SYS_acct, c"".as_ptr()) }),
            ("quotactl", || unsafe {
                libc::syscall(libc::SYS_quotactl, 0, 0usize, 0, 0usize)
            }),
            // Too long: EINVAL if it ran.
            ("sethostname", || unsafe {
                libc::syscall(libc::SYS_sethostname, 0usize, 100_000)
            }),
            ("personality(ADDR_NO_RANDOMIZE)", || unsafe {
                libc::syscall(libc::SYS_personality, 0x0040000)
            }),
            ("prctl(PR_SET_DUMPABLE)", || unsafe {
                libc::syscall(libc::SYS_prctl, libc::PR_SET_DUMPABLE, 1)
            }),
            ("prctl(PR_SET_SECUREBITS)", || unsafe {
                libc::syscall(libc::SYS_prctl, libc::PR_SET_SECUREBITS, 0)
            }),
            ("mknodat", || unsafe {
                libc::syscall(libc::SYS_mknodat, -1, c"".as_ptr(), 0, 0)
            }),
            ("setuid", || unsafe { libc::syscall(libc::SYS_setuid, 0) }),
            ("shmget", || unsafe { libc::syscall(libc::SYS_shmget, 0, 0, 0) }),
        ];
        let c = compiled();
        for (name, probe) in probes {
            let outcome = run_in_child(&[&c], move || errno_of(probe()));
            assert_eq!(outcome, errno(libc::EPERM), "{name}");
        }
    }

    /// A named raw syscall whose errno is checked.
    type Probe = (&'static str, fn() -> libc::c_long);

    fn clone_raw(flags: u64) -> i32 {
        // SAFETY: clone without CLONE_VM or a new stack behaves like fork; the child only
        // calls _exit.
        let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
        match rc {
            0 => unsafe { libc::_exit(0) },
            -1 => errno_of(rc),
            pid => {
                let mut status = 0;
                // SAFETY: our own child, valid status pointer.
                unsafe { libc::waitpid(pid as i32, &mut status, 0) };
                0
            }
        }
    }

    #[test]
    fn clone_with_namespace_flags_is_denied() {
        let c = compiled();
        let sigchld = libc::SIGCHLD as u64;
        assert_eq!(run_in_child(&[&c], move || clone_raw(sigchld)), OK);
        for flag in [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWCGROUP,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUTS,
        ] {
            let flags = sigchld | flag as u64;
            assert_eq!(
                run_in_child(&[&c], move || clone_raw(flags)),
                errno(libc::EPERM),
                "{flag:#x}"
            );
        }
        // SAFETY: clone3 with a null args pointer would fail with EFAULT if it ran.
        let clone3 = || errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) });
        assert_eq!(run_in_child(&[&c], clone3), errno(libc::ENOSYS));
    }

    #[test]
    fn limited_prctl_personality_and_ioctl() {
        let c = compiled();
        // SAFETY: PR_SET_NAME reads a NUL-terminated name of at most 16 bytes.
        let set_name = || errno_of(unsafe { libc::syscall(libc::SYS_prctl, libc::PR_SET_NAME, c"worker".as_ptr()) });
        assert_eq!(run_in_child(&[&c], set_name), OK);
        // SAFETY: personality(0xffffffff) only queries.
        let query = || errno_of(unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu64) });
        assert_eq!(run_in_child(&[&c], query), OK);

        // FIONREAD on a pipe is allowed; TIOCSTI on it would be ENOTTY, but is refused
        // with EIO, also with high bits set in the request.
        let ioctl = |request: u64| {
            let mut fds = [0i32; 2];
            let mut arg = 0i32;
            // SAFETY: fds has room for two descriptors; arg is a valid int for FIONREAD and
            // a valid char for TIOCSTI.
            unsafe {
                if libc::pipe(fds.as_mut_ptr()) != 0 {
                    return 200;
                }
                errno_of(libc::syscall(libc::SYS_ioctl, fds[0], request, &mut arg as *mut i32))
            }
        };
        assert_eq!(run_in_child(&[&c], move || ioctl(libc::FIONREAD)), OK);
        assert_eq!(run_in_child(&[], move || ioctl(libc::TIOCSTI)), errno(libc::ENOTTY));
        assert_eq!(run_in_child(&[&c], move || ioctl(libc::TIOCSTI)), errno(libc::EIO));
        assert_eq!(
            run_in_child(&[&c], move || ioctl(0x1_0000_0000 | libc::TIOCSTI)),
            errno(libc::EIO)
        );
        assert_eq!(run_in_child(&[&c], move || ioctl(libc::TIOCLINUX)), errno(libc::EIO));
    }
}
