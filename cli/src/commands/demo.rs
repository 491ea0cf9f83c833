//! `sealrun demo`: the whole launch path on embedded defaults, on one machine, with no
//! input: a model is signed and packaged as an OCI image with its SBOM, a policy trusts its
//! signer, the supply-chain gate verifies it, a key broker releases the model key to a
//! (dev-TEE) attestation that binds the image and policy digests, and the model server runs
//! confined by the policy with the key handed over through memory only.
//!
//! Everything lives in a fresh temporary directory, removed at the end unless `--keep`.
//! The dev TEE is software: it proves nothing about the machine, and the demo's policy says
//! `allow_dev = true` where a production policy would list SNP/TDX measurements.

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use sealrun_attest::audit::{self, AuditLog};
use sealrun_attest::broker::client::{request_resource, DevTee};
use sealrun_attest::broker::protocol::WorkloadClaims;
use sealrun_attest::broker::server::{Broker, BrokerConfig};
use sealrun_attest::keystore::{FileKeyStore, Kek, KeyStore, Secret};
use sealrun_image::oms;
use sealrun_policy::Policy;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::gate::{verify_image, ImageRef};

const BUSYBOX: &str = "/bin/busybox";
const RESOURCE: &str = "models/demo/key";

#[derive(clap::Args)]
pub struct Args {
    /// Keep the working directory (model, image, policy, audit log) and print its path
    #[arg(long)]
    pub keep: bool,
    /// Stop after the key release: do not start the model server container
    #[arg(long = "no-container")]
    pub no_container: bool,
}

fn step(n: u32, what: &str) {
    println!("\n[{n}/6] {what}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(b)))
}

fn random(n: usize) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    let mut f = fs::File::open("/dev/urandom").context("/dev/urandom")?;
    std::io::Read::read_exact(&mut f, &mut v).context("/dev/urandom")?;
    Ok(v)
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let work = std::env::temp_dir().join(format!("sealrun-demo-{}", std::process::id()));
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("removing stale {}", work.display()))?;
    }
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let res = demo(&work, &a);
    if a.keep {
        println!("\nkept {}", work.display());
    } else {
        let _ = fs::remove_dir_all(&work);
    }
    res
}

