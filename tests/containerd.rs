//! The runtime under test driven through real containerd and its stock runc shim
//! (`io.containerd.runc.v2`), exactly as a node would run it: `ctr --runc-binary <runtime>`
//! sets the shim's `BinaryName` option.
//!
//! Runtime: `$SEALRUN_E2E_RUNTIME` (e.g. `/usr/sbin/runc`), else `target/<profile>/sealrun`.
//! Every test gets its own containerd (temp dir, own sockets) and namespace, so the tests
//! can run in parallel; every test ends by checking that no runtime state dir and no
//! memory cgroup of its containers is left.

use sealrun_e2e::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Hang guard for state changes; never a pass/fail timing criterion.
const WAIT: Duration = Duration::from_secs(30);

struct Fixture {
    runtime: PathBuf,
    ns: String,
    // Declared last: dropped after the tests' assertions, cleaning up after failures too.
    ctd: Containerd,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        // Resolve the runtime first: a missing binary must fail before anything starts.
        let runtime = runtime_binary();
        let ctd = Containerd::start().unwrap_or_else(|e| panic!("{e}"));
        let ns = ctd.namespace(name);
        ctd.import_busybox(&ns)
            .unwrap_or_else(|e| panic!("{e}\n{}", ctd.log_tail()));
        Fixture { runtime, ns, ctd }
    }

    fn ctr(&self) -> Command {
        self.ctd.ctr(&self.ns)
    }

    /// `ctr run --runc-binary <runtime> <flags> <image> <id> <cmd>`; output whatever the exit.
    fn run(&self, flags: &[&str], id: &str, cmd: &[&str]) -> Output {
        let mut c = self.ctr();
        c.arg("run")
            .arg("--runc-binary")
            .arg(&self.runtime)
            .args(flags)
            .arg(IMAGE_REF)
            .arg(id);
        c.args(cmd);
        output(&mut c).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a detached container and waits until its task is RUNNING; returns its pid.
    fn run_detached(&self, flags: &[&str], id: &str, cmd: &[&str]) -> u32 {
        let mut all = vec!["-d"];
        all.extend_from_slice(flags);
        let out = self.run(&all, id, cmd);
        assert!(out.status.success(), "ctr run -d {id}: {}", self.explain(&out));
        self.wait_status(id, "RUNNING")
    }

    /// `ctr <args>` that must succeed; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let mut c = self.ctr();
        c.args(args);
        match run(&mut c) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(e) => panic!("{e}\n--- containerd log\n{}", self.ctd.log_tail()),
        }
    }

    fn explain(&self, out: &Output) -> String {
        format!(
            "status {}\n--- stdout\n{}\n--- stderr\n{}\n--- containerd log\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.ctd.log_tail()
        )
    }

    /// (pid, status) of task `id` from `ctr task ls`.
    fn task(&self, id: &str) -> Option<(u32, String)> {
        let out = self.ok(&["task", "ls"]);
        out.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[0] == id).then(|| (f[1].parse().unwrap_or(0), f[2].to_string()))
        })
    }

    fn wait_status(&self, id: &str, status: &str) -> u32 {
        wait_until(&format!("task {id} to be {status}"), WAIT, || match self.task(id) {
            Some((pid, s)) if s == status => (Some(pid), s),
            other => (None, format!("{other:?}")),
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", self.ctd.log_tail()))
    }

    /// Kills, deletes and removes container `id`, then checks nothing of it is left.
    fn remove(&self, id: &str) {
        if matches!(self.task(id), Some((_, s)) if s != "STOPPED") {
            self.ok(&["task", "kill", "-s", "SIGKILL", id]);
            self.wait_status(id, "STOPPED");
        }
        if self.task(id).is_some() {
            self.ok(&["task", "rm", id]);
        }
        self.ok(&["containers", "rm", id]);
        self.assert_no_state(id);
    }

    fn assert_no_state(&self, id: &str) {
        let listed = self.ok(&["containers", "ls", "-q"]);
        assert!(
            !listed.lines().any(|l| l == id),
            "container {id} still listed: {listed}"
        );
        check_no_state(&self.ns, id).unwrap_or_else(|e| panic!("{e}"));
    }

    /// While `id` runs, its runtime state dir and memory cgroup must exist (so the
    /// "gone after removal" checks are meaningful).
    fn assert_live_state(&self, id: &str) {
        let state = shim_runtime_root(&self.ns).join(id);
        assert!(
            state.is_dir(),
            "runtime state dir {} missing while {id} runs",
            state.display()
        );
        let cg = memory_cgroup(&self.ns, id);
        assert!(cg.is_dir(), "memory cgroup {} missing while {id} runs", cg.display());
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_rm_prints_container_stdout() {
    let f = Fixture::new("stdout");
    let out = f.run(&["--rm"], "hello", &["echo", "hello"]);
    assert!(out.status.success(), "{}", f.explain(&out));
    assert_eq!(stdout(&out), "hello\n", "{}", f.explain(&out));
    f.assert_no_state("hello");
}

#[test]
fn exit_code_propagates() {
    let f = Fixture::new("exitcode");
    let out = f.run(&["--rm"], "exit7", &["sh", "-c", "echo before; exit 7"]);
    assert_eq!(exit_code(out.status), 7, "{}", f.explain(&out));
    assert_eq!(stdout(&out), "before\n");
    f.assert_no_state("exit7");
}

/// The shim must call the configured binary, with `--root /run/containerd/runc/<ns>`:
/// the directory the other tests check for leftover state.
#[test]
fn shim_invokes_runtime_binary_with_root() {
    let f = Fixture::new("argv");
    let log = f.ctd.dir().join("argv.log");
    let wrapper = f.ctd.dir().join("runtime-wrapper");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            f.runtime.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut c = f.ctr();
    c.args(["run", "--rm", "--runc-binary"]).arg(&wrapper);
    c.args([IMAGE_REF, "argv", "echo", "via-wrapper"]);
    let out = output(&mut c).unwrap();
    assert!(out.status.success(), "{}", f.explain(&out));
    assert_eq!(stdout(&out), "via-wrapper\n");

    let calls = fs::read_to_string(&log).expect("the wrapper was never invoked");
    let root = format!("--root {}", shim_runtime_root(&f.ns).display());
    for verb in ["create", "start", "delete"] {
        assert!(
            calls
                .lines()
                .any(|l| l.starts_with(&root) && l.split_whitespace().any(|w| w == verb) && l.ends_with(" argv")),
            "no `{root} ... {verb} ... argv` call; calls were:\n{calls}"
        );
    }
    f.assert_no_state("argv");
}

#[test]
fn exec_runs_second_process() {
    let f = Fixture::new("exec");
    f.run_detached(&[], "ex", &["sleep", "1000"]);
    f.assert_live_state("ex");

    let mut c = f.ctr();
    c.args(["task", "exec", "--exec-id", "probe", "ex", "sh", "-c"]);
    // /proc/1 is the container's init only if the exec joined its pid namespace.
    c.arg("tr '\\0' ' ' < /proc/1/cmdline; echo; cat /etc/hostname; exit 3");
    let out = output(&mut c).unwrap();
    assert_eq!(exit_code(out.status), 3, "{}", f.explain(&out));
    assert_eq!(stdout(&out), "sleep 1000 \nbusybox\n", "{}", f.explain(&out));

    f.remove("ex");
}

#[test]
fn kill_sigterm_stops_detached_container() {
    let f = Fixture::new("sigterm");
    let events = f.ctd.events().unwrap();
    // An init with a TERM handler: PID 1 ignores signals it has no handler for.
    f.run_detached(
        &[],
        "term",
        &["sh", "-c", "trap 'exit 42' TERM; while :; do sleep 1; done"],
    );
    f.ok(&["task", "kill", "-s", "SIGTERM", "term"]);
    f.wait_status("term", "STOPPED");
    let exit = events.wait_for(&f.ns, "/tasks/exit", "term", WAIT).unwrap();
    assert_eq!(exit["exit_status"], 42, "exit event: {exit}");
    f.remove("term");
}

#[test]
fn kill_sigkill_stops_detached_container() {
    let f = Fixture::new("sigkill");
    let events = f.ctd.events().unwrap();
    f.run_detached(&[], "k9", &["sleep", "1000"]);
    f.assert_live_state("k9");
    f.ok(&["task", "kill", "-s", "SIGKILL", "k9"]);
    f.wait_status("k9", "STOPPED");
    let exit = events.wait_for(&f.ns, "/tasks/exit", "k9", WAIT).unwrap();
    assert_eq!(exit["exit_status"], 137, "exit event: {exit}");
    f.remove("k9");
}

#[test]
fn pause_and_resume() {
    let f = Fixture::new("pause");
    f.run_detached(&[], "pz", &["sleep", "1000"]);
    let freezer = Path::new(CGROUP_V1_ROOT)
        .join("freezer")
        .join(&f.ns)
        .join("pz/freezer.state");

    f.ok(&["task", "pause", "pz"]);
    assert_eq!(f.task("pz").map(|t| t.1).as_deref(), Some("PAUSED"));
    assert_eq!(fs::read_to_string(&freezer).unwrap().trim(), "FROZEN");

    f.ok(&["task", "resume", "pz"]);
    assert_eq!(f.task("pz").map(|t| t.1).as_deref(), Some("RUNNING"));
    assert_eq!(fs::read_to_string(&freezer).unwrap().trim(), "THAWED");

    f.remove("pz");
}

#[test]
fn ps_lists_container_pids() {
    let f = Fixture::new("ps");
    let init = f.run_detached(&[], "ps1", &["sleep", "1000"]);
    f.ok(&["task", "exec", "-d", "--exec-id", "second", "ps1", "sleep", "1001"]);

    let pids = wait_until("2 pids in `ctr task ps`", WAIT, || {
        let out = f.ok(&["task", "ps", "ps1"]);
        let pids: Vec<u32> = out
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        (if pids.len() == 2 { Some(pids) } else { None }, out)
    })
    .unwrap();
    assert!(pids.contains(&init), "init pid {init} not in {pids:?}");
    let other = pids.iter().find(|p| **p != init).unwrap();
    let cmdline = fs::read_to_string(format!("/proc/{other}/cmdline")).unwrap();
    assert_eq!(cmdline, "sleep\u{0}1001\u{0}", "pid {other} is not the exec'd process");

    f.remove("ps1");
}

#[test]
fn metrics_report_memory_and_cpu() {
    let f = Fixture::new("metrics");
    f.run_detached(
        &["--memory-limit", "33554432"],
        "m1",
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000",
        ],
    );
    let m: serde_json::Value = wait_until("cpu usage in metrics", WAIT, || {
        let text = f.ok(&["task", "metrics", "--format", "json", "m1"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let busy = v["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0;
        (busy.then_some(v), text)
    })
    .unwrap();
    assert_eq!(m["memory"]["usage"]["limit"], 33554432u64, "metrics: {m}");
    assert!(m["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0, "metrics: {m}");
    assert!(m["pids"]["current"].as_u64().unwrap_or(0) >= 1, "metrics: {m}");
    f.remove("m1");
}

#[test]
fn tty_container_echoes_output() {
    let f = Fixture::new("tty");
    let cmd = format!(
        "ctr -a {} -n {} run -t --rm --runc-binary {} {IMAGE_REF} tty1 sh -c 'tty; echo tty-ok; exit 5'",
        f.ctd.address().display(),
        f.ns,
        f.runtime.display()
    );
    // script(1) gives ctr a pty for its stdin/stdout; -e returns the child's exit code.
    let out = output(guarded("script").args(["-qec", &cmd, "/dev/null"])).unwrap();
    let text = stdout(&out);
    assert_eq!(exit_code(out.status), 5, "{}", f.explain(&out));
    assert!(text.contains("/dev/pts/"), "`tty` did not report a pty: {text:?}");
    // Each pty's line discipline turns \n into \r\n: the container's pty and then
    // script's give \r\r\n, which proves the output went through the container's pty.
    assert!(text.contains("tty-ok\r\r\n"), "no tty-ok line from two ptys: {text:?}");
    f.assert_no_state("tty1");
}

#[test]
fn memory_limit_oom_kills() {
    let f = Fixture::new("oom");
    let events = f.ctd.events().unwrap();
    // dd's 64 MiB buffer is written by read(2) from /dev/zero: every page is touched.
    let hog = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];

    // Control: without a limit the same allocation succeeds.
    let out = f.run(&["--rm"], "nolimit", &hog);
    assert!(out.status.success(), "control run without limit: {}", f.explain(&out));

    let out = f.run(&["--rm", "--memory-limit", "33554432"], "limited", &hog);
    assert_eq!(exit_code(out.status), 137, "{}", f.explain(&out));
    let oom = events.wait_for(&f.ns, "/tasks/oom", "limited", WAIT);
    assert!(oom.is_ok(), "no /tasks/oom event: {}", events.text());
    assert!(events.find(&f.ns, "/tasks/oom", "nolimit").is_none());
    f.assert_no_state("nolimit");
    f.assert_no_state("limited");
}

// ---------------------------------------------------------------------------------------
// RuntimeClass: what Kubernetes reaches through CRI. The kubelet's RuntimeClass `handler`
// selects `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<handler>]`; see
// examples/containerd/runtimeclass.toml and examples/kubernetes/runtimeclass.yaml.

/// The CRI sandbox ("pause") image: the busybox layer with a long-running Cmd.
const PAUSE_REF: &str = "docker.io/sealrun/pause:e2e";
const CRI_NAMESPACE: &str = "k8s.io";

/// (keys of the CRI table, extra tables) registering handler `sealrun` with `binary`: the
/// shipped snippet examples/containerd/runtimeclass.toml with its BinaryName replaced.
fn runtimeclass_config(binary: &Path) -> (String, String) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/containerd/runtimeclass.toml");
    let text = fs::read_to_string(&example).unwrap_or_else(|e| panic!("reading {}: {e}", example.display()));
    let placeholder = "BinaryName = \"/usr/local/bin/sealrun\"";
    assert!(
        text.contains(placeholder),
        "{} lacks `{placeholder}`",
        example.display()
    );
    let tables = text.replace(placeholder, &format!("BinaryName = \"{}\"", binary.display()));
    // Our busybox image with a long-running Cmd stands in for registry.k8s.io/pause.
    let cri_keys = format!("  sandbox_image = \"{PAUSE_REF}\"\n");
    (cri_keys, tables)
}

/// containerd accepts the RuntimeClass config: the CRI plugin is healthy and has parsed the
/// `sealrun` handler with our BinaryName.
#[test]
fn cri_plugin_loads_runtimeclass_config() {
    let runtime = runtime_binary();
    let (keys, tables) = runtimeclass_config(&runtime);
    let ctd = Containerd::start_with(&keys, &tables).unwrap_or_else(|e| panic!("{e}"));
    let plugins = run(guarded("ctr").arg("-a").arg(ctd.address()).args(["plugins", "ls"]))
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap();
    let cri = plugins.lines().find(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.first() == Some(&"io.containerd.grpc.v1") && f.get(1) == Some(&"cri")
    });
    assert!(
        cri.is_some_and(|l| l.split_whitespace().last() == Some("ok")),
        "CRI plugin not ok:\n{plugins}\n{}",
        ctd.log_tail()
    );
    // containerd logs the parsed CRI config when the plugin starts.
    let log = fs::read_to_string(ctd.dir().join("containerd.log")).unwrap();
    let expected = format!(
        "sealrun:{{Type:io.containerd.runc.v2 Path: Engine: PodAnnotations:[io.sealrun.*] ContainerAnnotations:[] Root: Options:map[BinaryName:{}",
        runtime.display()
    );
    assert!(log.contains(&expected), "handler not parsed as `{expected}`:\n{log}");
}

/// A pod through CRI with runtime handler `sealrun` (what a RuntimeClass selects): the
/// sandbox and the container are both created by the configured binary, the container's
/// output reaches the CRI log and its exit code the ContainerStatus.
/// Needs python3 with `grpcio` (tests/cri_client.py).
#[test]
fn cri_pod_runs_with_runtimeclass_handler() {
    let runtime = runtime_binary();
    let python = std::env::var("SEALRUN_E2E_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = output(Command::new(&python).args(["-c", "import grpc"]));
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "{python} cannot import grpc: `pip install grpcio` (or set SEALRUN_E2E_PYTHON): {probe:?}"
    );

    let scratch = tempfile::tempdir().unwrap();
    let argv_log = scratch.path().join("argv.log");
    let wrapper = scratch.path().join("runtime-wrapper");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            argv_log.display(),
            runtime.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let (keys, tables) = runtimeclass_config(&wrapper);
    let ctd = Containerd::start_with(&keys, &tables).unwrap_or_else(|e| panic!("{e}"));
    ctd.track_namespace(CRI_NAMESPACE);
    ctd.import_images(
        CRI_NAMESPACE,
        &[
            ImageSpec {
                reference: IMAGE_REF,
                cmd: &["sh"],
            },
            ImageSpec {
                reference: PAUSE_REF,
                cmd: &["sleep", "2147483647"],
            },
        ],
    )
    .unwrap();

    let cgroup_parent = format!("/{}", unique_name("sealrun-cri"));
    let log_dir = scratch.path().join("pod-logs");
    fs::create_dir(&log_dir).unwrap();
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("cri_client.py");
    let mut c = guarded(&python);
    c.arg(&client).arg("--address").arg(ctd.address());
    c.args([
        "--handler",
        "sealrun",
        "--image",
        IMAGE_REF,
        "--cgroup-parent",
        &cgroup_parent,
    ]);
    c.arg("--log-dir").arg(&log_dir);
    c.args(["--", "sh", "-c", "echo cri-hello; exit 3"]);
    let out = output(&mut c).unwrap();
    let cleanup_cgroups = || {
        for ctl in fs::read_dir(CGROUP_V1_ROOT).unwrap().flatten() {
            let _ = fs::remove_dir(ctl.path().join(cgroup_parent.trim_start_matches('/')));
        }
    };
    assert!(
        out.status.success(),
        "cri_client.py failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        ctd.log_tail()
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pod_id = result["pod_id"].as_str().unwrap().to_string();
    let container_id = result["container_id"].as_str().unwrap().to_string();
    assert_eq!(result["state"], 2, "container not EXITED: {result}");
    assert_eq!(result["exit_code"], 3, "{result}");
    // CRI log format: `<RFC3339Nano time> stdout F <line>`.
    let log = result["log"].as_str().unwrap();
    assert!(
        log.lines().any(|l| l.ends_with(" stdout F cri-hello")),
        "no CRI log line for the container's stdout: {log:?}"
    );

    let calls = fs::read_to_string(&argv_log).expect("the handler's BinaryName was never run");
    let root = format!("--root {}", shim_runtime_root(CRI_NAMESPACE).display());
    for id in [&pod_id, &container_id] {
        assert!(
            calls.lines().any(|l| l.starts_with(&root)
                && l.split_whitespace().any(|w| w == "create")
                && l.ends_with(&format!(" {id}"))),
            "no `{root} ... create ... {id}` call; calls were:\n{calls}"
        );
        let state = shim_runtime_root(CRI_NAMESPACE).join(id);
        assert!(!state.exists(), "runtime state {} left after removal", state.display());
        let cg = Path::new(CGROUP_V1_ROOT)
            .join("memory")
            .join(cgroup_parent.trim_start_matches('/'))
            .join(id);
        assert!(!cg.exists(), "memory cgroup {} left after removal", cg.display());
    }
    cleanup_cgroups();
}
