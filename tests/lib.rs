//! Shared helpers for sealrun's end-to-end tests.
//!
//! - [`runtime_binary`]: which OCI runtime binary the tests drive (`SEALRUN_E2E_RUNTIME`,
//!   else the `sealrun` binary built next to the test executable).
//! - [`busybox_rootfs`] / [`busybox_oci_tar`]: a minimal root filesystem and an OCI image
//!   layout built from the host's static busybox, with no registry involved.
//! - [`Containerd`]: a private containerd whose sockets, root and state live in a temp dir,
//!   driven with `ctr`; it is stopped and cleaned up on drop.
//!
//! Everything shells out to the real tools (`tar`, `sha256sum`, `containerd`, `ctr`) so the
//! tests exercise the same paths as a production node.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Environment variable naming the runtime binary to test (e.g. `/usr/sbin/runc`).
pub const RUNTIME_ENV: &str = "SEALRUN_E2E_RUNTIME";
/// The static busybox that every rootfs is built from (Debian's `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";
/// The reference under which [`busybox_oci_tar`] publishes its image.
pub const IMAGE_REF: &str = "docker.io/sealrun/busybox:e2e";
/// The runc shim (`io.containerd.runc.v2`) passes `--root <this>/<namespace>` to the
/// runtime unless the runtime options set `Root`.
pub const SHIM_RUNTIME_ROOT: &str = "/run/containerd/runc";
/// Cgroup v1 hierarchies that containerd's default spec (cgroupsPath `/<ns>/<id>`) touches.
pub const CGROUP_V1_ROOT: &str = "/sys/fs/cgroup";

/// Why a harness step failed.
#[derive(Debug)]
pub enum HarnessError {
    /// A filesystem operation on `path` failed.
    Io {
        what: String,
        path: PathBuf,
        source: io::Error,
    },
    /// A command could not be spawned or exited unsuccessfully.
    Command {
        command: String,
        status: String,
        stdout: String,
        stderr: String,
    },
    /// A condition was not reached in time (a hang guard, not a performance check).
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },
    /// Some output did not have the expected shape.
    Unexpected {
        what: String,
        expected: String,
        found: String,
    },
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Io { what, path, source } => {
                write!(f, "{what} ({}): {source}", path.display())
            }
            HarnessError::Command { command, status, stdout, stderr } => write!(
                f,
                "command `{command}` failed: expected success, found {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
            ),
            HarnessError::Timeout { what, waited, last } => {
                write!(f, "timed out after {waited:?} waiting for {what}; last seen: {last}")
            }
            HarnessError::Unexpected { what, expected, found } => {
                write!(f, "{what}: expected {expected}, found {found}")
            }
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HarnessError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, HarnessError>;

fn io_err(what: impl Into<String>, path: &Path) -> impl FnOnce(io::Error) -> HarnessError {
    let what = what.into();
    let path = path.to_path_buf();
    move |source| HarnessError::Io { what, path, source }
}

/// The runtime binary under test: `$SEALRUN_E2E_RUNTIME` if set, else `sealrun` in the
/// target dir of the running test executable (`target/debug/deps/x` → `target/debug/sealrun`).
///
/// Panics with instructions when the binary does not exist, so a missing runtime fails
/// the tests instead of letting containerd silently fall back to the system `runc`.
pub fn runtime_binary() -> PathBuf {
    let (path, origin) = match std::env::var_os(RUNTIME_ENV) {
        Some(p) if !p.is_empty() => (PathBuf::from(p), format!("from ${RUNTIME_ENV}")),
        _ => {
            let exe = std::env::current_exe().expect("current_exe() of the test binary");
            // target/<profile>/deps/<test> → target/<profile>/sealrun
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("test executable lives in target/<profile>/deps");
            (
                profile_dir.join("sealrun"),
                format!("next to the test executable {}", exe.display()),
            )
        }
    };
    if !path.is_file() {
        panic!(
            "runtime binary {} ({origin}) does not exist: build it with \
             `cargo build -p sealrun`, or set {RUNTIME_ENV}=/usr/sbin/runc to run the suite \
             against runc",
            path.display()
        );
    }
    path
}

/// Seconds after which [`guarded`] commands are killed (exit status 124, or 137 once
/// SIGKILLed 10 s later). A hang guard, not a timing assertion.
pub const HANG_GUARD: &str = "120";