fn demo(work: &Path, a: &Args) -> anyhow::Result<i32> {
    println!("sealrun demo: sign → package → verify → attest → release key → run confined");
    println!("working directory {}", work.display());

    // 1. A model, signed by its publisher.
    step(1, "publisher: a model signed with OpenSSF model signing (ECDSA P-256)");
    let model = work.join("model");
    fs::create_dir_all(model.join("tokenizer"))?;
    fs::write(
        model.join("config.json"),
        "{\"architectures\": [\"DemoForCausalLM\"], \"hidden_size\": 64}\n",
    )?;
    fs::write(
        model.join("tokenizer/tokenizer.json"),
        "{\"version\": \"1.0\", \"vocab\": {}}\n",
    )?;
    fs::write(model.join("model.safetensors"), &*random(1 << 20)?)?;
    let (private_pem, public_pem) = oms::generate_p256()?;
    let pub_path = work.join("publisher.pub.pem");
    fs::write(&pub_path, &public_pem)?;
    let bundle = oms::sign_model(
        &model,
        &oms::Signer::Key {
            private_key_pem: private_pem.as_bytes().to_vec(),
        },
        &oms::SignOptions::default(),
    )?;
    drop(private_pem);
    println!(
        "  model/ (3 files) signed: bundle {} ({} bytes)",
        sha256(&bundle),
        bundle.len()
    );

    // 2. The OCI image: ModelPack manifest with .raw layers, signature and SBOM as referrers.
    step(
        2,
        "registry: packaged as a CNCF ModelPack OCI image with OCI 1.1 referrers",
    );
    let layout = work.join("image");
    let mut w = LayoutWriter::create(&layout)?;
    let files = ["config.json", "model.safetensors", "tokenizer/tokenizer.json"];
    let mut layers = Vec::new();
    for f in files {
        let bytes = fs::read(model.join(f))?;
        let mt = if f.ends_with(".safetensors") {
            "application/vnd.cncf.model.weight.v1.raw"
        } else {
            "application/vnd.cncf.model.weight.config.v1.raw"
        };
        let mut d = w.blob(&bytes, mt)?;
        d["annotations"] = json!({"org.cncf.model.filepath": f});
        layers.push(d);
    }
    let config = w.blob(
        &serde_json::to_vec(&json!({
            "descriptor": {"name": "demo-model", "version": "1.0"},
            "config": {"format": "safetensors"},
            "modelfs": {"type": "layers", "diffIds": layers.iter().map(|l| l["digest"].clone()).collect::<Vec<_>>()}
        }))?,
        "application/vnd.cncf.model.config.v1+json",
    )?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cncf.model.manifest.v1+json",
        "config": config,
        "layers": layers,
    });
    let subject = w.manifest(&manifest, Some("v1"))?;
    let image_digest = subject["digest"].as_str().unwrap_or_default().to_string();
    let weights_sha = hex(&Sha256::digest(fs::read(model.join("model.safetensors"))?));
    let sbom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "machine-learning-model", "name": "demo-model", "version": "1.0",
            "bom-ref": "demo-model", "hashes": [{"alg": "SHA-256", "content": weights_sha}],
            "licenses": [{"license": {"id": "Apache-2.0"}}]}},
        "components": [
            {"type": "machine-learning-model", "name": "demo-model", "version": "1.0", "bom-ref": "model",
             "licenses": [{"license": {"id": "Apache-2.0"}}], "hashes": [{"alg": "SHA-256", "content": weights_sha}],
             "modelCard": {"modelParameters": {"task": "text-generation"}}},
            {"type": "library", "name": "safetensors", "version": "0.4.5", "purl": "pkg:pypi/safetensors@0.4.5",
             "licenses": [{"license": {"id": "Apache-2.0"}}]},
            {"type": "library", "name": "numpy", "version": "2.1.3", "purl": "pkg:pypi/numpy@2.1.3",
             "licenses": [{"expression": "BSD-3-Clause"}]}
        ]
    });
    for (bytes, mt) in [
        (bundle.clone(), "application/vnd.dev.sigstore.bundle.v0.3+json"),
        (serde_json::to_vec(&sbom)?, "application/vnd.cyclonedx+json"),
    ] {
        let layer = w.blob(&bytes, mt)?;
        let empty = w.blob(b"{}", "application/vnd.oci.empty.v1+json")?;
        w.manifest(
            &json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": mt,
                "config": empty,
                "layers": [layer],
                "subject": subject,
            }),
            None,
        )?;
    }
    w.finish()?;
    println!("  image {}:v1 = {image_digest}", layout.display());
    println!("  referrers: OMS signature bundle, CycloneDX 1.6 ML-BOM (3 components)");

    // 3. The policy the security team wrote for this deployment.
    step(
        3,
        "security team: one policy for signature, SBOM, sandbox, attestation and key release",
    );
    // An offline OSV database: one advisory, for a numpy older than the image's.
    let osv = work.join("osv");
    fs::create_dir_all(&osv)?;
    fs::write(
        osv.join("DEMO-2026-0001.json"),
        serde_json::to_vec_pretty(&json!({
            "schema_version": "1.6.0", "id": "DEMO-2026-0001", "modified": "2026-01-01T00:00:00Z",
            "summary": "demo advisory: numpy before 1.22.0",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "numpy"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.22.0"}]}]}]
        }))?,
    )?;
    let policy_path = work.join("policy.toml");
    let policy_text = format!(
        r#"# sealrun demo policy: the strict model-server profile, plus this deployment's specifics.
version = 1
extends = "library:model-server-strict"

[trust]
signers.keys = [{{ path = "{pubkey}", algorithm = "ecdsa-p256-sha256" }}]

[sbom]
formats = ["cyclonedx-1.6"]
licenses.allow = ["Apache-2.0", "MIT", "BSD-3-Clause"]
deny_purls = ["pkg:pypi/pickle5*"]
max_cvss = 7.0
osv_dir = "{osv}"

[sandbox.fs]
# busybox stands in for the model server: its binaries, and the model read-only.
read = ["/bin", "/etc", "/proc", "/dev/null", "/models"]
write = ["/dev/null", "/tmp"]
exec = ["/bin"]

[attestation]
# The software TEE of the demo. A production policy lists snp/tdx and their measurements.
tee = ["dev"]
allow_dev = true

[[keys.entries]]
id = "{RESOURCE}"
image_digest = "{image_digest}"
require_tee = ["dev"]
"#,
        pubkey = pub_path.display(),
        osv = osv.display()
    );
    fs::write(&policy_path, &policy_text)?;
    let policy = Policy::from_file(&policy_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("  {} ({})", policy_path.display(), policy.digest());

    // 4. The supply-chain gate.
    step(
        4,
        "supply-chain gate: signature, files against layers, SBOM against policy",
    );
    let image = ImageRef {
        layout: layout.clone(),
        reference: Some("v1".into()),
    };
    let report = verify_image(&image, &policy, &policy_path.to_string_lossy())?;
    for line in report.to_text().lines() {
        println!("  {line}");
    }
    if !report.passed {
        bail!("the gate refused the demo image");
    }

    // 5. Attestation and key release.
    step(
        5,
        "key broker: attest (dev TEE) with image + policy digests bound, release the model key",
    );
    let kek = random(32)?;
    let mut kek_bytes = [0u8; 32];
    kek_bytes.copy_from_slice(&kek);
    let store: Arc<dyn KeyStore> = Arc::new(FileKeyStore::open(&work.join("keys.json"), Kek::from_bytes(kek_bytes))?);
    kek_bytes.iter_mut().for_each(|b| *b = 0);
    let model_key = random(32)?;
    store.put(RESOURCE, Secret::new(model_key.to_vec()))?;
    let audit_path = work.join("audit.jsonl");
    let audit_log = Arc::new(AuditLog::open(&audit_path)?);
    let broker = Broker::new(BrokerConfig::new(policy.clone(), store, audit_log))?;
    let running = broker.spawn("127.0.0.1:0".parse()?, None)?;
    let url = running.url(false);
    println!("  broker on {url} (loopback, plain HTTP for the demo)");
    let claims = WorkloadClaims {
        image_digest: image_digest.clone(),
        policy_digest: policy.digest(),
    };
    let released = request_resource(&url, RESOURCE, &DevTee, &claims, None)?;
    running.stop()?;
    if released.as_slice() != model_key.as_slice() {
        bail!("the released key differs from the stored one");
    }
    println!(
        "  released {RESOURCE}: {} bytes, fingerprint {} (JWE ECDH-ES+A256KW/A256GCM to an ephemeral key)",
        released.len(),
        &sha256(&released)[..23]
    );
    let summary = audit::verify(&audit_path)?;
    println!(
        "  audit log {}: {} entries, hash chain intact",
        audit_path.display(),
        summary.entries
    );

    // 6. The model server, confined, with the key through memory.
    step(
        6,
        "runtime: the model server confined by the policy, the key passed as a sealed memfd",
    );
    if a.no_container {
        println!("  skipped (--no-container)");
        return Ok(0);
    }
    if !Path::new(BUSYBOX).is_file() {
        println!("  skipped: needs {BUSYBOX} as the stand-in model server (apt-get install busybox-static)");
        return Ok(0);
    }
    let bundle_dir = work.join("bundle");
    busybox_rootfs(&bundle_dir.join("rootfs"))?;
    let exe = std::env::current_exe().context("locating the sealrun binary")?;
    let st = std::process::Command::new(&exe)
        .arg("spec")
        .arg("--bundle")
        .arg(&bundle_dir)
        .status()?;
    if !st.success() {
        bail!("sealrun spec failed: {st}");
    }
    let cfg_path = bundle_dir.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&fs::read(&cfg_path)?)?;
    cfg["process"]["terminal"] = json!(false);
    cfg["process"]["args"] = json!(["sh", "-c", WORKLOAD]);
    cfg["hostname"] = json!("model-server");
    cfg["annotations"] = json!({
        "io.sealrun.policy": policy_path.to_string_lossy(),
        "io.sealrun.image": format!("{}:v1", layout.display()),
    });
    cfg["mounts"]
        .as_array_mut()
        .context("config.json: mounts")?
        .push(json!({"destination": "/models", "type": "bind", "source": model, "options": ["rbind", "ro"]}));
    fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg)?)?;
    let key_fd = sealed_memfd(&released)?;
    drop(released);
    let raw = key_fd.as_raw_fd();
    let mut cmd = std::process::Command::new(&exe);
    cmd.arg("--root")
        .arg(work.join("state"))
        .args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(&bundle_dir)
        .arg(format!("demo-{}", std::process::id()));
    // SAFETY: dup2 is async-signal-safe; it runs in the child between fork and exec, and
    // moves the key's memfd to fd 3, the one --preserve-fds 1 passes into the container.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().context("running the model server")?;
    drop(key_fd);
    println!("  model server exited: {status}");
    Ok(if status.success() { 0 } else { 1 })
}

