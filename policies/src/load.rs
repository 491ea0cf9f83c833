//! Reading a policy: TOML → typed document per file (with located errors), `extends`
//! resolution and merging, then validation of the merged document.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{nearest, Invalid, KeyPath, Location, PolicyError, Seg};
use crate::library;
use crate::Policy;

/// One file of an `extends` chain, kept to locate errors found after merging.
pub(crate) struct Source {
    pub origin: String,
    pub text: String,
}

/// Where a document comes from.
pub(crate) struct Origin {
    /// Shown in errors and recorded in the chain.
    pub label: String,
    /// Identity for cycle detection (canonical path or `library:NAME`).
    pub identity: String,
    /// Directory that relative paths in this file are relative to; None for library
    /// policies and for text without a file.
    pub base_dir: Option<PathBuf>,
    pub is_library: bool,
}

/// Loads a document and everything it extends; returns the merged raw table and the
/// chain of sources, the document itself first.
pub(crate) fn load(text: String, origin: Origin) -> Result<Policy, PolicyError> {
    let mut sources = Vec::new();
    let mut stack = Vec::new();
    let merged = load_one(text, origin, &mut stack, &mut sources)?;
    let chain: Vec<String> = sources.iter().rev().map(|s| s.origin.clone()).collect();
    sources.reverse();
    let mut policy: Policy = toml::Value::Table(merged).try_into().map_err(|e: toml::de::Error| {
        // Each file deserialised on its own, so a failure here is a merge artefact.
        PolicyError::Invalid {
            location: Location::at(&sources[0].origin, "", 0),
            key: "(merged document)".into(),
            expected: "a valid merged policy".into(),
            found: e.message().to_string(),
            suggestion: None,
        }
    })?;
    if let Err(inv) = crate::validate::validate(&policy) {
        return Err(locate_invalid(inv, &sources));
    }
    crate::normalize::normalize(&mut policy);
    policy.chain = chain;
    Ok(policy)
}

fn load_one(
    text: String,
    origin: Origin,
    stack: &mut Vec<String>,
    sources: &mut Vec<Source>,
) -> Result<toml::Table, PolicyError> {
    let label = origin.label.clone();
    let tree = DeTable::parse(&text).map_err(|e| PolicyError::Syntax {
        location: Location::at(&label, &text, e.span().map(|s| s.start).unwrap_or(0)),
        message: e.message().trim().to_string(),
    })?;
    check_version(tree.get_ref(), &label, &text)?;
    // Typed pass on this file alone: type errors and unknown keys point into this file.
    let own: Policy = toml::from_str(&text).map_err(|e| de_error(&e, &label, &text, &tree))?;
    let mut raw: toml::Table = toml::from_str(&text).map_err(|e| de_error(&e, &label, &text, &tree))?;
    raw.remove("extends");
    if let Some(base) = &origin.base_dir {
        rebase_paths(&mut raw, base);
    }
    stack.push(origin.identity.clone());

    let merged = match &own.extends {
        None => raw,
        Some(target) => {
            let at = |found: String, expected: &str, suggestion: Option<String>| PolicyError::Invalid {
                location: locate_path(&tree, &text, &label, &KeyPath::root().key("extends")),
                key: "extends".into(),
                expected: expected.into(),
                found,
                suggestion,
            };
            let (parent_text, parent_origin) = if let Some(name) = target.strip_prefix("library:") {
                let Some(t) = library::get(name) else {
                    let names: Vec<String> = library::names().iter().map(|n| format!("library:{n}")).collect();
                    return Err(at(
                        format!("`{target}`"),
                        &format!("a policy file or one of {}", names.join(", ")),
                        nearest(target, names.iter().map(String::as_str)),
                    ));
                };
                (
                    t.to_string(),
                    Origin {
                        label: target.clone(),
                        identity: target.clone(),
                        base_dir: None,
                        is_library: true,
                    },
                )
            } else {
                if origin.is_library {
                    return Err(at(
                        format!("`{target}`"),
                        "library:NAME (a library policy may only extend library policies)",
                        None,
                    ));
                }
                let path = match &origin.base_dir {
                    Some(b) => b.join(target),
                    None => PathBuf::from(target),
                };
                let parent_text = std::fs::read_to_string(&path).map_err(|e| {
                    at(
                        format!("`{}` ({e})", path.display()),
                        "a readable policy file or library:NAME",
                        None,
                    )
                })?;
                let identity = std::fs::canonicalize(&path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
                    .to_string();
                let parent_origin = Origin {
                    label: path.display().to_string(),
                    identity,
                    base_dir: std::path::absolute(&path)
                        .ok()
                        .and_then(|p| p.parent().map(Path::to_path_buf)),
                    is_library: false,
                };
                (parent_text, parent_origin)
            };
            if stack.contains(&parent_origin.identity) {
                let mut chain = stack.clone();
                chain.push(parent_origin.identity.clone());
                return Err(PolicyError::ExtendsCycle {
                    location: locate_path(&tree, &text, &label, &KeyPath::root().key("extends")),
                    chain,
                });
            }
            let mut base = load_one(parent_text, parent_origin, stack, sources)?;
            merge(&mut base, raw);
            base
        }
    };
    stack.pop();
    sources.push(Source { origin: label, text });
    Ok(merged)
}

/// Child over parent: tables merge key by key, everything else (scalars and lists,
/// including arrays of tables) is replaced as a whole.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn check_version(root: &DeTable<'_>, label: &str, text: &str) -> Result<(), PolicyError> {
    let found = root.iter().find(|(k, _)| k.get_ref().as_ref() == "version");
    let expected = "1 (`version = 1`, the only policy format this sealrun understands)";
    let (found, span) = match found {
        None => ("no `version` key".to_string(), 0..0),
        Some((_, v)) => match v.get_ref() {
            DeValue::Integer(i) if i.as_str() == "1" && i.radix() == 10 => return Ok(()),
            DeValue::Integer(i) => (format!("version {}", i.as_str()), v.span()),
            other => (format!("{} {}", other.type_str(), &text[v.span()]), v.span()),
        },
    };
    Err(PolicyError::Invalid {
        location: Location::at(label, text, span.start),
        key: "version".into(),
        expected: expected.into(),
        found,
        suggestion: None,
    })
}

