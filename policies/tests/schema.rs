//! The checked-in JSON Schema must match the types.

use std::path::PathBuf;

#[test]
fn checked_in_schema_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/policy-v1.schema.json");
    let generated = serde_json::to_string_pretty(&sealrun_policy::json_schema()).unwrap() + "\n";
    if std::env::var_os("SEALRUN_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is out of date; regenerate it with:\n  SEALRUN_UPDATE_SCHEMA=1 cargo test -p sealrun-policy --test schema",
        path.display()
    );
}

#[test]
fn schema_describes_the_document() {
    let s = sealrun_policy::json_schema();
    assert_eq!(s["additionalProperties"], serde_json::json!(false));
    assert_eq!(s["required"], serde_json::json!(["version"]));
    for section in ["trust", "sbom", "sandbox", "attestation", "keys", "rules", "extends"] {
        assert!(s["properties"].get(section).is_some(), "no {section} in schema");
    }
    // Typo protection reaches nested tables too.
    assert_eq!(s["$defs"]["Fs"]["additionalProperties"], serde_json::json!(false));
    let text = s.to_string();
    assert!(text.contains("\"model-server\"") && text.contains("\"docker-default\""));
    assert!(text.contains("cyclonedx-1.6") && text.contains("spdx-3.0"));
}
