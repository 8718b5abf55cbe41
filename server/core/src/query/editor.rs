//! What the REPL's editor knows of SQL, in plain Rust for the browser and tests alike: tokens
//! for highlighting (every byte in exactly one token), the word at the caret and its completions
//! from the replica's schema (masked columns marked), and where a parser's message points.
//! It only colours and suggests: what runs is decided by the guard on the server.

/// What a run of text is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Keyword,
    Identifier,
    /// `"name"` or `` `name` ``.
    Quoted,
    /// `'text'` or PostgreSQL's `$tag$text$tag$`.
    String,
    Number,
    Comment,
    /// Operators and punctuation.
    Symbol,
    Space,
}

impl TokenKind {
    /// The CSS class of the kind (Tailwind), light and dark.
    pub fn class(self) -> &'static str {
        match self {
            TokenKind::Keyword => "text-violet-700 dark:text-violet-300 font-semibold",
            TokenKind::Identifier | TokenKind::Space => "",
            TokenKind::Quoted => "text-sky-800 dark:text-sky-300",
            TokenKind::String => "text-emerald-800 dark:text-emerald-300",
            TokenKind::Number => "text-amber-800 dark:text-amber-300",
            TokenKind::Comment => "text-slate-500 dark:text-slate-400 italic",
            TokenKind::Symbol => "text-slate-600 dark:text-slate-300",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    /// Byte offset in the statement.
    pub start: usize,
}

/// Words coloured as keywords (upper-case; matched case-insensitively) and offered as
/// completions.
pub const KEYWORDS: &[&str] = &[
    "ALL",
    "AND",
    "AS",
    "ASC",
    "AVG",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "COALESCE",
    "COUNT",
    "CROSS",
    "CURRENT_DATE",
    "CURRENT_TIMESTAMP",
    "DESC",
    "DISTINCT",
    "ELSE",
    "END",
    "EXCEPT",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FETCH",
    "FIRST",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "ILIKE",
    "IN",
    "INNER",
    "INTERSECT",
    "INTERVAL",
    "IS",
    "JOIN",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MAX",
    "MIN",
    "NATURAL",
    "NOT",
    "NULL",
    "NULLS",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "RECURSIVE",
    "RIGHT",
    "ROWS",
    "SELECT",
    "SUM",
    "THEN",
    "TRUE",
    "UNION",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
];

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Splits `sql` into tokens; their texts put together are `sql` again.
pub fn tokens(sql: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = sql;
    let mut at = 0;
    while let Some(first) = rest.chars().next() {
        let (kind, len) = next_token(rest, first);
        let len = len.max(first.len_utf8()).min(rest.len());
        out.push(Token { kind, text: &rest[..len], start: at });
        at += len;
        rest = &rest[len..];
    }
    out
}

/// The kind and byte length of the token at the start of `rest` (its first char is `first`).
fn next_token(rest: &str, first: char) -> (TokenKind, usize) {
    let until = |end: &str, from: usize| {
        rest[from..].find(end).map_or(rest.len(), |i| from + i + end.len())
    };
    match first {
        c if c.is_whitespace() => {
            (TokenKind::Space, rest.find(|c: char| !c.is_whitespace()).unwrap_or(rest.len()))
        }
        '-' if rest.starts_with("--") => {
            (TokenKind::Comment, rest.find('\n').unwrap_or(rest.len()))
        }
        '/' if rest.starts_with("/*") => (TokenKind::Comment, until("*/", 2)),
        '\'' => (TokenKind::String, quoted_end(rest, '\'')),
        '"' | '`' => (TokenKind::Quoted, quoted_end(rest, first)),
        '$' => match dollar_tag(rest) {
            Some(tag) => (TokenKind::String, until(tag, tag.len())),
            None => (TokenKind::Symbol, 1),
        },
        c if c.is_ascii_digit() => (
            TokenKind::Number,
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.')).unwrap_or(rest.len()),
        ),
        c if is_word_char(c) => {
            let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
            let kind =
                if is_keyword(&rest[..len]) { TokenKind::Keyword } else { TokenKind::Identifier };
            (kind, len)
        }
        c => (TokenKind::Symbol, c.len_utf8()),
    }
}

/// Where a quoted run opened by `quote` ends (a doubled quote stays inside); the end of the
/// text when it is never closed.
fn quoted_end(rest: &str, quote: char) -> usize {
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|(_, n)| *n == quote) {
                chars.next();
                continue;
            }
            return i + c.len_utf8();
        }
    }
    rest.len()
}