/// Turns a serde error from one file into a located error with its key path.
fn de_error(e: &toml::de::Error, label: &str, text: &str, tree: &Spanned<DeTable<'_>>) -> PolicyError {
    let span = e.span().unwrap_or(0..0);
    let path = path_at(tree, &span);
    let msg = e.message().trim();
    let location = Location::at(label, text, span.start);
    let ticked = |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    let one_of = |names: &[String]| -> String {
        match names.len() {
            0 => "no keys here".to_string(),
            1 => format!("`{}`", names[0]),
            _ => format!(
                "one of {}",
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ),
        }
    };
    let (key, expected, found, suggestion) = if let Some(rest) = msg.strip_prefix("unknown field ") {
        let (name, exp) = rest.split_once(", expected").unwrap_or((rest, ""));
        let name = name.trim_matches('`');
        let names = ticked(exp);
        let s = nearest(name, names.iter().map(String::as_str));
        (path, one_of(&names), format!("unknown key `{name}`"), s)
    } else if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let (name, exp) = rest.split_once(", expected").unwrap_or((rest, ""));
        let name = name.trim_matches('`');
        let names = ticked(exp);
        let s = nearest(name, names.iter().map(String::as_str));
        (path, one_of(&names), format!("`{name}`"), s)
    } else if let Some(rest) = msg.strip_prefix("missing field ") {
        let name = rest.trim_matches('`');
        (
            path.key(name),
            format!("key `{name}` (required)"),
            "no such key".to_string(),
            None,
        )
    } else {
        let body = msg
            .strip_prefix("invalid type: ")
            .or_else(|| msg.strip_prefix("invalid value: "))
            .unwrap_or(msg);
        match body.split_once(", expected ") {
            Some((found, exp)) => (path, friendly_type(exp), found.to_string(), None),
            None => (path, "a valid value".to_string(), body.to_string(), None),
        }
    };
    PolicyError::Invalid {
        location,
        key: key.to_string(),
        expected,
        found,
        suggestion,
    }
}

/// serde names Rust types in "expected"; say what they mean in TOML.
fn friendly_type(expected: &str) -> String {
    match expected {
        "u8" => "an integer 0..=255".into(),
        "u16" => "an integer 0..=65535".into(),
        "u32" => "an integer 0..=4294967295".into(),
        "u64" => "a non-negative integer".into(),
        "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        other => other.to_string(),
    }
}

/// The key path of the smallest key or value whose span contains `span.start` (the
/// deepest one on ties). Table headers do not contain their contents, so the whole tree
/// is searched.
fn path_at(tree: &Spanned<DeTable<'_>>, span: &Range<usize>) -> KeyPath {
    let mut best: Option<(usize, KeyPath)> = None;
    let mut consider = |s: Range<usize>, p: &KeyPath| {
        let hit = (s.start <= span.start && span.start < s.end) || (s == *span && !p.0.is_empty());
        if hit {
            let len = s.end - s.start;
            if best
                .as_ref()
                .is_none_or(|(bl, bp)| len < *bl || (len == *bl && p.0.len() > bp.0.len()))
            {
                best = Some((len, p.clone()));
            }
        }
    };
    fn walk_table(t: &DeTable<'_>, p: &KeyPath, f: &mut dyn FnMut(Range<usize>, &KeyPath)) {
        for (k, v) in t.iter() {
            let kp = p.key(k.get_ref());
            f(k.span(), &kp);
            walk_value(v, &kp, f);
        }
    }
    fn walk_value(v: &Spanned<DeValue<'_>>, p: &KeyPath, f: &mut dyn FnMut(Range<usize>, &KeyPath)) {
        f(v.span(), p);
        match v.get_ref() {
            DeValue::Table(t) => walk_table(t, p, f),
            DeValue::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    walk_value(item, &p.index(i), f);
                }
            }
            _ => {}
        }
    }
    walk_table(tree.get_ref(), &KeyPath::root(), &mut consider);
    best.map(|(_, p)| p).unwrap_or_default()
}

