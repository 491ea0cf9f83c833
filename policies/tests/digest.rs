//! The canonical digest: formatting and order do not matter, meaning does.

use sealrun_policy::Policy;

const A: &str = r#"
version = 1

[sandbox.fs]
read = ["/models", "/usr", "/models/"]
write = ["/tmp"]

[sandbox.net]
tcp_bind = [8080, 9090]
allow_udp = false

[sandbox.limits]
memory = "8GiB"
pids = 100

[sandbox.syscalls]
deny = ["ptrace", { name = "bpf", errno = "EPERM" }]

[sbom.licenses]
allow = ["MIT", "Apache-2.0"]

[attestation]
tee = ["snp"]
snp.measurements = ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
"#;

// Same meaning: other order, inline tables, dotted keys, bytes instead of "8GiB",
// explicit defaults, duplicates, upper/lower case hex, default errno written out or not.
const B: &str = r#"
attestation = { snp = { measurements = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] }, tee = ["snp", "snp"] }
sbom.licenses.allow = ["Apache-2.0", "MIT", "MIT"]
version = 1
[sandbox]
no_new_privs = true
limits = { pids = 100, memory = 8589934592 }
net.tcp_bind = [9090, 8080, 8080]
net.namespace = "new"
fs.write = ["/tmp/"]
fs.read = ["/usr", "/models"]
syscalls.deny = [{ name = "bpf" }, "ptrace"]
"#;

#[test]
fn equivalent_documents_have_the_same_digest() {
    let a = Policy::from_str(A, "a.toml").unwrap();
    let b = Policy::from_str(B, "b.toml").unwrap();
    assert_eq!(a.canonical_json(), b.canonical_json());
    assert_eq!(a.digest(), b.digest());
    assert!(a.digest().starts_with("sha256:") && a.digest().len() == 7 + 64);
}

#[test]
fn every_semantic_change_changes_the_digest() {
    let base = Policy::from_str(A, "a.toml").unwrap().digest();
    let edits: &[(&str, &str)] = &[
        ("\"/tmp\"]", "\"/tmp\", \"/var/tmp\"]"),
        ("9090]", "9091]"),
        ("allow_udp = false", "allow_udp = true"),
        ("\"8GiB\"", "\"4GiB\""),
        ("pids = 100", "pids = 101"),
        ("errno = \"EPERM\"", "errno = \"EACCES\""),
        ("\"MIT\", ", ""),
        ("[sandbox.net]", "[sandbox.landlock]\nmin_abi = 5\n[sandbox.net]"),
        ("[sandbox.net]", "[trust]\nrequire_tlog = false\n[sandbox.net]"),
    ];
    let mut seen = vec![base.clone()];
    for (from, to) in edits {
        assert!(A.contains(from), "edit {from:?} does not apply");
        let d = Policy::from_str(&A.replacen(from, to, 1), "a.toml").unwrap().digest();
        assert!(!seen.contains(&d), "edit {from:?} -> {to:?} did not change the digest");
        seen.push(d);
    }
}

#[test]
fn canonical_json_is_normalised_and_complete() {
    let p = Policy::from_str(A, "a.toml").unwrap();
    let v: serde_json::Value = serde_json::from_str(&p.canonical_json()).unwrap();
    assert_eq!(v["sandbox"]["limits"]["memory"], 8589934592u64);
    assert_eq!(v["sandbox"]["fs"]["read"], serde_json::json!(["/models", "/usr"]));
    assert_eq!(
        v["sandbox"]["syscalls"]["deny"][1],
        serde_json::json!({"name": "ptrace", "args": [], "errno": "EPERM"})
    );
    // Defaults are explicit, so the digest does not depend on which defaults a reader assumes.
    assert_eq!(v["trust"]["require_tlog"], true);
    assert_eq!(v["sandbox"]["scope"]["signals"], true);
    assert_eq!(v["sandbox"]["no_new_privs"], true);
    assert!(v.get("extends").is_none());
    // RFC 8785: keys sorted, no whitespace.
    let text = p.canonical_json();
    assert!(
        text.starts_with("{\"attestation\":{\"allow_dev\":false,"),
        "{}",
        &text[..60]
    );
    assert!(!text.contains(": ") && !text.contains('\n'));
}

#[test]
fn library_digest_does_not_depend_on_how_it_is_reached() {
    let direct = Policy::library("model-server-strict").unwrap();
    let via = Policy::from_str("version = 1\nextends = \"library:model-server-strict\"\n", "x.toml").unwrap();
    assert_eq!(direct.digest(), via.digest());
    assert_ne!(direct.chain(), via.chain());
}
