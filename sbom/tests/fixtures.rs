//! The SBOM and OSV fixtures in `../shared/fixtures` (override with SEALRUN_FIXTURES)
//! through the public API.

use std::path::PathBuf;

use sealrun_policy::Policy;
use sealrun_sbom::{check, load_osv_for, parse, parse_file, Inventory, OsvDb, SbomFormat};

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

fn sbom(name: &str) -> Inventory {
    let path = fixtures().join("sbom").join(name);
    parse_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn osv() -> OsvDb {
    OsvDb::load_dir(fixtures().join("osv")).unwrap()
}

fn policy(toml: &str) -> Policy {
    Policy::from_str(toml, "llm-prod.toml").unwrap_or_else(|e| panic!("{e}"))
}

const MODEL_SHA256: &str = "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83";

#[test]
fn component_counts_and_formats() {
    let cases = [
        ("venv-ms.cdx-1.5.json", SbomFormat::CycloneDx15, 55),
        ("venv-ms.cdx-1.6.json", SbomFormat::CycloneDx16, 55),
        ("venv-ms.trivy.cyclonedx.json", SbomFormat::CycloneDx16, 74),
        // trivy's SPDX lists the scanned directory (`venv-ms`) as a package too.
        ("venv-ms.trivy.spdx-json.json", SbomFormat::Spdx23, 75),
        ("rust-t_sr_verify.cdx-1.5.json", SbomFormat::CycloneDx15, 68),
        ("model-demo.mlbom.cdx-1.6.json", SbomFormat::CycloneDx16, 7),
        ("model-demo.spdx3.jsonld", SbomFormat::Spdx30, 2),
    ];
    for (file, format, n) in cases {
        let inv = sbom(file);
        assert_eq!(inv.format, format, "{file}");
        assert_eq!(inv.components.len(), n, "{file}");
    }
    let trivy = sbom("venv-ms.trivy.spdx-json.json");
    assert_eq!(trivy.spec_version, "SPDX-2.3");
    assert_eq!(trivy.subject.name.as_deref(), Some("venv-ms"));
    let crypto = trivy.components.iter().find(|c| c.name == "cryptography").unwrap();
    assert_eq!(crypto.licenses.as_deref(), Some("Apache-2.0 OR BSD-3-Clause"));
    // NOASSERTION in both fields: no license.
    let cc = trivy.components.iter().find(|c| c.name == "CacheControl").unwrap();
    assert_eq!(cc.licenses, None);
    assert_eq!(cc.purl.as_deref(), Some("pkg:pypi/cachecontrol@0.14.4"));

    let rust = sbom("rust-t_sr_verify.cdx-1.5.json");
    assert_eq!(rust.subject.name.as_deref(), Some("t_sr_verify"));
    let lc = rust.components.iter().find(|c| c.name == "aws-lc-rs").unwrap();
    assert_eq!(lc.licenses.as_deref(), Some("ISC AND (Apache-2.0 OR ISC)"));
    assert_eq!(
        lc.hashes,
        vec![(
            "sha256".to_string(),
            "048006790404103c488e6c5616b3e7e702a71292aadda08e8f7698a9e0d2eb53".to_string()
        )]
    );
}

#[test]
fn cryptography_50_0_2_is_synth_2026_0001_with_cvss_9_8() {
    let db = osv();
    assert_eq!(db.len(), 2);
    for file in [
        "venv-ms.cdx-1.5.json",
        "venv-ms.cdx-1.6.json",
        "venv-ms.trivy.cyclonedx.json",
        "venv-ms.trivy.spdx-json.json",
        "model-demo.mlbom.cdx-1.6.json",
        "model-demo.spdx3.jsonld",
    ] {
        let inv = sbom(file);
        let c = inv
            .components
            .iter()
            .find(|c| c.purl.as_deref() == Some("pkg:pypi/cryptography@50.0.2"))
            .unwrap_or_else(|| panic!("{file}: no cryptography@50.0.2"));
        let vulns = db.affecting(c.purl.as_deref().unwrap());
        assert_eq!(vulns.len(), 1, "{file}");
        assert_eq!(vulns[0].id, "SYNTH-2026-0001");
        assert_eq!(vulns[0].aliases, ["CVE-0000-00000"]);
        assert_eq!(vulns[0].cvss, Some(9.8));
        // Every vulnerable package of the venv: only cryptography.
        let hit: Vec<&str> = inv
            .components
            .iter()
            .filter(|c| c.purl.as_deref().is_some_and(|p| !db.affecting(p).is_empty()))
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(hit, ["cryptography"], "{file}");
    }
    assert!(db.affecting("pkg:pypi/cryptography@50.0.3").is_empty());
    assert!(db.affecting("pkg:pypi/Cryptography@50.0.1").len() == 1);
    assert!(db.affecting("pkg:cargo/cryptography@50.0.2").is_empty());
}

#[test]
fn aws_lc_rs_1_19_0_is_inside_synth_2026_0002() {
    // The range is SEMVER introduced 1.0.0, fixed 1.19.1; the Rust SBOM has 1.19.0.
    let db = osv();
    let rust = sbom("rust-t_sr_verify.cdx-1.5.json");
    let lc = rust.components.iter().find(|c| c.name == "aws-lc-rs").unwrap();
    assert_eq!(lc.purl.as_deref(), Some("pkg:cargo/aws-lc-rs@1.19.0"));
    let v = db.affecting("pkg:cargo/aws-lc-rs@1.19.0");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].id, "SYNTH-2026-0002");
    // The record has no severity: the score is unknown, not zero.
    assert_eq!(v[0].cvss, None);
    assert!(db.affecting("pkg:cargo/aws-lc-rs@1.19.1").is_empty());
    assert!(db.affecting("pkg:cargo/aws-lc-rs@0.9.9").is_empty());
    assert_eq!(db.affecting("pkg:cargo/aws-lc-rs@1.0.0").len(), 1);

    // Unknown severity fails closed against max_cvss.
    let p = policy("version = 1\n[sbom]\nmax_cvss = 9.9\n");
    let report = check(&rust, &p, Some(&db));
    assert!(!report.passed);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let f = &report.findings[0];
    assert_eq!(f.rule, "sbom.max_cvss");
    assert_eq!(f.package, "pkg:cargo/aws-lc-rs@1.19.0");
    assert_eq!(
        f.message,
        "pkg:cargo/aws-lc-rs@1.19.0 is affected by SYNTH-2026-0002 (CVSS unknown (no CVSS 3 vector), \
         so above 9.9 allowed by policy llm-prod.toml:[sbom].max_cvss)"
    );
}

