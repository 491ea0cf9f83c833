//! SPDX 3.0.1 JSON-LD (the serialisation with the official context: `@graph` of elements
//! with `type` and `spdxId`). Licenses are `Relationship`s `hasConcludedLicense` /
//! `hasDeclaredLicense` from a package to a license element.

use std::collections::HashMap;

use serde_json::Value;

use crate::{json_kind, normalise_alg, opt_array, opt_str, Component, Inventory, SbomError, SbomFormat, Subject};

const SPEC_VERSION: &str = "3.0.1";
const LISTED_LICENSE_PREFIX: &str = "https://spdx.org/licenses/";

pub(crate) fn parse(doc: &Value, origin: &str) -> Result<Inventory, SbomError> {
    let graph = match doc.get("@graph") {
        Some(Value::Array(g)) => g,
        Some(other) => {
            return Err(SbomError::field(
                origin,
                "@graph",
                "an array of SPDX 3 elements",
                json_kind(other),
            ))
        }
        None => {
            return Err(SbomError::field(
                origin,
                "@graph",
                "an array of SPDX 3 elements",
                "nothing",
            ))
        }
    };
    check_spec_version(graph, origin)?;

    let mut by_id: HashMap<&str, &Value> = HashMap::new();
    for e in graph {
        if let Some(id) = e.get("spdxId").and_then(Value::as_str) {
            by_id.insert(id, e);
        }
    }

    // package id -> (concluded, declared) license element ids
    let mut concluded: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut declared: HashMap<&str, Vec<&str>> = HashMap::new();
    for (i, e) in graph.iter().enumerate() {
        if e.get("type").and_then(Value::as_str) != Some("Relationship") {
            continue;
        }
        let path = format!("@graph[{i}]");
        let target = match opt_str(e, "relationshipType", origin, &path)? {
            Some("hasConcludedLicense") => &mut concluded,
            Some("hasDeclaredLicense") => &mut declared,
            _ => continue,
        };
        let from = opt_str(e, "from", origin, &path)?
            .ok_or_else(|| SbomError::field(origin, format!("{path}.from"), "an element id", "nothing"))?;
        let to: Vec<&str> = opt_array(e, "to", origin, &path)?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        target.entry(from).or_default().extend(to);
    }

    let mut components = Vec::new();
    for (i, e) in graph.iter().enumerate() {
        let Some(t) = e.get("type").and_then(Value::as_str) else {
            continue;
        };
        let path = format!("@graph[{i}]");
        let kind = match t {
            "ai_AIPackage" => "machine-learning-model".to_string(),
            "dataset_DatasetPackage" => "data".to_string(),
            "software_File" => "file".to_string(),
            "software_Package" => match opt_str(e, "software_primaryPurpose", origin, &path)? {
                Some(p) => purpose_kind(p),
                None => "library".to_string(),
            },
            _ => continue,
        };
        let id = opt_str(e, "spdxId", origin, &path)?.unwrap_or_default();
        let mut c = element(e, origin, &path)?;
        c.kind = kind;
        c.has_model_card = t == "ai_AIPackage" && e.as_object().is_some_and(|o| o.keys().any(|k| k.starts_with("ai_")));
        let from_rel = |m: &HashMap<&str, Vec<&str>>| -> Option<String> {
            let exprs: Vec<String> = m.get(id)?.iter().filter_map(|l| license_text(l, &by_id)).collect();
            join_and(exprs)
        };
        c.licenses = from_rel(&concluded).or_else(|| from_rel(&declared));
        components.push(c);
    }

    Ok(Inventory {
        origin: origin.to_string(),
        format: SbomFormat::Spdx30,
        spec_version: SPEC_VERSION.to_string(),
        subject: subject(graph, &by_id, origin)?,
        components,
    })
}