/// The stand-in model server: shows what it may and may not do.
const WORKLOAD: &str = r#"
echo "  [model-server] $(grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr '\t\n' ' ')"
echo "  [model-server] model: $(ls /models | tr '\n' ' ')"
echo "  [model-server] key: $(head -c 32 <&3 | wc -c) bytes read from fd 3 (a sealed memfd, never a file)"
touch /models/x 2>/dev/null && echo "  [model-server] UNEXPECTED: wrote the model" || echo "  [model-server] write to /models: denied"
head -c 1 /proc/kcore >/dev/null 2>&1 && echo "  [model-server] UNEXPECTED: read /proc/kcore" || echo "  [model-server] read /proc/kcore: denied"
timeout 1 nc -l -p 8080 </dev/null >/dev/null 2>&1; [ $? = 143 ] && echo "  [model-server] listen on 8080, the policy's port: allowed" || echo "  [model-server] UNEXPECTED: cannot listen on 8080"
timeout 1 nc -l -p 9999 </dev/null >/dev/null 2>&1; [ $? = 143 ] && echo "  [model-server] UNEXPECTED: listening on port 9999" || echo "  [model-server] listen on unlisted port 9999: denied"
"#;

/// The key in a memfd sealed against writes, shrinking and growing: the container can
/// read it, nothing can change it, and it never touches a filesystem.
fn sealed_memfd(data: &[u8]) -> anyhow::Result<OwnedFd> {
    let name = CString::new("sealrun-model-key").expect("no NUL");
    // SAFETY: memfd_create with a valid C string; the returned fd is owned below.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_ALLOW_SEALING | libc::MFD_NOEXEC_SEAL) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: fd was just created and is owned by nothing else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut f = fs::File::from(owned);
    f.write_all(data).context("writing the key memfd")?;
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on an fd we own.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(std::io::Error::last_os_error()).context("sealing the key memfd");
    }
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0))?;
    Ok(OwnedFd::from(f))
}

