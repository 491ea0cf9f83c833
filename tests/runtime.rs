//! End-to-end tests that drive the runtime binary directly (no containerd), as root.
//!
//! Each test builds a [`Bundle`]: a busybox rootfs, a config.json that starts from the
//! runtime's default spec and is edited as JSON, a private `--root`, a unique id and a
//! unique cgroup (`/sealrun-e2e/<id>`). The test process is a child subreaper, as
//! containerd's shim is, so a container's init (re-parented to us when `create` exits)
//! is reaped here and its exit status observed. Dropping a bundle force-deletes the
//! container and asserts that nothing is left: no state dir, no cgroup, no process.
//!
//! Every runtime command runs under `timeout` so a hung runtime fails a test instead of
//! stalling the suite. Nothing here asserts on timings.
//!
//! Tests for features that are broken in the runtime are kept, marked
//! `#[ignore = "BUG: ..."]`, and fail for the right reason when run with `--ignored`.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Once, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

use sealrun_e2e::{busybox_rootfs, describe, rt, runtime_binary, unique_name, wait_until};
use serde_json::{json, Value};

// ---- harness ------------------------------------------------------------------------------

/// How long we wait for a container's init to exit before killing it and failing.
const EXIT_GUARD: Duration = Duration::from_secs(60);
/// The v1 hierarchies whose container cgroup must be gone after delete.
const CGROUP_CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "freezer"];

/// The runtime's default spec as oci-spec 0.8 (and so `sealrun spec`) writes it; used
/// only when `sealrun spec` itself fails, so that one broken verb does not take every
/// other test down with it (`spec_writes_default_config` covers the verb).
const FALLBACK_SPEC: &str = r#"{
  "ociVersion": "1.0.2-dev",
  "root": {"path": "rootfs", "readonly": true},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "inheritable": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "hostname": "youki",
  "annotations": {},
  "linux": {
    "resources": {"devices": []},
    "namespaces": [
      {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
      {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
    ],
    "maskedPaths": [
      "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
    ],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}"#;

static SUBREAPER: Once = Once::new();

/// Become a child subreaper (per process, so once): orphaned container inits are
/// re-parented to this test process, which can then waitpid() them.
fn become_subreaper() {
    SUBREAPER.call_once(|| {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) only changes a flag of this process.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(rc, 0, "PR_SET_CHILD_SUBREAPER: {}", std::io::Error::last_os_error());
    });
}

/// The outcome of one command, for assertions with readable failure messages.
#[derive(Debug)]
struct Res {
    cmd: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Res {
    fn from_output(cmd: &Command, out: Output) -> Res {
        Res {
            cmd: describe(cmd),
            code: sealrun_e2e::exit_code(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn ok(self) -> Res {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    #[track_caller]
    fn fails(self) -> Res {
        assert_ne!(self.code, 0, "expected failure: {self:#?}");
        assert!(self.code != 124 && self.code != 137, "hang guard fired: {self:#?}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("`{}` did not print JSON ({e}): {:?}", self.cmd, self.stdout))
    }
}

fn exec_cmd(cmd: &mut Command) -> Res {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawning `{}`: {e}", describe(cmd)));
    Res::from_output(cmd, out)
}

/// How a container's init ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Code(i32),
    Signal(i32),
}

/// Waits for `pid` (our child, or re-parented to us) with a hang guard.
fn wait_pid(pid: i32) -> Exit {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waitpid on a specific pid with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Exit::Code(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                return Exit::Signal(libc::WTERMSIG(status));
            }
            continue;
        }
        if r < 0 {
            panic!(
                "waitpid({pid}): {} (not our child: is the test process a subreaper?)",
                std::io::Error::last_os_error()
            );
        }
        if start.elapsed() > EXIT_GUARD {
            // SAFETY: kill on a pid that is our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("process {pid} did not exit within {EXIT_GUARD:?}; killed it");
        }
        sleep(Duration::from_millis(20));
    }
}

/// The runtime's default spec: `sealrun spec` output, or [`FALLBACK_SPEC`] if it fails.
fn default_spec() -> Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let res = exec_cmd(rt(tmp.path()).args(["spec", "--bundle"]).arg(tmp.path()));
        match fs::read_to_string(tmp.path().join("config.json")) {
            Ok(text) if res.code == 0 => serde_json::from_str(&text).expect("spec output is JSON"),
            _ => {
                eprintln!(
                    "note: `sealrun spec` failed (exit {}); using the built-in default spec",
                    res.code
                );
                serde_json::from_str(FALLBACK_SPEC).expect("fallback spec is JSON")
            }
        }
    })
    .clone()
}

fn cgroup_dir(controller: &str, id: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join("sealrun-e2e")
        .join(id)
}

/// Live (non-zombie) processes whose command line mentions `needle` (e.g. a private
/// `--root`: an init that has not exec'd yet still runs `sealrun --root R create ...`).
fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(needle) {
            continue;
        }
        let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let state = stat.rfind(')').and_then(|i| stat[i + 2..].chars().next());
        if matches!(state, Some('Z') | Some('X') | None) {
            continue;
        }
        out.push((pid, cmdline));
    }
    out
}

/// The fd numbers a process has open, from the host's /proc.
fn open_fds(pid: i32) -> BTreeSet<i32> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("listing /proc/{pid}/fd: {e}"))
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect()
}

fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim().to_string())
        .unwrap_or_default()
}