/// `timeout -k 10 <HANG_GUARD> <program>`, ready for arguments.
pub fn guarded(program: &str) -> Command {
    let mut c = Command::new("timeout");
    c.args(["-k", "10", HANG_GUARD, program]);
    c
}

/// Runs `cmd`, returning its output; an unsuccessful exit is an error.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let out = output(cmd)?;
    if !out.status.success() {
        return Err(command_failed(cmd, &out));
    }
    Ok(out)
}

/// Runs `cmd` with stdin from /dev/null and returns its output whatever its exit status.
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null()).output().map_err(|e| HarnessError::Command {
        command: describe(cmd),
        status: format!("spawn error: {e}"),
        stdout: String::new(),
        stderr: String::new(),
    })
}

/// An error describing a command's unexpected result.
pub fn command_failed(cmd: &Command, out: &Output) -> HarnessError {
    HarnessError::Command {
        command: describe(cmd),
        status: out.status.to_string(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A command line as a readable string, for error messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Polls `probe` every 100 ms until it returns `Some`, for at most `timeout`.
/// `probe` also returns a description of what it saw, for the timeout message.
pub fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> (Option<T>, String)) -> Result<T> {
    let start = Instant::now();
    loop {
        let (value, seen) = probe();
        if let Some(v) = value {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            return Err(HarnessError::Timeout {
                what: what.to_string(),
                waited: timeout,
                last: seen,
            });
        }
        sleep(Duration::from_millis(100));
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let out = run(Command::new("sha256sum").arg(path))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.split_whitespace().next().unwrap_or("");
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(HarnessError::Unexpected {
            what: format!("sha256sum output for {}", path.display()),
            expected: "64 hex digits".into(),
            found: text.into_owned(),
        });
    }
    Ok(hex.to_string())
}

/// Builds a busybox root filesystem in `dir` (created if missing): `bin/busybox` (a copy of
/// the static [`BUSYBOX`]), one `bin/<applet>` symlink per applet of `busybox --list`,
/// `etc/passwd`, `etc/group`, `etc/hostname`, and empty `proc sys dev tmp root` dirs.
pub fn busybox_rootfs(dir: &Path) -> Result<()> {
    for sub in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        let p = dir.join(sub);
        fs::create_dir_all(&p).map_err(io_err("creating rootfs directory", &p))?;
    }
    let tmp = dir.join("tmp");
    fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
        .map_err(io_err("setting mode 1777", &tmp))?;

    let target = dir.join("bin/busybox");
    fs::copy(BUSYBOX, &target).map_err(io_err(format!("copying {BUSYBOX}"), &target))?;
    let out = run(Command::new(BUSYBOX).arg("--list"))?;
    let list = String::from_utf8_lossy(&out.stdout);
    let mut applets = 0;
    for applet in list.lines().map(str::trim).filter(|a| !a.is_empty() && *a != "busybox") {
        let link = dir.join("bin").join(applet);
        if link.symlink_metadata().is_err() {
            symlink("busybox", &link).map_err(io_err("creating applet symlink", &link))?;
        }
        applets += 1;
    }
    if applets < 50 {
        return Err(HarnessError::Unexpected {
            what: format!("`{BUSYBOX} --list`"),
            expected: "the applet list of busybox-static (hundreds of applets)".into(),
            found: format!("{applets} applets"),
        });
    }

    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ("etc/hostname", "busybox\n"),
    ];
    for (name, content) in files {
        let p = dir.join(name);
        fs::write(&p, content).map_err(io_err("writing rootfs file", &p))?;
    }
    Ok(())
}

/// One image of an OCI layout built by [`busybox_oci_tar_with`].
#[derive(Debug, Clone, Copy)]
pub struct ImageSpec<'a> {
    /// Full reference, stored as `org.opencontainers.image.ref.name` (ctr imports it as is).
    pub reference: &'a str,
    /// The image config's `Cmd`.
    pub cmd: &'a [&'a str],
}

/// Writes an OCI image-layout tar of the busybox rootfs to `out`, as image [`IMAGE_REF`]
/// with `Cmd ["sh"]`.
pub fn busybox_oci_tar(out: &Path) -> Result<()> {
    busybox_oci_tar_with(
        out,
        &[ImageSpec {
            reference: IMAGE_REF,
            cmd: &["sh"],
        }],
    )
}

