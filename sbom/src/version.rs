//! Version ordering for OSV ranges: PEP 440 (PyPI), SemVer 2.0 (crates.io, npm, `SEMVER`
//! ranges) and a generic dotted compare for every other ecosystem.

use std::cmp::Ordering;

/// Which ordering a version string follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Pep440,
    Semver,
    Generic,
}

/// Compares two versions under `scheme`. A version the scheme cannot parse is compared with
/// the generic rule instead, so a malformed string still has a (conservative) place.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Ordering {
    match scheme {
        // Versions the scheme parses sort before those it does not, each group in its own
        // order: falling back to the generic order for a mixed pair alone would not be a
        // total order (found by fuzzing: `sort_by` panics on such a comparator).
        Scheme::Pep440 => match (Pep440::parse(a), Pep440::parse(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => generic_cmp(a, b),
        },
        Scheme::Semver => match (Semver::parse(a), Semver::parse(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => generic_cmp(a, b),
        },
        Scheme::Generic => generic_cmp(a, b),
    }
}

/// A PEP 440 version reduced to its sort key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pep440 {
    epoch: u64,
    /// Trailing zeros removed: 1.0 == 1.0.0.
    release: Vec<u64>,
    pre: PreKey,
    /// `None` sorts before any post-release.
    post: Option<u64>,
    dev: DevKey,
    local: Vec<LocalPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PreKey {
    /// A dev release of the final version (`1.0.dev1`) sorts before its pre-releases.
    DevOnly,
    /// 0 = a, 1 = b, 2 = rc.
    Pre(u8, u64),
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum DevKey {
    Dev(u64),
    None,
}

/// Local version segments: strings sort before numbers (PEP 440).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Str(String),
    Num(u64),
}

impl Pep440 {
    /// Parses a version in PEP 440's permissive normal form (case-insensitive, `v` prefix,
    /// `-`/`_`/`.` separators, implicit numbers, `alpha`/`beta`/`c`/`pre`/`preview`/`rev`/`r`).
    pub fn parse(s: &str) -> Option<Pep440> {
        let lower = s.trim().to_ascii_lowercase();
        let (main, local) = match lower.split_once('+') {
            Some((m, l)) => (m, Some(l)),
            None => (lower.as_str(), None),
        };
        let mut rest = main.strip_prefix('v').unwrap_or(main);
        let mut epoch = 0;
        if let Some((e, r)) = rest.split_once('!') {
            epoch = e.parse().ok()?;
            rest = r;
        }
        let (mut release_str, mut rest) = take_while(rest, |c| c.is_ascii_digit() || c == '.');
        if let Some(r) = release_str.strip_suffix('.') {
            // A trailing dot belongs to the next part (`1.0.post1`), not to the release.
            release_str = r;
            rest = &main[main.len() - rest.len() - 1..];
        }
        if release_str.is_empty() {
            return None;
        }
        let mut release: Vec<u64> = release_str.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }

        let mut pre = None;
        let mut post = None;
        let mut dev = None;
        let pre_words: [(&str, u8); 8] = [
            ("alpha", 0),
            ("a", 0),
            ("beta", 1),
            ("b", 1),
            ("preview", 2),
            ("pre", 2),
            ("rc", 2),
            ("c", 2),
        ];
        let mut tail = rest;
        // pre
        let t = tail.trim_start_matches(['.', '-', '_']);
        if let Some((word, kind)) = pre_words.iter().find(|(w, _)| t.starts_with(w)) {
            let (n, r) = number_after(&t[word.len()..]);
            pre = Some((*kind, n));
            tail = r;
        }
        // post: `.post1`, `-1`, `.rev1`, `.r1`
        let t = tail.trim_start_matches(['.', '-', '_']);
        if let Some(word) = ["post", "rev", "r"].iter().find(|w| t.starts_with(*w)) {
            let (n, r) = number_after(&t[word.len()..]);
            post = Some(n);
            tail = r;
        } else if let Some(r) = tail.strip_prefix('-') {
            let (digits, r2) = take_while(r, |c| c.is_ascii_digit());
            if !digits.is_empty() {
                post = Some(digits.parse().ok()?);
                tail = r2;
            }
        }
        // dev
        let t = tail.trim_start_matches(['.', '-', '_']);
        if let Some(r) = t.strip_prefix("dev") {
            let (n, r) = number_after(r);
            dev = Some(n);
            tail = r;
        }
        if !tail.is_empty() {
            return None;
        }
        let local = match local {
            None => Vec::new(),
            Some(l) => l
                .split(['.', '-', '_'])
                .map(|p| match p.parse::<u64>() {
                    Ok(n) => LocalPart::Num(n),
                    Err(_) => LocalPart::Str(p.to_string()),
                })
                .collect(),
        };
        let pre = match (pre, post, dev) {
            (Some((k, n)), _, _) => PreKey::Pre(k, n),
            (None, None, Some(_)) => PreKey::DevOnly,
            _ => PreKey::None,
        };
        Some(Pep440 {
            epoch,
            release,
            pre,
            post,
            dev: dev.map_or(DevKey::None, DevKey::Dev),
            local,
        })
    }
}