/// Waits until `pid` has exec'd the user's program (its argv starts with `argv0`).
fn wait_exec(pid: i32, argv0: &str) {
    wait_until(&format!("pid {pid} to exec {argv0}"), EXIT_GUARD, || {
        let c = cmdline(pid);
        (c.starts_with(argv0).then_some(()), c)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Mount points of the host (this process's mount namespace).
fn host_mount_points() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(|p| p.replace("\\040", " ")))
        .collect()
}

fn count_mounts_at(path: &str) -> usize {
    host_mount_points().iter().filter(|p| p.as_str() == path).count()
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Duplicates `files` to fds 3, 4, ... in the child, without close-on-exec, as a leaky
/// caller (or `--preserve-fds` user) would. The sources are first duplicated above 100
/// so no target can clobber a source.
fn with_fds_at_3(cmd: &mut Command, files: &[&fs::File]) -> Vec<OwnedFd> {
    let mut high = Vec::new();
    for f in files {
        // SAFETY: F_DUPFD_CLOEXEC on a valid fd returns a new fd we own.
        let fd = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
        assert!(fd >= 100, "F_DUPFD_CLOEXEC: {}", std::io::Error::last_os_error());
        // SAFETY: fresh fd from the kernel.
        high.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    let raw: Vec<RawFd> = high.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY: between fork and exec we only call dup2, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            for (i, src) in raw.iter().enumerate() {
                if libc::dup2(*src, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    high
}

/// Checks the shape of an RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
        || !(b[10] == b'T' && digits(11..13) && b[13] == b':' && digits(14..16))
        || !(b[16] == b':' && digits(17..19))
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z" || (rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && rest.as_bytes()[3] == b':')
}

/// A container bundle with its own state root, id and cgroup; cleaned up on drop.
struct Bundle {
    _tmp: Option<tempfile::TempDir>,
    /// Bundle directory (config.json and rootfs/).
    dir: PathBuf,
    /// The runtime's `--root`.
    root: PathBuf,
    id: String,
    spec: Value,
    pid: Option<i32>,
    exited: Option<Exit>,
    out: PathBuf,
    err: PathBuf,
}

impl Bundle {
    fn new(tag: &str) -> Bundle {
        let tmp = tempfile::Builder::new()
            .prefix("sealrun-e2e-")
            .tempdir()
            .expect("tempdir");
        let root = tmp.path().join("state");
        let mut b = Bundle::in_dir(tmp.path().join("bundle"), root, unique_name(&format!("e2e-{}", tag)));
        b._tmp = Some(tmp);
        b
    }

    /// Another container under the same `--root` (for list, duplicate ids, joins).
    fn sibling(&self, tag: &str) -> Bundle {
        let tmp = tempfile::Builder::new()
            .prefix("sealrun-e2e-")
            .tempdir()
            .expect("tempdir");
        let mut b = Bundle::in_dir(
            tmp.path().join("bundle"),
            self.root.clone(),
            unique_name(&format!("e2e-{}", tag)),
        );
        b._tmp = Some(tmp);
        b
    }

    fn in_dir(dir: PathBuf, root: PathBuf, id: String) -> Bundle {
        become_subreaper();
        fs::create_dir_all(&dir).expect("bundle dir");
        busybox_rootfs(&dir.join("rootfs")).unwrap_or_else(|e| panic!("{e}"));
        let mut spec = default_spec();
        spec["root"] = json!({"path": "rootfs", "readonly": false});
        spec["process"]["args"] = json!(["true"]);
        spec["process"]["terminal"] = json!(false);
        spec["linux"]["cgroupsPath"] = json!(format!("/sealrun-e2e/{id}"));
        let out = dir.join("stdout");
        let err = dir.join("stderr");
        Bundle {
            _tmp: None,
            dir,
            root,
            id,
            spec,
            pid: None,
            exited: None,
            out,
            err,
        }
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// A scratch directory next to the bundle (outside the rootfs).
    fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.parent().expect("bundle has a parent").join(name);
        fs::create_dir_all(&p).expect("scratch dir");
        p
    }

    fn args(&mut self, args: &[&str]) -> &mut Self {
        self.spec["process"]["args"] = json!(args);
        self
    }

    fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    fn add_mount(&mut self, m: Value) -> &mut Self {
        self.spec["mounts"].as_array_mut().expect("mounts").push(m);
        self
    }

    fn remove_mount(&mut self, destination: &str) -> &mut Self {
        self.spec["mounts"]
            .as_array_mut()
            .expect("mounts")
            .retain(|m| m["destination"] != destination);
        self
    }

    fn add_namespace(&mut self, ns: Value) -> &mut Self {
        let list = self.spec["linux"]["namespaces"].as_array_mut().expect("namespaces");
        list.retain(|n| n["type"] != ns["type"]);
        list.push(ns);
        self
    }

    fn write_config(&self) {
        let text = serde_json::to_string_pretty(&self.spec).expect("spec serialises");
        fs::write(self.dir.join("config.json"), text).expect("writing config.json");
    }

    fn cmd(&self, args: &[&str]) -> Res {
        exec_cmd(rt(&self.root).args(args))
    }

    /// `create` with the container's stdout/stderr going to files (the init inherits
    /// create's stdio; a pipe would keep `output()` waiting for the container).
    fn create_with(&mut self, global: &[&str], extra: &[&str], fds: &[&fs::File]) -> Res {
        self.write_config();
        let pid_file = self.dir.join("pid");
        let _ = fs::remove_file(&pid_file);
        let mut cmd = rt(&self.root);
        cmd.args(global)
            .arg("create")
            .arg("--bundle")
            .arg(&self.dir)
            .arg("--pid-file")
            .arg(&pid_file);
        cmd.args(extra).arg(&self.id);
        cmd.stdout(fs::File::create(&self.out).expect("stdout file"));
        cmd.stderr(fs::File::create(&self.err).expect("stderr file"));
        let _keep = with_fds_at_3(&mut cmd, fds);
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("spawning `{}`: {e}", describe(&cmd)));
        let res = Res {
            cmd: describe(&cmd),
            code: sealrun_e2e::exit_code(status),
            stdout: self.stdout(),
            stderr: self.stderr(),
        };
        if res.code == 0 {
            let text = fs::read_to_string(&pid_file).expect("create succeeded but wrote no pid file");
            self.pid = Some(
                text.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("pid file holds {text:?}")),
            );
        }
        res
    }

    fn create(&mut self) -> Res {
        self.create_with(&[], &[], &[])
    }

    #[track_caller]
    fn create_ok(&mut self) -> i32 {
        self.create().ok();
        self.pid.expect("pid")
    }

    #[track_caller]
    fn start(&self) {
        let r = self.cmd(&["start", &self.id]);
        assert_eq!(r.code, 0, "{r:#?}\ncontainer stderr: {}", self.stderr());
    }

    fn pid(&self) -> i32 {
        self.pid.expect("container was created")
    }

    fn wait(&mut self) -> Exit {
        let e = wait_pid(self.pid());
        self.exited = Some(e);
        e
    }

    /// create + start + wait; returns how the init ended and what it printed.
    #[track_caller]
    fn run(&mut self) -> (Exit, String) {
        self.create_ok();
        self.start();
        let e = self.wait();
        (e, self.stdout())
    }

    /// Like [`Bundle::run`], asserting exit 0, returning stdout.
    #[track_caller]
    fn run_ok(&mut self) -> String {
        let (e, out) = self.run();
        assert_eq!(e, Exit::Code(0), "stdout: {out}\nstderr: {}", self.stderr());
        out
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    #[track_caller]
    fn state(&self) -> Value {
        self.cmd(&["state", &self.id]).ok().json()
    }

    fn status(&self) -> String {
        self.state()["status"].as_str().unwrap_or("").to_string()
    }

    fn cgroup(&self, controller: &str) -> PathBuf {
        cgroup_dir(controller, &self.id)
    }

    /// Deletes with --force and reaps the init, without asserting.
    fn cleanup(&mut self) {
        let _ = exec_cmd(rt(&self.root).args(["delete", "--force", &self.id]));
        if let (Some(pid), None) = (self.pid, self.exited) {
            // delete --force killed it; reap it (bounded).
            let start = Instant::now();
            loop {
                let mut status = 0;
                // SAFETY: waitpid on a specific pid with a valid status pointer.
                let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                if r != 0 || start.elapsed() > Duration::from_secs(10) {
                    break;
                }
                sleep(Duration::from_millis(20));
            }
            self.exited = Some(Exit::Signal(0));
        }
    }

    /// Nothing of the container remains: state dir, cgroups, processes.
    #[track_caller]
    fn assert_nothing_left(&self) {
        let state_dir = self.root.join(&self.id);
        assert!(!state_dir.exists(), "state dir {} was left behind", state_dir.display());
        for c in CGROUP_CONTROLLERS {
            let d = self.cgroup(c);
            assert!(!d.exists(), "cgroup {} was left behind", d.display());
        }
        // The bundle dir is unique to this container (siblings share the --root).
        let procs = processes_mentioning(&self.dir.to_string_lossy());
        assert!(procs.is_empty(), "processes left behind: {procs:?}");
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        self.cleanup();
        if !std::thread::panicking() {
            self.assert_nothing_left();
        }
    }
}

/// The capability bit mask of `names` (capability number = index in the policy crate's table).
fn caps_mask(names: &[&str]) -> u64 {
    let all = sealrun_policy::names::CAPABILITIES;
    names
        .iter()
        .map(|n| 1u64 << all.iter().position(|a| a == n).unwrap_or_else(|| panic!("unknown {n}")))
        .fold(0, |a, b| a | b)
}

/// The value of `Field:` in a /proc/*/status text.
fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {field} in:\n{status}"))
}

// ---- lifecycle & CLI ----------------------------------------------------------------------

#[test]
fn spec_writes_default_config_and_refuses_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let r = exec_cmd(rt(tmp.path()).args(["spec", "--bundle"]).arg(tmp.path()));
    assert_eq!(r.code, 0, "{r:#?}");
    let text = fs::read_to_string(tmp.path().join("config.json")).expect("config.json written");
    let v: Value = serde_json::from_str(&text).expect("config.json is JSON");
    assert!(v["ociVersion"].as_str().unwrap_or("").starts_with("1."), "{v}");
    assert!(v["linux"]["namespaces"].as_array().is_some_and(|a| !a.is_empty()));

    fs::write(tmp.path().join("config.json"), "keep me").unwrap();
    let r = exec_cmd(rt(tmp.path()).args(["spec", "--bundle"]).arg(tmp.path())).fails();
    assert!(r.stderr.contains("already exists"), "{r:#?}");
    assert_eq!(fs::read_to_string(tmp.path().join("config.json")).unwrap(), "keep me");
}

#[test]
fn features_reports_seccomp_enabled() {
    let tmp = tempfile::tempdir().unwrap();
    let v = exec_cmd(rt(tmp.path()).arg("features")).ok().json();
    assert_eq!(v["linux"]["seccomp"]["enabled"], json!(true), "{v}");
    let ns = v["linux"]["namespaces"].as_array().expect("linux.namespaces");
    for t in ["pid", "network", "mount", "user", "cgroup", "time"] {
        assert!(ns.contains(&json!(t)), "namespace {t} missing from features: {v}");
    }
}

#[test]
fn state_walks_created_running_stopped() {
    let mut b = Bundle::new("state");
    b.args(&["sleep", "1000"]);
    let pid = b.create_ok();

    let s = b.state();
    assert_eq!(s["id"], json!(b.id));
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["pid"], json!(pid), "{s}");
    assert_eq!(s["bundle"], json!(b.dir.to_string_lossy()), "{s}");
    let created = s["created"].as_str().unwrap_or("");
    assert!(is_rfc3339(created), "created {created:?} is not RFC 3339");
    assert!(s["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{s}");

    b.start();
    let s = b.state();
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["pid"], json!(pid));
    assert_eq!(s["created"].as_str(), Some(created), "created changed after start");

    b.cmd(&["kill", &b.id, "KILL"]).ok();
    assert_eq!(b.wait(), Exit::Signal(libc::SIGKILL));
    assert_eq!(b.status(), "stopped");
    b.cmd(&["delete", &b.id]).ok();
    b.assert_nothing_left();
}

#[test]
fn exit_code_reaches_the_reaper() {
    let mut b = Bundle::new("exit7");
    b.sh("exit 7");
    assert_eq!(b.run().0, Exit::Code(7));
    assert_eq!(b.status(), "stopped");
}

#[test]
fn init_killed_by_signal_reports_the_signal() {
    let mut b = Bundle::new("sigkill");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    b.cmd(&["kill", &b.id, "KILL"]).ok();
    assert_eq!(b.wait(), Exit::Signal(9));
}

#[test]
fn kill_with_number_15_reaches_a_trapping_init() {
    let mut b = Bundle::new("sigterm");
    // pid 1 of a pid namespace ignores signals it has no handler for: trap it.
    b.sh("trap 'echo got-term; exit 42' TERM; echo ready > /tmp/ready; while :; do sleep 0.1; done");
    let pid = b.create_ok();
    b.start();
    let ready = b.rootfs().join("tmp/ready");
    wait_until("the trap to be set", EXIT_GUARD, || {
        (ready.exists().then_some(()), String::new())
    })
    .unwrap();
    b.cmd(&["kill", &b.id, "15"]).ok();
    assert_eq!(wait_pid(pid), Exit::Code(42));
    b.exited = Some(Exit::Code(42));
    assert!(b.stdout().contains("got-term"), "{}", b.stdout());
}

#[test]
fn kill_all_signals_every_process() {
    let mut b = Bundle::new("killall");
    b.sh("sleep 1000 & sleep 1000 & echo started > /tmp/started; wait");
    b.create_ok();
    b.start();
    let started = b.rootfs().join("tmp/started");
    wait_until("children to start", EXIT_GUARD, || {
        (started.exists().then_some(()), String::new())
    })
    .unwrap();
    let pids = b.cmd(&["ps", "--format", "json", &b.id]).ok().json();
    assert!(
        pids.as_array().is_some_and(|a| a.len() >= 3),
        "expected init + 2 sleeps: {pids}"
    );
    b.cmd(&["kill", "--all", &b.id, "KILL"]).ok();
    assert_eq!(b.wait(), Exit::Signal(9));
    let procs = b.cgroup("pids").join("cgroup.procs");
    wait_until("the cgroup to empty", EXIT_GUARD, || {
        let t = fs::read_to_string(&procs).unwrap_or_default();
        (t.trim().is_empty().then_some(()), t)
    })
    .unwrap();
}

#[test]
fn delete_running_needs_force() {
    let mut b = Bundle::new("delrun");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let r = b.cmd(&["delete", &b.id]).fails();
    assert!(r.stderr.contains(&b.id) && r.stderr.contains("running"), "{r:#?}");
    assert_eq!(b.status(), "running", "a refused delete must leave the container alone");
    b.cmd(&["delete", "--force", &b.id]).ok();
    assert_eq!(b.wait(), Exit::Signal(9));
    b.assert_nothing_left();
}

#[test]
fn delete_created_container() {
    let mut b = Bundle::new("delcreated");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.cmd(&["delete", &b.id]).ok();
    assert_eq!(b.wait(), Exit::Signal(9), "the waiting init must be killed");
    b.assert_nothing_left();
}

#[test]
fn start_twice_fails() {
    let mut b = Bundle::new("start2");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let r = b.cmd(&["start", &b.id]).fails();
    assert!(r.stderr.contains(&b.id) && r.stderr.contains("running"), "{r:#?}");
    assert_eq!(b.status(), "running");
}

#[test]
fn unknown_id_errors_name_the_id() {
    let tmp = tempfile::tempdir().unwrap();
    let id = "no-such-container-e2e";
    for verb in [
        vec!["state", id],
        vec!["start", id],
        vec!["kill", id, "KILL"],
        vec!["delete", id],
        vec!["pause", id],
        vec!["ps", id],
        vec!["exec", id, "true"],
        vec!["events", "--stats", id],
    ] {
        let r = exec_cmd(rt(tmp.path()).args(&verb)).fails();
        assert!(
            r.stderr.contains(id) && r.stderr.contains("does not exist"),
            "`{}`: expected an error naming {id}: {r:#?}",
            verb[0]
        );
    }
}

#[test]
fn duplicate_id_fails_and_keeps_the_first() {
    let mut a = Bundle::new("dup");
    a.args(&["sleep", "1000"]);
    let pid = a.create_ok();
    let mut b = a.sibling("dup2");
    b.id = a.id.clone();
    b.spec["linux"]["cgroupsPath"] = json!(format!("/sealrun-e2e/{}-other", a.id));
    let r = b.create().fails();
    assert!(
        r.stderr.contains(&a.id) && r.stderr.contains("already exists"),
        "{r:#?}"
    );
    b.id = format!("{}-never-created", a.id); // nothing of b's to clean up
    let s = a.state();
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["pid"], json!(pid));
    a.start();
    assert_eq!(a.status(), "running");
    assert!(!cgroup_dir("memory", &format!("{}-other", a.id)).exists());
}

