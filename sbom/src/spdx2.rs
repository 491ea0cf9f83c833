//! SPDX 2.3 JSON: `packages` with `externalRefs` purls, concluded/declared licenses and
//! checksums.

use serde_json::Value;

use crate::{json_kind, normalise_alg, opt_array, opt_str, Component, Inventory, SbomError, SbomFormat, Subject};

pub(crate) fn parse(doc: &Value, origin: &str) -> Result<Inventory, SbomError> {
    let version = match doc.get("spdxVersion") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(SbomError::field(origin, "spdxVersion", "SPDX-2.3", json_kind(other))),
        None => unreachable!("format detection checked spdxVersion"),
    };
    if version != "SPDX-2.3" {
        return Err(SbomError::field(origin, "spdxVersion", "SPDX-2.3", version));
    }

    let mut components = Vec::new();
    let mut ids = Vec::new();
    for (i, p) in opt_array(doc, "packages", origin, "")?.iter().enumerate() {
        let path = format!("packages[{i}]");
        if !p.is_object() {
            return Err(SbomError::field(origin, path, "a package object", json_kind(p)));
        }
        let name = opt_str(p, "name", origin, &path)?
            .ok_or_else(|| SbomError::field(origin, format!("{path}.name"), "a string", "nothing"))?;
        let mut purl = None;
        for (j, r) in opt_array(p, "externalRefs", origin, &path)?.iter().enumerate() {
            let rp = format!("{path}.externalRefs[{j}]");
            if opt_str(r, "referenceType", origin, &rp)? == Some("purl") {
                purl = opt_str(r, "referenceLocator", origin, &rp)?.map(str::to_string);
                if purl.is_some() {
                    break;
                }
            }
        }
        let mut hashes = Vec::new();
        for (j, c) in opt_array(p, "checksums", origin, &path)?.iter().enumerate() {
            let cp = format!("{path}.checksums[{j}]");
            let alg = opt_str(c, "algorithm", origin, &cp)?.ok_or_else(|| {
                SbomError::field(origin, format!("{cp}.algorithm"), "a checksum algorithm", "nothing")
            })?;
            let value = opt_str(c, "checksumValue", origin, &cp)?
                .ok_or_else(|| SbomError::field(origin, format!("{cp}.checksumValue"), "a hex digest", "nothing"))?;
            hashes.push((normalise_alg(alg), value.to_ascii_lowercase()));
        }
        // The concluded license is the SBOM author's finding; the declared one is what the
        // package says. NOASSERTION and NONE give nothing to check against.
        let licenses = usable(opt_str(p, "licenseConcluded", origin, &path)?)
            .or(usable(opt_str(p, "licenseDeclared", origin, &path)?))
            .map(str::to_string);
        let kind = opt_str(p, "primaryPackagePurpose", origin, &path)?
            .map_or_else(|| "library".to_string(), |k| k.to_ascii_lowercase().replace('_', "-"));
        ids.push(opt_str(p, "SPDXID", origin, &path)?.map(str::to_string));
        components.push(Component {
            name: name.to_string(),
            version: opt_str(p, "versionInfo", origin, &path)?.map(str::to_string),
            purl,
            licenses,
            hashes,
            kind,
            has_model_card: false,
        });
    }

    // The subject is the package the document DESCRIBES (documentDescribes or a
    // relationship); a described non-package (trivy's filesystem) leaves the document name.
    let mut described: Vec<String> = opt_array(doc, "documentDescribes", origin, "")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for r in opt_array(doc, "relationships", origin, "")? {
        if r.get("relationshipType").and_then(Value::as_str) == Some("DESCRIBES")
            && r.get("spdxElementId").and_then(Value::as_str) == Some("SPDXRef-DOCUMENT")
        {
            if let Some(id) = r.get("relatedSpdxElement").and_then(Value::as_str) {
                described.push(id.to_string());
            }
        }
    }
    let subject = described
        .iter()
        .find_map(|d| ids.iter().position(|id| id.as_deref() == Some(d.as_str())))
        .map(|i| {
            let c = &components[i];
            Subject {
                name: Some(c.name.clone()),
                version: c.version.clone(),
                purl: c.purl.clone(),
                hashes: c.hashes.clone(),
            }
        })
        .unwrap_or_else(|| Subject {
            name: doc.get("name").and_then(Value::as_str).map(str::to_string),
            ..Subject::default()
        });

    Ok(Inventory {
        origin: origin.to_string(),
        format: SbomFormat::Spdx23,
        spec_version: version.to_string(),
        subject,
        components,
    })
}

fn usable(s: Option<&str>) -> Option<&str> {
    s.map(str::trim)
        .filter(|s| !s.is_empty() && *s != "NOASSERTION" && *s != "NONE")
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn spdx2_licenses_purls_checksums_subject() {
        let doc = br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"doc",
          "documentDescribes":["SPDXRef-app"],
          "packages":[
            {"SPDXID":"SPDXRef-app","name":"app","versionInfo":"2","primaryPackagePurpose":"APPLICATION",
             "checksums":[{"algorithm":"SHA256","checksumValue":"AA"}],"licenseConcluded":"NOASSERTION","licenseDeclared":"MIT"},
            {"SPDXID":"SPDXRef-lib","name":"lib","licenseConcluded":"NONE","licenseDeclared":"NOASSERTION",
             "externalRefs":[{"referenceCategory":"SECURITY","referenceType":"cpe23Type","referenceLocator":"cpe:2.3:a:x"},
                             {"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:npm/lib@1.0.0"}]},
            {"SPDXID":"SPDXRef-c","name":"c","licenseConcluded":"Apache-2.0","licenseDeclared":"MIT"}]}"#;
        let inv = parse(doc, "s.spdx.json").unwrap();
        assert_eq!(inv.components.len(), 3);
        assert_eq!(inv.subject.name.as_deref(), Some("app"));
        assert_eq!(inv.subject.hashes, vec![("sha256".to_string(), "aa".to_string())]);
        assert_eq!(inv.components[0].kind, "application");
        assert_eq!(inv.components[0].licenses.as_deref(), Some("MIT"));
        assert_eq!(inv.components[1].licenses, None);
        assert_eq!(inv.components[1].purl.as_deref(), Some("pkg:npm/lib@1.0.0"));
        assert_eq!(inv.components[2].licenses.as_deref(), Some("Apache-2.0"));

        let e = parse(br#"{"spdxVersion":"SPDX-2.2","packages":[]}"#, "s.json")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "s.json: spdxVersion: expected SPDX-2.3, found SPDX-2.2");
        let e = parse(
            br#"{"spdxVersion":"SPDX-2.3","packages":[{"name":"x","checksums":[{"algorithm":"SHA1"}]}]}"#,
            "s.json",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "s.json: packages[0].checksums[0].checksumValue: expected a hex digest, found nothing"
        );
    }
}
