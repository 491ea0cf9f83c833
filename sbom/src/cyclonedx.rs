//! CycloneDX 1.5 / 1.6 JSON, including ML-BOM (`machine-learning-model` components with a
//! `modelCard`).

use serde_json::Value;

use crate::{json_kind, normalise_alg, opt_array, opt_str, Component, Inventory, SbomError, SbomFormat, Subject};

pub(crate) fn parse(doc: &Value, origin: &str) -> Result<Inventory, SbomError> {
    match doc.get("bomFormat") {
        Some(Value::String(s)) if s == "CycloneDX" => {}
        Some(other) => return Err(SbomError::field(origin, "bomFormat", "`CycloneDX`", json_kind(other))),
        None => unreachable!("format detection checked bomFormat"),
    }
    let format = match doc.get("specVersion") {
        Some(Value::String(s)) if s == "1.5" => SbomFormat::CycloneDx15,
        Some(Value::String(s)) if s == "1.6" => SbomFormat::CycloneDx16,
        Some(Value::String(s)) => return Err(SbomError::field(origin, "specVersion", "1.5 or 1.6", s.as_str())),
        Some(other) => return Err(SbomError::field(origin, "specVersion", "1.5 or 1.6", json_kind(other))),
        None => return Err(SbomError::field(origin, "specVersion", "1.5 or 1.6", "nothing")),
    };
    let spec_version = doc["specVersion"].as_str().unwrap_or_default().to_string();

    let subject = match doc.get("metadata").and_then(|m| m.get("component")) {
        Some(c) if !c.is_null() => {
            let c = component(c, origin, "metadata.component")?;
            Subject {
                name: Some(c.name),
                version: c.version,
                purl: c.purl,
                hashes: c.hashes,
            }
        }
        _ => Subject::default(),
    };

    let mut components = Vec::new();
    collect(doc, origin, "", &mut components)?;
    Ok(Inventory {
        origin: origin.to_string(),
        format,
        spec_version,
        subject,
        components,
    })
}

/// Appends `parent.components[]`, depth first (a component before its children).
fn collect(parent: &Value, origin: &str, path: &str, out: &mut Vec<Component>) -> Result<(), SbomError> {
    let list_path = if path.is_empty() {
        "components".to_string()
    } else {
        format!("{path}.components")
    };
    let list = opt_array(parent, "components", origin, path)?;
    for (i, c) in list.iter().enumerate() {
        let here = format!("{list_path}[{i}]");
        out.push(component(c, origin, &here)?);
        collect(c, origin, &here, out)?;
    }
    Ok(())
}

fn component(c: &Value, origin: &str, path: &str) -> Result<Component, SbomError> {
    if !c.is_object() {
        return Err(SbomError::field(origin, path, "a component object", json_kind(c)));
    }
    let name = opt_str(c, "name", origin, path)?
        .ok_or_else(|| SbomError::field(origin, format!("{path}.name"), "a string", "nothing"))?
        .to_string();
    let kind = opt_str(c, "type", origin, path)?
        .ok_or_else(|| SbomError::field(origin, format!("{path}.type"), "a component type", "nothing"))?
        .to_string();
    let mut hashes = Vec::new();
    for (i, h) in opt_array(c, "hashes", origin, path)?.iter().enumerate() {
        let hp = format!("{path}.hashes[{i}]");
        let alg = opt_str(h, "alg", origin, &hp)?
            .ok_or_else(|| SbomError::field(origin, format!("{hp}.alg"), "a hash algorithm", "nothing"))?;
        let content = opt_str(h, "content", origin, &hp)?
            .ok_or_else(|| SbomError::field(origin, format!("{hp}.content"), "a hex digest", "nothing"))?;
        hashes.push((normalise_alg(alg), content.to_ascii_lowercase()));
    }
    Ok(Component {
        name,
        version: opt_str(c, "version", origin, path)?.map(str::to_string),
        purl: opt_str(c, "purl", origin, path)?.map(str::to_string),
        licenses: licenses(c, origin, path)?,
        hashes,
        kind,
        has_model_card: c.get("modelCard").is_some_and(|m| !m.is_null()),
    })
}