/// `$tag$` or `$$` at the start of `rest`.
fn dollar_tag(rest: &str) -> Option<&str> {
    let close = rest[1..].find('$')? + 2;
    let tag = &rest[..close];
    tag[1..close - 1].chars().all(|c| c.is_alphanumeric() || c == '_').then_some(tag)
}

/// The word being typed before byte `cursor`: where it starts, and its text.
pub fn word_at(sql: &str, cursor: usize) -> (usize, &str) {
    let mut cursor = cursor.min(sql.len());
    while !sql.is_char_boundary(cursor) {
        cursor -= 1;
    }
    let start = sql[..cursor].rfind(|c: char| !(is_word_char(c) || c == '.')).map_or(0, |i| i + 1);
    (start, &sql[start..cursor])
}

/// One suggestion for the word being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    /// "table", "column" or "keyword".
    pub kind: &'static str,
    /// A column's table.
    pub detail: String,
    /// A column the replica answers masked.
    pub masked: bool,
}

/// Up to `limit` completions of `word` (case-insensitive prefix): tables, then columns, then
/// keywords. After `table.`, only that table's columns.
pub fn complete(
    word: &str,
    tables: &[(String, Vec<String>)],
    masks: &[String],
    limit: usize,
) -> Vec<Completion> {
    let starts = |candidate: &str, prefix: &str| {
        candidate.len() >= prefix.len()
            && candidate.is_char_boundary(prefix.len())
            && candidate[..prefix.len()].eq_ignore_ascii_case(prefix)
            && !candidate.eq_ignore_ascii_case(prefix)
    };
    // "schema.table" is shown as "table" where the schema need not be said.
    let short = |table: &str| table.rsplit('.').next().unwrap_or(table).to_string();
    let mut out = Vec::new();
    if let Some((qualifier, prefix)) = word.rsplit_once('.') {
        for (table, columns) in tables {
            if table.eq_ignore_ascii_case(qualifier) || short(table).eq_ignore_ascii_case(qualifier)
            {
                for column in columns.iter().filter(|c| prefix.is_empty() || starts(c, prefix)) {
                    out.push(Completion {
                        text: column.clone(),
                        kind: "column",
                        detail: short(table),
                        masked: is_masked(column, masks),
                    });
                }
            }
        }
        out.truncate(limit);
        return out;
    }
    if word.is_empty() {
        return out;
    }
    for (table, _) in tables {
        if starts(&short(table), word) {
            out.push(Completion {
                text: short(table),
                kind: "table",
                detail: table.clone(),
                masked: false,
            });
        }
    }
    for (table, columns) in tables {
        for column in columns.iter().filter(|c| starts(c, word)) {
            if !out.iter().any(|c| c.kind == "column" && &c.text == column) {
                out.push(Completion {
                    text: column.clone(),
                    kind: "column",
                    detail: short(table),
                    masked: is_masked(column, masks),
                });
            }
        }
    }
    for keyword in KEYWORDS.iter().filter(|k| starts(k, word)) {
        out.push(Completion {
            text: keyword.to_string(),
            kind: "keyword",
            detail: String::new(),
            masked: false,
        });
    }
    out.truncate(limit);
    out
}

/// Does `column` match a mask pattern such as `*password*`, `email`, `phone*` (`*` matches any
/// run of characters; case-insensitive)? The guard masks by the same rule.
pub fn is_masked(column: &str, masks: &[String]) -> bool {
    let column = column.to_lowercase();
    masks.iter().any(|m| glob(&m.to_lowercase(), &column))
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut tail) = text.strip_prefix(head) else { return false };
            loop {
                if glob(rest, tail) {
                    return true;
                }
                match tail.chars().next() {
                    Some(c) => tail = &tail[c.len_utf8()..],
                    None => return false,
                }
            }
        }
    }
}

/// Where a parser's message points (`… at Line: 2, Column: 8`): line and column, 1-based.
pub fn error_position(message: &str) -> Option<(usize, usize)> {
    let number = |after: &str| -> Option<usize> {
        let rest = &message[message.find(after)? + after.len()..];
        rest.trim_start().chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
    };
    Some((number("Line:")?, number("Column:")?)).filter(|(l, c)| *l > 0 && *c > 0)
}

