//! Platform defaults that SREs set once for every squad: metrics link templates, readiness
//! requirements per tier, query limits per tier, log limits.
//!
//! The whole set is one document (TOML, so platform teams can keep it in git). Every change is a
//! new version with author and time; rolling back writes the old document as a new version.

#[cfg(feature = "server")]
pub mod actions;
pub mod links;
#[cfg(feature = "server")]
pub mod repo;

use crate::catalog::readiness::{standard_checks, Check};
use crate::catalog::Tier;
use links::LinkTemplate;
use serde::{Deserialize, Serialize};

/// Guardrails for the SQL REPL at one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryLimits {
    pub tier: u8,
    pub statement_timeout_ms: u64,
    pub row_cap: u64,
    /// Column name patterns to mask, `*` as wildcard: `*password*`, `email`.
    pub masks: Vec<String>,
}

/// Guardrails for short-term logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLimits {
    pub max_window_minutes: u64,
    pub max_lines: u64,
    pub max_follows_per_user: u64,
    /// Open live deployment views per person (each holds a stream and a watch on the caches).
    #[serde(default = "default_live_views")]
    pub max_live_views_per_user: u64,
}

fn default_live_views() -> u64 {
    5
}

/// Personal API tokens: how long they live, and whether they may run queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenLimits {
    /// Expiry of a token made without one.
    pub default_days: u32,
    /// The longest a token may live.
    pub max_days: u32,
    /// Whether tokens may have the `query` scope (`POST /api/v1/services/{name}/query`).
    pub allow_query_scope: bool,
}

