//! Errors name file, line:column, key path, expected and found, and suggest typo fixes.

use sealrun_policy::{Policy, PolicyError};

fn err(text: &str) -> PolicyError {
    Policy::from_str(text, "team/policy.toml").expect_err("policy should be refused")
}

fn invalid(text: &str) -> (usize, usize, String, String, String, Option<String>) {
    match err(text) {
        PolicyError::Invalid {
            location,
            key,
            expected,
            found,
            suggestion,
        } => {
            assert_eq!(location.origin, "team/policy.toml");
            (location.line, location.column, key, expected, found, suggestion)
        }
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let (line, col, key, expected, found, suggestion) =
        invalid("version = 1\n\n[sandbox.fs]\nread = [\"/models\"]\nraed = [\"/x\"]\n");
    assert_eq!((line, col), (5, 1));
    assert_eq!(key, "sandbox.fs.raed");
    assert_eq!(expected, "one of `read`, `write`, `exec`");
    assert_eq!(found, "unknown key `raed`");
    assert_eq!(suggestion.as_deref(), Some("read"));
    let msg = err("version = 1\n\n[sandbox.fs]\nread = [\"/models\"]\nraed = [\"/x\"]\n").to_string();
    assert_eq!(
        msg,
        "team/policy.toml:5:1: sandbox.fs.raed: expected one of `read`, `write`, `exec`, found unknown key `raed` (did you mean `read`?)"
    );
}

#[test]
fn unknown_section_and_far_typo() {
    let (line, col, key, _, _, suggestion) = invalid("version = 1\n[sandbx]\n");
    assert_eq!((line, col, key.as_str()), (2, 2, "sandbx"));
    assert_eq!(suggestion.as_deref(), Some("sandbox"));
    // Nothing close: no suggestion rather than a silly one.
    let (_, _, key, _, _, suggestion) = invalid("version = 1\n[sandbox.net]\nfirewall = true\n");
    assert_eq!(key, "sandbox.net.firewall");
    assert_eq!(suggestion, None);
}

#[test]
fn wrong_type_inside_a_list_names_the_index() {
    let (line, col, key, expected, found, _) = invalid("version = 1\n[sandbox.net]\ntcp_bind = [8080, \"http\"]\n");
    assert_eq!((line, col), (3, 19));
    assert_eq!(key, "sandbox.net.tcp_bind[1]");
    assert_eq!(expected, "an integer 0..=65535");
    assert_eq!(found, "string \"http\"");
}

#[test]
fn semantic_error_is_located_too() {
    let (line, col, key, expected, found, _) = invalid("version = 1\n[sandbox.net]\ntcp_connect = [443,\n   0]\n");
    assert_eq!((line, col), (4, 4));
    assert_eq!(key, "sandbox.net.tcp_connect[1]");
    assert_eq!(expected, "a TCP port 1..=65535");
    assert_eq!(found, "0");
}

#[test]
fn unknown_enum_value_suggests() {
    let (line, col, key, expected, found, suggestion) = invalid("version = 1\n[sandbox.net]\nnamespace = \"hots\"\n");
    assert_eq!((line, col, key.as_str()), (3, 13, "sandbox.net.namespace"));
    assert_eq!(expected, "one of `new`, `host`, `none`");
    assert_eq!(found, "`hots`");
    assert_eq!(suggestion.as_deref(), Some("host"));
}

#[test]
fn missing_required_key_in_array_of_tables() {
    let (line, col, key, expected, _, _) = invalid(
        "version = 1\n[[sandbox.devices]]\npath = \"/dev/a\"\ntype = \"c\"\nmajor = 1\nminor = 0\n[[sandbox.devices]]\npath = \"/dev/b\"\ntype = \"c\"\nminor = 1\n",
    );
    assert_eq!((line, col), (7, 1));
    assert_eq!(key, "sandbox.devices[1].major");
    assert_eq!(expected, "key `major` (required)");
}

#[test]
fn version_is_required_and_must_be_1() {
    let (line, col, key, _, found, _) = invalid("[sandbox]\n");
    assert_eq!(
        (line, col, key.as_str(), found.as_str()),
        (1, 1, "version", "no `version` key")
    );
    // A future version is refused before its (unknown) keys are looked at.
    let (line, col, _, expected, found, _) = invalid("# v2\nversion = 2\n[sandbox.new_thing]\n");
    assert_eq!((line, col), (2, 11));
    assert!(expected.starts_with("1 "), "{expected}");
    assert_eq!(found, "version 2");
    let (_, _, _, _, found, _) = invalid("version = \"1\"\n");
    assert_eq!(found, "string \"1\"");
}

#[test]
fn toml_syntax_error_is_located() {
    match err("version = 1\n[sandbox\nx = 1\n") {
        PolicyError::Syntax { location, message } => {
            assert_eq!((location.line, location.column), (2, 9));
            assert!(message.contains("expected `]`"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn no_new_privs_cannot_be_disabled() {
    let (line, col, key, expected, found, _) = invalid("version = 1\n[sandbox]\nno_new_privs = false\n");
    assert_eq!((line, col, key.as_str()), (3, 16, "sandbox.no_new_privs"));
    assert!(expected.contains("always on"));
    assert_eq!(found, "false");
    assert!(Policy::from_str("version = 1\n[sandbox]\nno_new_privs = true\n", "x").is_ok());
}

#[test]
fn names_are_checked_against_known_tables() {
    let (_, _, key, _, found, suggestion) =
        invalid("version = 1\n[sandbox.capabilities]\nkeep = [\"CAP_NET_BIND_SERVICE\", \"CAP_SYS_ADMN\"]\n");
    assert_eq!(key, "sandbox.capabilities.keep[1]");
    assert_eq!(found, "`CAP_SYS_ADMN`");
    assert_eq!(suggestion.as_deref(), Some("CAP_SYS_ADMIN"));
    let (_, _, _, _, _, suggestion) = invalid("version = 1\n[sandbox.capabilities]\nkeep = [\"net_raw\"]\n");
    assert_eq!(suggestion.as_deref(), Some("CAP_NET_RAW"));

    let (line, col, key, _, _, suggestion) =
        invalid("version = 1\n[sandbox.syscalls]\ndeny = [\"bpf\", { name = \"ptarce\" }]\n");
    assert_eq!((line, col), (3, 25));
    assert_eq!(key, "sandbox.syscalls.deny[1].name");
    assert_eq!(suggestion.as_deref(), Some("ptrace"));

    let (_, _, key, _, _, suggestion) =
        invalid("version = 1\n[sandbox.syscalls]\ndeny = [{ name = \"ptrace\", errno = \"EPREM\" }]\n");
    assert_eq!(key, "sandbox.syscalls.deny[0].errno");
    assert_eq!(suggestion.as_deref(), Some("EPERM"));

    let (_, _, key, _, _, suggestion) =
        invalid("version = 1\n[sandbox.syscalls]\nallow = [{ name = \"ioctl\", agrs = [] }]\n");
    assert_eq!(key, "sandbox.syscalls.allow[0].agrs");
    assert_eq!(suggestion.as_deref(), Some("args"));
}

#[test]
fn value_rules() {
    let cases: &[(&str, &str, &str)] = &[
        ("[sandbox.fs]\nwrite = [\"tmp\"]", "sandbox.fs.write[0]", "relative"),
        ("[sandbox.fs]\nread = [\"/models/../etc\"]", "sandbox.fs.read[0]", ".."),
        ("[sandbox.landlock]\nmin_abi = 9", "sandbox.landlock.min_abi", "9"),
        ("[sandbox.limits]\nmemory = \"8 GX\"", "sandbox.limits.memory", "8 GX"),
        ("[sandbox.limits]\nmemory = 1000", "sandbox.limits.memory", "1000 bytes"),
        ("[sandbox.limits]\ncpus = 0.0", "sandbox.limits.cpus", "0"),
        ("[sandbox.limits]\npids = 0", "sandbox.limits.pids", "0"),
        (
            "[[sandbox.devices]]\npath = \"/etc/passwd\"\ntype = \"c\"\nmajor = 1\nminor = 1",
            "sandbox.devices[0].path",
            "/etc/passwd",
        ),
        (
            "[[sandbox.devices]]\npath = \"/dev/x\"\ntype = \"c\"\nmajor = 1\nminor = 1\naccess = \"rwx\"",
            "sandbox.devices[0].access",
            "rwx",
        ),
        (
            "[sandbox.syscalls]\nallow = [{ name = \"ioctl\", args = [{ index = 1, op = \"masked_eq\", value = 3 }] }]",
            "sandbox.syscalls.allow[0].args[0].value_two",
            "no value_two",
        ),
        (
            "[sandbox.syscalls]\nallow = [{ name = \"ioctl\", errno = \"EPERM\" }]",
            "sandbox.syscalls.allow[0].errno",
            "EPERM",
        ),
        (
            "[sandbox.syscalls]\nallow = [\"ptrace\"]\ndeny = [\"ptrace\"]",
            "sandbox.syscalls.deny[0]",
            "both",
        ),
        ("[sbom]\nmax_cvss = 11.0", "sbom.max_cvss", "11"),
        (
            "[sbom]\ndeny_purls = [\"pypi/torch\"]",
            "sbom.deny_purls[0]",
            "pypi/torch",
        ),
        (
            "[sbom.licenses]\nallow = [\"MIT OR Apache-2.0\"]",
            "sbom.licenses.allow[0]",
            "MIT OR",
        ),
        (
            "[sbom.licenses]\nallow = [\"MIT\"]\ndeny = [\"mit\"]",
            "sbom.licenses.deny[0]",
            "both",
        ),
        (
            "[sbom]\nformats = [\"cyclonedx-1.4\"]",
            "sbom.formats[0]",
            "cyclonedx-1.4",
        ),
        ("[trust]\nmedia_types = []", "trust.media_types", "empty"),
        (
            "[[trust.signers.sigstore]]\nidentity = \"a@b\"\nissuer = \"http://x\"\ntrusted_root = \"r.json\"",
            "trust.signers.sigstore[0].issuer",
            "http://x",
        ),
        (
            "[[trust.signers.keys]]\npath = \"k.pem\"\nalgorithm = \"rsa\"",
            "trust.signers.keys[0].algorithm",
            "rsa",
        ),
        ("[attestation]\ntee = [\"dev\"]", "attestation.tee[0]", "dev"),
        ("[attestation]\ntee = [\"tdx\"]", "attestation.tdx.mrtd", "empty"),
        (
            "[attestation.snp]\nmeasurements = [\"abcd\"]",
            "attestation.snp.measurements[0]",
            "4 characters",
        ),
        ("[attestation.snp]\nvmpl = 4", "attestation.snp.vmpl", "4"),
        (
            "[attestation.tdx]\nallowed_tcb_status = [\"UpToDate\", \"Revoked\"]",
            "attestation.tdx.allowed_tcb_status[1]",
            "Revoked",
        ),
        (
            "[attestation.tdx]\nallowed_advisories = [\"SA-1\"]",
            "attestation.tdx.allowed_advisories[0]",
            "SA-1",
        ),
        (
            "[[keys.entries]]\nid = \"k\"\nimage_digest = \"sha256:abc\"\nrequire_tee = [\"snp\"]",
            "keys.entries[0].image_digest",
            "sha256:abc",
        ),
        (
            "[[rules]]\nname = \"r\"\napplies_to = [\"sbom\"]",
            "rules[0]",
            "neither",
        ),
        (
            "[[rules]]\nname = \"r\"\nmodule = \"allow := true\"\napplies_to = [\"sbom\"]",
            "rules[0].module",
            "no package",
        ),
        (
            "[[rules]]\nname = \"r\"\npath = \"r.rego\"\napplies_to = [\"sbmo\"]",
            "rules[0].applies_to[0]",
            "sbmo",
        ),
    ];
    for (body, want_key, want_found) in cases {
        let text = format!("version = 1\n{body}\n");
        let (line, _, key, _, found, _) = invalid(&text);
        assert_eq!(&key, want_key, "for {body:?}");
        assert!(found.contains(want_found), "for {body:?}: found {found:?}");
        assert!(line >= 2, "for {body:?}: located at line {line}");
    }
}

#[test]
fn keys_must_use_an_accepted_tee() {
    let m = "a".repeat(96);
    let text = format!(
        "version = 1\n[attestation]\ntee = [\"snp\"]\nsnp.measurements = [\"{m}\"]\n[[keys.entries]]\nid = \"model\"\nimage_digest = \"sha256:{}\"\nrequire_tee = [\"snp\", \"tdx\"]\n",
        "0".repeat(64)
    );
    let (line, col, key, _, found, _) = invalid(&text);
    assert_eq!((line, col), (8, 23));
    assert_eq!(key, "keys.entries[0].require_tee[1]");
    assert_eq!(found, "`tdx`");
}

#[test]
fn unreadable_file_names_the_path() {
    let e = Policy::from_file("/nonexistent/sealrun/policy.toml").unwrap_err();
    assert!(matches!(e, PolicyError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/sealrun/policy.toml"), "{e}");
}
