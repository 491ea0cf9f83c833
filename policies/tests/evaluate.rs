//! Evaluation of the trust, SBOM, attestation and key parts.

use sealrun_policy::attestation::SnpTcb;
use sealrun_policy::{Policy, SnpClaims, TdxClaims, TeeKind};

fn m(c: char) -> String {
    std::iter::repeat_n(c, 96).collect()
}

fn policy() -> Policy {
    let text = format!(
        r#"version = 1
[trust]
media_types = ["application/vnd.dev.sigstore.bundle.v0.3+json"]
[[trust.signers.sigstore]]
identity = "https://github.com/acme/models/.github/workflows/release.yml@refs/tags/*"
issuer = "https://token.actions.githubusercontent.com"
trusted_root = "/etc/sealrun/trusted_root.json"

[sbom]
formats = ["cyclonedx-1.6", "spdx-2.3"]
deny_purls = ["pkg:pypi/pickle5*", "pkg:*/log4j-core@2.14*"]
max_cvss = 7.0
[sbom.licenses]
allow = ["MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-only WITH Classpath-exception-2.0"]
deny = ["GPL-3.0-only", "AGPL-3.0-only"]

[attestation]
tee = ["snp", "tdx"]
[attestation.snp]
measurements = ["{a}", "{b}"]
min_tcb = {{ bootloader = 3, tee = 0, snp = 20, microcode = 200 }}
vmpl = 0
host_data = "{h}"
[attestation.tdx]
mrtd = ["{a}"]
rtmr1 = ["{b}"]
allowed_tcb_status = ["UpToDate", "SWHardeningNeeded"]
allowed_advisories = ["INTEL-SA-00837"]

[[keys.entries]]
id = "llama-weights"
image_digest = "sha256:{d}"
require_tee = ["snp"]
"#,
        a = m('a').to_uppercase(),
        b = m('b'),
        h = "c".repeat(64),
        d = "d".repeat(64)
    );
    Policy::from_str(&text, "eval.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn trust() {
    let p = policy();
    let issuer = "https://token.actions.githubusercontent.com";
    let id = "https://github.com/acme/models/.github/workflows/release.yml@refs/tags/v1.2";
    assert!(p.trust.allows_sigstore(id, issuer).is_some());
    assert!(p.trust.allows_sigstore(id, "https://accounts.google.com").is_none());
    assert!(p
        .trust
        .allows_sigstore(
            "https://github.com/evil/models/.github/workflows/release.yml@refs/tags/v1",
            issuer
        )
        .is_none());
    assert!(p
        .trust
        .accepts_media_type("application/vnd.dev.sigstore.bundle.v0.3+json"));
    assert!(!p
        .trust
        .accepts_media_type("application/vnd.dev.sigstore.bundle+json;version=0.1"));
}

#[test]
fn licenses() {
    let s = &policy().sbom;
    assert_eq!(s.license_allowed("MIT"), Ok(()));
    assert_eq!(s.license_allowed("mit"), Ok(()));
    // One acceptable branch is enough.
    assert_eq!(s.license_allowed("GPL-3.0-only OR Apache-2.0"), Ok(()));
    assert_eq!(s.license_allowed("(MIT AND BSD-3-Clause) OR GPL-3.0-only"), Ok(()));
    assert_eq!(s.license_allowed("GPL-2.0-only WITH Classpath-exception-2.0"), Ok(()));
    // Every part of an AND must be acceptable.
    let e = s.license_allowed("MIT AND GPL-3.0-only").unwrap_err();
    assert!(e.contains("`GPL-3.0-only` is denied by sbom.licenses.deny"), "{e}");
    let e = s.license_allowed("Unlicense OR AGPL-3.0-only").unwrap_err();
    assert!(
        e.contains("`Unlicense` is not in sbom.licenses.allow") && e.contains("`AGPL-3.0-only` is denied"),
        "{e}"
    );
    // The exception in the allow entry is required.
    assert!(s.license_allowed("GPL-2.0-only").is_err());
    let e = s.license_allowed("MIT OR").unwrap_err();
    assert!(e.starts_with("invalid license expression `MIT OR`"), "{e}");
    // Without an allow list, everything not denied is allowed.
    let open = Policy::from_str("version = 1\n[sbom.licenses]\ndeny = [\"GPL-3.0-or-later\"]\n", "x")
        .unwrap()
        .sbom;
    assert_eq!(open.license_allowed("LicenseRef-acme-internal"), Ok(()));
    assert!(open.license_allowed("GPL-3.0-or-later").is_err());
}

#[test]
fn purls_and_cvss() {
    let s = &policy().sbom;
    assert_eq!(s.purl_denied("pkg:pypi/pickle5@0.0.11"), Some("pkg:pypi/pickle5*"));
    assert_eq!(
        s.purl_denied("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
        Some("pkg:*/log4j-core@2.14*")
    );
    assert_eq!(
        s.purl_denied("pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"),
        None
    );
    assert_eq!(s.purl_denied("pkg:pypi/torch@2.3.0"), None);
    assert!(s.cvss_exceeds(7.5));
    assert!(!s.cvss_exceeds(7.0));
    assert!(!Policy::from_str("version = 1\n", "x").unwrap().sbom.cvss_exceeds(10.0));
}

fn snp_ok() -> SnpClaims {
    SnpClaims {
        measurement: m('a'),
        vmpl: 0,
        debug: false,
        migration_agent: false,
        host_data: "c".repeat(64),
        reported_tcb: SnpTcb {
            bootloader: 3,
            tee: 0,
            snp: 21,
            microcode: 210,
        },
    }
}

#[test]
fn snp_appraisal_lists_every_rule() {
    let a = &policy().attestation;
    let d = a.appraise_snp(&snp_ok());
    assert!(d.allowed, "{}", d.to_text());
    let rules: Vec<&str> = d.checks.iter().map(|c| c.rule.as_str()).collect();
    assert_eq!(
        rules,
        vec![
            "attestation.tee",
            "attestation.snp.measurements",
            "attestation.snp.vmpl",
            "attestation.snp.allow_debug",
            "attestation.snp.allow_migration_agent",
            "attestation.snp.host_data",
            "attestation.snp.min_tcb.bootloader",
            "attestation.snp.min_tcb.tee",
            "attestation.snp.min_tcb.snp",
            "attestation.snp.min_tcb.microcode",
        ]
    );

    let mut bad = snp_ok();
    bad.measurement = m('e');
    bad.debug = true;
    bad.reported_tcb.snp = 19;
    let d = a.appraise_snp(&bad);
    assert!(!d.allowed);
    let failed: Vec<(&str, &str, &str)> = d
        .failures()
        .map(|c| (c.rule.as_str(), c.expected.as_str(), c.found.as_str()))
        .collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert_eq!(failed[0].0, "attestation.snp.measurements");
    assert!(failed[0].1.contains(&m('a')) && failed[0].2 == m('e'));
    assert_eq!(failed[1], ("attestation.snp.allow_debug", "debug off", "debug on"));
    assert_eq!(failed[2], ("attestation.snp.min_tcb.snp", ">= 20", "19"));
    assert!(d
        .to_text()
        .contains("FAIL attestation.snp.min_tcb.snp: expected >= 20, found 19"));
}

#[test]
fn tdx_appraisal() {
    let a = &policy().attestation;
    let ok = TdxClaims {
        mrtd: m('a'),
        rtmr: [m('0'), m('b'), m('2'), m('3')],
        mr_config_id: m('0'),
        debug: false,
        tcb_status: "SWHardeningNeeded".into(),
        advisories: vec!["INTEL-SA-00837".into()],
    };
    let d = a.appraise_tdx(&ok);
    assert!(d.allowed, "{}", d.to_text());
    assert_eq!(d.checks.len(), 10);

    let mut bad = ok.clone();
    bad.rtmr[1] = m('f');
    bad.tcb_status = "OutOfDate".into();
    bad.advisories.push("INTEL-SA-00999".into());
    let d = a.appraise_tdx(&bad);
    let failed: Vec<&str> = d.failures().map(|c| c.rule.as_str()).collect();
    assert_eq!(
        failed,
        vec![
            "attestation.tdx.rtmr1",
            "attestation.tdx.allowed_tcb_status",
            "attestation.tdx.allowed_advisories"
        ]
    );
    let adv = d.failures().last().unwrap();
    assert!(adv.found.contains("not allowed: INTEL-SA-00999"), "{}", adv.found);
}

#[test]
fn tee_kinds_and_dev() {
    let strict = Policy::library("model-server-strict").unwrap();
    let d = strict.attestation.appraise_snp(&snp_ok());
    assert!(!d.allowed);
    assert_eq!(d.failures().next().unwrap().rule, "attestation.tee");
    assert!(!strict.attestation.accepts_tee(TeeKind::Dev).allowed);
    assert!(
        Policy::library("dev-permissive")
            .unwrap()
            .attestation
            .accepts_tee(TeeKind::Dev)
            .allowed
    );
    let gpu = Policy::library("gpu-worker").unwrap().attestation;
    assert!(gpu.appraise_gpu(1, true).allowed);
    assert!(!gpu.appraise_gpu(1, false).allowed);
    assert!(!gpu.appraise_gpu(0, true).allowed);
}

#[test]
fn key_release() {
    let k = &policy().keys;
    let digest = format!("sha256:{}", "d".repeat(64));
    assert!(k.release_allowed("llama-weights", &digest, TeeKind::Snp).allowed);
    let d = k.release_allowed("llama-weights", &digest, TeeKind::Tdx);
    assert!(!d.allowed);
    assert_eq!(
        d.failures().next().unwrap().rule,
        "keys.entries[llama-weights].require_tee"
    );
    let d = k.release_allowed("llama-weights", &format!("sha256:{}", "e".repeat(64)), TeeKind::Snp);
    assert_eq!(
        d.failures().next().unwrap().rule,
        "keys.entries[llama-weights].image_digest"
    );
    let d = k.release_allowed("other", &digest, TeeKind::Snp);
    assert!(!d.allowed);
    assert_eq!(d.checks[0].expected, "one of [llama-weights]");
}