fn busybox_rootfs(dir: &Path) -> anyhow::Result<()> {
    for sub in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "models"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    fs::copy(BUSYBOX, dir.join("bin/busybox"))?;
    let out = std::process::Command::new(BUSYBOX).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&out.stdout).lines().map(str::trim) {
        if !applet.is_empty() && applet != "busybox" {
            let _ = symlink("busybox", dir.join("bin").join(applet));
        }
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    fs::write(dir.join("etc/group"), "root:x:0:\n")?;
    Ok(())
}

/// Writes an OCI image layout: blobs by digest, `index.json`, `oci-layout`.
struct LayoutWriter {
    root: PathBuf,
    manifests: Vec<Value>,
}

impl LayoutWriter {
    fn create(root: &Path) -> anyhow::Result<LayoutWriter> {
        fs::create_dir_all(root.join("blobs/sha256"))?;
        fs::write(root.join("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}")?;
        Ok(LayoutWriter {
            root: root.to_path_buf(),
            manifests: Vec::new(),
        })
    }

    fn blob(&mut self, bytes: &[u8], media_type: &str) -> anyhow::Result<Value> {
        let hexd = hex(&Sha256::digest(bytes));
        fs::write(self.root.join("blobs/sha256").join(&hexd), bytes)?;
        Ok(json!({"mediaType": media_type, "digest": format!("sha256:{hexd}"), "size": bytes.len()}))
    }

    fn manifest(&mut self, m: &Value, tag: Option<&str>) -> anyhow::Result<Value> {
        let bytes = serde_json::to_vec(m)?;
        let mut d = self.blob(&bytes, "application/vnd.oci.image.manifest.v1+json")?;
        let mut entry = d.clone();
        if let Some(at) = m.get("artifactType") {
            entry["artifactType"] = at.clone();
        }
        if let Some(t) = tag {
            entry["annotations"] = json!({"org.opencontainers.image.ref.name": t});
        }
        self.manifests.push(entry);
        d.as_object_mut().map(|o| o.remove("annotations"));
        Ok(d)
    }

    fn finish(self) -> anyhow::Result<()> {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": self.manifests,
        });
        fs::write(self.root.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
        Ok(())
    }
}
