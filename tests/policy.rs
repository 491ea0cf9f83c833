//! The policy end to end: `sealrun policy …` as a security team uses it, and the
//! runtime finding, enforcing and recording a policy (or refusing a bad one and
//! leaving nothing behind).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealrun_e2e::{busybox_rootfs, guarded, runtime_binary, unique_name};
use serde_json::{json, Value};

fn sealrun(args: &[&str]) -> Output {
    let bin = runtime_binary();
    let mut c = guarded(&bin.to_string_lossy());
    c.args(args);
    c.output().expect("running sealrun")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn library_policies_lint_clean_of_errors() {
    for name in ["model-server-strict", "gpu-worker", "dev-permissive"] {
        let o = sealrun(&["policy", "lint", &format!("library:{name}")]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        assert!(text(&o).contains("valid"), "{}", text(&o));
    }
    // dev-permissive is flagged, and --strict turns warnings into failure.
    let o = sealrun(&["policy", "lint", "--strict", "library:dev-permissive"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("allow_dev"), "{}", text(&o));
}

#[test]
fn a_typo_names_file_line_column_key_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.toml");
    fs::write(
        &f,
        "version = 1\n\n[sandbox.net]\ntcp_bind = [8080]\nallow_upd = true\n",
    )
    .unwrap();
    let o = sealrun(&["policy", "lint", &f.to_string_lossy()]);
    assert_eq!(code(&o), 1);
    let t = text(&o);
    assert!(t.contains(&format!("{}:5:1", f.display())), "{t}");
    assert!(
        t.contains("sandbox.net.allow_upd") && t.contains("did you mean `allow_udp`"),
        "{t}"
    );
}

#[test]
fn digest_is_stable_across_formatting_and_changes_with_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    let c = dir.path().join("c.toml");
    fs::write(
        &a,
        "version = 1\n[sandbox.net]\ntcp_bind = [8080, 9090]\n[sandbox.limits]\nmemory = \"1GiB\"\n",
    )
    .unwrap();
    fs::write(
        &b,
        "version = 1\nsandbox.limits.memory = 1073741824\nsandbox.net = { tcp_bind = [9090, 8080] }\n",
    )
    .unwrap();
    fs::write(
        &c,
        "version = 1\n[sandbox.net]\ntcp_bind = [8080, 9091]\n[sandbox.limits]\nmemory = \"1GiB\"\n",
    )
    .unwrap();
    let d = |p: &Path| {
        String::from_utf8_lossy(&sealrun(&["policy", "digest", &p.to_string_lossy()]).stdout)
            .trim()
            .to_string()
    };
    assert!(d(&a).starts_with("sha256:") && d(&a).len() == 71, "{}", d(&a));
    assert_eq!(d(&a), d(&b));
    assert_ne!(d(&a), d(&c));
}

#[test]
fn explain_and_diff_say_what_is_granted() {
    let o = sealrun(&["policy", "explain", "--output", "json", "library:model-server-strict"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("explain --output json is JSON");
    assert!(v.to_string().contains("8080"), "{v}");
    let o = sealrun(&["policy", "explain", "library:model-server-strict"]);
    assert!(text(&o).contains("may listen on TCP 8080"), "{}", text(&o));
    let o = sealrun(&["policy", "diff", "library:model-server-strict", "library:gpu-worker"]);
    assert!(text(&o).contains("grants: device /dev/nvidia0"), "{}", text(&o));
    let o = sealrun(&["policy", "diff", "library:gpu-worker", "library:model-server-strict"]);
    assert!(text(&o).contains("removes: device /dev/nvidia0"), "{}", text(&o));
}

#[test]
fn schema_is_the_checked_in_one() {
    let o = sealrun(&["policy", "schema"]);
    let printed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let checked_in: Value = serde_json::from_str(
        &fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/schema/policy-v1.schema.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(printed, checked_in);
}

#[test]
fn policy_test_runs_table_tests_like_a_test_runner() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("policy.toml"),
        "version = 1\nextends = \"library:model-server-strict\"\n",
    )
    .unwrap();
    let cases = json!([
        {"description": "reads its model", "input": {"check": "fs", "access": "read", "path": "/models/llama/weights.bin"}, "expect": "allow"},
        {"description": "cannot write its model", "input": {"check": "fs", "access": "write", "path": "/models/x"}, "expect": "deny"},
        {"description": "serves on 8080", "input": {"check": "tcp_bind", "port": 8080}, "expect": "allow"},
        {"description": "no outgoing https", "input": {"check": "tcp_connect", "port": 443}, "expect": "deny"},
        {"description": "no UDP", "input": {"check": "socket", "family": "udp"}, "expect": "deny"},
        {"description": "no mount", "input": {"check": "syscall", "name": "mount"}, "expect": "deny"},
        {"description": "futex is fine", "input": {"check": "syscall", "name": "futex"}, "expect": "allow"},
        {"description": "no CAP_NET_RAW", "input": {"check": "capability", "name": "CAP_NET_RAW"}, "expect": "deny"},
        {"description": "no dev TEE", "input": {"check": "tee", "kind": "dev"}, "expect": "deny"}
    ]);
    fs::write(dir.path().join("sandbox_test.json"), cases.to_string()).unwrap();
    let o = sealrun(&["policy", "test", &dir.path().to_string_lossy()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("test result: ok. 9 passed; 0 failed"), "{}", text(&o));

    // A wrong expectation fails the run and says why.
    fs::write(
        dir.path().join("wrong_test.json"),
        json!([{"description": "wrongly expects UDP", "input": {"check": "socket", "family": "udp"}, "expect": "allow"}]).to_string(),
    )
    .unwrap();
    let o = sealrun(&["policy", "test", &dir.path().to_string_lossy()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("wrongly expects UDP ... FAILED: expected allow, got deny"),
        "{}",
        text(&o)
    );
}

#[test]
fn policy_test_runs_rego_tests_against_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = r#"version = 1
extends = "library:model-server-strict"

[[rules]]
name = "no-left-pad"
applies_to = ["sbom"]
module = '''
package sbom.leftpad
deny contains msg if {
  some c in input.components
  c.name == "left-pad"
  msg := "left-pad is banned"
}
'''
"#;
    fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let tests = r#"package sbom.leftpad_test

import data.sbom.leftpad

test_no_capabilities if { count(data.sealrun.policy.sandbox.capabilities.keep) == 0 }

test_left_pad_denied if {
  count(leftpad.deny) == 1 with input as {"components": [{"name": "left-pad"}]}
}
"#;
    fs::write(dir.path().join("rules_test.rego"), tests).unwrap();
    let o = sealrun(&["policy", "test", &dir.path().to_string_lossy()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("test_left_pad_denied ... ok"), "{}", text(&o));
    assert!(text(&o).contains("test result: ok. 2 passed; 0 failed"), "{}", text(&o));

    let wrong = "package wrong_test\n\ntest_udp_allowed if { data.sealrun.policy.sandbox.net.allow_udp }\n";
    fs::write(dir.path().join("wrong_test.rego"), wrong).unwrap();
    let o = sealrun(&["policy", "test", &dir.path().to_string_lossy()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("test_udp_allowed ... FAILED"), "{}", text(&o));
}

// ---- the runtime --------------------------------------------------------------------

struct Bundle {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    root: PathBuf,
    id: String,
}

impl Bundle {
    fn new(annotation: Option<&str>, args: &[&str]) -> Bundle {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("bundle");
        fs::create_dir_all(dir.join("rootfs")).unwrap();
        busybox_rootfs(&dir.join("rootfs")).unwrap();
        let o = sealrun(&["spec", "--bundle", &dir.to_string_lossy()]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        let p = dir.join("config.json");
        let mut c: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
        let id = unique_name("pol");
        c["linux"]["cgroupsPath"] = json!(format!("/sealrun-e2e/{id}"));
        if let Some(a) = annotation {
            c["annotations"] = json!({"io.sealrun.policy": a});
        }
        fs::write(&p, c.to_string()).unwrap();
        let root = tmp.path().join("root");
        Bundle {
            dir,
            root,
            id,
            _tmp: tmp,
        }
    }

    fn run(&self, extra: &[&str]) -> Output {
        let mut a = vec!["--root", self.root.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["run", "--bundle", self.dir.to_str().unwrap(), &self.id]);
        sealrun(&a)
    }

    fn assert_nothing_left(&self) {
        assert!(!self.root.join(&self.id).exists(), "state dir left behind");
        for c in ["memory", "pids", "cpu", "freezer"] {
            let p = Path::new("/sys/fs/cgroup").join(c).join("sealrun-e2e").join(&self.id);
            assert!(!p.exists(), "{} left behind", p.display());
        }
    }
}

/// A policy for a busybox workload: the strict library profile with busybox's paths.
fn busybox_policy(dir: &Path) -> PathBuf {
    let p = dir.join("busybox-strict.toml");
    fs::write(
        &p,
        "version = 1\nextends = \"library:model-server-strict\"\n\
         [sandbox.fs]\nread = [\"/bin\", \"/etc\", \"/proc\", \"/dev/null\"]\nwrite = [\"/dev/null\"]\nexec = [\"/bin\"]\n",
    )
    .unwrap();
    p
}

#[test]
fn the_runtime_enforces_and_records_an_annotated_policy() {
    let pdir = tempfile::tempdir().unwrap();
    let policy = busybox_policy(pdir.path());
    let b = Bundle::new(
        Some(&policy.to_string_lossy()),
        &[
            "sh",
            "-c",
            "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; touch /etc/x 2>&1; echo end",
        ],
    );
    let o = b.run(&["--log-format", "json"]);
    let t = text(&o);
    assert_eq!(code(&o), 0, "{t}");
    assert!(t.contains("CapEff:\t0000000000000000"), "capabilities not dropped: {t}");
    assert!(t.contains("NoNewPrivs:\t1"), "{t}");
    assert!(t.contains("Seccomp:\t2"), "{t}");
    // /etc is readable but not writable under the policy (Landlock; the rootfs itself is read-only too).
    assert!(t.contains("touch: /etc/x:"), "{t}");
    assert!(t.contains("end"), "{t}");
    b.assert_nothing_left();
}

#[test]
fn the_decision_record_carries_the_policy_digest() {
    let b = Bundle::new(Some("library:model-server-strict"), &["true"]);
    // Create only, to read the record; the strict library cannot exec busybox from /bin,
    // which is fine: create stops before exec.
    let root = b.root.to_string_lossy().into_owned();
    // The init inherits create's stdio: not a pipe, or reading it would wait for the init.
    let bin = runtime_binary();
    let status = guarded(&bin.to_string_lossy())
        .args(["--root", &root, "create", "--bundle", &b.dir.to_string_lossy(), &b.id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "create failed: {status}");
    let rec: Value =
        serde_json::from_str(&fs::read_to_string(b.root.join(&b.id).join("decision.json")).unwrap()).unwrap();
    let digest = String::from_utf8_lossy(&sealrun(&["policy", "digest", "library:model-server-strict"]).stdout)
        .trim()
        .to_string();
    assert_eq!(rec["policy_digest"], json!(digest), "{rec}");
    assert!(rec["seccomp_sha256"].as_str().unwrap().starts_with("sha256:"), "{rec}");
    assert!(rec["seccomp_instructions"].as_u64().unwrap() > 0, "{rec}");
    assert_eq!(rec["no_new_privs"], json!(true));
    let o = sealrun(&["--root", &root, "delete", "--force", &b.id]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    b.assert_nothing_left();
}

#[test]
fn an_invalid_policy_refuses_the_container_and_leaves_nothing() {
    let pdir = tempfile::tempdir().unwrap();
    let bad = pdir.path().join("bad.toml");
    fs::write(&bad, "version = 1\n[sandbox]\nno_new_privs = false\n").unwrap();
    let b = Bundle::new(Some(&bad.to_string_lossy()), &["true"]);
    let log = pdir.path().join("log.json");
    let o = b.run(&["--log", &log.to_string_lossy(), "--log-format", "json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let line = fs::read_to_string(&log).unwrap();
    let last: Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    let msg = last["msg"].as_str().unwrap();
    assert!(
        msg.contains(&bad.display().to_string()) && msg.contains("no_new_privs"),
        "{msg}"
    );
    b.assert_nothing_left();
}

#[test]
fn a_policy_that_needs_a_network_namespace_refuses_host_networking() {
    let b = Bundle::new(Some("library:model-server-strict"), &["true"]);
    let p = b.dir.join("config.json");
    let mut c: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    let ns: Vec<Value> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "network")
        .cloned()
        .collect();
    c["linux"]["namespaces"] = json!(ns);
    fs::write(&p, c.to_string()).unwrap();
    let o = b.run(&[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("sandbox.net.namespace"), "{}", text(&o));
    b.assert_nothing_left();
}

#[test]
fn an_unknown_library_policy_is_a_clear_error() {
    let b = Bundle::new(Some("library:no-such-profile"), &["true"]);
    let o = b.run(&[]);
    assert_eq!(code(&o), 1);
    assert!(text(&o).contains("no-such-profile"), "{}", text(&o));
    let _ = Command::new("true");
    b.assert_nothing_left();
}

#[test]
fn the_example_policy_passes_its_own_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies/llm-server");
    let o = sealrun(&["policy", "lint", &dir.join("policy.toml").to_string_lossy()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = sealrun(&["policy", "test", &dir.to_string_lossy()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("test result: ok. 21 passed; 0 failed"),
        "{}",
        text(&o)
    );
}

// ---- the supply-chain gate ----------------------------------------------------------

fn fixtures() -> PathBuf {
    std::env::var_os("SEALRUN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"))
}

/// A copy of the fixture model layout (tests tamper with it) and a policy trusting its
/// signer: busybox paths on top of the strict profile, an SBOM required, OSV checked.
fn gated(dir: &Path, max_cvss: f64) -> (PathBuf, PathBuf) {
    let layout = dir.join("layout");
    let o = Command::new("cp")
        .args([
            "-a",
            &fixtures().join("oci/model-layout").to_string_lossy(),
            &layout.to_string_lossy(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let _ = Command::new("chmod")
        .args(["-R", "u+w", &layout.to_string_lossy()])
        .status();
    let f = fixtures();
    let policy = dir.join("gated.toml");
    fs::write(
        &policy,
        format!(
            "version = 1\nextends = \"library:model-server-strict\"\n\
             [trust]\nsigners.keys = [{{ path = \"{}\", algorithm = \"ecdsa-p256-sha256\" }}]\n\
             [sbom]\nformats = [\"cyclonedx-1.6\"]\nmax_cvss = {max_cvss:.1}\nosv_dir = \"{}\"\n\
             [sandbox.fs]\nread = [\"/bin\", \"/etc\", \"/proc\", \"/dev/null\"]\nwrite = [\"/dev/null\"]\nexec = [\"/bin\"]\n",
            f.join("signing/oms-local/ec_p256.pub").display(),
            f.join("osv").display()
        ),
    )
    .unwrap();
    (layout, policy)
}

fn annotate_image(b: &Bundle, image: &str) {
    let p = b.dir.join("config.json");
    let mut c: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    c["annotations"]["io.sealrun.image"] = json!(image);
    fs::write(&p, c.to_string()).unwrap();
}

#[test]
fn verify_image_passes_a_signed_model_and_reports_each_gate() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, policy) = gated(dir.path(), 10.0);
    let image = format!("{}:v1", layout.display());
    let o = sealrun(&[
        "verify",
        "image",
        &image,
        "--policy",
        &policy.to_string_lossy(),
        "--output",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["passed"], json!(true), "{r}");
    assert_eq!(r["signature"]["method"], json!("oms-key"), "{r}");
    assert_eq!(r["files_signed"], json!(4), "{r}");
    assert_eq!(r["sboms"][0]["format"], json!("cyclonedx-1.6"), "{r}");
    assert!(r["findings"].as_array().unwrap().is_empty(), "{r}");
}

#[test]
fn verify_image_refuses_a_vulnerable_sbom_with_the_policy_line() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, policy) = gated(dir.path(), 7.0);
    let o = sealrun(&[
        "verify",
        "image",
        &format!("{}:v1", layout.display()),
        "--policy",
        &policy.to_string_lossy(),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("pkg:pypi/cryptography@50.0.2 is affected by SYNTH-2026-0001 (CVSS 9.8 ≥ 7.0"),
        "{t}"
    );
    assert!(t.contains("[sbom].max_cvss"), "{t}");
}

#[test]
fn verify_image_refuses_an_untrusted_signer_and_a_tampered_layer() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, policy) = gated(dir.path(), 10.0);
    let image = format!("{}:v1", layout.display());
    // Another signer: the model-transparency test key.
    let other = fs::read_to_string(&policy).unwrap().replace(
        "signing/oms-local/ec_p256.pub",
        "signing/oms-upstream/keys/signing-key-pub.pem",
    );
    let other_policy = dir.path().join("other.toml");
    fs::write(&other_policy, other).unwrap();
    let o = sealrun(&["verify", "image", &image, "--policy", &other_policy.to_string_lossy()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("trust.signers"), "{}", text(&o));
    // Flip one byte of the largest layer (a weight file): its digest no longer matches.
    let blobs = layout.join("blobs/sha256");
    let biggest = fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = fs::read(&biggest).unwrap();
    bytes[1000] ^= 1;
    fs::write(&biggest, bytes).unwrap();
    let o = sealrun(&["verify", "image", &image, "--policy", &policy.to_string_lossy()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let name = biggest.file_name().unwrap().to_string_lossy().into_owned();
    assert!(text(&o).contains(&name), "the finding names the blob: {}", text(&o));
}

#[test]
fn create_runs_the_gate_for_an_annotated_image_and_refuses_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, policy) = gated(dir.path(), 7.0);
    let b = Bundle::new(Some(&policy.to_string_lossy()), &["true"]);
    annotate_image(&b, &format!("{}:v1", layout.display()));
    let log = dir.path().join("log.json");
    let o = b.run(&["--log", &log.to_string_lossy(), "--log-format", "json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let line = fs::read_to_string(&log).unwrap();
    let last: Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    let msg = last["msg"].as_str().unwrap();
    assert!(msg.contains("refused") && msg.contains("SYNTH-2026-0001"), "{msg}");
    b.assert_nothing_left();
}

#[test]
fn create_runs_a_verified_image_and_records_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, policy) = gated(dir.path(), 10.0);
    let b = Bundle::new(Some(&policy.to_string_lossy()), &["true"]);
    annotate_image(&b, &format!("{}:v1", layout.display()));
    let root = b.root.to_string_lossy().into_owned();
    let bin = runtime_binary();
    let status = guarded(&bin.to_string_lossy())
        .args(["--root", &root, "create", "--bundle", &b.dir.to_string_lossy(), &b.id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "create failed: {status}");
    let rec: Value = serde_json::from_str(&fs::read_to_string(b.root.join(&b.id).join("gate.json")).unwrap()).unwrap();
    assert_eq!(rec["passed"], json!(true), "{rec}");
    assert_eq!(
        rec["manifest_digest"],
        json!("sha256:aa28a7025d64c032dd0283e48f56f720c386f2780b92da4fc11a5db7ce94511d")
    );
    let o = sealrun(&["--root", &root, "delete", "--force", &b.id]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    b.assert_nothing_left();
}

// ---- the demo -------------------------------------------------------------------------

#[test]
fn the_demo_runs_the_whole_launch_path_and_leaves_nothing() {
    let o = sealrun(&["demo"]);
    let t = text(&o);
    assert_eq!(code(&o), 0, "{t}");
    for want in [
        "verdict: verified",
        "signature: oms-key",
        "sbom: cyclonedx-1.6 (3 components) passes",
        "released models/demo/key: 32 bytes",
        "3 entries, hash chain intact",
        "NoNewPrivs: 1",
        "key: 32 bytes read from fd 3",
        "write to /models: denied",
        "read /proc/kcore: denied",
        "listen on 8080, the policy's port: allowed",
        "listen on unlisted port 9999: denied",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    assert!(!t.contains("UNEXPECTED"), "{t}");
    let dir = t.lines().find_map(|l| l.strip_prefix("working directory ")).unwrap();
    assert!(!Path::new(dir).exists(), "{dir} left behind");
}
