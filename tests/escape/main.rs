//! The escape suite: a workload confined by `library:model-server-strict` (through
//! `tests/escape/policy.toml`, which only widens the filesystem lists so that busybox
//! runs) tries to get out, one attempt per test. Each test asserts the attempt's precise
//! failure (EPERM from seccomp, EACCES from Landlock, EAGAIN from the pids cgroup...)
//! **and** that the sandbox still works afterwards: the same shell then writes and reads
//! /tmp and runs a program (`SANITY=alive`), and the runtime deletes the container
//! leaving no state dir and no cgroup.
//!
//! Attempts that busybox cannot make are made by `probe.c`, compiled with
//! `gcc -static` when the suite starts and copied into each rootfs as /bin/probe; it
//! prints `PROBE <attempt> <OK|ERRNO|KILLED n>` lines (see its header). Without gcc the
//! suite fails, it never passes silently.
//!
//! Each test runs its own container (create, start, wait, delete) under a fresh
//! `--root`; the test process is a child subreaper so it reaps the container's init.
//! A few tests change the bundle or the policy (host PID or network namespace, an extra
//! device, a tighter memory limit); each says why. An attempt that succeeds is a hole:
//! its test stays, marked `#[ignore = "HOLE: ..."]`, with its assertion intact.

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

use sealrun_e2e::{busybox_rootfs, describe, exit_code, rt, unique_name};
use serde_json::{json, Value};

// ---- harness ------------------------------------------------------------------------------