#[test]
fn mlbom_model_component_has_a_model_card_and_binds_to_the_weights() {
    let inv = sbom("model-demo.mlbom.cdx-1.6.json");
    assert_eq!(inv.subject.name.as_deref(), Some("demo-model"));
    assert_eq!(inv.subject.version.as_deref(), Some("1.0"));
    let models: Vec<_> = inv
        .components
        .iter()
        .filter(|c| c.kind == "machine-learning-model")
        .collect();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].name, "demo-model-weights");
    assert!(models[0].has_model_card);
    assert_eq!(models[0].licenses.as_deref(), Some("Apache-2.0"));
    assert_eq!(inv.components.iter().filter(|c| c.kind == "file").count(), 4);
    assert!(inv
        .components
        .iter()
        .filter(|c| c.kind != "machine-learning-model")
        .all(|c| !c.has_model_card));
    assert!(inv.binds_to(MODEL_SHA256));
    assert!(inv.binds_to("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert!(!inv.binds_to(&"0".repeat(64)));
}

#[test]
fn spdx3_ai_package() {
    let inv = sbom("model-demo.spdx3.jsonld");
    assert_eq!(inv.spec_version, "3.0.1");
    // rootElement of the document is the Sbom, whose rootElement is the model.
    assert_eq!(inv.subject.name.as_deref(), Some("demo-model"));
    assert_eq!(
        inv.subject.hashes,
        vec![("sha256".to_string(), MODEL_SHA256.to_string())]
    );
    let ai = &inv.components[0];
    assert_eq!(ai.name, "demo-model");
    assert_eq!(ai.kind, "machine-learning-model");
    assert_eq!(ai.version.as_deref(), Some("1.0"));
    assert!(ai.has_model_card);
    assert_eq!(ai.licenses, None);
    let pkg = &inv.components[1];
    assert_eq!(pkg.kind, "library");
    assert_eq!(pkg.purl.as_deref(), Some("pkg:pypi/cryptography@50.0.2"));
    assert!(!pkg.has_model_card);
    assert!(inv.binds_to(MODEL_SHA256));
}

#[test]
fn spdx3_prototype_is_refused_naming_the_field() {
    let e = parse_file(fixtures().join("sbom/venv-ms.spdx3-proto.jsonld"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("venv-ms.spdx3-proto.jsonld: @graph[0].creationInfo.specVersion: expected 3.0.1, found 3.0.0"),
        "{e}"
    );
}

#[test]
fn malformed_inputs_name_file_and_field() {
    let e = parse(br#"{"bomFormat":"CycloneDX","specVersion":"1.4"}"#, "sbom.json").unwrap_err();
    assert_eq!(e.to_string(), "sbom.json: specVersion: expected 1.5 or 1.6, found 1.4");
    let text = std::fs::read(fixtures().join("sbom/venv-ms.cdx-1.6.json")).unwrap();
    let e = parse(&text[..text.len() / 2], "cut.json").unwrap_err().to_string();
    assert!(e.starts_with("cut.json: invalid JSON: EOF"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.json"), br#"{"id":"X-1","affected":[]}"#).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not a record, not read").unwrap();
    assert_eq!(OsvDb::load_dir(dir.path()).unwrap().len(), 1);
    std::fs::write(dir.path().join("zz-bad.json"), b"{\"id\": 5}").unwrap();
    let e = OsvDb::load_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("zz-bad.json: invalid JSON: not an OSV record"), "{e}");
    let e = OsvDb::load_dir(dir.path().join("missing")).unwrap_err().to_string();
    assert!(e.contains("missing: cannot read"), "{e}");
}

#[test]
fn cvss_finding_prose_and_the_other_sbom_keys() {
    let db = osv();
    let inv = sbom("venv-ms.cdx-1.6.json");
    let p = policy(
        r#"version = 1
[sbom]
formats = ["cyclonedx-1.6", "spdx-3.0"]
max_cvss = 7.0
deny_purls = ["pkg:pypi/pyjwt@*"]
[sbom.licenses]
deny = ["MPL-2.0"]
"#,
    );
    let report = check(&inv, &p, Some(&db));
    assert!(!report.passed);
    let vuln: Vec<_> = report.findings.iter().filter(|f| f.rule == "sbom.max_cvss").collect();
    assert_eq!(vuln.len(), 1);
    assert_eq!(vuln[0].package, "pkg:pypi/cryptography@50.0.2");
    assert_eq!(
        vuln[0].message,
        "pkg:pypi/cryptography@50.0.2 is affected by SYNTH-2026-0001 (CVSS 9.8 ≥ 7.0 allowed by policy llm-prod.toml:[sbom].max_cvss)"
    );
    let denied: Vec<_> = report.findings.iter().filter(|f| f.rule == "sbom.deny_purls").collect();
    assert_eq!(denied.len(), 1);
    assert_eq!(
        denied[0].message,
        "pkg:pypi/pyjwt@2.15.1 matches `pkg:pypi/pyjwt@*` denied by policy llm-prod.toml:[sbom].deny_purls"
    );
    // Deny list only: the MPL-2.0 packages (certifi's is `MPL-2.0 AND` a free-text name,
    // which becomes a LicenseRef and is not denied by itself).
    let mpl: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule == "sbom.licenses.deny")
        .map(|f| f.package.as_str())
        .collect();
    assert_eq!(mpl, ["pkg:pypi/certifi@2026.10.18", "pkg:pypi/pytest-metadata@3.1.1"]);
    assert_eq!(report.findings.len(), 4, "{:?}", report.findings);
    assert!(report.findings.iter().all(|f| f.rule != "sbom.licenses.allow"));
    assert!(report.findings.iter().all(|f| f.rule != "sbom.formats"));

    // The same environment as CycloneDX 1.5 fails the format requirement.
    let report = check(&sbom("venv-ms.cdx-1.5.json"), &p, Some(&db));
    let f: Vec<_> = report.findings.iter().filter(|f| f.rule == "sbom.formats").collect();
    assert_eq!(f.len(), 1);
    assert!(
        f[0].message.ends_with(
            "venv-ms.cdx-1.5.json is cyclonedx-1.5, but policy llm-prod.toml:[sbom].formats requires one of cyclonedx-1.6, spdx-3.0"
        ),
        "{}",
        f[0].message
    );

    // Without an OSV database, max_cvss cannot be established: a finding, not a pass.
    let report = check(
        &sbom("model-demo.spdx3.jsonld"),
        &policy("version = 1\n[sbom]\nmax_cvss = 7.0\n"),
        None,
    );
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].rule, "sbom.max_cvss");
    // A threshold above 9.8 lets cryptography through.
    let report = check(
        &sbom("model-demo.spdx3.jsonld"),
        &policy("version = 1\n[sbom]\nmax_cvss = 9.8\n"),
        Some(&db),
    );
    assert!(report.passed, "{:?}", report.findings);
}

