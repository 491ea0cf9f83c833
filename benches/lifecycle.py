#!/usr/bin/env python3
"""Container lifecycle benchmark: create -> start -> wait -> delete of a trivial busybox
container, for sealrun, runc and crun on the same bundle, interleaved round-robin.

The script drives each runtime the way containerd's runc shim does: it is a child
subreaper, runs `RT --root R create --bundle B --pid-file P ID`, opens a pidfd on the
container's init, runs `RT --root R start ID`, waits on the pidfd, reaps the init and runs
`RT --root R delete ID`. Each phase is timed with perf_counter_ns.

Needs root, python3 (stdlib only) and /bin/busybox (busybox-static). See benches/README.md.
"""

import argparse
import ctypes
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REEXEC_ENV = "SEALRUN_BENCH_IN_MNTNS"
UNIFIED = "/sys/fs/cgroup/unified"
PR_SET_CHILD_SUBREAPER = 36
PHASES = ("create", "start", "wait", "delete")
WAIT_GUARD_S = 30  # hang guard for a container that never exits


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=50, help="timed iterations per runtime (default 50)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations per runtime first (default 2)")
    p.add_argument(
        "--runtime",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="add or override a runtime (repeatable); defaults: sealrun, runc, crun",
    )
    p.add_argument("--rss-runs", type=int, default=5, help="untimed runs per runtime measuring create's peak RSS (default 5)")
    p.add_argument("--json", metavar="FILE", help="also write the raw per-iteration samples as JSON")
    return p.parse_args()