#[test]
fn list_shows_every_container() {
    let mut a = Bundle::new("lista");
    a.args(&["sleep", "1000"]);
    a.create_ok();
    let mut b = a.sibling("listb");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();

    let table = a.cmd(&["list"]).ok().stdout;
    for (id, status) in [(&a.id, "created"), (&b.id, "running")] {
        let line = table
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("{id} not in:\n{table}"));
        assert!(line.contains(status), "{line}");
    }
    let v = a.cmd(&["list", "--format", "json"]).ok().json();
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 2, "{v}");
    let find = |id: &str| {
        arr.iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing: {v}"))
    };
    assert_eq!(find(&a.id)["status"], "created");
    assert_eq!(find(&b.id)["status"], "running");
    assert_eq!(find(&b.id)["pid"], json!(b.pid()));
    let quiet = a.cmd(&["list", "-q"]).ok().stdout;
    let ids: BTreeSet<&str> = quiet.lines().collect();
    assert_eq!(ids, BTreeSet::from([a.id.as_str(), b.id.as_str()]));
}

#[test]
fn ps_json_lists_the_init() {
    let mut b = Bundle::new("ps");
    b.args(&["sleep", "1000"]);
    let pid = b.create_ok();
    b.start();
    let v = b.cmd(&["ps", "--format", "json", &b.id]).ok().json();
    assert_eq!(v, json!([pid]));
}

#[test]
fn pause_and_resume() {
    let mut b = Bundle::new("pause");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    b.cmd(&["pause", &b.id]).ok();
    assert_eq!(b.status(), "paused");
    let freezer = b.cgroup("freezer").join("freezer.state");
    assert_eq!(fs::read_to_string(&freezer).unwrap().trim(), "FROZEN");
    let r = b.cmd(&["resume", &b.id]).ok();
    assert_eq!(b.status(), "running", "{r:#?}");
    assert_eq!(fs::read_to_string(&freezer).unwrap().trim(), "THAWED");
    let r = b.cmd(&["resume", &b.id]).fails();
    assert!(r.stderr.contains("paused"), "resume of a running container: {r:#?}");
}

