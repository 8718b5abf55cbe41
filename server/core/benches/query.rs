//! REPL benchmark: the overhead over the raw driver of the guarded run (guard, cell-bounding
//! wrapper, decode, masks) and of the whole flow (limiter slot and token, `started` and
//! `finished` audit events, on a SQLite and on a PostgreSQL store), and memory while a capped
//! query reads a 1,000,000-row table. PostgreSQL on 127.0.0.1. Run with `make bench`. The
//! guard's own time is `benches/guard.rs`.

use console_core::catalog::Tier;
use console_core::limiter::Limiter;
use console_core::query::limits::Limits;
use console_core::query::replicas;
use console_core::query::run::run;
use console_core::query::{Engine, Replica};
use console_core::store::{testing, Store};
use sqlx::{Connection, Executor, Row};
use std::time::{Duration, Instant};

const RUNS: usize = 200;

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn p50(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    let replica_db = testing::ScratchDb::postgres("repl_bench").await;
    let url = replica_db.url.clone();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    conn.execute("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS email, g % 100 AS bucket FROM generate_series(1, 1000000) g").await.unwrap();
    // A primary key: the one-row case is an index lookup, so its time is the REPL's, not a scan.
    conn.execute("ALTER TABLE big ADD PRIMARY KEY (id)").await.unwrap();
    conn.execute("ANALYZE big").await.unwrap();
    conn.close().await.unwrap();

    let limits = Limits {
        statement_timeout: Duration::from_secs(30),
        row_cap: 10_000,
        masks: vec!["email".into()],
        allowed_schemas: vec![],
        connect_timeout: Duration::from_secs(5),
        extra_functions: vec![],
    };
    let sqlite_store = testing::sqlite().await;
    let postgres_store = testing::postgres().await;
    let replica = Replica {
        statement_timeout_ms: Some(30_000),
        row_cap: Some(10_000),
        masks: Some(vec!["email".into()]),
        ..Replica::new("bench", "bench", "bench", Engine::Postgres, &url)
    };
    println!("| query | raw driver p50 | guarded run p50 | overhead | whole flow, SQLite store | overhead | whole flow, PostgreSQL store | overhead |");
    println!("|---|---|---|---|---|---|---|---|");
    for (label, sql) in [
        ("1 row", "SELECT id, email, bucket FROM big WHERE id = 42"),
        ("10,000 rows", "SELECT id, email, bucket FROM big WHERE id <= 10000"),
    ] {
        // All open a connection per query, as the REPL does by design.
        let (mut raw, mut repl, mut flow_sqlite, mut flow_postgres) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..RUNS {
            let started = Instant::now();
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
            let _: Vec<String> = rows.iter().map(|r| r.get::<String, _>(1)).collect();
            c.close().await.unwrap();
            raw.push(started.elapsed());

            let started = Instant::now();
            let result = run(Engine::Postgres, &url, sql, &limits).await.unwrap();
            assert!(!result.rows.is_empty());
            repl.push(started.elapsed());

            for (store, times) in
                [(&sqlite_store, &mut flow_sqlite), (&postgres_store.store, &mut flow_postgres)]
            {
                times.push(whole_flow(store, &replica, &format!("bench{i}"), sql).await);
            }
        }
        let raw = p50(raw);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let cell = |d: Duration| format!("{:.2} ms | {:+.2} ms", ms(d), ms(d) - ms(raw));
        println!(
            "| {label} | {:.2} ms | {} | {} | {} |",
            ms(raw),
            cell(p50(repl)),
            cell(p50(flow_sqlite)),
            cell(p50(flow_postgres))
        );
    }

    let before = rss_kb("VmHWM:");
    let capped = Limits { row_cap: 1_000, ..limits };
    let started = Instant::now();
    let result = run(Engine::Postgres, &url, "SELECT * FROM big", &capped).await.unwrap();
    let elapsed = started.elapsed();
    assert!(result.truncated && result.rows.len() == 1_000);
    let after = rss_kb("VmHWM:");
    println!(
        "\ncapped query over 1,000,000 rows (cap 1,000): {:.1} ms, peak RSS of the process {} MB before, {} MB after (+{} KB)",
        elapsed.as_secs_f64() * 1e3,
        before / 1024,
        after / 1024,
        after.saturating_sub(before)
    );
    postgres_store.drop().await;
}

/// What a request costs past authorization: a slot and a token from the store's limiter, the
/// `started` event, the guarded run, the `finished` event, the slot's release.
async fn whole_flow(store: &Store, replica: &Replica, login: &str, sql: &str) -> Duration {
    let limiter = Limiter::new(store.clone());
    let started = Instant::now();
    let slot = limiter.acquire("query", login, &replica.id).await.unwrap().unwrap();
    assert!(limiter.take_token("query", login, 30).await.unwrap());
    let result = replicas::query_holding(store, login, replica, Tier::new(3).unwrap(), sql, slot)
        .await
        .unwrap()
        .unwrap();
    assert!(!result.rows.is_empty());
    started.elapsed()
}
