//! An offline OSV database: a directory of OSV JSON records (schema 1.x), matched by
//! package URL.

use std::cmp::Ordering;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::version::{compare, Scheme};
use crate::SbomError;

/// A vulnerability that affects a package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vulnerability {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// CVSS 3.x base score computed from `vector`; `None` when the record has no CVSS 3
    /// vector we can score (none at all, CVSS 4, malformed). Callers must treat `None` as
    /// unknown, not as zero.
    pub cvss: Option<f64>,
    /// The severity vector the score came from (or the unscorable one).
    pub vector: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<Severity>,
    #[serde(default)]
    affected: Vec<Affected>,
}

#[derive(Debug, Deserialize)]
struct Severity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Deserialize)]
struct Affected {
    #[serde(default)]
    package: Option<Package>,
    #[serde(default)]
    ranges: Vec<Range>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<Severity>,
}

#[derive(Debug, Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Range {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// OSV records loaded from a directory.
#[derive(Debug, Default)]
pub struct OsvDb {
    records: Vec<Record>,
    /// Files read, for messages.
    pub files: Vec<String>,
}

impl OsvDb {
    /// Loads every `*.json` file in `dir` (not recursive) as one OSV record. A file that is
    /// not a valid OSV record is an error naming it.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<OsvDb, SbomError> {
        let dir = dir.as_ref();
        let origin = dir.display().to_string();
        let entries = std::fs::read_dir(dir).map_err(|source| SbomError::Read {
            origin: origin.clone(),
            source,
        })?;
        let mut paths = Vec::new();
        for e in entries {
            let e = e.map_err(|source| SbomError::Read {
                origin: origin.clone(),
                source,
            })?;
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") && p.is_file() {
                paths.push(p);
            }
        }
        paths.sort();
        let mut db = OsvDb::default();
        for p in paths {
            let name = p.display().to_string();
            let bytes = std::fs::read(&p).map_err(|source| SbomError::Read {
                origin: name.clone(),
                source,
            })?;
            db.add(&bytes, &name)?;
        }
        Ok(db)
    }

    /// Adds one OSV record (JSON); `origin` names it in errors.
    pub fn add(&mut self, bytes: &[u8], origin: &str) -> Result<(), SbomError> {
        let record: Record = serde_json::from_slice(bytes).map_err(|e| SbomError::Json {
            origin: origin.to_string(),
            message: format!("not an OSV record: {e}"),
        })?;
        for (i, a) in record.affected.iter().enumerate() {
            for (j, r) in a.ranges.iter().enumerate() {
                for (k, ev) in r.events.iter().enumerate() {
                    let n = [&ev.introduced, &ev.fixed, &ev.last_affected, &ev.limit]
                        .iter()
                        .filter(|x| x.is_some())
                        .count();
                    if n != 1 {
                        return Err(SbomError::field(
                            origin,
                            format!("affected[{i}].ranges[{j}].events[{k}]"),
                            "exactly one of introduced, fixed, last_affected, limit",
                            format!("{n} of them"),
                        ));
                    }
                }
            }
        }
        self.records.push(record);
        self.files.push(origin.to_string());
        Ok(())
    }

    /// Number of records loaded.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The vulnerabilities affecting the package version this purl names. A purl without a
    /// version, of an ecosystem OSV does not cover, or that does not parse matches nothing.
    /// Withdrawn records are skipped.
    pub fn affecting(&self, purl: &str) -> Vec<Vulnerability> {
        let Some(p) = Purl::parse(purl) else {
            return Vec::new();
        };
        let Some((ecosystem, name)) = purl_ecosystem(&p) else {
            return Vec::new();
        };
        let Some(version) = p.version.as_deref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in &self.records {
            if r.withdrawn.is_some() {
                continue;
            }
            let hit = r.affected.iter().find(|a| {
                a.package
                    .as_ref()
                    .is_some_and(|pkg| pkg.ecosystem == ecosystem && normalise_name(ecosystem, &pkg.name) == name)
                    && affects(a, ecosystem, version)
            });
            let Some(a) = hit else {
                continue;
            };
            let (cvss, vector) = score(a.severity.iter().chain(r.severity.iter()));
            out.push(Vulnerability {
                id: r.id.clone(),
                aliases: r.aliases.clone(),
                summary: r.summary.clone(),
                cvss,
                vector,
            });
        }
        out
    }
}

/// The highest CVSS 3 score among the severities; else the first unscorable vector.
fn score<'a>(severities: impl Iterator<Item = &'a Severity>) -> (Option<f64>, Option<String>) {
    let mut best: Option<(f64, String)> = None;
    let mut unscored: Option<String> = None;
    for s in severities {
        match crate::cvss::base_score(&s.score) {
            Some(v) if s.kind == "CVSS_V3" => {
                if best.as_ref().is_none_or(|(b, _)| v > *b) {
                    best = Some((v, s.score.clone()));
                }
            }
            _ => {
                unscored.get_or_insert_with(|| s.score.clone());
            }
        }
    }
    match best {
        Some((v, vec)) => (Some(v), Some(vec)),
        None => (None, unscored),
    }
}