#[test]
fn license_allow_list() {
    let rust = sbom("rust-t_sr_verify.cdx-1.5.json");
    let allow_all = policy(
        r#"version = 1
[sbom.licenses]
allow = ["MIT", "Apache-2.0", "ISC", "BSD-3-Clause", "Unicode-3.0", "MIT-0", "Unlicense", "BSL-1.0", "CC0-1.0"]
"#,
    );
    let report = check(&rust, &allow_all, None);
    assert!(report.passed, "{:?}", report.findings);

    // Without ISC, the packages whose every way needs ISC are refused; `ISC AND (Apache-2.0
    // OR ISC)` (aws-lc-rs) needs ISC regardless.
    let no_isc = policy(
        r#"version = 1
[sbom.licenses]
allow = ["MIT", "Apache-2.0", "BSD-3-Clause", "Unicode-3.0", "MIT-0", "Unlicense", "BSL-1.0", "CC0-1.0"]
"#,
    );
    let report = check(&rust, &no_isc, None);
    let refused: Vec<&str> = report.findings.iter().map(|f| f.package.as_str()).collect();
    assert!(refused.contains(&"pkg:cargo/aws-lc-rs@1.19.0"), "{refused:?}");
    assert_eq!(refused.len(), 6, "{refused:?}");
    assert!(report.findings.iter().all(|f| f.rule == "sbom.licenses.allow"));
    let lc = report
        .findings
        .iter()
        .find(|f| f.package == "pkg:cargo/aws-lc-rs@1.19.0")
        .unwrap();
    assert_eq!(
        lc.message,
        "pkg:cargo/aws-lc-rs@1.19.0: license `ISC AND (Apache-2.0 OR ISC)` cannot be satisfied with allowed \
         licenses: `ISC` is not in sbom.licenses.allow (policy llm-prod.toml:[sbom.licenses.allow])"
    );

    // Under an allow list, packages without a license are findings; the venv has two.
    let venv = sbom("venv-ms.cdx-1.6.json");
    let report = check(&venv, &allow_all, None);
    let unlicensed: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.message.contains("declares no license"))
        .map(|f| f.package.as_str())
        .collect();
    assert_eq!(
        unlicensed,
        ["pkg:pypi/protobuf@7.36.2", "pkg:pypi/sigstore-models@0.0.6"]
    );

    // The ML-BOM's files are not license-checked; the model's Apache-2.0 is allowed, the
    // data set and cryptography have none.
    let report = check(&sbom("model-demo.mlbom.cdx-1.6.json"), &allow_all, None);
    let pkgs: Vec<&str> = report.findings.iter().map(|f| f.package.as_str()).collect();
    assert_eq!(pkgs, ["demo-dataset", "pkg:pypi/cryptography@50.0.2"]);
}