fn take_while(s: &str, f: impl Fn(char) -> bool) -> (&str, &str) {
    let end = s.find(|c: char| !f(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// The (implicit 0) number after a pre/post/dev word, skipping one separator.
fn number_after(s: &str) -> (u64, &str) {
    let s2 = s.strip_prefix(['.', '-', '_']).unwrap_or(s);
    let (digits, rest) = take_while(s2, |c| c.is_ascii_digit());
    if digits.is_empty() {
        (0, s)
    } else {
        (digits.parse().unwrap_or(u64::MAX), rest)
    }
}

/// A SemVer 2.0 version; build metadata is ignored for ordering. `1.2` is read as `1.2.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver {
    core: [u64; 3],
    pre: Vec<LocalPart>,
}

impl Semver {
    pub fn parse(s: &str) -> Option<Semver> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let s = s.split_once('+').map_or(s, |(m, _)| m);
        let (core_str, pre_str) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let parts: Vec<&str> = core_str.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut core = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            core[i] = p.parse().ok()?;
        }
        let pre = match pre_str {
            None => Vec::new(),
            Some("") => return None,
            Some(p) => p
                .split('.')
                .map(|id| match id.parse::<u64>() {
                    Ok(n) if id.bytes().all(|b| b.is_ascii_digit()) => LocalPart::Num(n),
                    _ => LocalPart::Str(id.to_string()),
                })
                .collect(),
        };
        Some(Semver { core, pre })
    }
}

impl Ord for Semver {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release sorts before its release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                // SemVer: numeric identifiers sort before alphanumeric ones.
                (false, false) => {
                    let key = |p: &LocalPart| match p {
                        LocalPart::Num(n) => (0, *n, String::new()),
                        LocalPart::Str(s) => (1, 0, s.clone()),
                    };
                    self.pre.iter().map(key).cmp(other.pre.iter().map(key))
                }
            })
    }
}