impl Default for TokenLimits {
    fn default() -> Self {
        TokenLimits { default_days: 30, max_days: 90, allow_query_scope: false }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformDefaults {
    #[serde(default)]
    pub links: Vec<LinkTemplate>,
    pub readiness: Vec<Check>,
    pub query: Vec<QueryLimits>,
    pub logs: LogLimits,
    /// Documents saved before tokens had limits get the built-in ones.
    #[serde(default)]
    pub tokens: TokenLimits,
    /// Lifecycles outside the three the console knows (Backstage allows any), mapped to the one
    /// whose guardrails they get: `{"sandbox": "experimental", "ga": "production"}`. Unmapped:
    /// experimental. Applied at the next import.
    #[serde(default)]
    pub lifecycles: std::collections::BTreeMap<String, crate::catalog::Lifecycle>,
}

impl Default for PlatformDefaults {
    fn default() -> Self {
        let masks =
            ["*password*", "*secret*", "*token*", "email", "phone*"].map(String::from).to_vec();
        PlatformDefaults {
            links: links::starter_templates(),
            readiness: standard_checks(),
            // Tier 1 is the most critical: the tightest limits.
            query: [(1, 5_000, 500), (2, 10_000, 1_000), (3, 30_000, 5_000), (4, 30_000, 10_000)]
                .into_iter()
                .map(|(tier, statement_timeout_ms, row_cap)| QueryLimits {
                    tier,
                    statement_timeout_ms,
                    row_cap,
                    masks: masks.clone(),
                })
                .collect(),
            logs: LogLimits {
                max_window_minutes: 24 * 60,
                max_lines: 10_000,
                max_follows_per_user: 3,
                max_live_views_per_user: 5,
            },
            tokens: TokenLimits::default(),
            lifecycles: Default::default(),
        }
    }
}

impl PlatformDefaults {
    /// The query limits a service of `tier` gets without anyone configuring it.
    pub fn query_limits(&self, tier: Tier) -> Option<&QueryLimits> {
        self.query.iter().find(|q| q.tier == tier.number())
    }

    /// Every problem with the document, each naming its place.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, link) in self.links.iter().enumerate() {
            if let Err(e) = link.validate() {
                problems.push(format!("links[{i}] ({}): {e}", link.name));
            }
            if !names.insert((link.name.clone(), link.scope.clone())) {
                problems.push(format!(
                    "links[{i}]: a template named {:?} already exists for this scope",
                    link.name
                ));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, check) in self.readiness.iter().enumerate() {
            if !(1..=4).contains(&check.tier) {
                problems.push(format!(
                    "readiness[{i}] ({}): tier must be 1 to 4, not {}",
                    check.id, check.tier
                ));
            }
            if check.id.is_empty()
                || !check
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                problems.push(format!(
                    "readiness[{i}]: id {:?} must be lower-case letters, digits and '-'",
                    check.id
                ));
            }
            if !ids.insert(check.id.clone()) {
                problems.push(format!("readiness[{i}]: duplicate check id {:?}", check.id));
            }
        }
        for tier in 1..=4u8 {
            match self.query.iter().filter(|q| q.tier == tier).count() {
                1 => {}
                0 => problems.push(format!("query: no limits for tier {tier}")),
                _ => problems.push(format!("query: tier {tier} is listed more than once")),
            }
        }
        for (i, q) in self.query.iter().enumerate() {
            if !(1..=4).contains(&q.tier) {
                problems.push(format!("query[{i}]: tier must be 1 to 4, not {}", q.tier));
            }
            if !(100..=600_000).contains(&q.statement_timeout_ms) {
                problems.push(format!(
                    "query[{i}]: statement_timeout_ms must be 100 to 600000, not {}",
                    q.statement_timeout_ms
                ));
            }
            if !(1..=1_000_000).contains(&q.row_cap) {
                problems
                    .push(format!("query[{i}]: row_cap must be 1 to 1000000, not {}", q.row_cap));
            }
            if q.masks.iter().any(|m| m.trim().is_empty()) {
                problems.push(format!("query[{i}]: masks must not be empty patterns"));
            }
        }
        let l = &self.logs;
        if !(1..=7 * 24 * 60).contains(&l.max_window_minutes) {
            problems.push(format!(
                "logs: max_window_minutes must be 1 to 10080, not {}",
                l.max_window_minutes
            ));
        }
        if !(1..=1_000_000).contains(&l.max_lines) {
            problems.push(format!("logs: max_lines must be 1 to 1000000, not {}", l.max_lines));
        }
        if !(1..=50).contains(&l.max_live_views_per_user) {
            problems.push(format!(
                "logs: max_live_views_per_user must be 1 to 50, not {}",
                l.max_live_views_per_user
            ));
        }
        if !(1..=50).contains(&l.max_follows_per_user) {
            problems.push(format!(
                "logs: max_follows_per_user must be 1 to 50, not {}",
                l.max_follows_per_user
            ));
        }
        let t = &self.tokens;
        if !(1..=3650).contains(&t.max_days) {
            problems.push(format!("tokens: max_days must be 1 to 3650, not {}", t.max_days));
        }
        if t.default_days == 0 || t.default_days > t.max_days {
            problems.push(format!(
                "tokens: default_days must be 1 to max_days ({}), not {}",
                t.max_days, t.default_days
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    #[cfg(feature = "server")]
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("defaults serialise")
    }

    /// Parses and validates a document (the export format). A syntax or type error is one
    /// problem that starts `line L, column C: ` (see [`problem_line`]), so the editor can mark it.
    #[cfg(feature = "server")]
    pub fn from_toml(text: &str) -> Result<PlatformDefaults, Vec<String>> {
        let parsed: PlatformDefaults = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end();
            vec![match e.span() {
                Some(span) => {
                    let (line, column) = line_and_column(text, span.start);
                    format!("line {line}, column {column}: {message}")
                }
                None => message.to_string(),
            }]
        })?;
        parsed.validate()?;
        Ok(parsed)
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// The line a problem names (`line L, column C: …`, as [`PlatformDefaults::from_toml`] and the
/// save refusal put it), for the editor to mark.
pub fn problem_line(problem: &str) -> Option<usize> {
    let rest = problem.split("line ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|line| *line > 0)
}

/// One saved version of the defaults: who, when, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub version: i64,
    pub author: String,
    pub created_at: i64,
    pub note: String,
}

/// One line of a diff between two documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiffLine {
    Same(String),
    Added(String),
    Removed(String),
    /// This many unchanged lines left out (see [`with_context`]).
    Skipped(usize),
}

/// `lines` with only `context` unchanged lines around each change; each longer run of unchanged
/// lines becomes one [`DiffLine::Skipped`]. No change at all: nothing.
pub fn with_context(lines: Vec<DiffLine>, context: usize) -> Vec<DiffLine> {
    let changed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, DiffLine::Same(_)))
        .map(|(i, _)| i)
        .collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= context);
    let mut out = Vec::new();
    let mut skipped = 0;
    for (i, line) in lines.into_iter().enumerate() {
        if near(i) {
            if skipped > 0 {
                out.push(DiffLine::Skipped(skipped));
                skipped = 0;
            }
            out.push(line);
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 && !out.is_empty() {
        out.push(DiffLine::Skipped(skipped));
    }
    out
}

/// A line diff (longest common subsequence), for the history page.
pub fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] =
                if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(DiffLine::Same(a[i].to_string()));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(DiffLine::Added(b[j].to_string()));
            j += 1;
        } else {
            out.push(DiffLine::Removed(a[i].to_string()));
            i += 1;
        }
    }
    out
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_round_trip_through_toml() {
        let d = PlatformDefaults::default();
        d.validate().unwrap();
        assert_eq!(PlatformDefaults::from_toml(&d.to_toml()).unwrap(), d);
    }

    #[test]
    fn tier_one_gets_the_strictest_query_limits() {
        let d = PlatformDefaults::default();
        let t1 = d.query_limits(Tier::new(1).unwrap()).unwrap();
        let t4 = d.query_limits(Tier::new(4).unwrap()).unwrap();
        assert!(t1.row_cap < t4.row_cap && t1.statement_timeout_ms < t4.statement_timeout_ms);
    }

    #[test]
    fn bad_documents_name_every_problem() {
        let mut d = PlatformDefaults::default();
        d.query.pop();
        d.query[0].row_cap = 0;
        d.logs.max_follows_per_user = 0;
        d.readiness[0].tier = 9;
        d.links[0].url = "javascript:alert(1)".into();
        let problems = d.validate().unwrap_err();
        for needle in [
            "no limits for tier 4",
            "row_cap must be",
            "max_follows_per_user",
            "tier must be 1 to 4, not 9",
            "links[0]",
        ] {
            assert!(problems.iter().any(|p| p.contains(needle)), "{needle}: {problems:?}");
        }
        assert!(PlatformDefaults::from_toml("links = 3").is_err());
        // A syntax error names its line and column, and the editor finds the line.
        let broken = d.to_toml().replacen("[logs]", "[logs]\nmax_follows_per_user = = 3", 1);
        let problem = PlatformDefaults::from_toml(&broken).unwrap_err().remove(0);
        let line = broken.lines().position(|l| l.contains("= = 3")).unwrap() + 1;
        assert!(problem.starts_with(&format!("line {line}, column 24: ")), "{problem}");
        assert_eq!(problem_line(&format!("the defaults are not valid: {problem}")), Some(line));
        assert_eq!(problem_line("no line here"), None);
        assert_eq!(line_and_column("aé\nbc", 5), (2, 2));
        assert!(PlatformDefaults::from_toml("").unwrap_err()[0].contains("missing field"));
    }

    #[test]
    fn diffs_keep_context_around_changes_only() {
        let old: String = (1..=20).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l10\n", "ten\n");
        let d = with_context(diff(&old, &new), 2);
        let same = |s: &str| DiffLine::Same(s.into());
        assert_eq!(
            d,
            vec![
                DiffLine::Skipped(7),
                same("l8"),
                same("l9"),
                DiffLine::Added("ten".into()),
                DiffLine::Removed("l10".into()),
                same("l11"),
                same("l12"),
                DiffLine::Skipped(8),
            ]
        );
        assert_eq!(with_context(diff(&old, &old), 2), vec![]);
    }

    #[test]
    fn diffs_show_what_changed() {
        let d = diff("a\nb\nc\n", "a\nx\nc\nd\n");
        assert_eq!(
            d,
            vec![
                DiffLine::Same("a".into()),
                DiffLine::Added("x".into()),
                DiffLine::Removed("b".into()),
                DiffLine::Same("c".into()),
                DiffLine::Added("d".into())
            ]
        );
    }
}
