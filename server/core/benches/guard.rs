//! The guard's own time (parse, allow-list, lineage, the canonical form printed and re-read) on a
//! realistic 5 KB read, in process, with no database; and how long the step budget takes to stop
//! a statement whose analysis would grow exponentially. Run with `make bench`; the figures go to
//! BENCHMARKS.md.

use console_core::query::guard::{self, functions::Allowed, Policy};
use console_core::query::schema::Schema;
use console_core::query::Engine;
use std::time::Instant;

/// Parse, allow-list and lineage of a realistic 5 KB read, in process.
fn main() {
    let columns: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    let mut users: Vec<&str> = vec!["id", "name", "email", "password_hash"];
    users.extend(columns.iter().map(String::as_str));
    let schema = Schema::of(&[
        ("public", "users", &users),
        ("public", "orders", &["id", "user_id", "amount", "created_at"]),
    ]);
    let masks = vec!["email".to_string(), "*password*".to_string()];
    let allowed = Allowed::new(Engine::Postgres, &[]);
    let subqueries: Vec<String> = (0..56)
        .map(|i| format!("(SELECT count(*) FROM orders o{i} WHERE o{i}.user_id = u.id AND o{i}.amount > {i}) AS n{i}"))
        .collect();
    let sql = format!(
        "WITH recent AS (SELECT id, user_id, amount FROM orders WHERE created_at > now() - interval '7 days') \
         SELECT u.id, u.name, u.email, {} FROM users u JOIN recent r ON r.user_id = u.id \
         WHERE u.email IN ('a@example.com', 'b@example.com') OR u.name LIKE 'm%' ORDER BY u.id LIMIT 100",
        subqueries.join(", ")
    );
    let policy = Policy { schema: &schema, masks: &masks, allowed: &allowed };
    // `make bench-quick` (BENCH_QUICK): fewer runs, and `quick|figure|ms` lines.
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let runs = if quick { 500 } else { 2_000 };
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let checked = guard::check(&sql, &policy).unwrap();
        times.push(started.elapsed());
        assert!(checked.masked[2]);
    }
    // The canonical form's share: re-reading the printed text (tokenize, parse, print again).
    let canonical = guard::check(&sql, &policy).unwrap().sql;
    let mut verify_times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        guard::canonical::verify(&canonical, Engine::Postgres).unwrap();
        verify_times.push(started.elapsed());
    }
    // The parser's share: what the guard costs beyond parsing the SQL once.
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let mut parse_times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let parsed = sqlparser::parser::Parser::parse_sql(&dialect, &sql).unwrap();
        parse_times.push(started.elapsed());
        assert_eq!(parsed.len(), 1);
    }
    let ms = |mut t: Vec<std::time::Duration>, q: usize| {
        t.sort();
        t[t.len() * q / 100].as_secs_f64() * 1e3
    };
    println!("quick|guard p50, 5 KB read|{:.3}", ms(times.clone(), 50));
    println!("quick|guard p99, 5 KB read|{:.3}", ms(times.clone(), 99));
    println!(
        "guard on a {} byte query: p50 {:.3} ms, p99 {:.3} ms (parsing alone: p50 {:.3} ms; re-reading the {}-byte canonical form: p50 {:.3} ms)",
        sql.len(),
        ms(times.clone(), 50),
        ms(times, 99),
        ms(parse_times, 50),
        canonical.len(),
        ms(verify_times, 50)
    );
    // Nested WITH RECURSIVE, each level shifting a masked value one column a round (8^10 walks
    // unbounded): refused by the step budget.
    let nested = guard::samples::nested_recursive_ctes(10);
    let mut refusals = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let refused = guard::check(&nested, &policy).unwrap_err();
        refusals.push(started.elapsed());
        assert!(refused.reason.contains("budget"), "{}", refused.reason);
    }
    println!(
        "nested recursive CTEs ({} bytes) refused by the step budget in p50 {:.1} ms, p99 {:.1} ms\n",
        nested.len(),
        ms(refusals.clone(), 50),
        ms(refusals, 99)
    );
}