/// The byte offset of 1-based `line` and `column` (in characters) in `sql`.
pub fn offset_of(sql: &str, line: usize, column: usize) -> Option<usize> {
    let start: usize = sql.split('\n').take(line - 1).map(|l| l.len() + 1).sum();
    let text = sql.split('\n').nth(line - 1)?;
    let within = text.char_indices().nth(column - 1).map_or(text.len(), |(i, _)| i);
    Some(start + within)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_in_one_token_and_kinds_are_right() {
        let sql = "SELECT id, 'it''s' AS t, \"Name\", $x$a$b$x$ -- note\nFROM users /* c */ WHERE n >= 1.5 AND é = `q`";
        let all = tokens(sql);
        assert_eq!(all.iter().map(|t| t.text).collect::<String>(), sql);
        let kind = |text: &str| all.iter().find(|t| t.text == text).map(|t| t.kind);
        assert_eq!(kind("SELECT"), Some(TokenKind::Keyword));
        assert_eq!(kind("id"), Some(TokenKind::Identifier));
        assert_eq!(kind("'it''s'"), Some(TokenKind::String));
        assert_eq!(kind("\"Name\""), Some(TokenKind::Quoted));
        assert_eq!(kind("$x$a$b$x$"), Some(TokenKind::String));
        assert_eq!(kind("-- note"), Some(TokenKind::Comment));
        assert_eq!(kind("/* c */"), Some(TokenKind::Comment));
        assert_eq!(kind("1.5"), Some(TokenKind::Number));
        assert_eq!(kind("é"), Some(TokenKind::Identifier));
        assert_eq!(kind("`q`"), Some(TokenKind::Quoted));
        // Unclosed runs end the text rather than losing it.
        for broken in ["SELECT 'open", "SELECT \"open", "/* open", "$tag$ open", "$"] {
            let t = tokens(broken);
            assert_eq!(t.iter().map(|t| t.text).collect::<String>(), broken);
        }
    }

    #[test]
    fn completions_come_from_the_schema_and_mark_masked_columns() {
        let tables = vec![
            ("public.customers".to_string(), vec!["id".to_string(), "email".to_string()]),
            ("public.orders".to_string(), vec!["id".to_string(), "customer_id".to_string()]),
        ];
        let masks = vec!["email".to_string()];
        let texts = |c: Vec<Completion>| {
            c.into_iter().map(|c| (c.text, c.kind, c.masked)).collect::<Vec<_>>()
        };
        assert_eq!(
            texts(complete("cu", &tables, &masks, 10)),
            vec![
                ("customers".into(), "table", false),
                ("customer_id".into(), "column", false),
                ("CURRENT_DATE".into(), "keyword", false),
                ("CURRENT_TIMESTAMP".into(), "keyword", false),
            ]
        );
        assert_eq!(
            texts(complete("em", &tables, &masks, 10)),
            vec![("email".into(), "column", true)]
        );
        assert_eq!(
            texts(complete("customers.", &tables, &masks, 10)),
            vec![("id".into(), "column", false), ("email".into(), "column", true)]
        );
        assert_eq!(
            texts(complete("SEL", &tables, &masks, 10)),
            vec![("SELECT".into(), "keyword", false)]
        );
        assert!(complete("", &tables, &masks, 10).is_empty());
        assert!(
            complete("select", &tables, &masks, 10).is_empty(),
            "a whole word is not completed"
        );
    }

    #[test]
    fn the_word_at_the_caret_and_where_an_error_points() {
        let sql = "SELECT cu.na FROM cu";
        assert_eq!(word_at(sql, 12), (7, "cu.na"));
        assert_eq!(word_at(sql, 20), (18, "cu"));
        assert_eq!(word_at(sql, 7), (7, ""));
        let message =
            "sql parser error: Expected: an expression, found: FROM at Line: 2, Column: 8";
        assert_eq!(error_position(message), Some((2, 8)));
        assert_eq!(error_position("no position"), None);
        assert_eq!(offset_of("SELECT\nid é, FROM", 2, 6), Some(13));
        assert_eq!(offset_of("a", 3, 1), None);
        assert!(is_masked("Email", &["email".into()]) && is_masked("pass_hash", &["pass*".into()]));
    }
}
