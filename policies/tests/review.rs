//! lint, explain and diff: what security teams read.

use sealrun_policy::{diff, diff_to_text, explain, lint, ChangeKind, Policy};

fn p(text: &str) -> Policy {
    Policy::from_str(text, "p.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn warnings(text: &str) -> Vec<String> {
    lint(&p(text)).iter().map(|w| w.to_string()).collect()
}

#[test]
fn strict_library_lints_clean_except_signers() {
    let w = warnings("version = 1\nextends = \"library:model-server-strict\"\n");
    assert_eq!(w, vec!["trust.signers: no signers: no image signature can verify"]);
    let w = warnings("version = 1\nextends = \"library:gpu-worker\"\n");
    assert_eq!(w.len(), 1, "{w:?}");
}

#[test]
fn dev_permissive_is_flagged() {
    let w = lint(&Policy::library("dev-permissive").unwrap());
    let keys: Vec<&str> = w.iter().map(|w| w.key.as_str()).collect();
    assert!(keys.contains(&"extends"), "{w:?}");
    assert!(keys.contains(&"attestation.allow_dev"), "{w:?}");
    assert!(keys.contains(&"sandbox.landlock.best_effort"), "{w:?}");
}

#[test]
fn risky_settings_are_warned_about() {
    let w = warnings(
        "version = 1\n[sandbox.fs]\nwrite = [\"/proc/sys\", \"/srv\"]\nexec = [\"/srv/bin\"]\n[sandbox.capabilities]\nkeep = [\"CAP_SYS_ADMIN\", \"CAP_NET_BIND_SERVICE\"]\n[sandbox.net]\nnamespace = \"host\"\n[sandbox.syscalls]\nbase = \"none\"\n[sandbox.landlock]\nbest_effort = true\n",
    );
    let has = |s: &str| assert!(w.iter().any(|x| x.contains(s)), "no warning containing {s:?} in {w:#?}");
    has("sandbox.fs.write: write access to /proc/sys, inside /proc");
    has("sandbox.fs.exec: exec on a writable path: /srv/bin overlaps write /srv");
    has("sandbox.capabilities.keep: CAP_SYS_ADMIN amounts to root");
    has("sandbox.net.namespace: the host network namespace");
    has("sandbox.limits.memory: no memory limit");
    has("sandbox.limits.pids: no pids limit");
    has("sandbox.syscalls.base: base \"none\"");
    has("sandbox.landlock.best_effort: best_effort without min_abi");
    assert!(!w.iter().any(|x| x.contains("CAP_NET_BIND_SERVICE")), "{w:#?}");
    let w = warnings("version = 1\n[sandbox.fs]\nwrite = [\"/\"]\n");
    assert!(w.iter().any(|x| x.contains("write access to / includes /")), "{w:#?}");
}

#[test]
fn explain_says_what_may_and_may_not_happen() {
    let e = explain(&Policy::library("model-server-strict").unwrap());
    let text = e.to_text();
    for line in [
        "  - may read: /dev/null, /dev/urandom, /etc/ld.so.cache, /etc/localtime, /lib, /lib64, /models, /usr\n",
        "  - may write: /tmp\n",
        "  - may listen on TCP 8080\n",
        "  - may not make outgoing TCP connections\n",
        "  - may not open UDP sockets\n",
        "  - capabilities: none\n",
        "  - memory limit: 8 GiB\n",
        "  - at most 256 processes and threads\n",
        "  - may not signal processes outside the sandbox\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(text.starts_with(&format!(
        "policy {} (from library:model-server-strict)\nsandbox:\n",
        e.digest
    )));
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(
        json["statements"][0],
        serde_json::json!({"section": "sandbox", "text": "may read: /dev/null, /dev/urandom, /etc/ld.so.cache, /etc/localtime, /lib, /lib64, /models, /usr"})
    );
}

#[test]
fn diff_says_what_a_change_grants_or_removes() {
    let old = p("version = 1\nextends = \"library:model-server-strict\"\n[sandbox.net]\ntcp_connect = [443]\n[sandbox.limits]\nmemory = \"4GiB\"\n");
    let new = p(r#"version = 1
extends = "library:model-server-strict"
[sandbox.fs]
write = ["/tmp", "/var/log"]
[sandbox.limits]
memory = "8GiB"
[[trust.signers.sigstore]]
identity = "ci@example.com"
issuer = "https://accounts.google.com"
trusted_root = "/etc/sealrun/trusted_root.json"
"#);
    let changes = diff(&old, &new);
    let text = diff_to_text(&changes);
    assert_eq!(
        text,
        "grants: write /var/log\n\
         removes: TCP connect 443\n\
         raises memory limit 4 GiB → 8 GiB\n\
         changes trust: adds Sigstore signer ci@example.com (https://accounts.google.com)\n"
    );
    assert_eq!(changes[0].kind, ChangeKind::Grants);
    assert_eq!(changes[0].key, "sandbox.fs.write");
    assert_eq!(changes[1].kind, ChangeKind::Removes);
    let json = serde_json::to_value(&changes).unwrap();
    assert_eq!(json[2]["kind"], "grants");
    assert_eq!(diff_to_text(&diff(&new, &new)), "no changes\n");
    // And back again, the other way round.
    let back = diff_to_text(&diff(&new, &old));
    assert!(
        back.contains("removes: write /var/log\n") && back.contains("grants: TCP connect 443\n"),
        "{back}"
    );
    assert!(back.contains("lowers memory limit 8 GiB → 4 GiB\n"), "{back}");
    assert!(
        back.contains("changes trust: removes Sigstore signer ci@example.com"),
        "{back}"
    );
}

#[test]
fn diff_covers_flags_scopes_and_deny_lists() {
    let old = p("version = 1\n[sandbox.syscalls]\ndeny = [\"ptrace\"]\n");
    let new = p("version = 1\n[sandbox.net]\nallow_udp = true\n[sandbox.scope]\nsignals = false\n[sandbox.syscalls]\ndeny = [\"bpf\"]\n[sbom]\nmax_cvss = 7.0\n");
    let text = diff_to_text(&diff(&old, &new));
    for line in [
        "grants: UDP sockets\n",
        "grants: signalling processes outside the sandbox\n",
        "removes: syscall bpf → EPERM (now refused)\n",
        "grants: syscall ptrace → EPERM (no longer refused)\n",
        "changes sbom: sbom.max_cvss unset → 7.0\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}
