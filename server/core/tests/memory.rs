//! Huge cells cannot blow up the console: the replica cuts every cell before sending it
//! (PostgreSQL, MariaDB), and SQLite, which runs inside the console, may not build values past a
//! per-connection limit. Each test reads its own process's peak RSS (nextest runs every test in
//! a process of its own), so the figure is this query's, not a neighbour's.
//!
//! The bound stated in docs/repl-guarantees.md: an answer holds at most row cap × columns cells
//! of at most CELL_CHARS characters, and reading stops past RESULT_BYTES; here, a few MB.

use console_core::query::limits::Limits;
use console_core::query::run::{run, CELL_CHARS};
use console_core::query::Engine;
use std::time::Duration;

/// Generous for the bound (the answers below are about 1 MB); the unbounded runs grew by
/// 130 MB and more.
const GROWTH_LIMIT_KB: u64 = 48 * 1024;

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn limits() -> Limits {
    Limits {
        statement_timeout: Duration::from_secs(30),
        row_cap: 100,
        masks: vec![],
        allowed_schemas: vec![],
        connect_timeout: Duration::from_secs(3),
        extra_functions: vec![],
    }
}

async fn prove(engine: Engine, url: &str, warm_up: &str, huge: &str) {
    // Warm up: connections, schema snapshot, allocator arenas.
    run(engine, url, warm_up, &limits()).await.unwrap();
    let before = peak_rss_kb();
    let outcome = run(engine, url, huge, &limits()).await;
    let grown = peak_rss_kb().saturating_sub(before);
    match &outcome {
        Ok(result) => {
            assert!(!result.rows.is_empty(), "{engine:?}: {result:?}");
            for cell in result.rows.iter().flatten().flatten() {
                assert!(
                    cell.chars().count() <= CELL_CHARS,
                    "{engine:?}: a cell of {} characters came back",
                    cell.len()
                );
            }
        }
        // SQLite refuses to build the value at all: a clear error, nothing held.
        Err(e) => {
            assert!(engine == Engine::Sqlite && e.to_string().contains("error"), "{engine:?}: {e}")
        }
    }
    assert!(grown < GROWTH_LIMIT_KB, "{engine:?}: peak RSS grew by {grown} KB for one query");
}

#[tokio::test]
async fn huge_cells_on_postgres_are_cut_on_the_replica() {
    let url = console_core::store::testing::postgres_admin_url();
    // One 64 MB cell: the driver would hold all of it (and its text copy) before any cap of ours.
    prove(
        Engine::Postgres,
        &url,
        "SELECT 1",
        "SELECT string_agg(md5(g::text), '') AS big FROM generate_series(1, 2000000) AS g",
    )
    .await;
}

#[tokio::test]
async fn wide_rows_on_postgres_get_shorter_cells() {
    let url = console_core::store::testing::postgres_admin_url();
    // 600 columns of 64 KB each would be 38 MB a row; cells shrink so a row stays within the cap.
    let columns: Vec<String> = (1..=600).map(|i| format!("s.x AS a{i}")).collect();
    let wide = format!("SELECT {} FROM (SELECT string_agg(md5(g::text), '') AS x FROM generate_series(1, 3000) AS g) AS s, generate_series(1, 3)", columns.join(", "));
    prove(Engine::Postgres, &url, "SELECT 1", &wide).await;
    let result = run(Engine::Postgres, &url, &wide, &limits()).await.unwrap();
    let row_bytes: usize = result.rows[0].iter().flatten().map(String::len).sum();
    assert!(row_bytes <= console_core::query::run::RESULT_BYTES, "{row_bytes}");
}

#[tokio::test]
async fn huge_cells_on_mariadb_are_cut_on_the_replica() {
    // 20 rows of 7.7 MB each.
    let huge = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 30000) \
                SELECT r.n, CONCAT(d.x, d.x, d.x, d.x, d.x, d.x, d.x, d.x) AS big \
                FROM (SELECT GROUP_CONCAT(MD5(n) SEPARATOR '') AS x FROM c) AS d, c AS r WHERE r.n <= 20 ORDER BY r.n DESC";
    prove(Engine::Mysql, "mysql://root@127.0.0.1:3306/test", "SELECT 1", huge).await;
    // The inner ORDER BY survives the wrapping (MariaDB drops it in a derived table without LIMIT).
    let ordered =
        run(Engine::Mysql, "mysql://root@127.0.0.1:3306/test", huge, &limits()).await.unwrap();
    assert_eq!(ordered.rows[0][0].as_deref(), Some("20"));
    assert_eq!(ordered.columns, ["n", "big"]);
}

#[tokio::test]
async fn huge_values_on_sqlite_are_refused_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    std::fs::File::create(&path).unwrap();
    let url = format!("sqlite://{}", path.display());
    // Doubling a string 23 times: 64 MB in the last row, built inside the console's process.
    let huge = "WITH RECURSIVE c(n, s) AS (SELECT 1, 'xxxxxxxxxxxxxxxx' UNION ALL SELECT n + 1, s || s FROM c WHERE n < 23) SELECT n, s FROM c";
    prove(Engine::Sqlite, &url, "SELECT 1", huge).await;
}