#[test]
fn update_pids_limit_from_stdin() {
    let mut b = Bundle::new("updpids");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let mut cmd = rt(&b.root);
    cmd.args(["update", "--resources", "-", &b.id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn update");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids": {"limit": 42}}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Res::from_output(&cmd, out).ok();
    assert_eq!(
        fs::read_to_string(b.cgroup("pids").join("pids.max")).unwrap().trim(),
        "42"
    );
}

#[test]
fn update_memory_limit() {
    let mut b = Bundle::new("updmem");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    b.cmd(&["update", "--memory", "64m", &b.id]).ok();
    let limit = fs::read_to_string(b.cgroup("memory").join("memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
}

#[test]
fn events_stats_reports_memory_usage() {
    let mut b = Bundle::new("events");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let v = b.cmd(&["events", "--stats", &b.id]).ok().json();
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], json!(b.id));
    let usage = v["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0);
    assert!(usage > 0, "memory usage should be > 0: {v}");
    assert!(v["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1, "{v}");
}

#[test]
fn log_json_records_a_failed_create() {
    let mut b = Bundle::new("logjson");
    b.args(&["no-such-program"]);
    let log = b.scratch("log").join("runtime.log");
    let log_s = log.to_string_lossy().into_owned();
    b.create_with(&["--log", &log_s, "--log-format", "json"], &[], &[])
        .fails();
    let text = fs::read_to_string(&log).expect("log file written");
    let errors: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("log line {l:?} is not JSON: {e}")))
        .filter(|v| v["level"] == "error")
        .collect();
    assert!(
        errors.iter().any(|v| v["msg"]
            .as_str()
            .is_some_and(|m| m.contains("executable file not found"))),
        "no error line naming the problem in:\n{text}"
    );
    assert!(
        errors.iter().all(|v| v["time"].as_str().is_some_and(is_rfc3339)),
        "{text}"
    );
    b.assert_nothing_left();
}

#[test]
fn run_returns_the_exit_code_and_cleans_up() {
    let mut b = Bundle::new("run");
    b.sh("echo from-run; exit 5");
    b.write_config();
    let r = exec_cmd(rt(&b.root).arg("run").arg("--bundle").arg(&b.dir).arg(&b.id));
    assert_eq!(r.code, 5, "{r:#?}");
    assert!(r.stdout.contains("from-run"), "{r:#?}");
    b.assert_nothing_left();
}

#[test]
fn run_with_a_terminal_proxies_the_pty() {
    // No --console-socket: `run` takes the pty master itself, like runc.
    let mut b = Bundle::new("runtty");
    b.spec["process"]["terminal"] = json!(true);
    b.sh("tty; echo from-tty; exit 4");
    b.write_config();
    let r = exec_cmd(rt(&b.root).arg("run").arg("--bundle").arg(&b.dir).arg(&b.id));
    assert_eq!(r.code, 4, "{r:#?}");
    assert!(r.stdout.contains("/dev/pts/0"), "{r:#?}");
    // Output passed through a pty: line ends are \r\n.
    assert!(r.stdout.contains("from-tty\r\n"), "{r:#?}");
    b.assert_nothing_left();
}

#[test]
fn exec_inline_returns_the_exit_code() {
    let mut b = Bundle::new("exec");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let r = b.cmd(&["exec", &b.id, "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(r.stdout.contains("in-exec"), "{r:#?}");
}

#[test]
fn exec_with_process_file() {
    let mut b = Bundle::new("execp");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let p = b.scratch("exec").join("process.json");
    let process = json!({
        "args": ["sh", "-c", "echo FOO=$FOO; pwd; id -u"],
        "env": ["PATH=/bin", "FOO=bar"],
        "cwd": "/tmp",
        "user": {"uid": 65534, "gid": 65534},
    });
    fs::write(&p, process.to_string()).unwrap();
    let r = b.cmd(&["exec", "--process", &p.to_string_lossy(), &b.id]).ok();
    assert_eq!(r.stdout, "FOO=bar\n/tmp\n65534\n", "{r:#?}");
}

#[test]
fn exec_detached_joins_pid_namespace_and_cgroup() {
    let mut b = Bundle::new("execd");
    b.args(&["sleep", "1000"]);
    let init = b.create_ok();
    b.start();
    let pid_file = b.scratch("exec").join("exec.pid");
    let mut cmd = rt(&b.root);
    cmd.args([
        "exec",
        "--detach",
        "--pid-file",
        &pid_file.to_string_lossy(),
        &b.id,
        "sleep",
        "999",
    ]);
    cmd.stdout(Stdio::null())
        .stderr(fs::File::create(b.scratch("exec").join("err")).unwrap());
    let st = cmd.status().unwrap();
    assert!(
        st.success(),
        "exec --detach failed: {}",
        fs::read_to_string(b.scratch("exec").join("err")).unwrap()
    );
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    wait_exec(pid, "sleep 999");
    for ns in ["pid", "net", "mnt", "ipc", "uts", "cgroup"] {
        let mine = fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        let init_ns = fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        assert_eq!(mine, init_ns, "exec'd process is not in the container's {ns} namespace");
    }
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap(),
        fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap(),
        "exec'd process is not in the container's cgroups"
    );
    let in_container = b.cmd(&["ps", "--format", "json", &b.id]).ok().json();
    assert!(in_container.as_array().unwrap().contains(&json!(pid)), "{in_container}");
    assert_eq!(open_fds(pid), BTreeSet::from([0, 1, 2]), "exec --detach leaked fds");
}

#[test]
fn preserve_fds_passes_fd_3() {
    let mut b = Bundle::new("preserve");
    let target = b.scratch("fds").join("fd3.txt");
    let f = fs::File::create(&target).unwrap();
    b.sh("echo via-fd3 >&3");
    b.create_with(&[], &["--preserve-fds", "1"], &[&f]).ok();
    b.start();
    assert_eq!(b.wait(), Exit::Code(0), "{}", b.stderr());
    assert_eq!(fs::read_to_string(&target).unwrap(), "via-fd3\n");
}

#[test]
fn without_preserve_fds_fd_3_is_closed() {
    let mut b = Bundle::new("nopreserve");
    let target = b.scratch("fds").join("fd3.txt");
    let f = fs::File::create(&target).unwrap();
    b.sh("echo via-fd3 >&3 && echo wrote || echo fd3-closed");
    b.create_with(&[], &[], &[&f]).ok();
    b.start();
    b.wait();
    assert!(b.stdout().contains("fd3-closed"), "{}", b.stdout());
    assert_eq!(fs::read_to_string(&target).unwrap(), "");
}

#[test]
fn exec_inline_flags() {
    let mut b = Bundle::new("execflags");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let r = b
        .cmd(&[
            "exec",
            "--cwd",
            "/tmp",
            "--env",
            "A=b c",
            "--user",
            "1000:1000",
            &b.id,
            "sh",
            "-c",
            "pwd; echo $A; id -u; id -g",
        ])
        .ok();
    assert_eq!(r.stdout, "/tmp\nb c\n1000\n1000\n", "{r:#?}");
}

#[test]
fn stopped_container_refuses_kill_and_exec() {
    let mut b = Bundle::new("stopped");
    b.args(&["sleep", "1000"]);
    let pid = b.create_ok();
    b.start();
    // Killed behind the runtime's back: state must notice.
    // SAFETY: kill on the container's init, our (re-parented) child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(b.wait(), Exit::Signal(9));
    assert_eq!(b.status(), "stopped");
    let r = b.cmd(&["kill", &b.id, "TERM"]).fails();
    assert!(r.stderr.contains(&b.id) && r.stderr.contains("stopped"), "{r:#?}");
    let r = b.cmd(&["exec", &b.id, "true"]).fails();
    assert!(r.stderr.contains("stopped"), "{r:#?}");
    b.cmd(&["delete", &b.id]).ok();
    b.assert_nothing_left();
}

// ---- bad input leaves nothing behind ------------------------------------------------------

#[track_caller]
fn assert_create_fails(b: &mut Bundle, expect_in_msg: &[&str]) -> Res {
    let r = b.create().fails();
    for s in expect_in_msg {
        assert!(r.stderr.contains(s), "expected {s:?} in the error: {r:#?}");
    }
    b.assert_nothing_left();
    r
}

#[test]
fn bad_input_missing_config() {
    let mut b = Bundle::new("nocfg");
    let r = exec_cmd(rt(&b.root).arg("create").arg("--bundle").arg(&b.dir).arg(&b.id)).fails();
    assert!(r.stderr.contains("config.json"), "{r:#?}");
    b.pid = None;
    b.assert_nothing_left();
}

#[test]
fn bad_input_invalid_json_names_file_and_line() {
    let b = Bundle::new("badjson");
    fs::write(
        b.dir.join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  oops\n}\n",
    )
    .unwrap();
    let r = exec_cmd(rt(&b.root).arg("create").arg("--bundle").arg(&b.dir).arg(&b.id)).fails();
    assert!(
        r.stderr.contains("config.json") && r.stderr.contains("line 3"),
        "{r:#?}"
    );
    b.assert_nothing_left();
}

#[test]
fn bad_input_missing_rootfs() {
    let mut b = Bundle::new("norootfs");
    b.spec["root"]["path"] = json!("no-such-rootfs");
    assert_create_fails(&mut b, &["root.path", "no-such-rootfs"]);
}

#[test]
fn bad_input_bad_namespace_path() {
    let mut b = Bundle::new("badns");
    b.add_namespace(json!({"type": "network", "path": "/proc/999999999/ns/net"}));
    assert_create_fails(&mut b, &["/proc/999999999/ns/net"]);
}

#[test]
fn bad_input_bad_seccomp_op() {
    let mut b = Bundle::new("badop");
    b.spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]
    });
    assert_create_fails(&mut b, &["SCMP_CMP_BOGUS"]);
}

#[test]
fn bad_input_missing_executable() {
    let mut b = Bundle::new("noexe");
    b.args(&["no-such-program"]);
    assert_create_fails(&mut b, &["no-such-program", "executable file not found"]);
}

#[test]
fn bad_input_bad_cwd() {
    let mut b = Bundle::new("badcwd");
    b.spec["process"]["cwd"] = json!("/no/such/dir");
    assert_create_fails(&mut b, &["process.cwd", "/no/such/dir"]);
}

#[test]
fn bad_input_relative_mount_destination() {
    let mut b = Bundle::new("relmnt");
    b.add_mount(json!({"destination": "relative/dir", "type": "tmpfs", "source": "tmpfs"}));
    assert_create_fails(&mut b, &["destination"]);
}

// ---- process setup ------------------------------------------------------------------------

#[test]
fn hostname_env_and_cwd() {
    let mut b = Bundle::new("procenv");
    b.spec["hostname"] = json!("e2e-host");
    b.spec["process"]["env"] = json!(["PATH=/bin", "GREETING=hello world"]);
    b.spec["process"]["cwd"] = json!("/tmp");
    b.sh("hostname; echo \"$GREETING\"; pwd");
    assert_eq!(b.run_ok(), "e2e-host\nhello world\n/tmp\n");
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "e2e-host", "the host's hostname changed");
}

#[test]
fn user_groups_and_umask() {
    let mut b = Bundle::new("user");
    b.spec["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63});
    b.sh("id; umask; touch /tmp/f; stat -c '%u:%g %a' /tmp/f");
    assert_eq!(b.run_ok(), "uid=1000 gid=1000 groups=10,20\n0077\n1000:1000 600\n");
}

#[test]
fn rlimits_apply() {
    let mut b = Bundle::new("rlimit");
    b.spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
    b.sh("ulimit -n; ulimit -H -n");
    assert_eq!(b.run_ok(), "256\n512\n");
}

#[test]
fn capabilities_match_the_spec() {
    let mut b = Bundle::new("caps");
    let only = json!(["CAP_NET_BIND_SERVICE"]);
    b.spec["process"]["capabilities"] = json!({
        "bounding": only, "effective": only, "permitted": only, "inheritable": only, "ambient": only
    });
    b.sh("cat /proc/self/status");
    let status = b.run_ok();
    let want = format!("{:016x}", caps_mask(&["CAP_NET_BIND_SERVICE"]));
    for f in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(status_field(&status, f), want, "{f}");
    }
}

#[test]
fn default_capabilities_are_the_specs() {
    let mut b = Bundle::new("defcaps");
    b.sh("cat /proc/self/status");
    let status = b.run_ok();
    let names: Vec<String> = serde_json::from_value(b.spec["process"]["capabilities"]["bounding"].clone()).unwrap();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let want = format!("{:016x}", caps_mask(&names));
    assert_eq!(status_field(&status, "CapBnd"), want);
    assert_eq!(status_field(&status, "CapEff"), want);
}

#[test]
fn no_new_privileges() {
    for (nnp, want) in [(true, "1"), (false, "0")] {
        let mut b = Bundle::new("nnp");
        b.spec["process"]["noNewPrivileges"] = json!(nnp);
        b.sh("cat /proc/self/status");
        let status = b.run_ok();
        assert_eq!(status_field(&status, "NoNewPrivs"), want, "noNewPrivileges {nnp}");
    }
}