/// How long we wait for a container's init before killing it and failing.
const EXIT_GUARD: Duration = Duration::from_secs(90);
/// The v1 hierarchies whose container cgroup must be gone after delete.
const CGROUP_CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "freezer"];
/// What the model file in /models holds.
const MODEL: &str = "weights-v1 0123456789abcdef\n";
/// What the host file outside every allowed path holds.
const HOST_SECRET: &str = "host-secret-do-not-read\n";
/// The line the sanity suffix prints when the sandbox still works.
const SANITY: &str = "SANITY=alive";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/escape/policy.toml`: the strict profile plus what busybox needs.
fn policy_path() -> PathBuf {
    manifest_dir().join("escape/policy.toml")
}

static SUBREAPER: Once = Once::new();

/// Orphaned container inits are re-parented to the test process, which reaps them.
fn become_subreaper() {
    SUBREAPER.call_once(|| {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) only changes a flag of this process.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(rc, 0, "PR_SET_CHILD_SUBREAPER: {}", std::io::Error::last_os_error());
    });
}

/// The probe, compiled once per test run into the target dir's scratch space.
fn probe_binary() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let src = manifest_dir().join("escape/probe.c");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("escape");
        fs::create_dir_all(&dir).expect("creating the probe build dir");
        // Compiled under a per-process name, then renamed: parallel runs never see half a file.
        let tmp = dir.join(format!("probe.{}", std::process::id()));
        let out = Command::new("gcc")
            .args(["-static", "-O2", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => panic!(
                "the escape suite needs gcc to build its probe ({}), but `gcc` could not be run: {e}; \
                 install gcc and the static C library (Debian: gcc libc6-dev)",
                src.display()
            ),
        };
        assert!(
            out.status.success(),
            "gcc -static failed to build the escape probe {}: {}\n{}",
            src.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let dest = dir.join("probe");
        fs::rename(&tmp, &dest).expect("moving the probe into place");
        dest
    })
}

/// The runtime's default spec (`sealrun spec`), the base of every bundle.
fn default_spec() -> Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cmd = rt(tmp.path());
        cmd.args(["spec", "--bundle"]).arg(tmp.path());
        let out = cmd.output().expect("running sealrun spec");
        assert!(out.status.success(), "`{}` failed: {out:?}", describe(&cmd));
        let text = fs::read_to_string(tmp.path().join("config.json")).expect("spec wrote config.json");
        serde_json::from_str(&text).expect("spec output is JSON")
    })
    .clone()
}

fn cgroup_dir(controller: &str, id: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join("sealrun-escape")
        .join(id)
}

/// Waits for `pid` (re-parented to us) with a hang guard; the shell-style exit code.
fn wait_pid(pid: i32) -> i32 {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waitpid on a specific pid with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            if libc::WIFSIGNALED(status) {
                return 128 + libc::WTERMSIG(status);
            }
            continue;
        }
        assert!(r >= 0, "waitpid({pid}): {}", std::io::Error::last_os_error());
        if start.elapsed() > EXIT_GUARD {
            // SAFETY: kill on our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("container init {pid} did not exit within {EXIT_GUARD:?}; killed it");
        }
        sleep(Duration::from_millis(10));
    }
}

/// One container: a busybox rootfs with the probe, /tmp as a tmpfs, a model in /models
/// and a host directory at /srv/hostdata that the policy does not list.
struct Sandbox {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    root: PathBuf,
    id: String,
    spec: Value,
    policy: PathBuf,
    pid: Option<i32>,
    exited: bool,
}

impl Sandbox {
    fn new(tag: &str) -> Sandbox {
        become_subreaper();
        let tmp = tempfile::Builder::new()
            .prefix("sealrun-escape-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().join("bundle");
        let rootfs = dir.join("rootfs");
        busybox_rootfs(&rootfs).unwrap_or_else(|e| panic!("{e}"));
        let probe = rootfs.join("bin/probe");
        fs::copy(probe_binary(), &probe).expect("copying the probe into the rootfs");
        fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).expect("chmod probe");
        for d in ["models", "srv/hostdata"] {
            fs::create_dir_all(rootfs.join(d)).expect("mount point");
        }
        let models = tmp.path().join("models");
        fs::create_dir_all(&models).expect("models dir");
        fs::write(models.join("model.bin"), MODEL).expect("model file");
        let hostdata = tmp.path().join("hostdata");
        fs::create_dir_all(&hostdata).expect("hostdata dir");
        fs::write(hostdata.join("secret"), HOST_SECRET).expect("host secret");

        let id = unique_name(&format!("esc-{}", tag));
        let mut spec = default_spec();
        // A writable rootfs: what keeps the workload from writing it is the policy.
        spec["root"] = json!({"path": "rootfs", "readonly": false});
        spec["process"]["args"] = json!(["true"]);
        spec["process"]["terminal"] = json!(false);
        spec["process"]["env"] = json!(["PATH=/bin"]);
        spec["linux"]["cgroupsPath"] = json!(format!("/sealrun-escape/{id}"));
        let mounts = spec["mounts"].as_array_mut().expect("mounts");
        // No noexec and no nosuid: what stops exec from /tmp must be Landlock.
        mounts.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                           "options": ["nodev", "mode=1777", "size=65536k"]}));
        mounts.push(json!({"destination": "/models", "type": "bind",
                           "source": models, "options": ["rbind", "ro"]}));
        mounts.push(json!({"destination": "/srv/hostdata", "type": "bind",
                           "source": hostdata, "options": ["rbind", "rw"]}));
        Sandbox {
            root: tmp.path().join("state"),
            tmp,
            dir,
            id,
            spec,
            policy: policy_path(),
            pid: None,
            exited: false,
        }
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    fn hostdata(&self) -> PathBuf {
        self.tmp.path().join("hostdata")
    }

    /// Runs `attempt` in the shell, then the sanity suffix.
    fn sh(&mut self, attempt: &str) -> &mut Self {
        let script =
            format!("{attempt}\necho \"RESULT=$?\"\necho alive > /tmp/sanity && echo \"SANITY=$(cat /tmp/sanity)\"\n");
        self.spec["process"]["args"] = json!(["sh", "-c", script]);
        self
    }

    fn remove_namespace(&mut self, typ: &str) -> &mut Self {
        self.spec["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .retain(|n| n["type"] != typ);
        self
    }

    /// A policy extending the suite's with `extra` TOML (tables such as `[sandbox.net]`).
    fn policy_variant(&mut self, extra: &str) -> &mut Self {
        let p = self.tmp.path().join("variant.toml");
        let text = format!("version = 1\nextends = \"{}\"\n\n{extra}\n", policy_path().display());
        fs::write(&p, text).expect("writing the policy variant");
        self.policy = p;
        self
    }

    fn write_config(&self) {
        let text = serde_json::to_string_pretty(&self.spec).expect("spec serialises");
        fs::write(self.dir.join("config.json"), text).expect("writing config.json");
    }

    fn out_path(&self) -> PathBuf {
        self.tmp.path().join("stdout")
    }

    fn err_path(&self) -> PathBuf {
        self.tmp.path().join("stderr")
    }

    /// `create --policy`, then checks the decision record: the policy was applied.
    #[track_caller]
    fn create(&mut self) {
        self.write_config();
        let pid_file = self.tmp.path().join("pid");
        let mut cmd = rt(&self.root);
        cmd.arg("create")
            .arg("--bundle")
            .arg(&self.dir)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg("--policy")
            .arg(&self.policy)
            .arg(&self.id);
        cmd.stdout(fs::File::create(self.out_path()).expect("stdout file"));
        cmd.stderr(fs::File::create(self.err_path()).expect("stderr file"));
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("spawning `{}`: {e}", describe(&cmd)));
        assert!(
            status.success(),
            "`{}` failed ({status}):\n{}",
            describe(&cmd),
            fs::read_to_string(self.err_path()).unwrap_or_default()
        );
        let text = fs::read_to_string(&pid_file).expect("create wrote no pid file");
        self.pid = Some(text.trim().parse().expect("pid file holds a pid"));

        let decision_path = self.root.join(&self.id).join("decision.json");
        let decision: Value = serde_json::from_str(
            &fs::read_to_string(&decision_path)
                .unwrap_or_else(|e| panic!("no decision record at {}: {e}", decision_path.display())),
        )
        .expect("decision.json is JSON");
        assert_eq!(
            decision["policy_source"],
            json!(self.policy.to_string_lossy()),
            "{decision:#}"
        );
        assert!(
            decision["policy_chain"]
                .to_string()
                .contains("library:model-server-strict"),
            "{decision:#}"
        );
        assert_eq!(decision["no_new_privs"], json!(true), "{decision:#}");
        assert_eq!(decision["capabilities"], json!([]), "{decision:#}");
        assert!(decision["landlock"].is_object(), "{decision:#}");
        assert!(
            decision["seccomp_instructions"].as_u64().unwrap_or(0) > 0,
            "{decision:#}"
        );
    }

    #[track_caller]
    fn start(&self) {
        let mut cmd = rt(&self.root);
        cmd.args(["start", &self.id]);
        let out = cmd.output().expect("running start");
        assert!(out.status.success(), "`{}` failed: {out:?}", describe(&cmd));
    }

    /// Waits for the init; returns its exit code.
    fn wait(&mut self) -> i32 {
        let code = wait_pid(self.pid.expect("created"));
        self.exited = true;
        code
    }

    /// Deletes the container and asserts that nothing of it is left on the host.
    #[track_caller]
    fn delete(&mut self) {
        let mut cmd = rt(&self.root);
        cmd.args(["delete", "--force", &self.id]);
        let out = cmd.output().expect("running delete");
        assert!(out.status.success(), "`{}` failed: {out:?}", describe(&cmd));
        if !self.exited {
            // delete --force killed a running init: reap it.
            self.wait();
        }
        let state = self.root.join(&self.id);
        assert!(!state.exists(), "state dir {} left behind", state.display());
        for c in CGROUP_CONTROLLERS {
            let d = cgroup_dir(c, &self.id);
            assert!(!d.exists(), "cgroup {} left behind", d.display());
        }
        self.pid = None;
    }

    /// create, start, wait, delete.
    #[track_caller]
    fn run(&mut self) -> Outcome {
        self.create();
        self.start();
        let code = self.wait();
        let out = self.finish(code);
        self.delete();
        out
    }

    fn finish(&self, code: i32) -> Outcome {
        Outcome {
            code,
            stdout: fs::read_to_string(self.out_path()).unwrap_or_default(),
            stderr: fs::read_to_string(self.err_path()).unwrap_or_default(),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = rt(&self.root).args(["delete", "--force", &self.id]).output();
            if !self.exited {
                let start = Instant::now();
                // SAFETY: waitpid on a specific pid with a valid status pointer.
                while unsafe { libc::waitpid(pid, &mut 0, libc::WNOHANG) } == 0
                    && start.elapsed() < Duration::from_secs(10)
                {
                    sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// What a container printed, and how its init ended.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Outcome {
    /// The answer on the `PROBE <attempt> ...` line: "OK", an errno name, or "KILLED n",
    /// followed by key=value details.
    #[track_caller]
    fn probe(&self, attempt: &str) -> String {
        let prefix = format!("PROBE {attempt} ");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line: {self:#?}"))
            .to_string()
    }

    /// The first word of the probe's answer.
    #[track_caller]
    fn result(&self, attempt: &str) -> String {
        self.probe(attempt).split(' ').next().unwrap_or("").to_string()
    }

    /// The answer of a `STEP <name> ...` line.
    #[track_caller]
    fn step(&self, name: &str) -> String {
        let prefix = format!("STEP {name} ");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line: {self:#?}"))
            .to_string()
    }

    /// A `key=value` detail of the probe's answer.
    #[track_caller]
    fn field(&self, attempt: &str, key: &str) -> String {
        let answer = self.probe(attempt);
        let prefix = format!("{key}=");
        answer
            .split(' ')
            .find_map(|w| w.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key}= in `{answer}`: {self:#?}"))
            .to_string()
    }

    /// The attempt's shell exit status (`RESULT=n`).
    #[track_caller]
    fn status(&self) -> i32 {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT="))
            .unwrap_or_else(|| panic!("no RESULT= line: {self:#?}"))
            .trim()
            .parse()
            .expect("RESULT= holds a number")
    }

    /// The sandbox still works after the attempt: /tmp written and read back by a new
    /// process, and the init exited normally.
    #[track_caller]
    fn assert_alive(&self) {
        assert!(
            self.stdout.lines().any(|l| l == SANITY),
            "sanity check missing: {self:#?}"
        );
        assert_eq!(self.code, 0, "init exit code: {self:#?}");
    }

    #[track_caller]
    fn assert_probe(&self, attempt: &str, expected: &str) {
        assert_eq!(self.result(attempt), expected, "attempt {attempt}: {self:#?}");
        self.assert_alive();
    }
}

/// Runs the shell `attempt` in a fresh sandbox under the suite's policy.
#[track_caller]
fn attempt(tag: &str, script: &str) -> Outcome {
    Sandbox::new(tag).sh(script).run()
}

/// Runs `probe ARGS` in a fresh sandbox and asserts its answer is `expected`.
#[track_caller]
fn probe_expect(args: &str, expected: &str) -> Outcome {
    let name = args.split(' ').next().expect("attempt name");
    let out = attempt(&name.replace('_', "-"), &format!("probe {args}"));
    out.assert_probe(name, expected);
    out
}

/// A host process outside every sandbox, to aim signals at. Killed on drop.
struct Victim(Child);

impl Victim {
    fn spawn() -> Victim {
        Victim(
            Command::new("sleep")
                .arg("1000")
                .stdin(Stdio::null())
                .spawn()
                .expect("spawning sleep"),
        )
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    #[track_caller]
    fn assert_alive(&mut self) {
        assert!(
            matches!(self.0.try_wait(), Ok(None)),
            "host process {} was killed from inside the sandbox",
            self.pid()
        );
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---- positive controls --------------------------------------------------------------------

#[test]
fn control_confinement_is_in_place() {
    // Every later "denied" means something only if the workload is confined as the
    // policy says: no capabilities in any set, no_new_privs, a seccomp filter.
    let out = probe_expect("creds", "OK");
    for (key, want) in [
        ("uid", "0"),
        ("nnp", "1"),
        ("seccomp", "2"),
        ("capeff", "0"),
        ("capprm", "0"),
        ("capinh", "0"),
        ("capbnd", "0"),
    ] {
        assert_eq!(out.field("creds", key), want, "{key}: {out:#?}");
    }
}

#[test]
fn control_reads_the_model() {
    let out = attempt("model", "cat /models/model.bin");
    assert!(out.stdout.contains(MODEL), "{out:#?}");
    assert_eq!(out.status(), 0, "{out:#?}");
    out.assert_alive();
}

#[test]
fn control_writes_tmp() {
    let out = attempt("tmp", "echo scratch > /tmp/x && cat /tmp/x && rm /tmp/x");
    assert!(out.stdout.contains("scratch\n"), "{out:#?}");
    assert_eq!(out.status(), 0, "{out:#?}");
    out.assert_alive();
}

#[test]
fn control_binds_tcp_8080() {
    probe_expect("tcp_bind 0.0.0.0 8080", "OK");
}

// ---- the filesystem (Landlock) ------------------------------------------------------------

#[test]
fn read_host_directory_mounted_outside_the_policy() {
    // The bundle bind-mounts a host directory at /srv/hostdata; the policy lists no such
    // path, so neither its files nor its listing are readable.
    let out = attempt("hostdata", "probe open /srv/hostdata/secret r; ls /srv/hostdata");
    assert_eq!(out.result("open"), "EACCES", "{out:#?}");
    assert!(out.stderr.contains("Permission denied"), "ls: {out:#?}");
    assert!(!out.stdout.contains("host-secret"), "{out:#?}");
    out.assert_alive();
}

#[test]
fn write_into_host_directory_mounted_outside_the_policy() {
    let mut sb = Sandbox::new("hostwrite");
    sb.sh("probe open /srv/hostdata/secret w overwritten");
    let out = sb.run();
    out.assert_probe("open", "EACCES");
    assert_eq!(fs::read_to_string(sb.hostdata().join("secret")).unwrap(), HOST_SECRET);
}

#[test]
fn write_a_new_file_into_the_rootfs_bin() {
    let mut sb = Sandbox::new("binwrite");
    sb.sh("echo evil > /bin/escape");
    let out = sb.run();
    assert_ne!(out.status(), 0, "{out:#?}");
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    assert!(!sb.rootfs().join("bin/escape").exists(), "/bin/escape was created");
    out.assert_alive();
}

#[test]
fn overwrite_a_binary_in_bin() {
    // /bin/tool is not running (a running binary would answer ETXTBSY before Landlock
    // is asked): Landlock's read-only /bin is what refuses.
    let mut sb = Sandbox::new("bintool");
    let tool = sb.rootfs().join("bin/tool");
    fs::copy(probe_binary(), &tool).unwrap();
    sb.sh("probe open /bin/tool w evil");
    let out = sb.run();
    out.assert_probe("open", "EACCES");
    assert_eq!(
        fs::read(&tool).unwrap(),
        fs::read(probe_binary()).unwrap(),
        "/bin/tool changed"
    );
}

#[test]
fn overwrite_the_running_shell_binary() {
    // The shell (busybox) is running: the kernel refuses writers of a running binary.
    let mut sb = Sandbox::new("busybox");
    sb.sh("probe open /bin/busybox w evil");
    let out = sb.run();
    out.assert_probe("open", "ETXTBSY");
    let before = fs::read(sealrun_e2e::BUSYBOX).unwrap();
    assert_eq!(
        fs::read(sb.rootfs().join("bin/busybox")).unwrap(),
        before,
        "busybox changed"
    );
}

#[test]
fn truncate_etc_passwd() {
    let mut sb = Sandbox::new("passwd");
    // Not `: >`: a failed redirection on a special builtin ends a non-interactive shell.
    sb.sh("cat /dev/null > /etc/passwd");
    let out = sb.run();
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    assert!(fs::read_to_string(sb.rootfs().join("etc/passwd"))
        .unwrap()
        .starts_with("root:"));
    out.assert_alive();
}

#[test]
fn remove_a_rootfs_file() {
    let mut sb = Sandbox::new("rm");
    sb.sh("rm /etc/group");
    let out = sb.run();
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    assert!(sb.rootfs().join("etc/group").exists(), "/etc/group was removed");
    out.assert_alive();
}

#[test]
fn make_a_directory_at_the_root() {
    let mut sb = Sandbox::new("mkdir");
    sb.sh("mkdir /escape");
    let out = sb.run();
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    assert!(!sb.rootfs().join("escape").exists());
    out.assert_alive();
}

#[test]
fn write_dev_shm() {
    let out = attempt("shm", "probe create /dev/shm/escape; echo x > /dev/shm/escape2");
    assert_eq!(out.result("create"), "EACCES", "{out:#?}");
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    out.assert_alive();
}

#[test]
fn execute_a_binary_dropped_in_tmp() {
    // /tmp is writable and mounted without noexec: only Landlock's exec list stops this.
    let out = attempt(
        "exectmp",
        "cp /bin/probe /tmp/p && chmod 755 /tmp/p && probe exec /tmp/p creds",
    );
    out.assert_probe("exec", "EACCES");
}

#[test]
fn execute_a_binary_from_a_memfd() {
    // memfd_create + execveat(AT_EMPTY_PATH) never names a path, so Landlock's exec list
    // has nothing to check; the runtime sets vm.memfd_noexec = 2 in the container's pid
    // namespace, so the memfd is created sealed non-executable and execveat gets EACCES.
    let host = fs::read_to_string("/proc/sys/vm/memfd_noexec").unwrap();
    let out = attempt("memfd", "probe memfd_exec");
    // Set in the container's own pid namespace only.
    assert_eq!(fs::read_to_string("/proc/sys/vm/memfd_noexec").unwrap(), host);
    assert_eq!(out.step("memfd_create"), "OK", "{out:#?}");
    assert!(
        !out.stdout.contains("PROBE creds"),
        "the memfd copy of the probe ran: {out:#?}"
    );
    out.assert_probe("memfd_exec", "EACCES");
}

// /proc/sys is one of the bundle's readonlyPaths: the read-only bind answers EROFS
// before Landlock (which lists no /proc path) is asked.

#[test]
fn write_proc_sys_kernel_hostname() {
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = attempt("hostname", "probe open /proc/sys/kernel/hostname w escaped");
    out.assert_probe("open", "EROFS");
    assert_eq!(fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host);
}

#[test]
fn write_proc_sys_kernel_core_pattern() {
    // The classic host-root escape: a core_pattern pipe runs as root on the host. The
    // attempt writes the host's current value, so even a hole would change nothing.
    let current = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let out = attempt(
        "corepattern",
        &format!("probe open /proc/sys/kernel/core_pattern w '{}'", current.trim_end()),
    );
    out.assert_probe("open", "EROFS");
    assert_eq!(fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(), current);
}

// /proc/kcore and /proc/timer_list are maskedPaths: the runtime binds /dev/null over
// them. Landlock's rule for /dev/null follows that inode, so the open succeeds and reads
// nothing.

#[test]
fn read_proc_kcore() {
    if Path::new("/proc/kcore").exists() {
        let out = probe_expect("open /proc/kcore r", "OK");
        assert_eq!(out.field("open", "bytes"), "0", "{out:#?}");
    } else {
        // This kernel has no /proc/kcore (CONFIG_PROC_KCORE off).
        probe_expect("open /proc/kcore r", "ENOENT");
    }
}

#[test]
fn read_proc_timer_list() {
    let out = probe_expect("open /proc/timer_list r", "OK");
    assert_eq!(out.field("open", "bytes"), "0", "masked: {out:#?}");
}

#[test]
fn read_proc_1_environ() {
    probe_expect("open /proc/1/environ r", "EACCES");
}

#[test]
fn read_proc_1_mem() {
    probe_expect("open /proc/1/mem r", "EACCES");
}

#[test]
fn overwrite_proc_self_exe() {
    // CVE-2019-5736's shape: writing the binary behind /proc/self/exe. It is running,
    // so the kernel answers ETXTBSY (Landlock would refuse it too: /bin is read-only).
    probe_expect("open /proc/self/exe w evil", "ETXTBSY");
}

#[test]
fn follow_proc_1_root_magic_link() {
    // /proc/1/root is the container's own root, and Landlock checks the file it leads
    // to: /etc is readable, /srv/hostdata is not.
    let out = attempt(
        "procroot",
        "cat /proc/1/root/etc/hostname; probe open /proc/1/root/srv/hostdata/secret r",
    );
    assert!(out.stdout.starts_with("busybox\n"), "{out:#?}");
    out.assert_probe("open", "EACCES");
}

#[test]
fn list_sys_kernel() {
    let out = attempt("syskernel", "ls /sys/kernel");
    assert_ne!(out.status(), 0, "{out:#?}");
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    out.assert_alive();
}

#[test]
fn write_cgroup_release_agent() {
    // CVE-2022-0492's shape: a release_agent runs as root on the host.
    let out = attempt(
        "releaseagent",
        "probe open /sys/fs/cgroup/memory/release_agent w /tmp/x; \
         probe open /sys/fs/cgroup/memory/notify_on_release w 1",
    );
    let answers: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PROBE open "))
        .map(String::from)
        .collect();
    // The cgroup namespace hides the hierarchy root (the only place with a
    // release_agent), and the cgroup mount is read-only.
    assert_eq!(answers, ["ENOENT", "EROFS"], "{out:#?}");
    out.assert_alive();
}

#[test]
fn symlink_to_root_stays_inside() {
    // A symlink to "/" resolves in the container's root, not the host's.
    let host = fs::read_to_string("/etc/hostname").unwrap_or_default();
    let out = attempt("symlink", "ln -s / /tmp/host && cat /tmp/host/etc/hostname");
    assert_eq!(out.status(), 0, "{out:#?}");
    assert!(out.stdout.starts_with("busybox\n"), "{out:#?}");
    if !host.is_empty() && host != "busybox\n" {
        assert!(!out.stdout.contains(host.trim()), "{out:#?}");
    }
    out.assert_alive();
}

#[test]
fn symlink_out_of_tmp_to_a_denied_path() {
    // A symlink in the writable /tmp does not carry /tmp's rights to its target.
    let out = attempt(
        "symlinkdeny",
        "ln -s /srv/hostdata/secret /tmp/s && probe open /tmp/s r",
    );
    out.assert_probe("open", "EACCES");
}

#[test]
fn open_dev_mem() {
    // The bundle itself asks for /dev/mem (node and device-cgroup rule): only the policy
    // stands in the way (Landlock, before the driver's CAP_SYS_RAWIO check).
    let mut sb = Sandbox::new("devmem");
    add_device(&mut sb, "/dev/mem", 1, 1);
    sb.sh("probe open /dev/mem r");
    sb.run().assert_probe("open", "EACCES");
}

#[test]
fn write_dev_kmsg() {
    // As for /dev/mem: the bundle grants /dev/kmsg, the policy does not.
    let mut sb = Sandbox::new("kmsg");
    add_device(&mut sb, "/dev/kmsg", 1, 11);
    sb.sh("probe open /dev/kmsg w escape");
    sb.run().assert_probe("open", "EACCES");
}

fn add_device(sb: &mut Sandbox, path: &str, major: i64, minor: i64) {
    let linux = &mut sb.spec["linux"];
    let devices = linux["devices"].as_array().cloned().unwrap_or_default();
    let mut devices = devices;
    devices.push(json!({"path": path, "type": "c", "major": major, "minor": minor, "fileMode": 0o666}));
    linux["devices"] = json!(devices);
    let rules = linux["resources"]["devices"].as_array().cloned().unwrap_or_default();
    let mut rules = rules;
    rules.push(json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"}));
    linux["resources"]["devices"] = json!(rules);
}

#[test]
fn mknod_a_device() {
    probe_expect("mknod", "EPERM");
}

#[test]
fn chown_a_file() {
    let out = attempt("chown", "touch /tmp/f && chown 65534:65534 /tmp/f");
    assert!(out.stderr.contains("Operation not permitted"), "{out:#?}");
    out.assert_alive();
}

#[test]
fn set_a_file_capability_xattr() {
    let out = attempt("fcap", "probe setxattr_caps");
    assert_eq!(out.step("create"), "OK", "{out:#?}");
    out.assert_probe("setxattr_caps", "EPERM");
}

#[test]
fn open_by_handle_at_shocker() {
    probe_expect("open_by_handle_at", "EPERM");
}

#[test]
fn name_to_handle_at() {
    probe_expect("name_to_handle_at", "EPERM");
}

// ---- mounts and the root ------------------------------------------------------------------

#[test]
fn mount_tmpfs() {
    probe_expect("mount_tmpfs", "EPERM");
}

#[test]
fn mount_with_busybox() {
    let out = attempt("bbmount", "mkdir /tmp/m && mount -t tmpfs none /tmp/m");
    assert_ne!(out.status(), 0, "{out:#?}");
    // busybox's words for EPERM from mount(2).
    assert!(out.stderr.contains("mount: permission denied"), "{out:#?}");
    out.assert_alive();
}

#[test]
fn fsopen_new_mount_api() {
    probe_expect("fsopen", "EPERM");
}

#[test]
fn open_tree_clone() {
    probe_expect("open_tree", "EPERM");
}

#[test]
fn umount_proc() {
    probe_expect("umount", "EPERM");
}

#[test]
fn chroot() {
    probe_expect("chroot", "EPERM");
}

#[test]
fn pivot_root() {
    probe_expect("pivot_root", "EPERM");
}

// ---- namespaces ---------------------------------------------------------------------------

#[test]
fn unshare_user_namespace() {
    probe_expect("unshare_user", "EPERM");
}

#[test]
fn unshare_mount_namespace() {
    probe_expect("unshare_mount", "EPERM");
}

#[test]
fn unshare_with_busybox() {
    let out = attempt("bbunshare", "unshare -U -r id");
    assert_ne!(out.status(), 0, "{out:#?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:#?}");
    out.assert_alive();
}

#[test]
fn setns_into_init_network_namespace() {
    // Both a namespace file (nsfs is an internal filesystem, which Landlock does not
    // govern: the open succeeds) and a pidfd; setns itself is what must fail.
    let out = attempt("setns", "probe setns");
    assert_eq!(out.step("pidfd_open"), "OK", "{out:#?}");
    out.assert_probe("setns", "EPERM");
}

#[test]
fn clone_with_new_user_namespace() {
    probe_expect("clone_newuser", "EPERM");
}

#[test]
fn clone_with_new_pid_and_net_namespaces() {
    probe_expect("clone_newpid_newnet", "EPERM");
}

#[test]
fn clone3_with_new_user_namespace() {
    // ENOSYS so that libcs fall back to clone, whose flags seccomp can see.
    probe_expect("clone3_newuser", "ENOSYS");
}

#[test]
fn unshare_through_the_x32_abi() {
    // The x32 bit on the syscall number. This kernel has no x32 ABI (it would answer
    // ENOSYS): EPERM is the filter's.
    probe_expect("x32_unshare", "EPERM");
}

#[test]
fn unshare_through_the_i386_abi() {
    // int 0x80 reaches the i386 table (unshare = 310), whose audit arch the filter does
    // not list.
    // The filter kills the caller (SIGSYS) for a foreign arch; the probe made the call
    // in a child, so the shell goes on.
    let out = attempt("int80", "probe int80_unshare");
    assert_eq!(
        out.probe("int80_unshare"),
        format!("KILLED {}", libc::SIGSYS),
        "{out:#?}"
    );
    out.assert_alive();
}

// ---- other processes ----------------------------------------------------------------------

#[test]
fn ptrace_traceme() {
    probe_expect("ptrace_traceme", "EPERM");
}

#[test]
fn ptrace_attach_a_sibling() {
    probe_expect("ptrace_attach", "EPERM");
}

#[test]
fn process_vm_readv_a_sibling() {
    probe_expect("process_vm_readv", "EPERM");
}

#[test]
fn process_vm_writev_a_sibling() {
    probe_expect("process_vm_writev", "EPERM");
}

#[test]
fn pidfd_getfd_steals_a_descriptor() {
    let out = probe_expect("pidfd_getfd", "EPERM");
    assert_eq!(out.step("pidfd_open"), "OK", "{out:#?}");
}

#[test]
fn kill_a_host_pid_from_the_container_pid_namespace() {
    // The host's pids do not exist in the container's PID namespace.
    let mut victim = Victim::spawn();
    let out = attempt("killhost", &format!("probe kill {} 9", victim.pid()));
    out.assert_probe("kill", "ESRCH");
    victim.assert_alive();
}

/// A sandbox sharing the host's PID namespace (the bundle's choice; the policy does not
/// require a PID namespace), so host processes are visible and only Landlock's signal
/// scope stands between the workload and them. Same uid (root) on both sides.
fn host_pid_sandbox(tag: &str) -> Sandbox {
    let mut sb = Sandbox::new(tag);
    sb.remove_namespace("pid");
    sb
}

#[test]
fn kill_a_host_process_sharing_the_pid_namespace() {
    let mut victim = Victim::spawn();
    let out = host_pid_sandbox("killscope")
        .sh(&format!("probe kill {} 9", victim.pid()))
        .run();
    out.assert_probe("kill", "EPERM");
    victim.assert_alive();
}

#[test]
fn probe_a_host_process_with_signal_zero() {
    let mut victim = Victim::spawn();
    let out = host_pid_sandbox("kill0")
        .sh(&format!("probe kill {} 0", victim.pid()))
        .run();
    out.assert_probe("kill", "EPERM");
    victim.assert_alive();
}

#[test]
fn pidfd_send_signal_to_a_host_process() {
    let mut victim = Victim::spawn();
    let out = host_pid_sandbox("pidfdkill")
        .sh(&format!("probe pidfd_kill {}", victim.pid()))
        .run();
    assert_eq!(out.step("pidfd_open"), "OK", "{out:#?}");
    out.assert_probe("pidfd_kill", "EPERM");
    victim.assert_alive();
}

#[test]
fn sigio_to_a_host_process() {
    // F_SETOWN + O_ASYNC: the kernel sends SIGIO (default action: terminate) for us.
    let mut victim = Victim::spawn();
    let out = host_pid_sandbox("sigio")
        .sh(&format!("probe sigio {}", victim.pid()))
        .run();
    out.assert_probe("sigio", "OK");
    victim.assert_alive();
}

#[test]
fn kill_the_host_process_with_busybox() {
    let mut victim = Victim::spawn();
    let out = host_pid_sandbox("bbkill")
        .sh(&format!("kill -9 {}", victim.pid()))
        .run();
    assert_ne!(out.status(), 0, "{out:#?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:#?}");
    out.assert_alive();
    victim.assert_alive();
}

// ---- kernel interfaces --------------------------------------------------------------------

#[test]
fn bpf_prog_load() {
    probe_expect("bpf_prog_load", "EPERM");
}

#[test]
fn perf_event_open() {
    probe_expect("perf_event_open", "EPERM");
}

#[test]
fn keyctl_join_session_keyring() {
    probe_expect("keyctl", "EPERM");
}

#[test]
fn add_key() {
    probe_expect("add_key", "EPERM");
}

#[test]
fn request_key() {
    probe_expect("request_key", "EPERM");
}

#[test]
fn io_uring_setup() {
    probe_expect("io_uring_setup", "EPERM");
}

#[test]
fn userfaultfd() {
    probe_expect("userfaultfd", "EPERM");
}

#[test]
fn kexec_load() {
    // This kernel has no kexec (it would answer ENOSYS): EPERM is the filter's.
    probe_expect("kexec_load", "EPERM");
}

#[test]
fn kexec_file_load() {
    probe_expect("kexec_file_load", "EPERM");
}

#[test]
fn init_module() {
    probe_expect("init_module", "EPERM");
}

#[test]
fn finit_module() {
    let out = probe_expect("finit_module", "EPERM");
    assert_eq!(out.step("open_module"), "OK", "{out:#?}");
}

#[test]
fn delete_module() {
    probe_expect("delete_module", "EPERM");
}

#[test]
fn reboot() {
    probe_expect("reboot", "EPERM");
}

#[test]
fn clock_settime() {
    probe_expect("clock_settime", "EPERM");
}

#[test]
fn settimeofday() {
    probe_expect("settimeofday", "EPERM");
}

#[test]
fn adjtimex() {
    probe_expect("adjtimex", "EPERM");
}

#[test]
fn swapon() {
    probe_expect("swapon", "EPERM");
}

#[test]
fn acct() {
    probe_expect("acct", "EPERM");
}

#[test]
fn sethostname() {
    probe_expect("sethostname", "EPERM");
}

#[test]
fn syslog_read_kernel_log() {
    probe_expect("syslog", "EPERM");
}

#[test]
fn iopl_raw_port_io() {
    probe_expect("iopl", "EPERM");
}

#[test]
fn modify_ldt() {
    probe_expect("modify_ldt", "EPERM");
}

#[test]
fn sysv_shmget() {
    probe_expect("shmget", "EPERM");
}

#[test]
fn fanotify_init() {
    probe_expect("fanotify_init", "EPERM");
}

#[test]
fn personality_addr_no_randomize() {
    let out = probe_expect("personality", "EPERM");
    // The query form stays allowed (glibc and Python use it).
    assert_eq!(out.field("personality", "query"), "OK", "{out:#?}");
}

#[test]
fn prctl_set_mm() {
    probe_expect("prctl_set_mm", "EPERM");
}

#[test]
fn tiocsti_on_the_terminal() {
    // The container gets a terminal (`run` proxies the pty, like runc without
    // --console-socket), and injects a character into its input.
    let mut sb = Sandbox::new("tiocsti");
    sb.spec["process"]["terminal"] = json!(true);
    sb.sh("probe tiocsti");
    sb.write_config();
    let mut cmd = rt(&sb.root);
    cmd.arg("run")
        .arg("--bundle")
        .arg(&sb.dir)
        .arg("--policy")
        .arg(&sb.policy)
        .arg(&sb.id);
    let out = cmd.output().expect("running run");
    let out = Outcome {
        code: exit_code(out.status),
        // Through a pty: \r\n line ends.
        stdout: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.field("tiocsti", "isatty"), "1", "{out:#?}");
    out.assert_probe("tiocsti", "EIO");
    assert!(!sb.root.join(&sb.id).exists(), "run left its state behind");
}

// ---- identity and capabilities ------------------------------------------------------------

#[test]
fn capset_to_gain_cap_sys_admin() {
    probe_expect("capset_sys_admin", "EPERM");
}

#[test]
fn raise_an_ambient_capability() {
    probe_expect("ambient_raise", "EPERM");
}

#[test]
fn setuid_to_root() {
    probe_expect("setuid0", "EPERM");
}

/// A sandbox whose workload runs as nobody, with a setuid-root copy of the probe in /bin.
fn setuid_sandbox(tag: &str) -> Sandbox {
    let mut sb = Sandbox::new(tag);
    let suid = sb.rootfs().join("bin/suid-probe");
    fs::copy(probe_binary(), &suid).expect("copying the probe");
    // Owned by root (we are root), setuid.
    fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).expect("chmod u+s");
    sb.spec["process"]["user"] = json!({"uid": 65534, "gid": 65534});
    sb.sh("suid-probe creds");
    sb
}

#[test]
fn setuid_root_binary_grants_nothing() {
    let out = setuid_sandbox("suid").run();
    out.assert_probe("creds", "OK");
    for (key, want) in [
        ("uid", "65534"),
        ("euid", "65534"),
        ("nnp", "1"),
        ("capeff", "0"),
        ("capprm", "0"),
    ] {
        assert_eq!(out.field("creds", key), want, "{key}: {out:#?}");
    }
}

#[test]
fn setuid_root_binary_would_work_without_the_policy() {
    // The control for the test above: the same bundle without a policy (and without
    // noNewPrivileges) does raise the euid, so the binary and the mount are not what
    // stopped it there.
    let mut sb = setuid_sandbox("suidctl");
    sb.spec["process"]["noNewPrivileges"] = json!(false);
    sb.write_config();
    let mut cmd = rt(&sb.root);
    cmd.arg("run").arg("--bundle").arg(&sb.dir).arg(&sb.id);
    let out = cmd.output().expect("running run");
    let out = Outcome {
        code: exit_code(out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.field("creds", "euid"), "0", "{out:#?}");
    assert_eq!(out.field("creds", "nnp"), "0", "{out:#?}");
}

#[test]
fn inherited_descriptors_from_the_runtime() {
    // CVE-2024-21626's shape: a runtime descriptor left open in the workload.
    let out = probe_expect("fds", "OK");
    assert_eq!(out.field("fds", "fds"), "0,1,2", "{out:#?}");
}

#[test]
fn exec_process_is_confined_like_the_init() {
    // `sealrun exec` puts a second process in the container: it gets the same policy.
    let mut sb = Sandbox::new("exec");
    sb.spec["process"]["args"] = json!(["sleep", "1000"]);
    sb.create();
    sb.start();
    let mut cmd = rt(&sb.root);
    cmd.args(["exec", &sb.id, "sh", "-c"]).arg(
        "probe creds; probe open /srv/hostdata/secret r; probe unshare_user; \
         echo alive > /tmp/sanity && echo \"SANITY=$(cat /tmp/sanity)\"",
    );
    let out = cmd.output().expect("running exec");
    let out = Outcome {
        code: exit_code(out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for (key, want) in [("nnp", "1"), ("seccomp", "2"), ("capeff", "0"), ("capbnd", "0")] {
        assert_eq!(out.field("creds", key), want, "{key}: {out:#?}");
    }
    assert_eq!(out.result("open"), "EACCES", "{out:#?}");
    assert_eq!(out.result("unshare_user"), "EPERM", "{out:#?}");
    out.assert_alive();
    sb.delete();
}

// ---- the network --------------------------------------------------------------------------

#[test]
fn tcp_bind_a_port_the_policy_does_not_list() {
    probe_expect("tcp_bind 0.0.0.0 9000", "EACCES");
}

#[test]
fn tcp_bind_an_ephemeral_port() {
    probe_expect("tcp_bind 0.0.0.0 0", "EACCES");
}

#[test]
fn tcp6_bind_a_port_the_policy_does_not_list() {
    probe_expect("tcp_bind :: 9000", "EACCES");
}

#[test]
fn listen_with_busybox_nc_on_9000() {
    let out = attempt("nc", "nc -l -p 9000");
    assert_ne!(out.status(), 0, "{out:#?}");
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    out.assert_alive();
}

#[test]
fn listen_without_bind_autobinds_a_port() {
    // Landlock (ABI 7) checks only bind(2), not the autobind of listen() on an unbound
    // socket; the runtime reserves every ephemeral port in the container's network
    // namespace when the policy allows no outgoing TCP, so the autobind finds no port.
    probe_expect("listen_autobind", "EADDRINUSE");
}

#[test]
fn tcp_connect_to_the_sandbox_own_port() {
    // 8080 may be bound but not connected to: listen on it, then connect.
    let out = attempt("selfconnect", "probe tcp_self_connect 8080");
    assert_eq!(out.step("bind"), "OK", "{out:#?}");
    assert_eq!(out.step("listen"), "OK", "{out:#?}");
    out.assert_probe("tcp_self_connect", "EACCES");
}

#[test]
fn tcp6_connect_to_loopback() {
    probe_expect("tcp_connect ::1 8080", "EACCES");
}

/// A sandbox in the host's network namespace (a test-only policy override: the strict
/// profile asks for a new one), so that host listeners are reachable if anything lets
/// the workload connect.
fn host_net_sandbox(tag: &str, extra_net: &str) -> Sandbox {
    let mut sb = Sandbox::new(tag);
    sb.remove_namespace("network");
    sb.policy_variant(&format!("[sandbox.net]\nnamespace = \"host\"\n{extra_net}"));
    sb
}

/// Whether a connection is waiting on `l` (non-blocking).
fn accepted(l: &TcpListener) -> Option<String> {
    l.set_nonblocking(true).unwrap();
    match l.accept() {
        Ok((mut s, peer)) => {
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut data = String::new();
            let _ = s.read_to_string(&mut data);
            Some(format!("connection from {peer}: {data:?}"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn tcp_connect_to_a_host_listener() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let out = host_net_sandbox("connecthost", "")
        .sh(&format!("probe tcp_connect 127.0.0.1 {port}"))
        .run();
    out.assert_probe("tcp_connect", "EACCES");
    assert_eq!(accepted(&l), None, "{out:#?}");
}

#[test]
fn tcp_fastopen_to_a_host_listener() {
    // sendto(MSG_FASTOPEN) connects without connect(2).
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let out = host_net_sandbox("tfo", "")
        .sh(&format!("probe tcp_fastopen 127.0.0.1 {port}"))
        .run();
    assert_eq!(accepted(&l), None, "{out:#?}");
    out.assert_probe("tcp_fastopen", "EACCES");
}

#[test]
fn tcp_fastopen_to_the_sandbox_own_port() {
    let out = attempt("tfoself", "probe tcp_fastopen_self 8080");
    assert_eq!(out.step("listen"), "OK", "{out:#?}");
    assert!(!out.stdout.contains("STEP accepted OK"), "{out:#?}");
    out.assert_probe("tcp_fastopen_self", "EACCES");
}

#[test]
fn tcp_fastopen_connect_sockopt() {
    // TCP_FASTOPEN_CONNECT defers the handshake to the first write, but connect(2) is
    // still called, and checked.
    probe_expect("tcp_fastopen_connect 127.0.0.1 8080", "EACCES");
}

#[test]
fn udp_socket() {
    probe_expect("socket 2 2 0", "EACCES");
}

#[test]
fn udp6_socket() {
    probe_expect("socket 10 2 17", "EACCES");
}

#[test]
fn icmp_ping_socket() {
    probe_expect("socket 2 2 1", "EACCES");
}

#[test]
fn raw_socket() {
    probe_expect("socket 2 3 1", "EACCES");
}

#[test]
fn sctp_socket() {
    // SOCK_STREAM but not TCP: Landlock's port rules would not see it.
    probe_expect("socket 2 1 132", "EACCES");
}

#[test]
fn seqpacket_inet_socket() {
    probe_expect("socket 2 5 0", "EACCES");
}

#[test]
fn mptcp_socket() {
    probe_expect("socket 2 1 262", "EACCES");
}

#[test]
fn netlink_socket() {
    probe_expect("socket 16 3 0", "EAFNOSUPPORT");
}

#[test]
fn packet_socket() {
    probe_expect("socket 17 3 768", "EAFNOSUPPORT");
}

#[test]
fn vsock_socket() {
    probe_expect("socket 40 1 0", "EAFNOSUPPORT");
}

#[test]
fn alg_crypto_socket() {
    probe_expect("socket 38 5 0", "EAFNOSUPPORT");
}

#[test]
fn unix_socket() {
    probe_expect("socket 1 1 0", "EAFNOSUPPORT");
}

#[test]
fn unix_socketpair() {
    probe_expect("socketpair_unix", "EAFNOSUPPORT");
}

#[test]
fn netlink_socket_with_high_bits_in_the_family() {
    // The kernel truncates the family to an int; the filter compares all 64 bits.
    probe_expect("socket 0x100000010 3 0", "EAFNOSUPPORT");
}

#[test]
fn connect_to_a_host_abstract_unix_socket_under_the_strict_policy() {
    // The strict profile has no UNIX sockets at all: the socket cannot even be made.
    let name = format!("sealrun-escape-{}", std::process::id());
    let out = attempt("abstract", &format!("probe abstract_connect {name}"));
    assert_eq!(out.step("socket"), "EAFNOSUPPORT", "{out:#?}");
    assert_ne!(out.result("abstract_connect"), "OK", "{out:#?}");
    out.assert_alive();
}

fn abstract_listener(name: &str) -> UnixListener {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    UnixListener::bind_addr(&addr).expect("binding an abstract socket")
}

#[test]
fn connect_to_a_host_abstract_unix_socket_with_unix_allowed() {
    // Abstract sockets are per network namespace: the variant shares the host's and
    // allows UNIX sockets, so only Landlock's abstract-socket scope is left to refuse.
    let name = format!("sealrun-escape-abs-{}", std::process::id());
    let l = abstract_listener(&name);
    let out = host_net_sandbox("abstractscope", "allow_unix = true")
        .sh(&format!("probe abstract_connect {name}; probe abstract_self"))
        .run();
    assert_eq!(out.step("socket"), "OK", "{out:#?}");
    assert_eq!(out.result("abstract_connect"), "EPERM", "{out:#?}");
    // The control: an abstract socket made inside the sandbox is reachable from it.
    out.assert_probe("abstract_self", "OK");
    l.set_nonblocking(true).unwrap();
    assert!(l.accept().is_err(), "the host socket got a connection: {out:#?}");
}

#[test]
fn connect_to_a_host_unix_socket_mounted_in_under_the_strict_policy() {
    // A host service's socket (think docker.sock) bind-mounted into the container.
    let mut sb = Sandbox::new("unixsock");
    let sock = sb.hostdata().join("service.sock");
    let l = UnixListener::bind(&sock).unwrap();
    sb.sh("probe unix_connect /srv/hostdata/service.sock");
    let out = sb.run();
    assert_eq!(out.step("socket"), "EAFNOSUPPORT", "{out:#?}");
    out.assert_alive();
    l.set_nonblocking(true).unwrap();
    assert!(l.accept().is_err(), "the host socket got a connection: {out:#?}");
}

#[test]
#[ignore = "HOLE (policies with allow_unix = true): Landlock ABI 7 does not check connect() \
            to a pathname UNIX socket, so a host socket mounted anywhere in the container \
            is reachable even under a path that [sandbox.fs] does not list"]
fn connect_to_a_host_unix_socket_mounted_in_with_unix_allowed() {
    let mut sb = Sandbox::new("unixsockallow");
    sb.policy_variant("[sandbox.net]\nallow_unix = true");
    let sock = sb.hostdata().join("service.sock");
    let l = UnixListener::bind(&sock).unwrap();
    sb.sh("probe unix_connect /srv/hostdata/service.sock");
    let out = sb.run();
    l.set_nonblocking(true).unwrap();
    let got = l.accept().is_ok();
    assert!(!got, "the host socket got a connection: {out:#?}");
    out.assert_probe("unix_connect", "EACCES");
}

// ---- resources ----------------------------------------------------------------------------

#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    let mut sb = Sandbox::new("forkbomb");
    sb.sh("probe forkbomb");
    sb.create();
    let pids_max = fs::read_to_string(cgroup_dir("pids", &sb.id).join("pids.max")).unwrap();
    assert_eq!(pids_max.trim(), "256", "the strict profile's pids limit");
    sb.start();
    let code = sb.wait();
    let out = sb.finish(code);
    sb.delete();
    out.assert_probe("forkbomb", "EAGAIN");
    let forked: u32 = out.field("forkbomb", "forked").parse().unwrap();
    // sh and the probe count too; a bomb stopped by anything else would stop elsewhere.
    assert!((200..256).contains(&forked), "forked {forked}: {out:#?}");
    // The host still forks.
    assert!(Command::new("true").status().unwrap().success());
}

#[test]
fn memory_bomb_is_oom_killed_inside_the_cgroup() {
    // The bundle asks for 64 MiB, below the profile's 8 GiB: the runtime keeps the
    // stricter limit, and the bomb does not need to eat 8 GiB of the host to hit it.
    let mut sb = Sandbox::new("membomb");
    sb.spec["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    sb.sh("probe membomb");
    sb.create();
    let cg = cgroup_dir("memory", &sb.id);
    let limit = fs::read_to_string(cg.join("memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), (64u64 << 20).to_string(), "memory limit");
    sb.start();
    let code = sb.wait();
    let oom = fs::read_to_string(cg.join("memory.oom_control")).unwrap();
    let out = sb.finish(code);
    sb.delete();
    // The bomb (a child of the shell) was SIGKILLed; the shell lived on.
    assert_eq!(out.status(), 137, "{out:#?}");
    assert!(!out.stdout.contains("PROBE membomb OK"), "{out:#?}");
    let kills: u64 = oom
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .unwrap_or_else(|| panic!("no oom_kill in memory.oom_control: {oom}"))
        .trim()
        .parse()
        .unwrap();
    assert!(kills >= 1, "memory.oom_control: {oom}");
    out.assert_alive();
}