fn affects(a: &Affected, ecosystem: &str, version: &str) -> bool {
    let eco_scheme = match ecosystem {
        "PyPI" => Scheme::Pep440,
        "crates.io" | "npm" => Scheme::Semver,
        _ => Scheme::Generic,
    };
    // Explicit versions are compared as the ecosystem would: `1.0` is `1.0.0` in PyPI.
    if a.versions
        .iter()
        .any(|v| compare(eco_scheme, v, version) == Ordering::Equal)
    {
        return true;
    }
    a.ranges.iter().any(|r| {
        let scheme = match r.kind.as_str() {
            "SEMVER" => Scheme::Semver,
            "ECOSYSTEM" => eco_scheme,
            // GIT ranges name commits; a package version cannot be placed in them.
            _ => return false,
        };
        in_range(&r.events, scheme, version)
    })
}

/// OSV's evaluation: events sorted by version; `introduced` opens, `fixed` closes at that
/// version, `last_affected` closes after it. `introduced: "0"` is before every version.
fn in_range(events: &[Event], scheme: Scheme, version: &str) -> bool {
    let key = |e: &Event| -> Option<String> {
        e.introduced
            .clone()
            .or_else(|| e.fixed.clone())
            .or_else(|| e.last_affected.clone())
    };
    let mut evs: Vec<&Event> = events.iter().filter(|e| e.limit.is_none()).collect();
    let cmp_ev = |x: &str, y: &str| match (x == "0", y == "0") {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => compare(scheme, x, y),
    };
    evs.sort_by(|a, b| cmp_ev(&key(a).unwrap_or_default(), &key(b).unwrap_or_default()));
    let mut affected = false;
    for e in evs {
        if let Some(i) = &e.introduced {
            if i == "0" || compare(scheme, version, i) != Ordering::Less {
                affected = true;
            }
        } else if let Some(f) = &e.fixed {
            if compare(scheme, version, f) != Ordering::Less {
                affected = false;
            }
        } else if let Some(l) = &e.last_affected {
            if compare(scheme, version, l) == Ordering::Greater {
                affected = false;
            }
        }
    }
    affected
}

/// A parsed package URL (`pkg:type/namespace/name@version?qualifiers#subpath`), components
/// percent-decoded; qualifiers and subpath are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

