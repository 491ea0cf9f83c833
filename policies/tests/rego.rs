//! Rego `[[rules]]` evaluation and `*_test.rego` runs through the real regorus engine.
#![cfg(feature = "rego")]

use std::path::PathBuf;

use sealrun_policy::rego::{evaluate, run_tests, RegoError};
use sealrun_policy::Policy;
use serde_json::json;

const LEFT_PAD_RULE: &str = r#"version = 1
extends = "library:model-server-strict"

[[rules]]
name = "no-left-pad"
applies_to = ["sbom"]
module = '''
package sealrun.rules.leftpad

deny contains msg if {
    some c in input.components
    c.name == "left-pad"
    msg := sprintf("component %s is banned", [c.name])
}
'''
"#;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn inline_sbom_rule_denies_left_pad_and_allows_without_it() {
    let p = Policy::from_str(LEFT_PAD_RULE, "policy.toml").unwrap();

    let bad = json!({"components": [{"name": "serde"}, {"name": "left-pad"}]});
    let d = evaluate(&p, "sbom", &bad).unwrap();
    assert!(!d.allowed, "{}", d.to_text());
    assert_eq!(d.checks.len(), 1);
    assert_eq!(d.checks[0].rule, "rules.no-left-pad");
    assert!(!d.checks[0].passed);
    assert_eq!(d.checks[0].found, "component left-pad is banned");

    let good = json!({"components": [{"name": "serde"}]});
    let d = evaluate(&p, "sbom", &good).unwrap();
    assert!(d.allowed, "{}", d.to_text());
    assert_eq!(d.checks.len(), 1);
    assert!(d.checks[0].passed);

    // The rule applies to sbom only: another decision does not run it.
    let d = evaluate(&p, "keys", &bad).unwrap();
    assert!(d.allowed);
    assert!(d.checks.is_empty());

    assert!(matches!(evaluate(&p, "sboms", &bad), Err(RegoError::UnknownTarget(_))));
}

#[test]
fn rule_path_is_relative_to_the_policy_file_and_sees_policy_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rego")).unwrap();
    write(
        &dir,
        "rego/keys.rego",
        r#"package sealrun.rules.keys

deny contains "capabilities are kept" if {
    count(data.sealrun.policy.sandbox.capabilities.keep) > 0
}

deny contains msg if {
    input.tee == "dev"
    msg := "dev TEE may not receive keys"
}
"#,
    );
    let policy = write(
        &dir,
        "policy.toml",
        "version = 1\nextends = \"library:model-server-strict\"\n\n[[rules]]\nname = \"keys\"\npath = \"rego/keys.rego\"\napplies_to = [\"keys\"]\n",
    );
    let p = Policy::from_file(&policy).unwrap();
    assert!(evaluate(&p, "keys", &json!({"tee": "snp"})).unwrap().allowed);
    let d = evaluate(&p, "keys", &json!({"tee": "dev"})).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.checks[0].found, "dev TEE may not receive keys");
}

#[test]
fn missing_rule_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        &dir,
        "policy.toml",
        "version = 1\n[[rules]]\nname = \"gone\"\npath = \"gone.rego\"\napplies_to = [\"sbom\"]\n",
    );
    let p = Policy::from_file(&policy).unwrap();
    let err = evaluate(&p, "sbom", &json!({})).unwrap_err();
    assert!(matches!(err, RegoError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("gone.rego"), "{err}");
}

#[test]
fn deny_that_is_not_a_set_of_strings_is_an_error() {
    let text =
        "version = 1\n[[rules]]\nname = \"odd\"\napplies_to = [\"trust\"]\nmodule = '''\npackage odd\ndeny := 3\n'''\n";
    let p = Policy::from_str(text, "policy.toml").unwrap();
    let err = evaluate(&p, "trust", &json!({})).unwrap_err();
    assert!(matches!(err, RegoError::DenyShape { .. }), "{err:?}");
    assert!(err.to_string().contains("odd"), "{err}");
}

#[test]
fn test_rules_pass_and_fail_against_the_library_policy() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "policy_test.rego",
        r#"package sealrun.policy_test

test_strict_has_no_caps if {
    count(data.sealrun.policy.sandbox.capabilities.keep) == 0
}

test_strict_allows_udp if {
    data.sealrun.policy.sandbox.net.allow_udp == true
}

# A helper, not a test.
caps := data.sealrun.policy.sandbox.capabilities.keep

test_value_not_true := 5
"#,
    );
    let p = Policy::library("model-server-strict").unwrap();
    let results = run_tests(&p, std::slice::from_ref(&file)).unwrap();
    let by_name = |n: &str| {
        results
            .iter()
            .find(|t| t.name == n)
            .unwrap_or_else(|| panic!("{n} in {results:?}"))
    };
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results.iter().all(|t| t.file == file));
    assert!(by_name("test_strict_has_no_caps").passed);
    let udp = by_name("test_strict_allows_udp");
    assert!(!udp.passed);
    assert!(udp.detail.contains("undefined"), "{}", udp.detail);
    let five = by_name("test_value_not_true");
    assert!(!five.passed);
    assert!(five.detail.contains('5'), "{}", five.detail);
}

#[test]
fn test_files_can_query_the_policy_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "leftpad_test.rego",
        r#"package leftpad_test

test_left_pad_denied if {
    count(data.sealrun.rules.leftpad.deny) == 1 with input as {"components": [{"name": "left-pad"}]}
}

test_clean_allowed if {
    count(data.sealrun.rules.leftpad.deny) == 0 with input as {"components": []}
}
"#,
    );
    let p = Policy::from_str(LEFT_PAD_RULE, "policy.toml").unwrap();
    let results = run_tests(&p, &[file]).unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|t| t.passed), "{results:?}");
}

#[test]
fn syntax_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "broken_test.rego", "package broken\n\ntest_x if {\n    1 ==\n");
    let p = Policy::library("model-server-strict").unwrap();
    let err = run_tests(&p, &[file]).unwrap_err();
    assert!(matches!(err, RegoError::Compile { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("broken_test.rego:5:"), "{msg}");
    assert!(msg.contains("expecting expression"), "{msg}");
}

#[test]
fn syntax_error_in_an_inline_rule_names_the_rule() {
    let text = "version = 1\n[[rules]]\nname = \"bad\"\napplies_to = [\"sbom\"]\nmodule = '''\npackage bad\ndeny contains x if {\n'''\n";
    let p = Policy::from_str(text, "policy.toml").unwrap();
    let err = evaluate(&p, "sbom", &json!({})).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`bad`") && msg.contains("policy.toml"), "{msg}");
}
