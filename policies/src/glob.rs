//! `*` wildcards for purl patterns and Sigstore identities.

/// Whether `text` matches `pattern`, where `*` matches any run of characters (including
/// none and including `/`); every other character matches itself.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer match with backtracking to the last `*`: linear in practice,
    // no recursion, so a hostile pattern cannot blow the stack.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn wildcards() {
        assert!(glob_match("pkg:pypi/*", "pkg:pypi/torch@2.1"));
        assert!(glob_match(
            "pkg:*/log4j*@2.14*",
            "pkg:maven/org.apache/log4j-core@2.14.1"
        ));
        assert!(!glob_match("pkg:pypi/*", "pkg:npm/left-pad"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }
}