/// Every `CreationInfo` (a graph node or inline) must say 3.0.1; SPDX 3 prototypes used
/// other property names, which this parser would silently misread.
fn check_spec_version(graph: &[Value], origin: &str) -> Result<(), SbomError> {
    let mut seen = false;
    for (i, e) in graph.iter().enumerate() {
        let (info, field) = if e.get("type").and_then(Value::as_str) == Some("CreationInfo") {
            (e, format!("@graph[{i}].specVersion"))
        } else if let Some(ci) = e.get("creationInfo").filter(|c| c.is_object()) {
            (ci, format!("@graph[{i}].creationInfo.specVersion"))
        } else {
            continue;
        };
        match info.get("specVersion") {
            Some(Value::String(v)) if v == SPEC_VERSION => seen = true,
            Some(Value::String(v)) => return Err(SbomError::field(origin, field, SPEC_VERSION, v.as_str())),
            Some(other) => return Err(SbomError::field(origin, field, SPEC_VERSION, json_kind(other))),
            None => return Err(SbomError::field(origin, field, SPEC_VERSION, "nothing")),
        }
    }
    if !seen {
        return Err(SbomError::field(
            origin,
            "CreationInfo.specVersion",
            SPEC_VERSION,
            "no CreationInfo in @graph",
        ));
    }
    Ok(())
}

fn element(e: &Value, origin: &str, path: &str) -> Result<Component, SbomError> {
    let mut purl = opt_str(e, "software_packageUrl", origin, path)?.map(str::to_string);
    for (j, x) in opt_array(e, "externalIdentifier", origin, path)?.iter().enumerate() {
        let xp = format!("{path}.externalIdentifier[{j}]");
        if purl.is_none() && opt_str(x, "externalIdentifierType", origin, &xp)? == Some("packageUrl") {
            purl = opt_str(x, "identifier", origin, &xp)?.map(str::to_string);
        }
    }
    let mut hashes = Vec::new();
    for (j, h) in opt_array(e, "verifiedUsing", origin, path)?.iter().enumerate() {
        let hp = format!("{path}.verifiedUsing[{j}]");
        if opt_str(h, "type", origin, &hp)? != Some("Hash") {
            continue;
        }
        let alg = opt_str(h, "algorithm", origin, &hp)?
            .ok_or_else(|| SbomError::field(origin, format!("{hp}.algorithm"), "a hash algorithm", "nothing"))?;
        let value = opt_str(h, "hashValue", origin, &hp)?
            .ok_or_else(|| SbomError::field(origin, format!("{hp}.hashValue"), "a hex digest", "nothing"))?;
        hashes.push((normalise_alg(alg), value.to_ascii_lowercase()));
    }
    Ok(Component {
        name: opt_str(e, "name", origin, path)?.unwrap_or_default().to_string(),
        version: opt_str(e, "software_packageVersion", origin, path)?.map(str::to_string),
        purl,
        licenses: None,
        hashes,
        kind: String::new(),
        has_model_card: false,
    })
}