def default_runtimes():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.getcwd(), "target")
    return {
        "sealrun": os.path.join(target, "release", "sealrun"),
        "runc": shutil.which("runc") or "/usr/sbin/runc",
        "crun": shutil.which("crun") or "/usr/bin/crun",
    }


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def enter_private_mount_namespace():
    """crun 1.8.1 refuses hybrid cgroups (v1 controllers plus cgroup2 at
    /sys/fs/cgroup/unified). Re-exec this script in a private mount namespace and unmount
    /sys/fs/cgroup/unified there only, so that all runtimes see the same pure-v1 hierarchy.
    Returns a note for the output."""
    if os.environ.get(REEXEC_ENV) == "1":
        if mounted(UNIFIED):
            subprocess.run(["umount", UNIFIED], check=True)
            return f"private mount namespace, {UNIFIED} unmounted there (all runtimes see cgroup v1 only)"
        return "private mount namespace (no hybrid cgroup2 mount to hide)"
    if not mounted(UNIFIED):
        return "host mount namespace (no hybrid cgroup2 mount at " + UNIFIED + ")"
    unshare = shutil.which("unshare")
    if unshare is None:
        sys.exit("unshare (util-linux) is needed to hide the hybrid cgroup2 mount from crun")
    env = dict(os.environ, **{REEXEC_ENV: "1"})
    argv = [unshare, "-m", "--propagation", "private", sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
    os.execve(unshare, argv, env)


def build_bundle(base, runc_like):
    bundle = os.path.join(base, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    applets = subprocess.run(["/bin/busybox", "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in applets:
        link = os.path.join(rootfs, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")
    # One config for every runtime: the stock `runc spec` with a non-terminal /bin/true.
    subprocess.run([runc_like, "spec"], cwd=bundle, check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return bundle


def spawn_wait(argv, log):
    """Runs argv with output appended to `log`; returns (exit status, rusage)."""
    with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
        fa = [
            (os.POSIX_SPAWN_DUP2, devnull.fileno(), 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
        ]
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)
        _, status, rusage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), rusage


class Failure(Exception):
    pass


def lifecycle(rt, root, bundle, cid, workdir, rss_helper=None):
    """One create/start/wait/delete. With rss_helper (GNU time), `create` runs under it and
    the result carries the create process's peak RSS instead of meaningful timings."""
    log = os.path.join(workdir, f"{cid}.log")
    pidfile = os.path.join(workdir, f"{cid}.pid")
    rssfile = os.path.join(workdir, f"{cid}.rss")
    create = [rt, "--root", root, "create", "--bundle", bundle, "--pid-file", pidfile, cid]
    if rss_helper:
        create = [rss_helper, "-f", "%M", "-o", rssfile] + create
    t = [time.perf_counter_ns()]

    code, _ = spawn_wait(create, log)
    t.append(time.perf_counter_ns())
    if code != 0:
        raise Failure(f"create exited {code}")
    with open(pidfile) as f:
        pid = int(f.read().strip())
    pidfd = os.pidfd_open(pid)
    try:
        code, _ = spawn_wait([rt, "--root", root, "start", cid], log)
        t.append(time.perf_counter_ns())
        if code != 0:
            raise Failure(f"start exited {code}")
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(WAIT_GUARD_S * 1000):
            raise Failure(f"container init {pid} still running after {WAIT_GUARD_S}s")
    finally:
        os.close(pidfd)
    # As subreaper we inherited the init when the runtime's create process exited.
    try:
        _, status = os.waitpid(pid, 0)
        init_code = os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        init_code = None  # a runtime that keeps its own parent process reaps it itself
    t.append(time.perf_counter_ns())
    code, _ = spawn_wait([rt, "--root", root, "delete", cid], log)
    t.append(time.perf_counter_ns())
    if code != 0:
        raise Failure(f"delete exited {code}")
    if init_code not in (0, None):
        raise Failure(f"container exited {init_code}")
    os.unlink(log)
    os.unlink(pidfile)
    phases = {name: (t[i + 1] - t[i]) / 1e6 for i, name in enumerate(PHASES)}
    phases["total"] = (t[-1] - t[0]) / 1e6
    if rss_helper:
        with open(rssfile) as f:
            phases["create_maxrss_kib"] = int(f.read().split()[-1])
        os.unlink(rssfile)
    return phases


def reap_strays():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def version(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("lifecycle.py must run as root (it creates containers)")
    mount_note = enter_private_mount_namespace()

    runtimes = default_runtimes()
    for spec in args.runtime:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            sys.exit(f"--runtime {spec!r}: expected NAME=PATH")
        runtimes[name] = path
    present = {n: p for n, p in runtimes.items() if os.path.isfile(p) and os.access(p, os.X_OK)}
    missing = {n: p for n, p in runtimes.items() if n not in present}
    if not present:
        sys.exit("no runtime found: " + ", ".join(f"{n} ({p})" for n, p in missing.items()))

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")

    print(f"kernel {os.uname().release}; {mount_note}")
    for n, p in present.items():
        print(f"  {n:8} {p}  ({version(p)})")
    for n, p in missing.items():
        print(f"  {n:8} MISSING: {p} does not exist (skipped)")

    work = tempfile.mkdtemp(prefix="sealrun-bench-")
    try:
        spec_tool = present.get("runc") or shutil.which("runc") or next(iter(present.values()))
        bundle = build_bundle(work, spec_tool)
        roots = {}
        for n in present:
            roots[n] = os.path.join(work, "root-" + n)
            os.makedirs(roots[n])
        samples = {n: [] for n in present}
        failed = {}
        names = list(present)
        total_rounds = args.warmup + args.iterations
        print(f"bundle {bundle} (runc spec, args [/bin/true], terminal false); "
              f"{args.warmup} warm-up + {args.iterations} timed iterations, round-robin")
        for i in range(total_rounds):
            # Rotate the order each round so no runtime always runs first after a pause.
            order = names[i % len(names):] + names[: i % len(names)]
            for n in order:
                if n in failed:
                    continue
                cid = f"bench-{n}-{i}"
                try:
                    r = lifecycle(present[n], roots[n], bundle, cid, work)
                except (Failure, OSError) as e:
                    log = os.path.join(work, f"{cid}.log")
                    detail = open(log, errors="replace").read().strip() if os.path.exists(log) else ""
                    failed[n] = f"iteration {i}: {e}: {detail}"
                    subprocess.run([present[n], "--root", roots[n], "delete", "-f", cid], capture_output=True)
                    continue
                finally:
                    reap_strays()
                if i >= args.warmup:
                    samples[n].append(r)

        # Peak RSS of `create`. The ru_maxrss that os.wait4 returns for a process spawned
        # from Python includes the Python interpreter's own RSS (the child starts from
        # Python's address space, vfork or fork, and the kernel folds that high-water mark
        # into ru_maxrss at exec). So the create process is spawned by GNU time, a small
        # process whose own wait4 ru_maxrss of its child is then exact. Separate, untimed
        # runs keep the helper's fork/exec out of the timings.
        rss = {n: [] for n in present}
        rss_helper = shutil.which("time", path="/usr/bin:/bin")
        if rss_helper and args.rss_runs > 0:
            for i in range(args.rss_runs):
                for n in names:
                    if n in failed:
                        continue
                    cid = f"rss-{n}-{i}"
                    try:
                        rss[n].append(lifecycle(present[n], roots[n], bundle, cid, work, rss_helper)["create_maxrss_kib"])
                    except (Failure, OSError, ValueError) as e:
                        failed[n] = f"RSS run {i}: {e}"
                        subprocess.run([present[n], "--root", roots[n], "delete", "-f", cid], capture_output=True)
                    finally:
                        reap_strays()
        elif not rss_helper:
            print("create RSS not measured: needs GNU time at /usr/bin/time (apt-get install time)")

        print_table(samples, rss, failed)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"note": mount_note, "samples": samples, "create_rss_kib": rss, "failed": failed}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def print_table(samples, rss, failed):
    med = {n: statistics.median(x["total"] for x in s) for n, s in samples.items() if s}
    base = med.get("crun")
    header = ["runtime", "n", "total med", "total p90", "create", "start", "wait", "delete", "vs crun", "create RSS"]
    rows = []
    for n, s in samples.items():
        if not s:
            continue
        totals = [x["total"] for x in s]
        rows.append([
            n,
            str(len(s)),
            f"{med[n]:.2f}",
            f"{percentile(totals, 0.9):.2f}",
            *(f"{statistics.median(x[p] for x in s):.2f}" for p in PHASES),
            f"{med[n] / base:.2f}x" if base else "-",
            f"{max(rss[n]) / 1024:.1f} MiB" if rss.get(n) else "n/a",
        ])
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print()
    print("times in ms (medians unless noted); create RSS = max ru_maxrss of the `create` process")
    for r in [header] + rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    for n, why in failed.items():
        print(f"FAILED {n}: {why}")


if __name__ == "__main__":
    sys.exit(main())
