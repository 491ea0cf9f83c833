//! A small SPDX license-expression parser (identifiers, `+`, `WITH`, `AND`, `OR`,
//! parentheses), enough to decide whether an expression can be satisfied with allowed
//! licenses. Identifiers are checked for syntax only, not against the SPDX list.

use std::fmt;

/// One license with its optional `+` and exception, e.g. `GPL-2.0-only WITH Classpath-exception-2.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseTerm {
    pub id: String,
    pub or_later: bool,
    pub exception: Option<String>,
}

impl fmt::Display for LicenseTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.id, if self.or_later { "+" } else { "" })?;
        if let Some(e) = &self.exception {
            write!(f, " WITH {e}")?;
        }
        Ok(())
    }
}

impl LicenseTerm {
    /// Whether a policy entry covers this term. Identifiers compare case-insensitively; `+`
    /// is ignored (the licensee may pick the named version); an entry without an exception
    /// covers the license with any exception.
    pub(crate) fn covered_by(&self, entry: &LicenseTerm) -> bool {
        self.id.eq_ignore_ascii_case(&entry.id)
            && match (&entry.exception, &self.exception) {
                (None, _) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (Some(_), None) => false,
            }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    License(LicenseTerm),
    And(Vec<Expression>),
    Or(Vec<Expression>),
}

/// Ways to satisfy an expression are enumerated; past this many we refuse rather than
/// spend unbounded time on a hostile SBOM.
const MAX_WAYS: usize = 4096;

impl Expression {
    pub fn parse(text: &str) -> Result<Expression, String> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err("empty license expression".into());
        }
        let mut p = Parser { tokens, pos: 0 };
        let e = p.or_expr()?;
        if p.pos != p.tokens.len() {
            return Err(format!("unexpected `{}` at token {}", p.tokens[p.pos], p.pos + 1));
        }
        Ok(e)
    }

    /// The alternative sets of licenses that satisfy the expression (disjunctive normal form).
    pub fn ways(&self) -> Result<Vec<Vec<LicenseTerm>>, String> {
        match self {
            Expression::License(t) => Ok(vec![vec![t.clone()]]),
            Expression::Or(es) => {
                let mut out = Vec::new();
                for e in es {
                    out.extend(e.ways()?);
                    if out.len() > MAX_WAYS {
                        return Err("license expression too complex".into());
                    }
                }
                Ok(out)
            }
            Expression::And(es) => {
                let mut out: Vec<Vec<LicenseTerm>> = vec![Vec::new()];
                for e in es {
                    let ws = e.ways()?;
                    if out.len().saturating_mul(ws.len()) > MAX_WAYS {
                        return Err("license expression too complex".into());
                    }
                    let mut next = Vec::new();
                    for a in &out {
                        for w in &ws {
                            let mut c = a.clone();
                            c.extend(w.iter().cloned());
                            next.push(c);
                        }
                    }
                    out = next;
                }
                Ok(out)
            }
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '(' | ')' => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
                tokens.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':') => cur.push(c),
            c => return Err(format!("invalid character `{c}` in license expression")),
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek_op(&self, op: &str) -> bool {
        self.tokens.get(self.pos).is_some_and(|t| t.eq_ignore_ascii_case(op))
    }

    fn or_expr(&mut self) -> Result<Expression, String> {
        let mut items = vec![self.and_expr()?];
        while self.peek_op("OR") {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Expression::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expression, String> {
        let mut items = vec![self.atom()?];
        while self.peek_op("AND") {
            self.pos += 1;
            items.push(self.atom()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Expression::And(items)
        })
    }

    fn atom(&mut self) -> Result<Expression, String> {
        let Some(tok) = self.tokens.get(self.pos).cloned() else {
            return Err("license expression ends where a license was expected".into());
        };
        self.pos += 1;
        if tok == "(" {
            let e = self.or_expr()?;
            if self.tokens.get(self.pos).map(String::as_str) != Some(")") {
                return Err("missing `)` in license expression".into());
            }
            self.pos += 1;
            return Ok(e);
        }
        if tok == ")" || ["AND", "OR", "WITH"].iter().any(|o| tok.eq_ignore_ascii_case(o)) {
            return Err(format!("expected a license identifier, found `{tok}`"));
        }
        let (id, or_later) = match tok.strip_suffix('+') {
            Some(id) => (id.to_string(), true),
            None => (tok.clone(), false),
        };
        check_id(&id)?;
        let mut exception = None;
        if self.peek_op("WITH") {
            self.pos += 1;
            let Some(ex) = self.tokens.get(self.pos).cloned() else {
                return Err("expected an exception identifier after WITH".into());
            };
            check_id(&ex)?;
            self.pos += 1;
            exception = Some(ex);
        }
        Ok(Expression::License(LicenseTerm {
            id,
            or_later,
            exception,
        }))
    }
}

fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        && !["AND", "OR", "WITH"].iter().any(|o| id.eq_ignore_ascii_case(o));
    if ok {
        Ok(())
    } else {
        Err(format!("`{id}` is not a license identifier"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_with() {
        let e =
            Expression::parse("MIT OR Apache-2.0 AND (BSD-3-Clause OR GPL-2.0+ WITH Classpath-exception-2.0)").unwrap();
        let ways = e.ways().unwrap();
        let text: Vec<String> = ways
            .iter()
            .map(|w| w.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" & "))
            .collect();
        assert_eq!(
            text,
            vec![
                "MIT",
                "Apache-2.0 & BSD-3-Clause",
                "Apache-2.0 & GPL-2.0+ WITH Classpath-exception-2.0"
            ]
        );
    }

    #[test]
    fn rejects_malformed() {
        assert!(Expression::parse("MIT OR").is_err());
        assert!(Expression::parse("(MIT").is_err());
        assert!(Expression::parse("MIT Apache-2.0").is_err());
        assert!(Expression::parse("MIT/Apache").is_err());
        assert!(Expression::parse("").is_err());
        assert!(Expression::parse("WITH MIT").is_err());
    }
}
