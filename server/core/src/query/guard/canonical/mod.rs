//! The text the replica runs: the statement the guard understood, printed back by a printer of
//! our own, one form per engine. The user's text never reaches the replica.
//!
//! The printed form holds only tokens the guard modelled:
//! - every identifier quoted one way (`"x"` on PostgreSQL and SQLite, `` `x` `` on MariaDB),
//!   PostgreSQL's unquoted names folded to lower case as PostgreSQL folds them;
//! - every string literal single-quoted, the quote doubled, and on MariaDB the backslash doubled
//!   too (so the string ends at the same place whether or not the session reads backslash escapes);
//! - function names unquoted, lower case, from the allow-list's alphabet;
//! - no placeholder, no comment, no dollar quote, no non-ASCII character outside string literals
//!   and quoted identifiers, and a space around every operator (so `- -1` never becomes `--1`);
//! - a column reference the guard resolved to one named relation is qualified with it, so the
//!   engine reads the column the guard checked whatever its own scoping rules are; a PostgreSQL
//!   table is named with the schema the guard found it in (PostgreSQL reads pg_catalog first).
//!
//! Anything this printer does not know is refused, as the guard refuses what it does not know.
//! [`verify`] then re-reads the printed text: its tokens must be of the kinds above and it must
//! parse to a statement that prints to the same text.

mod expressions;
mod statements;

use super::Refusal;
use crate::query::Engine;
use sqlparser::ast::*;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use super::lineage::Resolutions;

type P = Result<(), Refusal>;

fn unprintable(what: impl std::fmt::Display) -> Refusal {
    Refusal::new(format!(
        "{what} is not supported by the query guard; write the query in plain SELECT form"
    ))
}

/// `statement` in the canonical form of `engine`.
pub fn print(
    statement: &Statement,
    engine: Engine,
    resolved: &Resolutions,
) -> Result<String, Refusal> {
    let mut p = Printer { engine, resolved, out: String::with_capacity(256) };
    p.statement(statement)?;
    Ok(p.out)
}

/// Re-reads `text` as the engine's dialect: only modelled tokens, and a parse that prints back
/// to the same text. A failure is a printer defect; the query is refused (fail closed).
pub fn verify(text: &str, engine: Engine) -> P {
    let defect = |why: &str| {
        tracing::error!(why, text, "the canonical form of a query did not re-read as printed");
        Refusal::new(
            "the guard could not restate this query in a form it can vouch for; simplify it",
        )
    };
    let dialect = super::dialect(engine);
    let tokens =
        Tokenizer::new(dialect.as_ref(), text).tokenize().map_err(|_| defect("tokenize"))?;
    for token in &tokens {
        let modelled = match token {
            Token::Whitespace(w) => *w == Whitespace::Space,
            Token::Word(w) => w.value.is_ascii() || w.quote_style.is_some(),
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_) => true,
            // Every other quoting form, and whatever the tokenizer could not classify.
            Token::Char(_)
            | Token::Placeholder(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_) => false,
            // Punctuation and operators.
            other => other.to_string().is_ascii(),
        };
        if !modelled {
            return Err(defect("token"));
        }
    }
    let reparsed = Parser::new(dialect.as_ref())
        .with_tokens(tokens)
        .parse_statements()
        .map_err(|_| defect("parse"))?;
    match reparsed.as_slice() {
        [one] if print(one, engine, &Resolutions::default()).as_deref() == Ok(text) => Ok(()),
        _ => Err(defect("fixpoint")),
    }
}

struct Printer<'a> {
    engine: Engine,
    resolved: &'a Resolutions,
    out: String,
}