/// Follows a key path in a file; returns the span of the deepest node found and whether
/// the whole path was found.
fn span_of(tree: &Spanned<DeTable<'_>>, path: &KeyPath) -> (Range<usize>, usize) {
    let mut span = 0..0;
    let mut depth = 0;
    let mut cur: Option<&DeValue<'_>> = None;
    let root = tree.get_ref();
    for seg in &path.0 {
        let next = match (seg, cur) {
            (Seg::Key(k), None) => root
                .iter()
                .find(|(kk, _)| kk.get_ref().as_ref() == k.as_str())
                .map(|(_, v)| v),
            (Seg::Key(k), Some(DeValue::Table(t))) => t
                .iter()
                .find(|(kk, _)| kk.get_ref().as_ref() == k.as_str())
                .map(|(_, v)| v),
            (Seg::Index(i), Some(DeValue::Array(a))) => a.get(*i),
            _ => None,
        };
        match next {
            Some(v) => {
                span = v.span();
                depth += 1;
                cur = Some(v.get_ref());
            }
            None => break,
        }
    }
    (span, depth)
}

pub(crate) fn locate_path(tree: &Spanned<DeTable<'_>>, text: &str, label: &str, path: &KeyPath) -> Location {
    let (span, _) = span_of(tree, path);
    Location::at(label, text, span.start)
}

/// Finds the file of the chain that sets the offending key (the document first, as it
/// overrides what it extends), or else the one that sets most of its path.
fn locate_invalid(inv: Invalid, sources: &[Source]) -> PolicyError {
    let mut best: Option<(usize, Location)> = None;
    for s in sources {
        let Ok(tree) = DeTable::parse(&s.text) else { continue };
        let (span, depth) = span_of(&tree, &inv.path);
        if best.as_ref().is_none_or(|(d, _)| depth > *d) {
            best = Some((depth, Location::at(&s.origin, &s.text, span.start)));
        }
        if depth == inv.path.0.len() {
            break;
        }
    }
    let location = best
        .map(|(_, l)| l)
        .unwrap_or_else(|| Location::at(&sources[0].origin, "", 0));
    PolicyError::Invalid {
        location,
        key: inv.path.to_string(),
        expected: inv.expected,
        found: inv.found,
        suggestion: inv.suggestion,
    }
}

/// File paths in trust/sbom/rules are relative to the file that names them; make them
/// absolute before merging so a parent's paths keep their meaning.
fn rebase_paths(raw: &mut toml::Table, base: &Path) {
    let fix = |v: &mut toml::Value| {
        if let toml::Value::String(s) = v {
            if !s.is_empty() && Path::new(s.as_str()).is_relative() {
                *s = lexical_normalize(&base.join(s.as_str()));
            }
        }
    };
    fn at<'a>(t: &'a mut toml::Table, keys: &[&str]) -> Option<&'a mut toml::Value> {
        let (first, rest) = keys.split_first()?;
        let v = t.get_mut(*first)?;
        if rest.is_empty() {
            Some(v)
        } else {
            at(v.as_table_mut()?, rest)
        }
    }
    for (list, field) in [
        (&["trust", "signers", "sigstore"][..], "trusted_root"),
        (&["trust", "signers", "keys"][..], "path"),
        (&["trust", "signers", "certificates"][..], "path"),
        (&["rules"][..], "path"),
    ] {
        if let Some(toml::Value::Array(items)) = at(raw, list) {
            for item in items {
                if let Some(v) = item.as_table_mut().and_then(|t| t.get_mut(field)) {
                    fix(v);
                }
            }
        }
    }
    if let Some(v) = at(raw, &["sbom", "osv_dir"]) {
        fix(v);
    }
    if let Some(toml::Value::Array(items)) = at(raw, &["sbom", "rules"]) {
        items.iter_mut().for_each(fix);
    }
}

/// Removes `.` and empty components and resolves `..` against earlier components,
/// without touching the filesystem.
pub(crate) fn lexical_normalize(p: &Path) -> String {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out.display().to_string()
}