/// Writes an OCI image-layout tar to `out` holding one manifest per `images` entry, all
/// sharing one uncompressed busybox layer and differing only in their config's `Cmd`.
pub fn busybox_oci_tar_with(out: &Path, images: &[ImageSpec<'_>]) -> Result<()> {
    let work = tempfile::tempdir().map_err(io_err("creating temp dir", Path::new("/tmp")))?;
    let rootfs = work.path().join("rootfs");
    busybox_rootfs(&rootfs)?;
    let layout = work.path().join("layout");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(io_err("creating blobs dir", &blobs))?;

    // Reproducible layer: sorted names, root-owned, epoch mtimes.
    let layer = work.path().join("layer.tar");
    run(Command::new("tar")
        .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0"])
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&layer)
        .arg("."))?;
    let layer_desc = add_blob(&blobs, &layer, "application/vnd.oci.image.layer.v1.tar")?;
    // Uncompressed layer: its diff_id is its digest.
    let diff_id = layer_desc["digest"].clone();

    let mut manifests = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": image.cmd,
                "WorkingDir": "/",
            },
            "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        });
        let config_path = work.path().join(format!("config-{i}.json"));
        write_json(&config_path, &config)?;
        let config_desc = add_blob(&blobs, &config_path, "application/vnd.oci.image.config.v1+json")?;

        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [layer_desc],
        });
        let manifest_path = work.path().join(format!("manifest-{i}.json"));
        write_json(&manifest_path, &manifest)?;
        let mut desc = add_blob(&blobs, &manifest_path, "application/vnd.oci.image.manifest.v1+json")?;
        desc["platform"] = serde_json::json!({ "architecture": "amd64", "os": "linux" });
        desc["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": image.reference });
        manifests.push(desc);
    }

    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    write_json(&layout.join("index.json"), &index)?;
    write_json(
        &layout.join("oci-layout"),
        &serde_json::json!({ "imageLayoutVersion": "1.0.0" }),
    )?;
    run(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(out)
        .args(["oci-layout", "index.json", "blobs"]))?;
    Ok(())
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let bytes = serde_json::to_vec(value).expect("serialising a serde_json::Value");
    fs::write(path, bytes).map_err(io_err("writing JSON", path))
}

/// Copies `file` into `blobs` under its digest and returns its descriptor.
fn add_blob(blobs: &Path, file: &Path, media_type: &str) -> Result<serde_json::Value> {
    let hex = sha256_file(file)?;
    let size = fs::metadata(file).map_err(io_err("stat blob", file))?.len();
    let dest = blobs.join(&hex);
    fs::copy(file, &dest).map_err(io_err("copying blob", &dest))?;
    Ok(serde_json::json!({
        "mediaType": media_type,
        "digest": format!("sha256:{hex}"),
        "size": size,
    }))
}

/// The runtime `--root` the runc shim uses for `namespace` (no `Root` option set).
pub fn shim_runtime_root(namespace: &str) -> PathBuf {
    Path::new(SHIM_RUNTIME_ROOT).join(namespace)
}

/// The v1 memory cgroup of a container started by `ctr` (cgroupsPath `/<ns>/<id>`).
pub fn memory_cgroup(namespace: &str, id: &str) -> PathBuf {
    Path::new(CGROUP_V1_ROOT).join("memory").join(namespace).join(id)
}