/// `licenses[]` entries are `{license: {id | name}}` or `{expression}`; several are all
/// granted, so they are joined with `AND`.
fn licenses(c: &Value, origin: &str, path: &str) -> Result<Option<String>, SbomError> {
    let mut parts: Vec<String> = Vec::new();
    for (i, l) in opt_array(c, "licenses", origin, path)?.iter().enumerate() {
        let lp = format!("{path}.licenses[{i}]");
        if let Some(e) = opt_str(l, "expression", origin, &lp)? {
            parts.push(e.trim().to_string());
        } else if let Some(lic) = l.get("license") {
            let lp = format!("{lp}.license");
            let text: String = match (opt_str(lic, "id", origin, &lp)?, opt_str(lic, "name", origin, &lp)?) {
                (Some(id), _) => id.to_string(),
                (None, Some(name)) => license_ref(name),
                (None, None) => {
                    return Err(SbomError::field(origin, lp, "`id` or `name`", "neither"));
                }
            };
            parts.push(text.trim().to_string());
        } else {
            return Err(SbomError::field(origin, lp, "`license` or `expression`", "neither"));
        }
    }
    parts.retain(|p| !p.is_empty());
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(
            parts
                .iter()
                .map(|p| if p.contains(' ') { format!("({p})") } else { p.clone() })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    })
}

/// A `license.name` that is an SPDX expression (trivy writes them there) is used as one;
/// free text (`License :: OSI Approved :: Apache Software License`) becomes a
/// `LicenseRef-` identifier, which no allow list contains unless it names it.
fn license_ref(name: &str) -> String {
    let name = name.trim();
    if sealrun_policy::spdx::Expression::parse(name).is_ok() {
        return name.to_string();
    }
    let mut id = String::from("LicenseRef-");
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            id.push(c);
            dash = false;
        } else if !dash && !id.ends_with('-') {
            id.push('-');
            dash = true;
        }
    }
    id.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn free_text_license_names_become_license_refs() {
        assert_eq!(
            super::license_ref("License :: OSI Approved :: Apache Software License"),
            "LicenseRef-License-OSI-Approved-Apache-Software-License"
        );
        assert_eq!(
            super::license_ref("Apache-2.0 OR BSD-2-Clause"),
            "Apache-2.0 OR BSD-2-Clause"
        );
        assert_eq!(super::license_ref("MIT"), "MIT");
    }

    #[test]
    fn refuses_cyclonedx_1_4() {
        let e = parse(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.4","components":[]}"#,
            "sbom.json",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "sbom.json: specVersion: expected 1.5 or 1.6, found 1.4");
        let e = parse(br#"{"bomFormat":"SPDX","specVersion":"1.6"}"#, "sbom.json")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "sbom.json: bomFormat: expected `CycloneDX`, found `SPDX`");
    }

    #[test]
    fn licenses_nested_components_and_errors() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
            {"type":"library","name":"a","licenses":[{"license":{"id":"MIT"}},{"expression":"Apache-2.0 OR BSD-3-Clause"}],
             "components":[{"type":"library","name":"a-inner","version":"1","licenses":[{"license":{"name":"Custom thing"}}]}]},
            {"type":"framework","name":"b","hashes":[{"alg":"SHA-256","content":"ABCD"}]}]}"#;
        let inv = parse(doc, "t.json").unwrap();
        let names: Vec<&str> = inv.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "a-inner", "b"]);
        assert_eq!(
            inv.components[0].licenses.as_deref(),
            Some("MIT AND (Apache-2.0 OR BSD-3-Clause)")
        );
        assert_eq!(inv.components[1].licenses.as_deref(), Some("LicenseRef-Custom-thing"));
        assert_eq!(inv.components[1].label(), "a-inner@1");
        assert_eq!(inv.components[2].licenses, None);
        assert_eq!(
            inv.components[2].hashes,
            vec![("sha256".to_string(), "abcd".to_string())]
        );

        let bad = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x","licenses":[{"license":{}}]}]}"#;
        assert_eq!(
            parse(bad, "t.json").unwrap_err().to_string(),
            "t.json: components[0].licenses[0].license: expected `id` or `name`, found neither"
        );
        let bad = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":7}]}"#;
        assert_eq!(
            parse(bad, "t.json").unwrap_err().to_string(),
            "t.json: components[0].name: expected a string, found the number 7"
        );
        let bad = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":{}}"#;
        assert_eq!(
            parse(bad, "t.json").unwrap_err().to_string(),
            "t.json: components: expected an array, found an object"
        );
    }
}