#[test]
fn oom_score_adj_applies() {
    let current: i32 = fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Raising it needs no privilege (this machine lacks CAP_SYS_RESOURCE).
    let want = (current.max(0) + 123).min(1000);
    let mut b = Bundle::new("oomadj");
    b.spec["process"]["oomScoreAdj"] = json!(want);
    b.sh("cat /proc/self/oom_score_adj");
    assert_eq!(b.run_ok().trim(), want.to_string());
}

#[test]
fn sysctl_in_new_netns() {
    let host_before = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut b = Bundle::new("sysctl");
    b.spec["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    b.sh("cat /proc/sys/net/ipv4/ip_forward");
    assert_eq!(b.run_ok(), "1\n");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_before,
        "host sysctl changed"
    );
}

#[test]
fn readonly_rootfs_keeps_tmpfs_writable() {
    let mut b = Bundle::new("rorootfs");
    b.spec["root"]["readonly"] = json!(true);
    b.add_mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}));
    b.sh("touch /rootfile 2>&1 || echo root-ro; touch /tmp/ok && echo tmp-rw");
    let out = b.run_ok();
    assert!(
        out.contains("Read-only file system") && out.contains("root-ro"),
        "{out}"
    );
    assert!(out.contains("tmp-rw"), "{out}");
    assert!(!b.rootfs().join("rootfile").exists());
}

#[test]
fn masked_paths_are_empty() {
    // /proc/kcore does not exist on this kernel; /proc/timer_list (masked by the default
    // spec) does, and root could read it were it not masked.
    assert!(Path::new("/proc/timer_list").exists());
    let mut b = Bundle::new("masked");
    fs::write(b.rootfs().join("root/secret"), "top secret").unwrap();
    fs::write(b.rootfs().join("etc/secret-file"), "top secret").unwrap();
    b.spec["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .extend([json!("/root"), json!("/etc/secret-file")]);
    b.sh("wc -c < /proc/timer_list; ls -A /root | wc -l; cat /etc/secret-file; echo end");
    assert_eq!(b.run_ok(), "0\n0\nend\n");
}

#[test]
fn readonly_paths_are_not_writable() {
    let mut b = Bundle::new("ropaths");
    b.sh("echo x 2>&1 > /proc/sys/kernel/hostname || echo refused; grep ' /proc/sys ' /proc/self/mountinfo");
    let out = b.run_ok();
    assert!(out.contains("refused"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains(" /proc/sys "))
        .unwrap_or_else(|| panic!("/proc/sys not a mount: {out}"));
    assert!(
        line.split(' ').nth(5).is_some_and(|o| o.split(',').any(|f| f == "ro")),
        "{line}"
    );
}

#[test]
fn devices_default_and_extra() {
    let mut b = Bundle::new("devices");
    b.spec["linux"]["devices"] = json!([
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}
    ]);
    b.sh("echo hi > /dev/null && head -c 4 /dev/zero | wc -c; stat -c '%F %t:%T %a' /dev/fuse /dev/null; ls /dev/fuse");
    let out = b.run_ok();
    assert_eq!(
        out,
        "4\ncharacter special file a:e5 666\ncharacter special file 1:3 666\n/dev/fuse\n"
    );
}

#[test]
fn namespaces_pid_uts_ipc_net() {
    let mut b = Bundle::new("ns");
    b.spec["hostname"] = json!("nshost");
    b.sh("echo pid=$$; hostname; readlink /proc/self/ns/ipc; ls /sys/class/net; ip link show lo");
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1", "{out}");
    assert_eq!(lines[1], "nshost");
    let host_ipc = fs::read_link("/proc/self/ns/ipc").unwrap();
    assert_ne!(lines[2], host_ipc.to_string_lossy(), "ipc namespace is the host's");
    assert_eq!(lines[3], "lo", "only lo expected: {out}");
    assert!(lines.len() == 6 || lines.len() == 5, "{out}");
    assert!(
        lines[4].contains("lo:") && lines[4].contains(",UP"),
        "lo is not UP: {out}"
    );
}

#[test]
fn cgroup_namespace_shows_root() {
    let mut b = Bundle::new("cgns");
    b.sh("cat /proc/self/cgroup");
    let out = b.run_ok();
    assert!(!out.is_empty());
    for l in out.lines() {
        assert!(l.ends_with(":/"), "not at the cgroup namespace root: {l}\n{out}");
    }
}

#[test]
fn user_namespace_with_mappings() {
    let mut b = Bundle::new("userns");
    b.add_namespace(json!({"type": "user"}));
    b.spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.add_mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    b.sh("cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f; stat -c '%u:%g' /tmp/f; id -u");
    let pid = b.create_ok();
    let host_status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status_field(&host_status, "Uid").starts_with("100000"), "{host_status}");
    b.start();
    let e = b.wait();
    let out = b.stdout();
    assert_eq!(e, Exit::Code(0), "stdout: {out}\nstderr: {}", b.stderr());
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        ["0", "100000", "65536", "0", "100000", "65536", "0:0", "0"],
        "{out}"
    );
}

#[test]
fn join_network_namespace_by_path() {
    let mut a = Bundle::new("netA");
    a.args(&["sleep", "1000"]);
    let a_pid = a.create_ok();
    a.start();
    let a_net = fs::read_link(format!("/proc/{a_pid}/ns/net")).unwrap();
    let mut b = a.sibling("netB");
    b.add_namespace(json!({"type": "network", "path": format!("/proc/{a_pid}/ns/net")}));
    b.sh("readlink /proc/self/ns/net");
    assert_eq!(b.run_ok().trim(), a_net.to_string_lossy());
    let host_net = fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(a_net, host_net);
}

#[test]
fn time_namespace_offsets() {
    let host_uptime: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let offset = 100 * 86400;
    let mut b = Bundle::new("timens");
    b.add_namespace(json!({"type": "time"}));
    b.spec["linux"]["timeOffsets"] = json!({
        "boottime": {"secs": offset, "nanosecs": 0},
        "monotonic": {"secs": offset, "nanosecs": 0}
    });
    b.sh("cat /proc/uptime; readlink /proc/self/ns/time");
    let out = b.run_ok();
    let uptime: f64 = out.split(' ').next().unwrap().parse().unwrap();
    assert!(
        uptime >= host_uptime + offset as f64,
        "uptime {uptime} in the container, host {host_uptime}"
    );
    assert_ne!(
        out.lines().nth(1).unwrap(),
        fs::read_link("/proc/self/ns/time").unwrap().to_string_lossy()
    );
}

#[test]
fn mounts_bind_ro_tmpfs_size_and_propagation() {
    let mut b = Bundle::new("mounts");
    let host = b.scratch("hostdir");
    fs::write(host.join("marker"), "hello-bind").unwrap();
    b.add_mount(json!({"destination": "/mnt/host", "type": "bind", "source": host, "options": ["rbind", "ro"]}));
    b.add_mount(
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=1777"]}),
    );
    b.add_mount(json!({"destination": "/mnt/slave", "type": "bind", "source": host, "options": ["rbind", "rslave"]}));
    b.sh(
        "cat /mnt/host/marker; echo; touch /mnt/host/new 2>/dev/null || echo bind-ro; \
          grep ' /scratch ' /proc/self/mountinfo; cat /mnt/slave/marker",
    );
    let out = b.run_ok();
    assert!(out.starts_with("hello-bind\nbind-ro\n"), "{out}");
    assert!(!host.join("new").exists());
    let scratch = out
        .lines()
        .find(|l| l.contains(" /scratch "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(scratch.contains("size=1024k"), "{scratch}");
    assert!(out.ends_with("hello-bind"), "{out}");
}

#[test]
fn mount_option_shared_is_applied() {
    let mut b = Bundle::new("shared");
    b.add_mount(json!({"destination": "/shared", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]}));
    b.sh("grep ' /shared ' /proc/self/mountinfo");
    let out = b.run_ok();
    let shared = out
        .lines()
        .find(|l| l.contains(" /shared "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        shared.contains(" shared:"),
        "mounts[].options \"shared\" not applied: {out}"
    );
}

#[test]
fn rootfs_propagation_keeps_per_mount_propagation() {
    let mut b = Bundle::new("rootprop");
    b.add_mount(json!({"destination": "/shared", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]}));
    b.spec["linux"]["rootfsPropagation"] = json!("rprivate");
    b.sh("grep ' /shared ' /proc/self/mountinfo");
    let out = b.run_ok();
    assert!(
        out.contains(" shared:"),
        "mounts[].options \"shared\" was dropped: {out}"
    );
}

// ---- terminal -----------------------------------------------------------------------------

/// Receives one fd over SCM_RIGHTS from a connected unix socket.
fn recv_fd(sock: RawFd) -> std::io::Result<OwnedFd> {
    let mut data = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut control = [0u64; 8]; // u64 for cmsghdr alignment; 64 bytes ≥ CMSG_SPACE(4)
                                 // SAFETY: an all-zero msghdr is valid; the pointers we set live across recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: recvmsg on a valid socket with a msghdr whose buffers are ours.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: msg was filled by recvmsg; CMSG_* walk its control buffer.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_level != libc::SOL_SOCKET || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err(std::io::Error::other("no SCM_RIGHTS message"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const RawFd);
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// A console socket: accepts one connection and returns the fd sent over it.
fn console_socket(dir: &Path) -> (PathBuf, std::thread::JoinHandle<std::io::Result<OwnedFd>>) {
    let path = dir.join("console.sock");
    let listener = UnixListener::bind(&path).expect("binding the console socket");
    listener.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let deadline = Instant::now() + EXIT_GUARD;
        loop {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false)?;
                    s.set_read_timeout(Some(EXIT_GUARD))?;
                    return recv_fd(s.as_raw_fd());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    sleep(Duration::from_millis(20))
                }
                Err(e) => return Err(e),
            }
        }
    });
    (path, h)
}

