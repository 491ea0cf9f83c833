//! `sealrun policy test DIR`: table tests against a policy, reported like a test runner.
//!
//! DIR holds the policy under test (`policy.toml`, or `--policy REF`) and any number of
//! `*_test.json` files, each an array of `{ "description", "input", "expect" }` where
//! `expect` is `"allow"` or `"deny"` and `input.check` names what to ask the policy:
//! `fs` {access: read|write|exec, path}, `tcp_bind` / `tcp_connect` {port}, `socket`
//! {family: tcp|udp|raw|netlink|vsock|unix}, `capability` {name}, `syscall` {name},
//! `license` {expression}, `purl` {purl}, `cvss` {score}, `sigstore` {identity, issuer},
//! `media_type` {media_type}, `tee` {kind}, `snp` {claims}, `tdx` {claims},
//! `key_release` {key, image_digest, tee}.
//!
//! `*_test.rego` files are loaded together with the policy's `[[rules]]` modules, with
//! `data.sealrun.policy` = the normalised policy, and every `test_*` rule in them must be
//! defined and true. A Rego file that does not parse fails the run with the error. Without
//! the `rego` feature they are reported as not run and fail the run, so a missing engine is
//! never mistaken for passing rules.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use sealrun_policy::{Policy, SnpClaims, TdxClaims, TeeKind};
use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    /// Directory with policy.toml and *_test.json files
    pub dir: PathBuf,
    /// The policy under test (file or library:NAME) instead of DIR/policy.toml
    #[arg(long)]
    pub policy: Option<String>,
}

fn under(path: &str, list: &[String]) -> bool {
    let p = Path::new(path);
    list.iter().any(|l| p.starts_with(l))
}

fn s<'a>(input: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    input
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("input.{key}: expected a string"))
}

fn tee(input: &Value, key: &str) -> anyhow::Result<TeeKind> {
    serde_json::from_value(input.get(key).cloned().unwrap_or(Value::Null))
        .map_err(|_| anyhow!("input.{key}: expected one of snp, tdx, dev"))
}

/// Ask the policy; Ok(true) = allowed.
fn evaluate(p: &Policy, input: &Value) -> anyhow::Result<bool> {
    let sb = &p.sandbox;
    let check = s(input, "check")?;
    Ok(match check {
        "fs" => {
            let path = s(input, "path")?;
            let (r, w, x) = (&sb.fs.read, &sb.fs.write, &sb.fs.exec);
            match s(input, "access")? {
                "read" => under(path, r) || under(path, w) || under(path, x),
                "write" => under(path, w),
                "exec" => under(path, x),
                other => bail!("input.access: expected read, write or exec, found {other:?}"),
            }
        }
        "tcp_bind" | "tcp_connect" => {
            let port = input
                .get("port")
                .and_then(Value::as_u64)
                .ok_or_else(|| anyhow!("input.port: expected a number"))?;
            let list = if check == "tcp_bind" {
                &sb.net.tcp_bind
            } else {
                &sb.net.tcp_connect
            };
            list.iter().any(|p| *p as u64 == port)
        }
        "socket" => match s(input, "family")? {
            "tcp" => true,
            "udp" => sb.net.allow_udp,
            "raw" => sb.net.allow_raw,
            "netlink" => sb.net.allow_netlink,
            "vsock" => sb.net.allow_vsock,
            "unix" => sb.net.allow_unix,
            other => bail!("input.family: expected tcp, udp, raw, netlink, vsock or unix, found {other:?}"),
        },
        "capability" => {
            let name = s(input, "name")?.to_ascii_uppercase();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            sb.capabilities.keep.iter().any(|k| k.eq_ignore_ascii_case(&name))
        }
        "syscall" => {
            use sealrun_policy::sandbox::SyscallBase;
            let name = s(input, "name")?;
            let unconditional = |rules: &[sealrun_policy::sandbox::SyscallRule]| {
                rules.iter().any(|r| r.name == name && r.args.is_empty())
            };
            if unconditional(&sb.syscalls.deny) {
                false
            } else if unconditional(&sb.syscalls.allow) {
                true
            } else {
                match sb.syscalls.base {
                    SyscallBase::ModelServer => sealrun_sandbox::seccomp::model_server::ALLOWED.contains(&name),
                    SyscallBase::None => true,
                    SyscallBase::DockerDefault => {
                        bail!("check syscall: the docker-default base is evaluated at run time against Docker's profile file")
                    }
                }
            }
        }
        "license" => p.sbom.license_allowed(s(input, "expression")?).is_ok(),
        "purl" => p.sbom.purl_denied(s(input, "purl")?).is_none(),
        "cvss" => {
            let score = input
                .get("score")
                .and_then(Value::as_f64)
                .ok_or_else(|| anyhow!("input.score: expected a number"))?;
            !p.sbom.cvss_exceeds(score)
        }
        "sigstore" => p
            .trust
            .allows_sigstore(s(input, "identity")?, s(input, "issuer")?)
            .is_some(),
        "media_type" => p.trust.accepts_media_type(s(input, "media_type")?),
        "tee" => p.attestation.accepts_tee(tee(input, "kind")?).allowed,
        "snp" => {
            let c: SnpClaims = serde_json::from_value(input["claims"].clone()).context("input.claims: SNP claims")?;
            p.attestation.appraise_snp(&c).allowed
        }
        "tdx" => {
            let c: TdxClaims = serde_json::from_value(input["claims"].clone()).context("input.claims: TDX claims")?;
            p.attestation.appraise_tdx(&c).allowed
        }
        "key_release" => {
            p.keys
                .release_allowed(s(input, "key")?, s(input, "image_digest")?, tee(input, "tee")?)
                .allowed
        }
        other => bail!("input.check: unknown check {other:?}"),
    })
}