/// Checks that nothing of container `id` is left: no runtime state dir under the shim's
/// `--root` and no memory cgroup.
pub fn check_no_state(namespace: &str, id: &str) -> Result<()> {
    let state = shim_runtime_root(namespace).join(id);
    let cgroup = memory_cgroup(namespace, id);
    for (what, path) in [("runtime state dir", &state), ("memory cgroup", &cgroup)] {
        if path.symlink_metadata().is_ok() {
            return Err(HarnessError::Unexpected {
                what: format!("{what} of container {id} after removal"),
                expected: "no such path".into(),
                found: format!("{} exists", path.display()),
            });
        }
    }
    Ok(())
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call (`<prefix>-<pid>-<n>`), valid as a containerd
/// namespace and container id.
pub fn unique_name(prefix: &str) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// `timeout -k 5 60 sealrun --root ROOT`, ready for a verb; stdin from /dev/null. The 60 s
/// is a hang guard, not a timing check.
pub fn rt(root: &Path) -> Command {
    let mut c = Command::new("timeout");
    c.args(["-k", "5", "60"]).arg(runtime_binary()).arg("--root").arg(root);
    c.stdin(Stdio::null());
    c
}

/// A private containerd instance. Its config, root, state and sockets all live in a temp
/// dir; `Drop` removes leftover tasks and containers, stops it by pid and cleans up.
pub struct Containerd {
    child: Child,
    address: PathBuf,
    namespaces: Mutex<Vec<String>>,
    // Dropped (removed) after `Drop::drop` has unmounted whatever was left under it.
    dir: tempfile::TempDir,
}

impl Containerd {
    /// Starts containerd with the default test config.
    pub fn start() -> Result<Self> {
        Self::start_with("", "")
    }

    /// Starts containerd with `cri_keys` added to the `[plugins."io.containerd.grpc.v1.cri"]`
    /// table and `extra_tables` (whole TOML tables, e.g. CRI runtimes) appended.
    pub fn start_with(cri_keys: &str, extra_tables: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("sealrun-ctd-")
            .tempdir()
            .map_err(io_err("creating containerd temp dir", Path::new("/tmp")))?;
        let d = dir.path();
        let address = d.join("containerd.sock");
        // The CRI plugin stays enabled (it is what Kubernetes talks to, and the RuntimeClass
        // test needs it). restrict_oom_score_adj keeps CRI from trying to lower
        // oom_score_adj, which needs CAP_SYS_RESOURCE that CI machines may lack.
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  address = "{debug}"
  level = "info"

[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
{cri_keys}

{extra_tables}
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = address.display(),
            debug = d.join("debug.sock").display(),
        );
        let config_path = d.join("config.toml");
        fs::write(&config_path, config).map_err(io_err("writing containerd config", &config_path))?;
        let log_path = d.join("containerd.log");
        let log = fs::File::create(&log_path).map_err(io_err("creating containerd log", &log_path))?;
        let log2 = log.try_clone().map_err(io_err("duplicating log fd", &log_path))?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| HarnessError::Command {
                command: format!("containerd --config {}", config_path.display()),
                status: format!("spawn error: {e}"),
                stdout: String::new(),
                stderr: String::new(),
            })?;
        let mut ctd = Containerd {
            child,
            address,
            namespaces: Mutex::new(Vec::new()),
            dir,
        };

        wait_until("containerd to answer `ctr version`", Duration::from_secs(30), || {
            if let Ok(Some(status)) = ctd.child.try_wait() {
                return (None, format!("containerd exited with {status}"));
            }
            match output(guarded("ctr").arg("-a").arg(&ctd.address).arg("version")) {
                Ok(o) if o.status.success() => (Some(()), String::new()),
                Ok(o) => (None, String::from_utf8_lossy(&o.stderr).into_owned()),
                Err(e) => (None, e.to_string()),
            }
        })
        .map_err(|e| HarnessError::Unexpected {
            what: "starting containerd".into(),
            expected: "a running daemon".into(),
            found: format!("{e}\n--- containerd log (tail)\n{}", ctd.log_tail()),
        })?;
        if let Ok(Some(status)) = ctd.child.try_wait() {
            return Err(HarnessError::Unexpected {
                what: "starting containerd".into(),
                expected: "a running daemon".into(),
                found: format!("exited with {status}\n{}", ctd.log_tail()),
            });
        }
        Ok(ctd)
    }

    /// containerd's gRPC socket.
    pub fn address(&self) -> &Path {
        &self.address
    }

    /// The temp dir holding this instance's config, root, state and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The pid of the containerd daemon.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A fresh namespace name; its leftovers are cleaned up when `self` drops.
    pub fn namespace(&self, prefix: &str) -> String {
        let ns = unique_name(prefix);
        self.namespaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ns.clone());
        ns
    }

    /// Cleans up leftovers of an externally named namespace (e.g. CRI's `k8s.io`) on drop.
    pub fn track_namespace(&self, namespace: &str) {
        self.namespaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(namespace.to_string());
    }

    /// `ctr -a <socket> -n <namespace>` under a [`HANG_GUARD`] `timeout`, ready for more
    /// arguments: a runtime that hangs fails the test instead of hanging it.
    pub fn ctr(&self, namespace: &str) -> Command {
        let mut c = guarded("ctr");
        c.arg("-a").arg(&self.address).arg("-n").arg(namespace);
        c
    }

    /// Builds the busybox image tar (see [`busybox_oci_tar_with`]) and imports it into
    /// `namespace`.
    pub fn import_images(&self, namespace: &str, images: &[ImageSpec<'_>]) -> Result<()> {
        let tar = self.dir().join(format!("{}.oci.tar", unique_name("image")));
        busybox_oci_tar_with(&tar, images)?;
        run(self.ctr(namespace).args(["images", "import"]).arg(&tar))?;
        let _ = fs::remove_file(&tar);
        Ok(())
    }

    /// Imports [`IMAGE_REF`] (busybox, `Cmd ["sh"]`) into `namespace`.
    pub fn import_busybox(&self, namespace: &str) -> Result<()> {
        self.import_images(
            namespace,
            &[ImageSpec {
                reference: IMAGE_REF,
                cmd: &["sh"],
            }],
        )
    }

    /// Starts `ctr events`, recording every event of this containerd.
    pub fn events(&self) -> Result<Events> {
        let path = self.dir().join(format!("{}.log", unique_name("events")));
        let file = fs::File::create(&path).map_err(io_err("creating events log", &path))?;
        let child = Command::new("ctr")
            .arg("-a")
            .arg(&self.address)
            .arg("events")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HarnessError::Command {
                command: "ctr events".into(),
                status: format!("spawn error: {e}"),
                stdout: String::new(),
                stderr: String::new(),
            })?;
        // `ctr events` subscribes asynchronously; give it a moment so the first events of
        // the test are not missed (missing them would fail the test, never pass it).
        sleep(Duration::from_millis(300));
        Ok(Events { child, path })
    }

    /// The last 60 lines of containerd's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.dir().join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn cleanup_namespace(&self, ns: &str) {
        // Best effort: a failed test may leave tasks and containers behind, and their
        // shims outlive containerd.
        if let Ok(out) = output(self.ctr(ns).args(["containers", "ls", "-q"])) {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = output(self.ctr(ns).args(["task", "rm", "-f", id]));
                let _ = output(self.ctr(ns).args(["containers", "rm", id]));
            }
        }
        let _ = fs::remove_dir(shim_runtime_root(ns));
        if let Ok(entries) = fs::read_dir(CGROUP_V1_ROOT) {
            for e in entries.flatten() {
                let _ = fs::remove_dir(e.path().join(ns));
            }
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let namespaces = std::mem::take(&mut *self.namespaces.lock().unwrap_or_else(|e| e.into_inner()));
        for ns in &namespaces {
            self.cleanup_namespace(ns);
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of our own, not yet reaped, child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => sleep(Duration::from_millis(50)),
            }
        }
        unmount_under(self.dir.path());
    }
}