/// Everything readable from a pty master until the slave side is gone (EIO).
fn drain_pty(master: &OwnedFd) -> String {
    let mut f = fs::File::from(master.try_clone().unwrap());
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("reading the pty: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn terminal_via_console_socket() {
    let mut b = Bundle::new("tty");
    b.spec["process"]["terminal"] = json!(true);
    b.sh("tty; test -c /dev/console && echo console-is-chardev; echo tty-done");
    let (sock, h) = console_socket(&b.scratch("console"));
    b.create_with(&[], &["--console-socket", &sock.to_string_lossy()], &[])
        .ok();
    let master = h.join().unwrap().expect("receiving the pty master");
    let link = fs::read_link(format!("/proc/self/fd/{}", master.as_raw_fd())).unwrap();
    assert!(
        link.to_string_lossy().contains("ptmx"),
        "received fd is {}",
        link.display()
    );
    b.start();
    assert_eq!(b.wait(), Exit::Code(0), "{}", b.stderr());
    let out = drain_pty(&master);
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(out.contains("console-is-chardev"), "{out:?}");
    assert!(out.contains("tty-done"), "{out:?}");
}

#[test]
fn exec_with_tty_via_console_socket() {
    let mut b = Bundle::new("exectty");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let (sock, h) = console_socket(&b.scratch("console"));
    let r = b.cmd(&[
        "exec",
        "--tty",
        "--console-socket",
        &sock.to_string_lossy(),
        &b.id,
        "sh",
        "-c",
        "tty; echo exec-tty-ok; exit 6",
    ]);
    let master = h.join().unwrap().expect("receiving the exec's pty master");
    assert_eq!(r.code, 6, "{r:#?}");
    let out = drain_pty(&master);
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert!(out.contains("exec-tty-ok"), "{out:?}");
}

#[test]
fn events_stream_reports_stats_then_ends_when_the_container_stops() {
    let mut b = Bundle::new("eventsstream");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    let mut child = rt(&b.root)
        .args(["events", "--interval", "100ms", &b.id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut lines, &mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], json!(b.id));
    b.cmd(&["kill", &b.id, "KILL"]).ok();
    // The stream ends by itself once the container is stopped.
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "events exited with {status}");
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let mut b = Bundle::new("ttynosock");
    b.spec["process"]["terminal"] = json!(true);
    assert_create_fails(&mut b, &["console-socket"]);
}

// ---- hooks --------------------------------------------------------------------------------

/// A hook run on the host that saves its stdin to DIR/PHASE.json and appends PHASE to
/// DIR/order.
fn host_hook(dir: &Path, phase: &str) -> Value {
    let d = dir.display();
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("cat > {d}/{phase}.json; echo {phase} >> {d}/order")],
        "env": ["PATH=/usr/bin:/bin"]
    })
}

fn read_json(p: &Path) -> Value {
    let t = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}: {t:?}", p.display()))
}

fn hooked_bundle(tag: &str) -> (Bundle, PathBuf) {
    let mut b = Bundle::new(tag);
    let dir = b.scratch("hooks");
    fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    b.add_mount(json!({"destination": "/hooks", "type": "bind", "source": dir, "options": ["rbind", "rw"]}));
    b.spec["hooks"] = json!({
        "prestart": [host_hook(&dir, "prestart")],
        "createRuntime": [host_hook(&dir, "createRuntime")],
        "createContainer": [host_hook(&dir, "createContainer")],
        // Runs in the container after pivot_root: the container's sh, the bind at /hooks.
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c",
            "cat > /hooks/startContainer.json; echo startContainer >> /hooks/order"], "env": ["PATH=/bin"]}],
        "poststart": [host_hook(&dir, "poststart")],
        "poststop": [host_hook(&dir, "poststop")],
    });
    (b, dir)
}

#[test]
fn hooks_run_in_order_with_state() {
    let (mut b, dir) = hooked_bundle("hooks");
    let pid = b.create_ok();
    b.start();
    assert_eq!(b.wait(), Exit::Code(0), "{}", b.stderr());
    b.cmd(&["delete", &b.id]).ok();
    let order = fs::read_to_string(dir.join("order")).unwrap();
    let order: Vec<&str> = order.lines().collect();
    let pos = |p: &str| {
        order
            .iter()
            .position(|x| *x == p)
            .unwrap_or_else(|| panic!("{p} did not run: {order:?}"))
    };
    // startContainer (in the init) and poststart (in `start`) are checked against the
    // phases around them; their mutual order is the subject of another test.
    assert!(pos("prestart") < pos("createRuntime"), "{order:?}");
    assert!(pos("createRuntime") < pos("createContainer"), "{order:?}");
    assert!(pos("createContainer") < pos("startContainer"), "{order:?}");
    assert!(pos("createContainer") < pos("poststart"), "{order:?}");
    assert_eq!(*order.last().unwrap(), "poststop", "{order:?}");
    assert_eq!(order.len(), 6, "each hook exactly once: {order:?}");

    for (phase, statuses) in [
        ("prestart", &["creating", "created"][..]),
        ("createRuntime", &["creating", "created"][..]),
        ("createContainer", &["creating", "created"][..]),
        ("startContainer", &["created", "running"][..]),
        ("poststart", &["running"][..]),
        ("poststop", &["stopped"][..]),
    ] {
        let s = read_json(&dir.join(format!("{phase}.json")));
        assert_eq!(s["id"], json!(b.id), "{phase}: {s}");
        assert!(
            statuses.contains(&s["status"].as_str().unwrap_or("")),
            "{phase}: status {s}"
        );
        assert_eq!(s["bundle"], json!(b.dir.to_string_lossy()), "{phase}: {s}");
        if phase != "poststop" {
            assert_eq!(s["pid"], json!(pid), "{phase}: {s}");
        }
    }
}

#[test]
fn poststart_runs_after_the_user_process_started() {
    let (mut b, dir) = hooked_bundle("poststart");
    // Widen the window between the fifo and execve; poststart must still come after.
    b.spec["hooks"]["startContainer"] = json!([{"path": "/bin/sh", "args": ["sh", "-c",
        "sleep 1; echo startContainer >> /hooks/order"], "env": ["PATH=/bin"]}]);
    let d = dir.display();
    b.spec["hooks"]["poststart"] = json!([{"path": "/bin/sh", "args": ["sh", "-c", format!(
        "s=$(cat); pid=$(echo \"$s\" | sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p'); \
         tr '\\0' ' ' < /proc/$pid/cmdline > {d}/poststart.cmdline; echo poststart >> {d}/order")],
        "env": ["PATH=/usr/bin:/bin"]}]);
    b.args(&["sleep", "30"]);
    b.create_ok();
    b.start();
    let order = fs::read_to_string(dir.join("order")).unwrap();
    let cmd = fs::read_to_string(dir.join("poststart.cmdline")).unwrap_or_default();
    assert!(
        cmd.starts_with("sleep 30"),
        "poststart saw the init running {cmd:?}, not the user process"
    );
    let order: Vec<&str> = order.lines().collect();
    let sc = order.iter().position(|x| *x == "startContainer");
    let ps = order.iter().position(|x| *x == "poststart");
    assert!(
        sc.is_some() && sc < ps,
        "startContainer must finish before poststart: {order:?}"
    );
}

#[test]
fn failing_prestart_hook_fails_create() {
    let mut b = Bundle::new("prefail");
    b.spec["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    assert_create_fails(&mut b, &["prestart"]);
}

#[test]
fn hook_timeout_kills_it_and_fails_create() {
    let mut b = Bundle::new("hooktimeout");
    let marker = format!("sealrun-e2e-hook-{}", b.id);
    b.spec["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30", marker], "timeout": 1}]});
    // `sleep 30 <marker>` fails on the extra operand in GNU sleep; use the env instead.
    b.spec["hooks"]["createRuntime"][0]["args"] = json!(["sleep", "30"]);
    b.spec["hooks"]["createRuntime"][0]["env"] = json!([format!("MARK={marker}")]);
    let r = assert_create_fails(&mut b, &["createRuntime", "timed out"]);
    assert!(!r.stderr.is_empty());
    let leftovers: Vec<_> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            fs::read(e.path().join("environ"))
                .map(|env| String::from_utf8_lossy(&env).contains(&marker))
                .unwrap_or(false)
        })
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "the timed-out hook is still running: {leftovers:?}"
    );
}

#[test]
fn failing_poststart_hook_does_not_fail_start() {
    let mut b = Bundle::new("postfail");
    b.spec["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    b.args(&["sleep", "1000"]);
    b.create_ok();
    b.start();
    assert_eq!(b.status(), "running");
}

// ---- seccomp ------------------------------------------------------------------------------

#[test]
fn seccomp_errno_rule_denies_mkdir() {
    let mut b = Bundle::new("seccomp");
    b.spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    b.sh("mkdir /tmp/x 2>&1; test -d /tmp/x && echo created || echo not-created; touch /tmp/y && echo touch-ok");
    let out = b.run_ok();
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("not-created") && out.contains("touch-ok"), "{out}");
}

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(d) => d.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

