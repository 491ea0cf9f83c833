/*
 * The escape suite's probe: one attempt per invocation, `probe ATTEMPT [ARGS...]`.
 *
 * Busybox cannot make most of the calls the suite tries (ptrace, bpf, keyctl, raw
 * socket() arguments...), so the suite compiles this file with `gcc -static` and copies
 * it into the container's /bin. Every attempt prints one line
 *
 *     PROBE <attempt> <OK | errno name | KILLED <signal>> [key=value...]
 *
 * so a test asserts the exact answer (EPERM from seccomp, EACCES from Landlock...),
 * never just "something failed". The probe itself exits 0 whenever it ran; exit 2 means
 * it was called wrongly.
 *
 * Each attempt is written to be harmless if it ever got through: clocks are set to the
 * time they already show, reboot gets invalid magic numbers, modules that do not exist
 * are unloaded, and so on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acct.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/timex.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *attempt;

static const char *err_name(int e) {
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

/* Prints the outcome of a call that returns -1 and sets errno on failure. */
static void report(long rc, const char *extra) {
    if (rc < 0)
        printf("PROBE %s %s%s%s\n", attempt, err_name(errno), extra ? " " : "", extra ? extra : "");
    else
        printf("PROBE %s OK%s%s\n", attempt, extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/* Like report, for a named step of a multi-step attempt. */
static void step(const char *name, long rc) {
    if (rc < 0)
        printf("STEP %s %s\n", name, err_name(errno));
    else
        printf("STEP %s OK\n", name);
    fflush(stdout);
}

static int usage(void) {
    fprintf(stderr, "probe: bad arguments for %s\n", attempt ? attempt : "(none)");
    return 2;
}

/* A child that waits to be killed: a sibling to aim at. */
static pid_t sleeper(void) {
    pid_t p = fork();
    if (p == 0) {
        for (;;)
            pause();
    }
    return p;
}

static void reap(pid_t p) {
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

/* Runs fn in a child so that a SIGSYS or SIGSEGV kill is observed and reported. */
static void in_child(long (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p < 0) {
        report(-1, "fork");
        return;
    }
    if (p == 0) {
        long rc = fn();
        report(rc, NULL);
        _exit(0);
    }
    int st = 0;
    waitpid(p, &st, 0);
    if (WIFSIGNALED(st)) {
        printf("PROBE %s KILLED %d\n", attempt, WTERMSIG(st));
        fflush(stdout);
    }
}

static long int80_unshare(void) {
    /* i386 ABI: unshare is 310; eax carries the number and the result. */
    long ret = 310;
    long flags = CLONE_NEWUSER;
    __asm__ volatile("int $0x80" : "+a"(ret) : "b"(flags) : "memory");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

static long x32_unshare(void) {
    return syscall(0x40000000L | SYS_unshare, CLONE_NEWUSER);
}

static int tcp_socket(int family) {
    return socket(family, SOCK_STREAM, 0);
}

static socklen_t inet_addr_of(const char *host, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, host, &a->sin_addr);
    return sizeof *a;
}

static socklen_t abstract_addr(const char *name, struct sockaddr_un *a) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n > sizeof a->sun_path - 2)
        n = sizeof a->sun_path - 2;
    memcpy(a->sun_path + 1, name, n);
    return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void creds(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    long rc = syscall(SYS_capget, &h, d);
    unsigned long long eff = ((unsigned long long)d[1].effective << 32) | d[0].effective;
    unsigned long long prm = ((unsigned long long)d[1].permitted << 32) | d[0].permitted;
    unsigned long long inh = ((unsigned long long)d[1].inheritable << 32) | d[0].inheritable;
    unsigned long long bnd = 0;
    for (int c = 0; c < 64; c++)
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
            bnd |= 1ULL << c;
    char extra[256];
    snprintf(extra, sizeof extra,
             "uid=%d euid=%d gid=%d egid=%d nnp=%d seccomp=%d capeff=%llx capprm=%llx capinh=%llx capbnd=%llx",
             getuid(), geteuid(), getgid(), getegid(), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
             prctl(PR_GET_SECCOMP, 0, 0, 0, 0), eff, prm, inh, bnd);
    report(rc, extra);
}

int main(int argc, char **argv) {
    if (argc < 2)
        return usage();
    attempt = argv[1];
    const char *a = attempt;
    char extra[256];

    if (!strcmp(a, "creds")) {
        creds();
    } else if (!strcmp(a, "open")) {
        /* open PATH r|w [DATA]: open, then read up to 4 KiB or write DATA. */
        if (argc < 4)
            return usage();
        int w = argv[3][0] == 'w';
        int fd = open(argv[2], w ? O_WRONLY : O_RDONLY);
        if (fd < 0) {
            report(-1, NULL);
        } else {
            /* Reads report how many bytes came back: a masked file answers 0. */
            static char buf[4096];
            long n = w ? write(fd, argc > 4 ? argv[4] : "", argc > 4 ? strlen(argv[4]) : 0)
                       : read(fd, buf, sizeof buf);
            step("io", n);
            snprintf(extra, sizeof extra, "bytes=%ld", n < 0 ? 0 : n);
            report(0, extra);
        }
    } else if (!strcmp(a, "create")) {
        /* create PATH: a new file, for writing. */
        if (argc < 3)
            return usage();
        report(open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644), NULL);
    } else if (!strcmp(a, "fds")) {
        /* Every open descriptor number: what the workload inherited. */
        char list[1024] = "fds=";
        for (int fd = 0; fd < 65536; fd++)
            if (fcntl(fd, F_GETFD) >= 0 && strlen(list) < sizeof list - 8)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", list[4] ? "," : "", fd);
        report(0, list);
    } else if (!strcmp(a, "mount_tmpfs")) {
        report(mount("escape", "/tmp", "tmpfs", 0, NULL), NULL);
    } else if (!strcmp(a, "fsopen")) {
        report(syscall(SYS_fsopen, "tmpfs", 0), NULL);
    } else if (!strcmp(a, "open_tree")) {
        report(syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */), NULL);
    } else if (!strcmp(a, "umount")) {
        report(umount2("/proc", MNT_DETACH), NULL);
    } else if (!strcmp(a, "unshare_user")) {
        report(unshare(CLONE_NEWUSER), NULL);
    } else if (!strcmp(a, "unshare_mount")) {
        report(unshare(CLONE_NEWNS), NULL);
    } else if (!strcmp(a, "setns")) {
        /* The namespace file first (Landlock keeps /proc out of reach), then a pidfd of
         * the init, which needs no path, to reach setns itself. */
        step("open_ns_file", open("/proc/1/ns/net", O_RDONLY));
        int pfd = syscall(SYS_pidfd_open, 1, 0);
        step("pidfd_open", pfd);
        report(setns(pfd, CLONE_NEWNET), NULL);
    } else if (!strcmp(a, "clone_newuser")) {
        long p = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (p == 0)
            _exit(0);
        if (p > 0)
            waitpid(p, NULL, 0);
        report(p, NULL);
    } else if (!strcmp(a, "clone_newpid_newnet")) {
        long p = syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
        if (p == 0)
            _exit(0);
        if (p > 0)
            waitpid(p, NULL, 0);
        report(p, NULL);
    } else if (!strcmp(a, "clone3_newuser")) {
        struct clone_args ca;
        memset(&ca, 0, sizeof ca);
        ca.flags = CLONE_NEWUSER;
        ca.exit_signal = SIGCHLD;
        long p = syscall(SYS_clone3, &ca, sizeof ca);
        if (p == 0)
            _exit(0);
        if (p > 0)
            waitpid(p, NULL, 0);
        report(p, NULL);
    } else if (!strcmp(a, "ptrace_traceme")) {
        report(syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0), NULL);
    } else if (!strcmp(a, "ptrace_attach")) {
        pid_t s = sleeper();
        long rc = syscall(SYS_ptrace, PTRACE_ATTACH, s, 0, 0);
        reap(s);
        report(rc, NULL);
    } else if (!strcmp(a, "process_vm_readv")) {
        static char secret[64] = "secret in a sibling";
        pid_t s = sleeper();
        char buf[64];
        struct iovec local = {buf, sizeof buf}, remote = {secret, sizeof secret};
        long rc = process_vm_readv(s, &local, 1, &remote, 1, 0);
        reap(s);
        report(rc, NULL);
    } else if (!strcmp(a, "process_vm_writev")) {
        static char target[64];
        pid_t s = sleeper();
        char buf[64] = "overwritten";
        struct iovec local = {buf, sizeof buf}, remote = {target, sizeof target};
        long rc = process_vm_writev(s, &local, 1, &remote, 1, 0);
        reap(s);
        report(rc, NULL);
    } else if (!strcmp(a, "pidfd_getfd")) {
        int pfd = syscall(SYS_pidfd_open, getpid(), 0);
        step("pidfd_open", pfd);
        report(syscall(SYS_pidfd_getfd, pfd, 1, 0), NULL);
    } else if (!strcmp(a, "bpf_prog_load")) {
        /* The smallest socket filter: r0 = 0; exit. */
        struct bpf_insn prog[2] = {
            {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
            {.code = BPF_JMP | BPF_EXIT},
        };
        union bpf_attr at;
        memset(&at, 0, sizeof at);
        at.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
        at.insn_cnt = 2;
        at.insns = (uint64_t)(uintptr_t)prog;
        at.license = (uint64_t)(uintptr_t) "GPL";
        report(syscall(SYS_bpf, BPF_PROG_LOAD, &at, sizeof at), NULL);
    } else if (!strcmp(a, "perf_event_open")) {
        struct perf_event_attr pa;
        memset(&pa, 0, sizeof pa);
        pa.type = PERF_TYPE_SOFTWARE;
        pa.size = sizeof pa;
        pa.config = PERF_COUNT_SW_CPU_CLOCK;
        pa.disabled = 1;
        report(syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0), NULL);
    } else if (!strcmp(a, "keyctl")) {
        report(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0), NULL);
    } else if (!strcmp(a, "add_key")) {
        report(syscall(SYS_add_key, "user", "sealrun-escape", "x", 1, KEY_SPEC_PROCESS_KEYRING), NULL);
    } else if (!strcmp(a, "request_key")) {
        report(syscall(SYS_request_key, "user", "sealrun-escape", NULL, KEY_SPEC_PROCESS_KEYRING), NULL);
    } else if (!strcmp(a, "io_uring_setup")) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        report(syscall(SYS_io_uring_setup, 4, &p), NULL);
    } else if (!strcmp(a, "userfaultfd")) {
        report(syscall(SYS_userfaultfd, O_CLOEXEC), NULL);
    } else if (!strcmp(a, "kexec_load")) {
        report(syscall(SYS_kexec_load, 0, 0, NULL, 0), NULL);
    } else if (!strcmp(a, "kexec_file_load")) {
        report(syscall(SYS_kexec_file_load, -1, -1, 0, "", 0), NULL);
    } else if (!strcmp(a, "init_module")) {
        static char image[64];
        report(syscall(SYS_init_module, image, sizeof image, ""), NULL);
    } else if (!strcmp(a, "finit_module")) {
        int fd = open("/bin/probe", O_RDONLY);
        step("open_module", fd);
        report(syscall(SYS_finit_module, fd, "", 0), NULL);
    } else if (!strcmp(a, "delete_module")) {
        report(syscall(SYS_delete_module, "sealrun_escape_none", O_NONBLOCK), NULL);
    } else if (!strcmp(a, "open_by_handle_at")) {
        /* "Shocker": a handle for inode 2 (a filesystem's root) of the root mount. */
        struct {
            struct file_handle h;
            unsigned char bytes[8];
        } fh;
        memset(&fh, 0, sizeof fh);
        fh.h.handle_bytes = 8;
        fh.h.handle_type = 1;
        fh.bytes[0] = 2;
        int mfd = open("/", O_RDONLY | O_DIRECTORY);
        step("open_root", mfd);
        report(syscall(SYS_open_by_handle_at, mfd, &fh.h, O_RDONLY), NULL);
    } else if (!strcmp(a, "name_to_handle_at")) {
        struct {
            struct file_handle h;
            unsigned char bytes[128];
        } fh;
        int mount_id;
        memset(&fh, 0, sizeof fh);
        fh.h.handle_bytes = 128;
        report(syscall(SYS_name_to_handle_at, AT_FDCWD, "/bin", &fh.h, &mount_id, 0), NULL);
    } else if (!strcmp(a, "tiocsti")) {
        char c = '#';
        snprintf(extra, sizeof extra, "isatty=%d", isatty(0));
        report(ioctl(0, TIOCSTI, &c), extra);
    } else if (!strcmp(a, "reboot")) {
        /* Invalid magic numbers: the kernel could never act on them. */
        report(syscall(SYS_reboot, 0, 0, 0, NULL), NULL);
    } else if (!strcmp(a, "clock_settime")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        report(clock_settime(CLOCK_REALTIME, &ts), NULL);
    } else if (!strcmp(a, "settimeofday")) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        report(settimeofday(&tv, NULL), NULL);
    } else if (!strcmp(a, "adjtimex")) {
        struct timex tx;
        memset(&tx, 0, sizeof tx);
        tx.modes = ADJ_OFFSET_SINGLESHOT; /* an adjustment of 0 us */
        report(syscall(SYS_adjtimex, &tx), NULL);
    } else if (!strcmp(a, "swapon")) {
        report(swapon("/tmp/swapfile", 0), NULL);
    } else if (!strcmp(a, "chroot")) {
        report(chroot("/tmp"), NULL);
    } else if (!strcmp(a, "pivot_root")) {
        report(syscall(SYS_pivot_root, "/tmp", "/tmp"), NULL);
    } else if (!strcmp(a, "acct")) {
        report(acct("/tmp/acct"), NULL);
    } else if (!strcmp(a, "capset_sys_admin")) {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        syscall(SYS_capget, &h, d);
        d[0].effective |= 1u << CAP_SYS_ADMIN;
        d[0].permitted |= 1u << CAP_SYS_ADMIN;
        report(syscall(SYS_capset, &h, d), NULL);
    } else if (!strcmp(a, "ambient_raise")) {
        report(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0), NULL);
    } else if (!strcmp(a, "setuid0")) {
        report(syscall(SYS_setuid, 0), NULL);
    } else if (!strcmp(a, "setxattr_caps")) {
        /* A file capability (VFS_CAP_REVISION_2, CAP_SYS_ADMIN) on a file we own. */
        int fd = open("/tmp/fcap", O_CREAT | O_WRONLY, 0755);
        step("create", fd);
        uint32_t cap[5] = {0x02000001, 1u << CAP_SYS_ADMIN, 0, 0, 0};
        report(setxattr("/tmp/fcap", "security.capability", cap, sizeof cap, 0), NULL);
    } else if (!strcmp(a, "personality")) {
        long cur = personality(0xffffffff);
        snprintf(extra, sizeof extra, "query=%s", cur < 0 ? err_name(errno) : "OK");
        report(personality(ADDR_NO_RANDOMIZE), extra);
    } else if (!strcmp(a, "prctl_set_mm")) {
        report(prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0, 0, 0), NULL);
    } else if (!strcmp(a, "sethostname")) {
        report(sethostname("escaped", 7), NULL);
    } else if (!strcmp(a, "syslog")) {
        char buf[256];
        report(klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof buf), NULL);
    } else if (!strcmp(a, "iopl")) {
        report(syscall(SYS_iopl, 3), NULL);
    } else if (!strcmp(a, "modify_ldt")) {
        char buf[16];
        report(syscall(SYS_modify_ldt, 0, buf, sizeof buf), NULL);
    } else if (!strcmp(a, "shmget")) {
        report(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600), NULL);
    } else if (!strcmp(a, "fanotify_init")) {
        report(syscall(SYS_fanotify_init, 0, O_RDONLY), NULL);
    } else if (!strcmp(a, "mknod")) {
        report(mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1)), NULL);
    } else if (!strcmp(a, "x32_unshare")) {
        in_child(x32_unshare);
    } else if (!strcmp(a, "int80_unshare")) {
        in_child(int80_unshare);
    } else if (!strcmp(a, "kill")) {
        /* kill PID SIG */
        if (argc < 4)
            return usage();
        report(kill(atoi(argv[2]), atoi(argv[3])), NULL);
    } else if (!strcmp(a, "pidfd_kill")) {
        if (argc < 3)
            return usage();
        int pfd = syscall(SYS_pidfd_open, atoi(argv[2]), 0);
        step("pidfd_open", pfd);
        report(syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0), NULL);
    } else if (!strcmp(a, "sigio")) {
        /* SIGIO (default action: terminate) aimed at PID through an async pipe. */
        if (argc < 3)
            return usage();
        int p[2];
        step("pipe", pipe(p));
        step("setown", fcntl(p[0], F_SETOWN, atoi(argv[2])));
        step("async", fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
        report(write(p[1], "x", 1), NULL);
        usleep(100000);
    } else if (!strcmp(a, "socket")) {
        /* socket DOMAIN TYPE PROTOCOL (numbers; DOMAIN may carry high bits) */
        if (argc < 5)
            return usage();
        report(syscall(SYS_socket, strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0),
                       strtoull(argv[4], NULL, 0)),
               NULL);
    } else if (!strcmp(a, "socketpair_unix")) {
        int sv[2];
        report(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), NULL);
    } else if (!strcmp(a, "tcp_bind")) {
        /* tcp_bind HOST PORT: bind and listen. */
        if (argc < 4)
            return usage();
        struct sockaddr_storage ss;
        socklen_t len = inet_addr_of(argv[2], atoi(argv[3]), &ss);
        int s = tcp_socket(ss.ss_family);
        step("socket", s);
        long rc = bind(s, (struct sockaddr *)&ss, len);
        if (rc == 0)
            rc = listen(s, 1);
        report(rc, NULL);
    } else if (!strcmp(a, "tcp_connect")) {
        if (argc < 4)
            return usage();
        struct sockaddr_storage ss;
        socklen_t len = inet_addr_of(argv[2], atoi(argv[3]), &ss);
        int s = tcp_socket(ss.ss_family);
        step("socket", s);
        report(connect(s, (struct sockaddr *)&ss, len), NULL);
    } else if (!strcmp(a, "tcp_self_connect")) {
        /* Listen on PORT (bind allowed) and connect to it from this sandbox. */
        if (argc < 3)
            return usage();
        struct sockaddr_storage ss;
        socklen_t len = inet_addr_of("127.0.0.1", atoi(argv[2]), &ss);
        int l = tcp_socket(AF_INET);
        int one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        step("bind", bind(l, (struct sockaddr *)&ss, len));
        step("listen", listen(l, 1));
        int s = tcp_socket(AF_INET);
        report(connect(s, (struct sockaddr *)&ss, len), NULL);
    } else if (!strcmp(a, "tcp_fastopen")) {
        /* tcp_fastopen HOST PORT: connect implicitly through sendto(MSG_FASTOPEN). */
        if (argc < 4)
            return usage();
        struct sockaddr_storage ss;
        socklen_t len = inet_addr_of(argv[2], atoi(argv[3]), &ss);
        int s = tcp_socket(ss.ss_family);
        step("socket", s);
        const char msg[] = "ESCAPED-VIA-FASTOPEN\n";
        report(sendto(s, msg, sizeof msg - 1, MSG_FASTOPEN, (struct sockaddr *)&ss, len), NULL);
        usleep(200000);
    } else if (!strcmp(a, "tcp_fastopen_connect")) {
        /* tcp_fastopen_connect HOST PORT: TCP_FASTOPEN_CONNECT, then connect(2). */
        if (argc < 4)
            return usage();
        struct sockaddr_storage ss;
        socklen_t len = inet_addr_of(argv[2], atoi(argv[3]), &ss);
        int s = tcp_socket(ss.ss_family);
        int one = 1;
        step("sockopt", setsockopt(s, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof one));
        report(connect(s, (struct sockaddr *)&ss, len), NULL);
    } else if (!strcmp(a, "tcp_fastopen_self")) {
        /* Listen on PORT (bind allowed), then reach it through sendto(MSG_FASTOPEN). */
        if (argc < 3)
            return usage();
        struct sockaddr_storage ss;
        socklen_t len = inet_addr_of("127.0.0.1", atoi(argv[2]), &ss);
        int l = tcp_socket(AF_INET);
        step("bind", bind(l, (struct sockaddr *)&ss, len));
        step("listen", listen(l, 1));
        int s = tcp_socket(AF_INET);
        const char msg[] = "ESCAPED-VIA-FASTOPEN\n";
        report(sendto(s, msg, sizeof msg - 1, MSG_FASTOPEN, (struct sockaddr *)&ss, len), NULL);
        usleep(200000);
        /* SOCK_NONBLOCK on accept4 is for the new socket: the listener itself must be
           non-blocking, or a refused send leaves accept waiting forever. */
        fcntl(l, F_SETFL, fcntl(l, F_GETFL) | O_NONBLOCK);
        int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
        step("accepted", c);
        if (c >= 0) {
            char buf[64] = {0};
            long n = read(c, buf, sizeof buf - 1);
            printf("RECEIVED %ld %s", n, n > 0 ? buf : "\n");
        }
    } else if (!strcmp(a, "listen_autobind")) {
        /* listen() on a socket never bound: the kernel picks a port itself. */
        int s = tcp_socket(AF_INET);
        step("socket", s);
        long rc = listen(s, 1);
        struct sockaddr_in sin;
        socklen_t sl = sizeof sin;
        memset(&sin, 0, sizeof sin);
        getsockname(s, (struct sockaddr *)&sin, &sl);
        snprintf(extra, sizeof extra, "port=%d", ntohs(sin.sin_port));
        report(rc, extra);
    } else if (!strcmp(a, "abstract_connect")) {
        if (argc < 3)
            return usage();
        struct sockaddr_un sa;
        socklen_t len = abstract_addr(argv[2], &sa);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        step("socket", s);
        report(connect(s, (struct sockaddr *)&sa, len), NULL);
    } else if (!strcmp(a, "abstract_self")) {
        /* Control: an abstract socket made inside the sandbox is reachable from it. */
        struct sockaddr_un sa;
        socklen_t len = abstract_addr("sealrun-escape-inside", &sa);
        int l = socket(AF_UNIX, SOCK_STREAM, 0);
        step("bind", bind(l, (struct sockaddr *)&sa, len));
        step("listen", listen(l, 1));
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        report(connect(s, (struct sockaddr *)&sa, len), NULL);
    } else if (!strcmp(a, "unix_connect")) {
        if (argc < 3)
            return usage();
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        strncpy(sa.sun_path, argv[2], sizeof sa.sun_path - 1);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        step("socket", s);
        long rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
        if (rc == 0)
            write(s, "ESCAPED-VIA-UNIX\n", 17);
        report(rc, NULL);
    } else if (!strcmp(a, "forkbomb")) {
        /* Fork children that wait, until the kernel refuses; then kill them all. */
        static pid_t kids[100000];
        int n = 0;
        long rc = 0;
        while (n < 100000) {
            pid_t p = fork();
            if (p == 0) {
                for (;;)
                    pause();
            }
            if (p < 0) {
                rc = -1;
                break;
            }
            kids[n++] = p;
        }
        int e = errno;
        for (int i = 0; i < n; i++)
            kill(kids[i], SIGKILL);
        for (int i = 0; i < n; i++)
            waitpid(kids[i], NULL, 0);
        errno = e;
        snprintf(extra, sizeof extra, "forked=%d", n);
        report(rc, extra);
    } else if (!strcmp(a, "membomb")) {
        /* Touch memory 16 MiB at a time until the kernel stops us. */
        for (unsigned long mib = 16;; mib += 16) {
            char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                snprintf(extra, sizeof extra, "mib=%lu", mib);
                report(-1, extra);
                break;
            }
            memset(p, 0x5a, 16 << 20);
            if (mib >= 32768) {
                report(0, "mib=32768");
                break;
            }
        }
    } else if (!strcmp(a, "memfd_exec")) {
        /* Copy an allowed binary into a memfd and execute it from there. */
        int in = open("/bin/probe", O_RDONLY);
        step("open_probe", in);
        int m = syscall(SYS_memfd_create, "escape", 0);
        step("memfd_create", m);
        char buf[65536];
        long n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            write(m, buf, n);
        char *args[] = {"probe", "creds", NULL};
        char *env[] = {NULL};
        fflush(stdout);
        long rc = syscall(SYS_execveat, m, "", args, env, AT_EMPTY_PATH);
        report(rc, NULL);
    } else if (!strcmp(a, "exec")) {
        /* exec PATH [ARGS...]: report only when the exec fails. */
        if (argc < 3)
            return usage();
        fflush(stdout);
        execv(argv[2], argv + 2);
        report(-1, NULL);
    } else {
        return usage();
    }
    return 0;
}