impl Printer<'_> {
    fn w(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T) -> P) -> P {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.w(", ");
            }
            each(self, item)?;
        }
        Ok(())
    }

    fn ident(&mut self, ident: &Ident) -> P {
        let value = match ident.quote_style {
            None if !ident.value.is_ascii() => {
                return Err(Refusal::new(format!(
                    "the unquoted name {} has non-ASCII characters; quote it",
                    ident.value
                )))
            }
            // PostgreSQL folds unquoted names to lower case; the others compare them as written.
            None if self.engine == Engine::Postgres => ident.value.to_ascii_lowercase(),
            None | Some('"') | Some('`') | Some('[') => ident.value.clone(),
            Some(q) => return Err(unprintable(format!("the quote {q}"))),
        };
        if value.is_empty() {
            return Err(Refusal::new("an empty quoted name is not allowed"));
        }
        let q = if self.engine == Engine::Mysql { '`' } else { '"' };
        self.out.push(q);
        self.out.push_str(&value.replace(q, &format!("{q}{q}")));
        self.out.push(q);
        Ok(())
    }

    fn object_name(&mut self, name: &ObjectName) -> P {
        for (i, part) in name.0.iter().enumerate() {
            if i > 0 {
                self.w(".");
            }
            let Some(ident) = part.as_ident() else {
                return Err(unprintable(format!("the name {name}")));
            };
            self.ident(ident)?;
        }
        Ok(())
    }

    /// A function or collation name: the allow-list's alphabet, unquoted, lower case.
    fn bare_name(&mut self, name: &ObjectName) -> P {
        for (i, part) in name.0.iter().enumerate() {
            let Some(ident) = part.as_ident() else {
                return Err(unprintable(format!("the name {name}")));
            };
            let v = ident.value.to_ascii_lowercase();
            if v.is_empty()
                || !v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(Refusal::new(format!("the name {name} is not a plain name")));
            }
            if i > 0 {
                self.w(".");
            }
            self.w(&v);
        }
        Ok(())
    }

    fn string(&mut self, s: &str) {
        self.out.push('\'');
        for c in s.chars() {
            match c {
                '\'' => self.out.push_str("''"),
                // MariaDB reads `\` as an escape; doubled, it is one backslash there, and the
                // string still ends at the same quote where a session reads no escapes.
                '\\' if self.engine == Engine::Mysql => self.out.push_str("\\\\"),
                c => self.out.push(c),
            }
        }
        self.out.push('\'');
    }

    fn value(&mut self, v: &Value) -> P {
        match v {
            Value::Number(n, false) if is_plain_number(n) => self.w(n),
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => self.string(s),
            Value::DollarQuotedString(d) => self.string(&d.value),
            // MariaDB reads "…" as a string in its default mode, which the console pins.
            Value::DoubleQuotedString(s) if self.engine == Engine::Mysql => self.string(s),
            Value::NationalStringLiteral(s) => {
                self.w("N");
                self.string(s)
            }
            Value::HexStringLiteral(h)
                if !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                self.w("X'");
                self.w(h);
                self.w("'")
            }
            Value::Boolean(b) => self.w(if *b { "TRUE" } else { "FALSE" }),
            Value::Null => self.w("NULL"),
            Value::Placeholder(_) => {
                return Err(Refusal::new(
                    "parameters ($1, ?) are not supported; write the value in the query",
                ))
            }
            other => return Err(unprintable(format!("the literal {other}"))),
        }
        Ok(())
    }

    /// Types, operators and keywords print through sqlparser: fixed words, checked to be plain.
    fn keywords(&mut self, text: String) -> P {
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || " _(),[]".contains(c)) {
            return Err(unprintable(format!("the form {text}")));
        }
        self.w(&text);
        Ok(())
    }

    fn operator(&mut self, text: String) -> P {
        if text.is_empty()
            || !text.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            || text.contains("--")
            || text.contains("/*")
        {
            return Err(unprintable(format!("the operator {text}")));
        }
        self.w(&text);
        Ok(())
    }
}

/// Digits, one optional point, one optional exponent: the number forms every engine reads alike.
fn is_plain_number(n: &str) -> bool {
    let (mantissa, exponent) = match n.find(['e', 'E']) {
        Some(i) => (&n[..i], Some(&n[i + 1..])),
        None => (n, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(whole)
        && fraction.is_none_or(digits)
        && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|x| {
        let x = x.strip_prefix(['+', '-']).unwrap_or(x);
        !x.is_empty() && digits(x)
    });
    mantissa_ok && exponent_ok
}