/// Docker's profile for Docker's default capabilities, through the runtime's own moby
/// importer (the same code a `docker-default` policy base uses).
fn moby_to_oci(moby: &Value) -> Value {
    use sealrun_sandbox::seccomp::moby;
    let caps = moby::DOCKER_DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    let ctx = moby::MobyContext::native(caps).expect("native context");
    serde_json::to_value(moby::import(moby, &ctx).expect("moby profile imports")).expect("json")
}

#[test]
fn seccomp_docker_default_profile() {
    let path = fixtures().join("seccomp/moby-default.json");
    let moby: Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap();
    let mut b = Bundle::new("moby");
    b.spec["linux"]["seccomp"] = moby_to_oci(&moby);
    let caps = json!(sealrun_sandbox::seccomp::moby::DOCKER_DEFAULT_CAPS);
    b.spec["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    b.sh(
        "echo shell-ok; ls /bin/busybox; unshare -n true 2>&1; echo unshare=$?; \
          nsenter -t 1 -n true 2>&1; echo nsenter=$?; mkdir /tmp/d && echo mkdir-ok",
    );
    let out = b.run_ok();
    assert!(out.contains("shell-ok\n/bin/busybox\n"), "{out}");
    assert!(out.contains("mkdir-ok"), "{out}");
    let rc = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("{k} missing: {out}"))
            .to_string()
    };
    assert_ne!(rc("unshare="), "0", "unshare must be denied: {out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert_ne!(rc("nsenter="), "0", "setns must be denied: {out}");
}

// ---- cgroups enforced ---------------------------------------------------------------------