/// Lazily unmounts every mount point under `dir`, deepest first, so the temp dir can be
/// removed (snapshot and rootfs mounts of a container that was not cleaned up).
fn unmount_under(dir: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for p in points {
        let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: umount2 with a valid NUL-terminated path; MNT_DETACH only detaches.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// A running `ctr events`, recording to a file. Stopped on drop.
pub struct Events {
    child: Child,
    path: PathBuf,
}

impl Events {
    /// Everything recorded so far.
    pub fn text(&self) -> String {
        fs::read_to_string(&self.path).unwrap_or_default()
    }

    /// Waits for an event with `topic` (e.g. `/tasks/exit`) in `namespace` whose payload's
    /// `container_id` is `id`, and returns the payload.
    pub fn wait_for(&self, namespace: &str, topic: &str, id: &str, timeout: Duration) -> Result<serde_json::Value> {
        wait_until(&format!("event {topic} for {namespace}/{id}"), timeout, || {
            (self.find(namespace, topic, id), self.text())
        })
    }

    /// The payload of the first recorded event matching `namespace`, `topic` and `id`.
    pub fn find(&self, namespace: &str, topic: &str, id: &str) -> Option<serde_json::Value> {
        // Lines look like: `<date> <time> +0000 UTC <namespace> <topic> <json>`.
        self.text().lines().find_map(|line| {
            let mut parts = line.splitn(7, ' ');
            let fields: Vec<&str> = parts.by_ref().take(6).collect();
            let payload = parts.next()?;
            if fields.len() != 6 || fields[4] != namespace || fields[5] != topic {
                return None;
            }
            let v: serde_json::Value = serde_json::from_str(payload).ok()?;
            (v["container_id"] == id).then_some(v)
        })
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The exit code of `status` as a shell would report it (128 + signal when killed).
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