impl Purl {
    pub fn parse(s: &str) -> Option<Purl> {
        let rest = s.trim().strip_prefix("pkg:")?;
        let rest = rest.trim_start_matches('/');
        let rest = rest.split_once('#').map_or(rest, |(a, _)| a);
        let rest = rest.split_once('?').map_or(rest, |(a, _)| a);
        let (path, version) = match rest.rsplit_once('@') {
            // An `@` inside the path is a percent-encoded npm scope in a valid purl; only
            // an `@` after the last `/` starts the version.
            Some((p, v)) if !v.contains('/') => (p, Some(decode(v))),
            _ => (rest, None),
        };
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let kind = parts.next()?.to_ascii_lowercase();
        let segs: Vec<String> = parts.map(decode).collect();
        let (name, ns) = segs.split_last()?;
        Some(Purl {
            kind,
            namespace: if ns.is_empty() { None } else { Some(ns.join("/")) },
            name: name.clone(),
            version: version.filter(|v| !v.is_empty()),
        })
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The OSV ecosystem and package name for a purl, names normalised as OSV compares them:
/// `pypi` → `PyPI` (PEP 503: lowercase, runs of `-_.` → `-`), `cargo` → `crates.io`,
/// `npm` (`@scope/name`), `golang` → `Go` (`namespace/name`), `maven` → `Maven`
/// (`group:artifact`), `nuget` → `NuGet`, `gem` → `RubyGems`.
pub fn purl_ecosystem(p: &Purl) -> Option<(&'static str, String)> {
    let full = |sep: &str| match &p.namespace {
        Some(ns) => format!("{ns}{sep}{}", p.name),
        None => p.name.clone(),
    };
    Some(match p.kind.as_str() {
        "pypi" => ("PyPI", pep503(&p.name)),
        "cargo" => ("crates.io", p.name.clone()),
        "npm" => ("npm", full("/")),
        "golang" => ("Go", full("/")),
        "maven" => ("Maven", full(":")),
        "nuget" => ("NuGet", p.name.clone()),
        "gem" => ("RubyGems", p.name.clone()),
        _ => return None,
    })
}

fn normalise_name(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => pep503(name),
        _ => name.to_string(),
    }
}

/// PEP 503 normalisation: lowercase, every run of `-`, `_`, `.` becomes one `-`.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(records: &[&str]) -> OsvDb {
        let mut db = OsvDb::default();
        for (i, r) in records.iter().enumerate() {
            db.add(r.as_bytes(), &format!("r{i}.json")).unwrap();
        }
        db
    }

    fn ids(db: &OsvDb, purl: &str) -> Vec<String> {
        db.affecting(purl).into_iter().map(|v| v.id).collect()
    }

    #[test]
    fn purl_parsing() {
        let p = Purl::parse("pkg:npm/%40angular/core@16.0.0?x=y#sub").unwrap();
        assert_eq!(p.kind, "npm");
        assert_eq!(p.namespace.as_deref(), Some("@angular"));
        assert_eq!(p.name, "core");
        assert_eq!(p.version.as_deref(), Some("16.0.0"));
        assert_eq!(purl_ecosystem(&p), Some(("npm", "@angular/core".to_string())));
        let p = Purl::parse("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1").unwrap();
        assert_eq!(
            purl_ecosystem(&p),
            Some(("Maven", "org.apache.logging.log4j:log4j-core".to_string()))
        );
        let p = Purl::parse("pkg:golang/golang.org/x/net@v0.1.0").unwrap();
        assert_eq!(purl_ecosystem(&p), Some(("Go", "golang.org/x/net".to_string())));
        let p = Purl::parse("pkg:PyPI/Zope.Interface_Foo@1").unwrap();
        assert_eq!(purl_ecosystem(&p), Some(("PyPI", "zope-interface-foo".to_string())));
        assert_eq!(Purl::parse("pkg:cargo/serde").unwrap().version, None);
        assert!(Purl::parse("npm/x@1").is_none());
        assert!(purl_ecosystem(&Purl::parse("pkg:huggingface/a/b@1").unwrap()).is_none());
    }

    #[test]
    fn pep503_names() {
        assert_eq!(pep503("Friendly-Bard"), "friendly-bard");
        assert_eq!(pep503("FRIENDLY__bard"), "friendly-bard");
        assert_eq!(pep503("friendly.-_bard"), "friendly-bard");
    }

    #[test]
    fn ranges_and_versions() {
        let db = db(&[
            r#"{"id":"A","affected":[{"package":{"ecosystem":"PyPI","name":"Some_Pkg"},
               "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"1.5.post1"},{"introduced":"2.0rc1"},{"last_affected":"2.1"}]}]}]}"#,
            r#"{"id":"B","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"versions":["1.3.0"]}]}"#,
            r#"{"id":"C","withdrawn":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"versions":["1.3.0"]}]}"#,
            r#"{"id":"D","affected":[{"package":{"ecosystem":"crates.io","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0-rc.2"}]}]}]}"#,
            r#"{"id":"E","affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},"ranges":[{"type":"GIT","repo":"x","events":[{"introduced":"0"}]}]}]}"#,
        ]);
        assert_eq!(ids(&db, "pkg:pypi/some-pkg@0.9"), Vec::<String>::new());
        assert_eq!(ids(&db, "pkg:pypi/some-pkg@1.0"), ["A"]);
        assert_eq!(ids(&db, "pkg:pypi/some.pkg@1.5"), ["A"]);
        assert_eq!(ids(&db, "pkg:pypi/some-pkg@1.5.post1"), Vec::<String>::new());
        assert_eq!(ids(&db, "pkg:pypi/some-pkg@2.0b1"), Vec::<String>::new());
        assert_eq!(ids(&db, "pkg:pypi/some-pkg@2.0"), ["A"]);
        assert_eq!(ids(&db, "pkg:pypi/some-pkg@2.1"), ["A"]);
        assert_eq!(ids(&db, "pkg:pypi/some-pkg@2.1.1"), Vec::<String>::new());
        assert_eq!(ids(&db, "pkg:pypi/some-pkg"), Vec::<String>::new());
        assert_eq!(ids(&db, "pkg:npm/left-pad@1.3.0"), ["B"]);
        assert_eq!(ids(&db, "pkg:npm/left-pad@1.3.1"), Vec::<String>::new());
        assert_eq!(ids(&db, "pkg:cargo/x@1.0.0-rc.1"), ["D"]);
        assert_eq!(ids(&db, "pkg:cargo/x@1.0.0-rc.10"), Vec::<String>::new());
        assert_eq!(ids(&db, "pkg:golang/example.com/m@v1.0.0"), Vec::<String>::new());
    }

    #[test]
    fn severity_scoring_is_unknown_for_cvss4() {
        let db = db(&[
            r#"{"id":"V4","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
               "affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["1.0.0"]}]}"#,
            r#"{"id":"V3","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}],
               "affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["1.0.0"]}]}"#,
        ]);
        let v = db.affecting("pkg:npm/a@1.0.0");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].cvss, None);
        assert!(v[0].vector.as_deref().unwrap().starts_with("CVSS:4.0/"));
        assert_eq!(v[1].cvss, Some(6.1));
    }

    #[test]
    fn malformed_records_name_the_file() {
        let mut db = OsvDb::default();
        let e = db.add(br#"{"affected":[]}"#, "bad.json").unwrap_err().to_string();
        assert!(
            e.starts_with("bad.json: invalid JSON: not an OSV record: missing field `id`"),
            "{e}"
        );
        let e = db
            .add(
                br#"{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1"}]}]}]}"#,
                "two.json",
            )
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "two.json: affected[0].ranges[0].events[0]: expected exactly one of introduced, fixed, last_affected, limit, found 2 of them"
        );
    }
}