#[test]
fn memory_limit_oom_kills() {
    let mut b = Bundle::new("oom");
    b.spec["linux"]["resources"]["memory"] = json!({"limit": 32 << 20, "swap": 32 << 20});
    b.sh("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived");
    let (e, out) = b.run();
    assert_eq!(e, Exit::Signal(libc::SIGKILL), "stdout: {out}");
    assert!(!out.contains("survived"));
    let limit = fs::read_to_string(b.cgroup("memory").join("memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), (32u64 << 20).to_string());
    let oom = fs::read_to_string(b.cgroup("memory").join("memory.oom_control")).unwrap();
    let kills: u64 = oom
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(kills >= 1, "{oom}");
}

#[test]
fn pids_limit_stops_forks() {
    let mut b = Bundle::new("pids");
    b.spec["linux"]["resources"]["pids"] = json!({"limit": 10});
    b.sh("for i in $(seq 20); do sleep 1000 & done; echo loop-done; wait");
    b.create_ok();
    b.start();
    let events = b.cgroup("pids").join("pids.events");
    wait_until("pids.events to count a refused fork", EXIT_GUARD, || {
        let t = fs::read_to_string(&events).unwrap_or_default();
        let n: u64 = t
            .lines()
            .find_map(|l| l.strip_prefix("max "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        ((n > 0).then_some(()), t)
    })
    .unwrap();
    let current: u64 = fs::read_to_string(b.cgroup("pids").join("pids.current"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(current <= 10, "pids.current {current} exceeds the limit");
    assert_eq!(
        fs::read_to_string(b.cgroup("pids").join("pids.max")).unwrap().trim(),
        "10"
    );
}

#[test]
fn cpu_quota_throttles() {
    let mut b = Bundle::new("cpu");
    b.spec["linux"]["resources"]["cpu"] = json!({"quota": 10000, "period": 100000});
    b.sh("timeout 1 sh -c 'while :; do :; done'; exit 0");
    b.run_ok();
    let dir = b.cgroup("cpu");
    assert_eq!(
        fs::read_to_string(dir.join("cpu.cfs_quota_us")).unwrap().trim(),
        "10000"
    );
    let stat = fs::read_to_string(dir.join("cpu.stat")).unwrap();
    let throttled: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("nr_throttled "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(throttled > 0, "{stat}");
}

#[test]
fn devices_deny_rule_blocks_a_node() {
    let mut b = Bundle::new("devdeny");
    b.spec["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwm"}
    ]);
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    b.spec["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    b.add_mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    b.sh("mknod /tmp/kmsg c 1 11 && echo mknod-ok; head -c 1 /tmp/kmsg 2>&1; echo rc=$?; head -c 2 /dev/zero | wc -c");
    let out = b.run_ok();
    assert!(out.contains("mknod-ok"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("rc=1"), "{out}");
    assert!(out.ends_with("2\n"), "default devices stay usable: {out}");
    let list = fs::read_to_string(b.cgroup("devices").join("devices.list")).unwrap();
    assert!(!list.contains("a *:* rwm"), "{list}");
}

/// `mknod` a node for 1:11 (/dev/kmsg, not in the default allow list) and read it.
const KMSG_PROBE: &str =
    "mknod /tmp/kmsg c 1 11 && echo mknod-ok; head -c 1 /tmp/kmsg >/dev/null 2>&1 && echo read-ok || echo read-denied";

fn kmsg_bundle(tag: &str) -> Bundle {
    let mut b = Bundle::new(tag);
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    b.spec["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    b.add_mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    b.sh(KMSG_PROBE);
    b
}

#[test]
fn devices_cgroup_denies_unlisted_devices_with_empty_rules() {
    // The default spec's `"devices": []`: only the default devices are allowed (runc
    // builds its device rules from a deny-all baseline).
    let mut b = kmsg_bundle("devempty");
    b.spec["linux"]["resources"]["devices"] = json!([]);
    assert_eq!(b.run_ok(), "mknod-ok\nread-denied\n");
}

#[test]
fn devices_cgroup_denies_unlisted_devices_without_rules() {
    let mut b = kmsg_bundle("devnone");
    b.spec["linux"]["resources"].as_object_mut().unwrap().remove("devices");
    assert_eq!(b.run_ok(), "mknod-ok\nread-denied\n");
}

// ---- security regressions -----------------------------------------------------------------

#[test]
fn cve_2019_5736_runtime_binary_not_reachable_from_container() {
    let bin = runtime_binary();
    let before = sha256(&bin);
    // A: created, not started: its init is still the runtime binary, waiting on the fifo.
    let mut a = Bundle::new("5736a");
    a.args(&["sleep", "1000"]);
    let a_pid = a.create_ok();
    assert_eq!(
        fs::read_link(format!("/proc/{a_pid}/exe")).unwrap(),
        fs::canonicalize(&bin).unwrap(),
        "the waiting init should still run the runtime binary"
    );
    // B shares A's pid namespace: A's init is its pid 1.
    let mut b = a.sibling("5736b");
    b.add_namespace(json!({"type": "pid", "path": format!("/proc/{a_pid}/ns/pid")}));
    b.sh("cat /proc/1/exe > /dev/null 2>&1 && echo read-ok || echo read-denied; \
          (echo x > /proc/1/exe) 2>/dev/null && echo write-ok || echo write-denied; \
          (exec 3>/proc/1/exe) 2>/dev/null && echo open-ok || echo open-denied");
    let out = b.run_ok();
    assert!(out.contains("read-denied"), "the init must be non-dumpable: {out}");
    assert!(out.contains("write-denied") && out.contains("open-denied"), "{out}");
    assert_eq!(sha256(&bin), before, "the runtime binary was modified");
    assert_eq!(a.status(), "created");
}

#[test]
fn cve_2019_5736_create_into_shared_pid_namespace() {
    let bin = runtime_binary();
    let before = sha256(&bin);
    let host_path = fs::canonicalize(&bin).unwrap().to_string_lossy().into_owned();
    let mut a = Bundle::new("5736s-a");
    a.args(&["sleep", "1000"]);
    let a_pid = a.create_ok();
    a.start();
    // B's init joins A's pid namespace and waits there, created, for `start`.
    let mut b = a.sibling("5736s-b");
    b.add_namespace(json!({"type": "pid", "path": format!("/proc/{a_pid}/ns/pid")}));
    b.args(&["sleep", "1000"]);
    let b_pid = b.create_ok();
    assert_eq!(b.status(), "created");
    // From inside A: every process's exe, and an attempt to write each one.
    let r = a.cmd(&[
        "exec",
        &a.id,
        "sh",
        "-c",
        "for p in /proc/[0-9]*; do echo \"$p $(readlink $p/exe 2>&1)\"; \
         (echo x > $p/exe) 2>/dev/null && echo \"$p write-ok\"; done; echo end",
    ]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.ends_with("end\n"), "{r:#?}");
    assert!(
        !r.stdout.contains("write-ok"),
        "a runtime binary was writable from the container: {}",
        r.stdout
    );
    assert!(
        !r.stdout.contains(&host_path),
        "the host runtime binary is reachable: {}",
        r.stdout
    );
    assert_eq!(sha256(&bin), before, "the runtime binary was modified");
    // The init B is still intact and startable.
    b.start();
    wait_exec(b_pid, "sleep 1000");
}

#[test]
fn cve_2024_21626_cwd_proc_self_fd_stays_inside() {
    for n in 3..=10 {
        let mut b = Bundle::new("21626");
        b.spec["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.sh("pwd; ls ../../../.. | head -50");
        let r = b.create();
        if r.code != 0 {
            assert!(r.stderr.contains("process.cwd"), "fd {n}: {r:#?}");
            b.assert_nothing_left();
            continue;
        }
        b.start();
        b.wait();
        let out = b.stdout();
        let cwd = out.lines().next().unwrap_or("");
        assert!(
            cwd.starts_with('/') && !cwd.contains("unreachable"),
            "fd {n}: cwd outside the root: {out}"
        );
    }
}

#[test]
fn cve_2024_21626_no_host_fds_leak() {
    let mut b = Bundle::new("fdleak");
    let secret = b.scratch("secret");
    let files: Vec<fs::File> = (0..6)
        .map(|i| fs::File::create(secret.join(format!("f{i}"))).unwrap())
        .collect();
    let refs: Vec<&fs::File> = files.iter().collect();
    b.args(&["sleep", "1000"]);
    b.create_with(&[], &[], &refs).ok();
    b.start();
    let pid = b.pid();
    wait_exec(pid, "sleep 1000");
    assert_eq!(
        open_fds(pid),
        BTreeSet::from([0, 1, 2]),
        "host fds leaked into the container"
    );

    // exec must not leak the caller's fds either.
    let pid_file = b.scratch("exec").join("pid");
    let mut cmd = rt(&b.root);
    cmd.args([
        "exec",
        "--detach",
        "--pid-file",
        &pid_file.to_string_lossy(),
        &b.id,
        "sleep",
        "998",
    ]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let _keep = with_fds_at_3(&mut cmd, &refs);
    assert!(cmd.status().unwrap().success());
    let epid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    wait_exec(epid, "sleep 998");
    assert_eq!(open_fds(epid), BTreeSet::from([0, 1, 2]), "host fds leaked into exec");
}

/// A host file the attacks aim at, with its content before.
struct Victim {
    path: PathBuf,
    content: String,
}

impl Victim {
    fn new(b: &Bundle, name: &str) -> Victim {
        let path = b.scratch("victim").join(name);
        let content = format!("victim-original-{name}");
        fs::write(&path, &content).unwrap();
        Victim { path, content }
    }

    #[track_caller]
    fn assert_untouched(&self) {
        let meta = fs::symlink_metadata(&self.path).expect("victim still exists");
        assert!(
            meta.file_type().is_file(),
            "victim {} is no longer a regular file",
            self.path.display()
        );
        assert_eq!(
            fs::read_to_string(&self.path).unwrap(),
            self.content,
            "victim was written"
        );
        assert_eq!(
            count_mounts_at(&self.path.to_string_lossy()),
            0,
            "victim was mounted over on the host"
        );
    }
}

#[test]
fn cve_2025_31133_dev_null_symlink_to_host() {
    let mut b = Bundle::new("31133");
    let victim = Victim::new(&b, "null-target");
    let root_mounts = count_mounts_at("/");
    b.remove_mount("/dev"); // /dev is the image's own directory: the planted link is live
    symlink(&victim.path, b.rootfs().join("dev/null")).unwrap();
    b.sh("stat -c '%F %t:%T' /dev/null; echo pwned > /dev/null; wc -c < /proc/timer_list");
    let r = b.create();
    if r.code == 0 {
        b.start();
        assert_eq!(b.wait(), Exit::Code(0), "{}", b.stderr());
        let out = b.stdout();
        assert_eq!(out, "character special file 1:3\n0\n");
    } else {
        assert!(r.stderr.contains("/dev/null"), "{r:#?}");
    }
    victim.assert_untouched();
    assert_eq!(count_mounts_at("/"), root_mounts);
}

#[test]
fn cve_2025_52565_masked_path_symlinks() {
    let mut b = Bundle::new("52565");
    let victim = Victim::new(&b, "masked-target");
    let (root_mounts, etc_mounts) = (count_mounts_at("/"), count_mounts_at("/etc"));
    symlink("/", b.rootfs().join("evil-root")).unwrap();
    symlink("../../etc", b.rootfs().join("evil-etc")).unwrap();
    symlink(&victim.path, b.rootfs().join("evil-host")).unwrap();
    for p in ["/evil-root", "/evil-etc", "/evil-host"] {
        b.spec["linux"]["maskedPaths"].as_array_mut().unwrap().push(json!(p));
    }
    b.sh("ls /bin/busybox; echo pwned > /evil-host 2>/dev/null; wc -c < /proc/timer_list");
    let r = b.create();
    if r.code == 0 {
        b.start();
        assert_eq!(b.wait(), Exit::Code(0), "{}", b.stderr());
        assert!(b.stdout().starts_with("/bin/busybox\n"), "{}", b.stdout());
        assert!(
            b.stdout().ends_with("\n0\n"),
            "/proc/timer_list must stay masked: {}",
            b.stdout()
        );
    } else {
        assert!(r.stderr.contains("maskedPaths"), "{r:#?}");
    }
    victim.assert_untouched();
    assert_eq!(count_mounts_at("/"), root_mounts);
    assert_eq!(count_mounts_at("/etc"), etc_mounts);
}

#[test]
fn cve_2025_52565_dev_console_symlink() {
    let mut b = Bundle::new("console");
    let victim = Victim::new(&b, "console-target");
    b.remove_mount("/dev");
    fs::create_dir_all(b.rootfs().join("dev/pts")).unwrap();
    symlink(&victim.path, b.rootfs().join("dev/console")).unwrap();
    b.spec["process"]["terminal"] = json!(true);
    b.sh("test -c /dev/console && echo console-chardev; echo pwned > /dev/console");
    let (sock, h) = console_socket(&b.scratch("console"));
    let r = b.create_with(&[], &["--console-socket", &sock.to_string_lossy()], &[]);
    if r.code == 0 {
        let master = h.join().unwrap().expect("pty master");
        b.start();
        b.wait();
        let out = drain_pty(&master);
        assert!(out.contains("console-chardev"), "{out:?}");
    }
    victim.assert_untouched();
}

#[test]
fn cve_2025_52565_dev_pts_ptmx_symlink() {
    let mut b = Bundle::new("ptmx");
    let victim = Victim::new(&b, "ptmx-target");
    b.remove_mount("/dev");
    b.remove_mount("/dev/pts");
    fs::create_dir_all(b.rootfs().join("dev/pts")).unwrap();
    symlink(&victim.path, b.rootfs().join("dev/pts/ptmx")).unwrap();
    b.spec["process"]["terminal"] = json!(true);
    let (sock, _h) = console_socket(&b.scratch("console"));
    let r = b.create_with(&[], &["--console-socket", &sock.to_string_lossy()], &[]);
    // Without devpts at /dev/pts there is no pty to hand out: refusing is the only option.
    assert_ne!(r.code, 0, "{r:#?}");
    assert!(r.stderr.contains("ptmx"), "{r:#?}");
    b.assert_nothing_left();
    victim.assert_untouched();
}

#[test]
fn cve_2025_52881_mount_destination_symlinks_outside() {
    let mut b = Bundle::new("52881");
    let hostdir = b.scratch("hosttarget");
    fs::write(hostdir.join("marker"), "host-marker").unwrap();
    let etc_marker = format!("sealrun-e2e-{}", b.id);
    let etc_mounts = count_mounts_at("/etc");
    symlink("/etc", b.rootfs().join("mnt")).unwrap();
    let depth = b.rootfs().components().count() - 1;
    let rel = format!(
        "{}{}",
        "../".repeat(depth + 2),
        hostdir.to_string_lossy().trim_start_matches('/')
    );
    symlink(&rel, b.rootfs().join("mnt2")).unwrap();
    b.add_mount(json!({"destination": format!("/mnt/{etc_marker}"), "type": "tmpfs", "source": "tmpfs"}));
    b.add_mount(json!({"destination": "/mnt2/newdir", "type": "tmpfs", "source": "tmpfs"}));
    b.add_mount(json!({"destination": "/mnt2", "type": "tmpfs", "source": "tmpfs"}));
    b.sh("echo pwned > /mnt2/marker 2>/dev/null; echo done");
    let r = b.create();
    if r.code == 0 {
        b.start();
        b.wait();
    }
    let etc_leak = Path::new("/etc").join(&etc_marker);
    let leaked = etc_leak.exists();
    let _ = fs::remove_dir(&etc_leak);
    assert!(!leaked, "a mount point was created in the host's /etc");
    assert!(
        !hostdir.join("newdir").exists(),
        "a mount point was created in a host dir"
    );
    assert_eq!(fs::read_to_string(hostdir.join("marker")).unwrap(), "host-marker");
    assert_eq!(count_mounts_at(&hostdir.to_string_lossy()), 0);
    assert_eq!(count_mounts_at("/etc"), etc_mounts);
}

// ---- concurrency --------------------------------------------------------------------------

#[test]
fn parallel_state_during_start() {
    let mut b = Bundle::new("parstate");
    b.args(&["sleep", "1000"]);
    b.create_ok();
    let results: Vec<Res> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10).map(|_| s.spawn(|| b.cmd(&["state", &b.id]))).collect();
        let start = s.spawn(|| b.cmd(&["start", &b.id]));
        start.join().unwrap().ok();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        let r = r.ok();
        let status = r.json()["status"].as_str().unwrap_or("").to_string();
        assert!(status == "created" || status == "running", "{r:#?}");
    }
    assert_eq!(b.status(), "running");
}

#[test]
fn parallel_creates() {
    let outs: Vec<(Exit, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..5)
            .map(|i| {
                s.spawn(move || {
                    let mut b = Bundle::new("par");
                    b.sh(&format!("echo hi-{i}"));
                    b.run()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (e, out)) in outs.iter().enumerate() {
        assert_eq!(*e, Exit::Code(0));
        assert_eq!(out, &format!("hi-{i}\n"));
    }
}