#[test]
fn rego_rules_see_the_inventory() {
    let inv = sbom("model-demo.mlbom.cdx-1.6.json");
    let p = policy(
        r#"version = 1
[[rules]]
name = "models-need-cards"
applies_to = ["sbom"]
module = '''
package sbom.cards
deny contains msg if {
    some c in input.components
    c.kind == "machine-learning-model"
    not c.has_model_card
    msg := sprintf("%s has no model card", [c.name])
}
'''
[[rules]]
name = "no-crypto"
applies_to = ["sbom"]
module = '''
package sbom.nocrypto
deny contains msg if {
    some c in input.components
    c.name == "cryptography"
    msg := sprintf("%s is not allowed in model images", [c.purl])
}
'''
"#,
    );
    let report = check(&inv, &p, None);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].rule, "rules.no-crypto");
    assert!(report.findings[0].message.contains(
        "pkg:pypi/cryptography@50.0.2 is not allowed in model images (policy llm-prod.toml:[[rules]] no-crypto)"
    ));
}

#[test]
fn osv_dir_resolves_against_the_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    let osv_rel = pathdiff(&fixtures().join("osv"), dir.path());
    let policy_path = dir.path().join("llm-prod.toml");
    std::fs::write(
        &policy_path,
        format!(
            "version = 1\n[sbom]\nmax_cvss = 7.0\nosv_dir = {:?}\n",
            osv_rel.display().to_string()
        ),
    )
    .unwrap();
    let p = Policy::from_file(&policy_path).unwrap();
    let db = load_osv_for(&p).unwrap().expect("policy names an OSV dir");
    assert_eq!(db.len(), 2);
    assert!(load_osv_for(&policy("version = 1\n")).unwrap().is_none());
}

/// `target` relative to `base` (both absolute), via `..` components.
fn pathdiff(target: &std::path::Path, base: &std::path::Path) -> PathBuf {
    let target = std::fs::canonicalize(target).unwrap();
    let base = std::fs::canonicalize(base).unwrap();
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// Found by fuzz/osv_record: a record whose range events mix PEP 440 and non-PEP 440
/// versions made `sort_by` panic (the comparator was not a total order).
#[test]
fn fuzz_regression_osv_record_with_mixed_versions_does_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/osv_record");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let mut db = sealrun_sbom::OsvDb::default();
        if db.add(&bytes, "regression.json").is_ok() {
            for p in ["pkg:pypi/cryptography@50.0.2", "pkg:pypi/cryptography@50.1"] {
                let _ = db.affecting(p);
            }
        }
    }
}
