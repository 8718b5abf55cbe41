//! REPL overhead through the route: `POST /api/query/run` over HTTP, signed in (session read,
//! authorization, platform defaults, limiter slot and token, guard, wrapper, masks, the
//! `started` and `finished` audit events), against the raw driver running the same SQL on a
//! fresh connection, as the REPL does. The replica is PostgreSQL with 1,000,000 rows and a
//! primary key, so the one-row case is an index lookup and its overhead is the console's, not a
//! scan. The console runs in-process, started from a configuration as `main` starts it, on a
//! SQLite and on a PostgreSQL store. Run with `make bench`.

mod common;

use console_core::query::{replicas, Engine, Replica};
use console_core::store::testing::{self, ScratchDb};
use sqlx::{Connection, Executor, Row};
use std::time::{Duration, Instant};

const RUNS: usize = 200;

#[tokio::main]
async fn main() {
    let replica = ScratchDb::postgres("repl_bench").await;
    let mut conn = sqlx::PgConnection::connect(&replica.url).await.unwrap();
    conn.execute("CREATE TABLE big (id int PRIMARY KEY, email text, bucket int)").await.unwrap();
    conn.execute(
        "INSERT INTO big SELECT g, md5(g::text), g % 100 FROM generate_series(1, 1000000) g",
    )
    .await
    .unwrap();
    conn.execute("ANALYZE big").await.unwrap();
    let plan: String = sqlx::query("EXPLAIN SELECT id, email, bucket FROM big WHERE id = 42")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert!(plan.contains("Index Scan"), "the one-row case must be an index lookup: {plan}");
    conn.close().await.unwrap();

    let sqlite_dir = tempfile::tempdir().unwrap();
    let postgres_store = testing::postgres().await;
    let stores = [
        ("SQLite", format!("sqlite://{}/console.db", sqlite_dir.path().display())),
        ("PostgreSQL", postgres_store.url.clone()),
    ];
    println!("Tier-1 service (row cap 500, masks on), p50 of {RUNS}:\n");
    println!("| query | store | raw driver p50 | route p50 | overhead |");
    println!("|---|---|---|---|---|");
    for (store_label, database_url) in stores {
        let (base, store) = serve(&database_url, &replica.url).await;
        let client = common::signed_in_client(&base, "maria").await;
        for (label, sql) in [
            ("1 row by primary key", "SELECT id, email, bucket FROM big WHERE id = 42"),
            ("500 rows (the cap)", "SELECT id, email, bucket FROM big WHERE id <= 500"),
        ] {
            let runs = if common::quick() { 50 } else { RUNS };
            let (mut raw, mut route) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
            for _ in 0..runs {
                let started = Instant::now();
                let mut c = sqlx::PgConnection::connect(&replica.url).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
                let _: Vec<String> = rows.iter().map(|r| r.get::<String, _>(1)).collect();
                c.close().await.unwrap();
                raw.push(started.elapsed());

                // The per-minute allowance is spent in 30 runs; refilled outside the timing.
                sqlx::query("DELETE FROM limiter_buckets").execute(store.pool()).await.unwrap();
                let started = Instant::now();
                let reply = client
                    .post(format!("{base}/api/query/run"))
                    .header("origin", &base)
                    .json(&serde_json::json!({"service": "payments-api", "replica": "bench", "sql": sql}))
                    .send()
                    .await
                    .unwrap();
                let status = reply.status();
                let body: serde_json::Value = reply.json().await.unwrap();
                route.push(started.elapsed());
                assert!(status.is_success(), "{status}: {body}");
                assert_eq!(body["rows"].as_array().unwrap().len(), rows.len(), "{body}");
                assert_eq!(body["rows"][0][1], "••••", "masked");
            }
            let (raw, route) = (p50(raw), p50(route));
            common::report(&format!("REPL route p50, {label}, {store_label} store"), route);
            common::report(
                &format!("REPL overhead over the driver, {label}, {store_label} store"),
                route.saturating_sub(raw),
            );
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "| {label} | {store_label} | {:.2} ms | {:.2} ms | {:+.2} ms |",
                ms(raw),
                ms(route),
                ms(route) - ms(raw)
            );
        }
    }
    postgres_store.drop().await;
}

/// The console from a configuration on `database_url` (demo catalog, dev sign-in), with the
/// replica `bench` of `payments-api` (tier 1) at `replica_url`, serving on a port the OS picks.
async fn serve(database_url: &str, replica_url: &str) -> (String, console_core::store::Store) {
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/catalog");
    // Listening where the configuration says: the Origin check compares with that address.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let env = [
        ("CONSOLE_LISTEN", addr.to_string()),
        ("CONSOLE_DATABASE_URL", database_url.to_string()),
        ("CONSOLE_CATALOG_DIR", catalog.display().to_string()),
        ("CONSOLE_AUTH__DEV_SIGN_IN", "true".to_string()),
    ];
    let config = console::config::Config::load(None, env.map(|(k, v)| (k.to_string(), v))).unwrap();
    let console = console::start::start(&config).await.unwrap();
    let store = console.state.store.clone();
    let replica = Replica::new("bench", "payments-api", "bench", Engine::Postgres, replica_url);
    replicas::register(&store, &replica, "bench").await.unwrap();
    let base = format!("http://{addr}");
    let router = console::router(console.state.clone());
    tokio::spawn(async move {
        let _console = console;
        axum::serve(listener, router).await.unwrap();
    });
    (base, store)
}

fn p50(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