fn file_name(f: &Path) -> String {
    f.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

/// Runs the `*_test.rego` files in one engine; returns (passed, failed).
#[cfg(feature = "rego")]
fn run_rego(policy: &Policy, files: &[PathBuf]) -> (usize, usize) {
    if files.is_empty() {
        return (0, 0);
    }
    match sealrun_policy::rego::run_tests(policy, files) {
        Ok(tests) => {
            let (mut passed, mut failed) = (0, 0);
            // A test file with no test_* rule is most likely a mistake (a typo in the
            // names); count it as a failure rather than silently passing nothing.
            for f in files.iter().filter(|f| !tests.iter().any(|t| &t.file == *f)) {
                println!("test {} ... FAILED: no test_* rules found", file_name(f));
                failed += 1;
            }
            for t in tests {
                if t.passed {
                    passed += 1;
                    println!("test {}::{} ... ok", file_name(&t.file), t.name);
                } else {
                    failed += 1;
                    println!("test {}::{} ... FAILED: {}", file_name(&t.file), t.name, t.detail);
                }
            }
            (passed, failed)
        }
        Err(e) => {
            let names: Vec<String> = files.iter().map(|f| file_name(f)).collect();
            println!("test {} ... FAILED: {e}", names.join(", "));
            (0, 1)
        }
    }
}

#[cfg(not(feature = "rego"))]
fn run_rego(_policy: &Policy, files: &[PathBuf]) -> (usize, usize) {
    for f in files {
        println!(
            "test {} ... FAILED (not run: Rego evaluation is not in this build)",
            file_name(f)
        );
    }
    (0, files.len())
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let reference = a
        .policy
        .clone()
        .unwrap_or_else(|| a.dir.join("policy.toml").to_string_lossy().into_owned());
    let policy = super::load(&reference)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&a.dir)
        .with_context(|| format!("reading {}", a.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_test.json") || n.ends_with("_test.rego"))
        })
        .collect();
    files.sort();
    println!("policy {reference} ({})", policy.digest());
    let (mut passed, mut failed) = (0, 0);
    let (rego_files, json_files): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|f| f.extension().is_some_and(|e| e == "rego"));
    let (p, f) = run_rego(&policy, &rego_files);
    passed += p;
    failed += f;
    for f in &json_files {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let cases: Vec<Value> =
            serde_json::from_slice(&std::fs::read(f).with_context(|| format!("reading {}", f.display()))?)
                .with_context(|| {
                    format!(
                        "{}: expected a JSON array of {{description, input, expect}}",
                        f.display()
                    )
                })?;
        for (i, case) in cases.iter().enumerate() {
            let desc = case
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("(no description)");
            let expect = case.get("expect").and_then(Value::as_str);
            let verdict = match (expect, evaluate(&policy, &case["input"])) {
                (Some(e @ ("allow" | "deny")), Ok(allowed)) => {
                    let got = if allowed { "allow" } else { "deny" };
                    if got == e {
                        Ok(())
                    } else {
                        Err(format!("expected {e}, got {got}"))
                    }
                }
                (Some(e), Ok(_)) => Err(format!("expect: expected \"allow\" or \"deny\", found {e:?}")),
                (None, _) => Err("expect: missing".to_string()),
                (_, Err(e)) => Err(format!("{e:#}")),
            };
            match verdict {
                Ok(()) => {
                    passed += 1;
                    println!("test {name}[{i}] {desc} ... ok");
                }
                Err(why) => {
                    failed += 1;
                    println!("test {name}[{i}] {desc} ... FAILED: {why}");
                }
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    Ok(if failed == 0 && passed > 0 { 0 } else { 1 })
}
