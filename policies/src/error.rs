//! Errors that name the file, line and column, the key path, what was expected and what
//! was found.

use std::fmt;
use std::path::PathBuf;

/// Where in which file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file path, or `library:NAME`, or the origin given to `Policy::from_str`.
    pub origin: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
}

impl Location {
    pub(crate) fn at(origin: &str, text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = text[line_start..offset].chars().count() + 1;
        Location {
            origin: origin.to_string(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)
    }
}

fn suggestion_text(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{location}: invalid TOML: {message}")]
    Syntax { location: Location, message: String },

    /// A key or value that does not fit the schema or the rules of the policy.
    #[error(
        "{location}: {key}: expected {expected}, found {found}{}",
        suggestion_text(suggestion)
    )]
    Invalid {
        location: Location,
        /// Key path, e.g. `sandbox.net.tcp_bind[1]`.
        key: String,
        expected: String,
        found: String,
        /// The nearest valid key or value, for typos.
        suggestion: Option<String>,
    },

    #[error("{location}: extends: cycle {}", chain.join(" -> "))]
    ExtendsCycle { location: Location, chain: Vec<String> },
}

impl PolicyError {
    /// The location the error points at, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            PolicyError::Read { .. } => None,
            PolicyError::Syntax { location, .. }
            | PolicyError::Invalid { location, .. }
            | PolicyError::ExtendsCycle { location, .. } => Some(location),
        }
    }
}

/// A validation failure before it is located in a file.
#[derive(Debug, Clone)]
pub(crate) struct Invalid {
    pub path: KeyPath,
    pub expected: String,
    pub found: String,
    pub suggestion: Option<String>,
}

impl Invalid {
    pub fn new(path: KeyPath, expected: impl Into<String>, found: impl Into<String>) -> Invalid {
        Invalid {
            path,
            expected: expected.into(),
            found: found.into(),
            suggestion: None,
        }
    }

    pub fn suggest(mut self, s: Option<String>) -> Invalid {
        self.suggestion = s;
        self
    }
}

/// A key path inside the document: keys and array indices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub Vec<Seg>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }
    pub fn key(&self, k: &str) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub fn index(&self, i: usize) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            match s {
                Seg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        if first {
            f.write_str("(document)")?;
        }
        Ok(())
    }
}

/// The closest candidate to a misspelt word, if it is close enough to be a plausible typo.
pub(crate) fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let w = word.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::damerau_levenshtein(&w, &c.to_ascii_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (word.chars().count() / 3).max(2);
    (d <= limit).then(|| c.to_string())
}