/// `software_primaryPurpose` values onto the CycloneDX type vocabulary.
fn purpose_kind(p: &str) -> String {
    match p {
        "operatingSystem" => "operating-system".into(),
        "model" => "machine-learning-model".into(),
        "data" => "data".into(),
        other => {
            // camelCase → kebab-case (`firmware`, `library`, `container` pass unchanged)
            let mut out = String::new();
            for c in other.chars() {
                if c.is_ascii_uppercase() {
                    out.push('-');
                    out.push(c.to_ascii_lowercase());
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// The SPDX expression a license element stands for; `None` for NOASSERTION/NONE and
/// license sets this parser does not expand.
fn license_text(id: &str, by_id: &HashMap<&str, &Value>) -> Option<String> {
    let Some(e) = by_id.get(id) else {
        // A listed license may be referenced by its IRI without a node in the graph.
        return id.strip_prefix(LISTED_LICENSE_PREFIX).map(str::to_string);
    };
    match e.get("type").and_then(Value::as_str)? {
        "simplelicensing_LicenseExpression" => e
            .get("simplelicensing_licenseExpression")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "NOASSERTION" && s != "NONE"),
        "expandedlicensing_ListedLicense" | "expandedlicensing_CustomLicense" => id
            .strip_prefix(LISTED_LICENSE_PREFIX)
            .map(str::to_string)
            .or_else(|| e.get("name").and_then(Value::as_str).map(str::to_string)),
        _ => None,
    }
}

fn join_and(mut exprs: Vec<String>) -> Option<String> {
    match exprs.len() {
        0 => None,
        1 => exprs.pop(),
        _ => Some(
            exprs
                .iter()
                .map(|p| if p.contains(' ') { format!("({p})") } else { p.clone() })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}

/// The document's root element, through an `software_Sbom` to what it describes.
fn subject(graph: &[Value], by_id: &HashMap<&str, &Value>, origin: &str) -> Result<Subject, SbomError> {
    let first_root =
        |e: &Value| -> Option<String> { e.get("rootElement")?.as_array()?.first()?.as_str().map(str::to_string) };
    let Some(doc) = graph
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str) == Some("SpdxDocument"))
    else {
        return Ok(Subject::default());
    };
    let mut current = first_root(doc);
    // Bounded: an Sbom's root may itself be an Sbom, but not endlessly.
    for _ in 0..4 {
        let Some(id) = current.clone() else {
            return Ok(Subject::default());
        };
        let Some(e) = by_id.get(id.as_str()) else {
            return Ok(Subject::default());
        };
        let t = e.get("type").and_then(Value::as_str).unwrap_or_default();
        if t == "software_Sbom" || t == "Bom" || t == "Bundle" {
            current = first_root(e);
            continue;
        }
        let c = element(e, origin, "rootElement")?;
        return Ok(Subject {
            name: Some(c.name).filter(|n| !n.is_empty()),
            version: c.version,
            purl: c.purl,
            hashes: c.hashes,
        });
    }
    Ok(Subject::default())
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn spdx3_license_relationships() {
        let doc = br#"{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld","@graph":[
          {"type":"CreationInfo","@id":"_:c","specVersion":"3.0.1"},
          {"type":"software_Package","spdxId":"p1","name":"a","software_packageVersion":"1.0","software_primaryPurpose":"operatingSystem",
           "software_packageUrl":"pkg:npm/a@1.0"},
          {"type":"software_Package","spdxId":"p2","name":"b"},
          {"type":"simplelicensing_LicenseExpression","spdxId":"l1","simplelicensing_licenseExpression":"MIT OR Apache-2.0"},
          {"type":"expandedlicensing_NoAssertionLicense","spdxId":"l2"},
          {"type":"Relationship","spdxId":"r1","from":"p1","relationshipType":"hasDeclaredLicense","to":["https://spdx.org/licenses/GPL-3.0-only"]},
          {"type":"Relationship","spdxId":"r2","from":"p1","relationshipType":"hasConcludedLicense","to":["l1"]},
          {"type":"Relationship","spdxId":"r3","from":"p2","relationshipType":"hasConcludedLicense","to":["l2"]}
        ]}"#;
        let inv = parse(doc, "d.jsonld").unwrap();
        assert_eq!(inv.components.len(), 2);
        assert_eq!(inv.components[0].kind, "operating-system");
        assert_eq!(inv.components[0].purl.as_deref(), Some("pkg:npm/a@1.0"));
        assert_eq!(inv.components[0].licenses.as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(inv.components[1].licenses, None);

        let bad = br#"{"@context":"x","@graph":[{"type":"CreationInfo","specVersion":"3.0.0"}]}"#;
        assert_eq!(
            parse(bad, "d.jsonld").unwrap_err().to_string(),
            "d.jsonld: @graph[0].specVersion: expected 3.0.1, found 3.0.0"
        );
        let bad = br#"{"@context":"x","@graph":{}}"#;
        assert_eq!(
            parse(bad, "d.jsonld").unwrap_err().to_string(),
            "d.jsonld: @graph: expected an array of SPDX 3 elements, found an object"
        );
    }
}