impl PartialOrd for Semver {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Splits into runs of digits and runs of letters (other characters separate) and compares
/// run by run: numbers numerically, words by bytes, a number above a word; a missing run
/// counts as 0 so `1.0` equals `1` and `1.0rc1` is below `1.0`.
pub fn generic_cmp(a: &str, b: &str) -> Ordering {
    fn runs(s: &str) -> Vec<LocalPart> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut digit = false;
        for c in s.chars() {
            let kind = if c.is_ascii_digit() {
                Some(true)
            } else if c.is_alphanumeric() {
                Some(false)
            } else {
                None
            };
            match kind {
                Some(d) if cur.is_empty() || d == digit => {
                    digit = d;
                    cur.push(c);
                }
                Some(d) => {
                    out.push(run(&cur, digit));
                    cur = c.to_string();
                    digit = d;
                }
                None => {
                    if !cur.is_empty() {
                        out.push(run(&cur, digit));
                        cur.clear();
                    }
                }
            }
        }
        if !cur.is_empty() {
            out.push(run(&cur, digit));
        }
        out
    }
    fn run(s: &str, digit: bool) -> LocalPart {
        if digit {
            LocalPart::Num(s.parse().unwrap_or(u64::MAX))
        } else {
            LocalPart::Str(s.to_string())
        }
    }
    let (x, y) = (runs(a), runs(b));
    for i in 0..x.len().max(y.len()) {
        let p = x.get(i).cloned().unwrap_or(LocalPart::Num(0));
        let q = y.get(i).cloned().unwrap_or(LocalPart::Num(0));
        match p.cmp(&q) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn compare_is_a_total_order_on_mixed_input() {
        // Parsable and unparsable versions together (the fuzzer's `50.1i` is not PEP 440).
        let vs = [
            "50.1i",
            "1.0",
            "1",
            "abc",
            "2.0rc1",
            "1.0.post1",
            "x.y",
            "0.9",
            "50.1",
            "1.0-beta",
            "",
            "3!1.0",
            "1.0+local",
            "v2",
            "1.0.0-alpha.1",
            "1.0.0",
        ];
        for scheme in [Scheme::Pep440, Scheme::Semver, Scheme::Generic] {
            for a in vs {
                for b in vs {
                    assert_eq!(
                        compare(scheme, a, b),
                        compare(scheme, b, a).reverse(),
                        "{scheme:?} {a} {b}"
                    );
                    for c in vs {
                        if compare(scheme, a, b) != Greater && compare(scheme, b, c) != Greater {
                            assert_ne!(compare(scheme, a, c), Greater, "{scheme:?}: {a} <= {b} <= {c}");
                        }
                    }
                }
            }
            let mut sorted = vs.to_vec();
            sorted.sort_by(|a, b| compare(scheme, a, b));
        }
    }

    fn pep(a: &str, b: &str) -> Ordering {
        let x = Pep440::parse(a).unwrap_or_else(|| panic!("{a} parses"));
        let y = Pep440::parse(b).unwrap_or_else(|| panic!("{b} parses"));
        x.cmp(&y)
    }

    #[test]
    fn pep440_orders_the_spec_example_sequence() {
        // The ordering example from PEP 440 ("Summary of permitted suffixes and relative ordering").
        let seq = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for w in seq.windows(2) {
            assert_eq!(pep(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
            assert_eq!(pep(w[1], w[0]), Greater, "{} > {}", w[1], w[0]);
        }
    }

    #[test]
    fn pep440_normalisation_and_epochs() {
        assert_eq!(pep("1.0", "1.0.0"), Equal);
        assert_eq!(pep("v1.0", "1.0"), Equal);
        assert_eq!(pep("1.0-alpha1", "1.0a1"), Equal);
        assert_eq!(pep("1.0.RC1", "1.0rc1"), Equal);
        assert_eq!(pep("1.0c1", "1.0rc1"), Equal);
        assert_eq!(pep("1.0-1", "1.0.post1"), Equal);
        assert_eq!(pep("1!0.1", "2.0"), Greater);
        assert_eq!(pep("50.0.2", "50.0.3"), Less);
        assert_eq!(pep("50.0.10", "50.0.3"), Greater);
        assert_eq!(pep("0", "50.0.2"), Less);
        assert!(Pep440::parse("not-a-version").is_none());
        assert!(Pep440::parse("1.0junk").is_none());
    }

    #[test]
    fn semver_precedence_follows_the_spec() {
        let seq = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.19.0",
            "1.19.1",
            "2.0.0",
        ];
        for w in seq.windows(2) {
            assert_eq!(compare(Scheme::Semver, w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare(Scheme::Semver, "1.0.0+build.5", "1.0.0"), Equal);
        assert!(Semver::parse("1.x").is_none());
    }

    #[test]
    fn generic_compare_is_numeric_per_segment() {
        assert_eq!(generic_cmp("1.10", "1.9"), Greater);
        assert_eq!(generic_cmp("1.0", "1"), Equal);
        // A word sorts below a number (and below a missing run): a suffix reads as a pre-release.
        assert_eq!(generic_cmp("1.0rc1", "1.0"), Less);
        assert_eq!(generic_cmp("2.3.4.1", "2.3.4"), Greater);
        assert_eq!(generic_cmp("1.2a", "1.2.1"), Less);
    }
}
