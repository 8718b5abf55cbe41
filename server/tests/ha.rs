//! Two console processes on one PostgreSQL store, as the `ha` overlay runs them, with requests
//! going to either: started together they migrate, seed and import once; a session, a defaults
//! change and the per-person limits hold across both; cancel on one stops a query on the other;
//! one is killed (-9) with a query and a follow running, and the other answers every request
//! that follows, closes the dead one's query (stopped on the replica, recorded abandoned) and
//! reads through every store connection being terminated.

mod common;
use common::process::{self, Process};
use console_core::query::{replicas, Engine, Replica};
use console_core::store::testing::ScratchDb;
use console_core::store::Store;
use serde_json::json;
use std::time::{Duration, Instant};

const LONG_QUERY: &str = "SELECT COUNT(*) FROM n a, n b, n c";

/// Statements running on the replica's database, other than the asker's.
async fn active_on(replica: &ScratchDb) -> i64 {
    let pool = sqlx::PgPool::connect(&replica.url).await.unwrap();
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()",
    )
    .bind(&replica.name)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    n
}

/// Waits until `what` holds, polling.
async fn until<F: AsyncFnMut() -> bool>(within: Duration, why: &str, mut what: F) {
    let deadline = Instant::now() + within;
    while !what().await {
        assert!(Instant::now() < deadline, "{why} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn running_queries(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM running_work WHERE backend <> ''")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Runs the long query as the cookie's person on `console`, in the background.
fn long_query(
    console: &Process,
    http: &reqwest::Client,
    cookie: &str,
) -> tokio::task::JoinHandle<(u16, String)> {
    let (http, base, cookie) = (http.clone(), console.base.clone(), cookie.to_string());
    tokio::spawn(async move {
        match http
            .post(format!("{base}/api/query/run"))
            .header("origin", &base)
            .header("cookie", &cookie)
            .json(&json!({"service": "payments-api", "replica": "payments-pg", "sql": LONG_QUERY}))
            .send()
            .await
        {
            Ok(reply) => (reply.status().as_u16(), reply.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    })
}

async fn follow(console: &Process, http: &reqwest::Client, cookie: &str) -> reqwest::Response {
    http.get(format!("{}/services/ledger/logs/stream?follow=true", console.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_consoles_on_one_store_survive_one_being_killed() {
    let dir = tempfile::tempdir().unwrap();
    let store_db = ScratchDb::postgres("ha_store").await;
    let replica_db = ScratchDb::postgres("ha_replica").await;
    let pool = sqlx::PgPool::connect(&replica_db.url).await.unwrap();
    sqlx::query("CREATE TABLE n AS SELECT g AS i FROM generate_series(1, 3000) g")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let http = process::http();

    // Started at once on an empty database: both migrate, seed and import, one import in all.
    let a = process::spawn("a", dir.path(), &store_db.url, &[]);
    let b = process::spawn("b", dir.path(), &store_db.url, &[]);
    tokio::join!(a.ready(&http), b.ready(&http));
    let unchanged =
        [&a, &b].iter().filter(|c| c.log_text().contains("catalog unchanged since")).count();
    assert_eq!(unchanged, 1, "one imported, the other found the files imported");
    let store = Store::open(&store_db.url).await.unwrap();
    let services: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM services").fetch_one(store.pool()).await.unwrap();
    assert_eq!(services, 39);
    let replica = Replica::new(
        "payments-pg",
        "payments-api",
        "payments-pg",
        Engine::Postgres,
        &replica_db.url,
    );
    replicas::register(&store, &replica, "sre").await.unwrap();

    // A session made on one works on the other.
    let maria = a.sign_in(&http, "maria").await;
    let (status, me) = b.call(&http, &maria, "auth/session", json!({})).await;
    assert_eq!(status, 200);
    assert!(me.contains("maria"), "{me}");

    // A defaults change on one is in force on the other's next request: two follows a person.
    let sre = b.sign_in(&http, "sre").await;
    let (_, loaded) = a.call(&http, &sre, "admin/defaults", json!({})).await;
    let loaded: serde_json::Value = serde_json::from_str(&loaded).unwrap();
    let document = loaded["document"].as_str().unwrap();
    assert!(document.contains("max_follows_per_user = 3"), "{document}");
    let (status, saved) = a
        .call(
            &http,
            &sre,
            "admin/save-document",
            json!({
                "based_on": loaded["version"],
                "document": document.replace("max_follows_per_user = 3", "max_follows_per_user = 2"),
                "note": "two follows a person"
            }),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let (_, exported) = b.get(&http, &sre, "/admin/defaults.toml").await;
    assert!(exported.contains("max_follows_per_user = 2"), "{exported}");

    // The follow limit holds across both: one on each, the third refused on either.
    let mut on_a = follow(&a, &http, &maria).await;
    assert_eq!(on_a.status(), 200);
    let on_b = follow(&b, &http, &maria).await;
    assert_eq!(on_b.status(), 200);
    for console in [&a, &b] {
        // Refusals reach an EventSource as a `problem` event (it cannot read an error body).
        let mut third = follow(console, &http, &maria).await;
        let said = String::from_utf8_lossy(&third.chunk().await.unwrap().unwrap()).to_string();
        assert!(said.starts_with("event: problem"), "a third follow on {}: {said}", console.base);
    }
    drop(on_b);

    // The query limit too, and cancel on one stops the query running under the other.
    let running = long_query(&a, &http, &maria);
    until(Duration::from_secs(10), "the query runs", async || running_queries(&store).await == 1)
        .await;
    let (status, refused) = b
        .call(
            &http,
            &maria,
            "query/run",
            json!({"service": "payments-api", "replica": "payments-pg", "sql": "SELECT 1"}),
        )
        .await;
    assert_eq!(status, 429, "{refused}");
    let (status, cancelled) = b
        .call(
            &http,
            &maria,
            "query/cancel",
            json!({"service": "payments-api", "replica": "payments-pg"}),
        )
        .await;
    assert_eq!((status, cancelled.as_str()), (200, "true"));
    let (status, body) = running.await.unwrap();
    assert!(body.contains("cancelled"), "{status} {body}");
    assert_eq!(active_on(&replica_db).await, 0, "stopped on the replica");

    // Kill -9 A with a query running and a follow open.
    let dying = long_query(&a, &http, &maria);
    until(Duration::from_secs(10), "the query runs", async || running_queries(&store).await == 1)
        .await;
    assert!(on_a.chunk().await.unwrap().is_some(), "the follow streams");
    a.signal("-KILL");
    let killed = Instant::now();
    let (status, _) = dying.await.unwrap();
    assert_eq!(status, 0, "the dead console answers nothing");

    // The survivor answers every request from now on, through eight rounds of every store
    // connection being terminated, and closes the dead one's query.
    // Sixteen clients, as many requests in flight as a busy replica has.
    let traffic: Vec<_> = (0..16)
        .map(|client| {
            let (http, base, maria) = (http.clone(), b.base.clone(), maria.clone());
            tokio::spawn(async move {
                let (mut count, mut failures) = (0, Vec::new());
                let stop = Instant::now() + Duration::from_secs(25);
                let paths = ["/catalog", "/services/ledger", "/api/v1/services", "/search"];
                while Instant::now() < stop {
                    count += 1;
                    let path = paths[(client + count) % paths.len()];
                    let reply = if path == "/search" {
                        http.post(format!("{base}/api/catalog/search"))
                            .header("origin", &base)
                            .json(&json!({"query": {"text": "pay", "squad": null, "tier": null, "lifecycle": null, "readiness": null, "page": 1}}))
                    } else {
                        http.get(format!("{base}{path}"))
                    }
                    .header("cookie", &maria)
                    .send()
                    .await;
                    match reply {
                        Ok(r) if r.status().is_success() => {}
                        Ok(r) => failures.push(format!("{path}: {}", r.status())),
                        Err(e) => failures.push(format!("{path}: {e}")),
                    }
                }
                (count, failures)
            })
        })
        .collect();
    let admin = sqlx::PgPool::connect(&store_db.url).await.unwrap();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&store_db.name)
        .execute(&admin)
        .await
        .unwrap();
    }
    admin.close().await;
    until(Duration::from_secs(40), "the dead console's query closed", async || {
        let closed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'query.abandoned' AND detail LIKE '%closed by another replica%'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap_or(0);
        closed == 1
    })
    .await;
    let closed_after = killed.elapsed();
    assert_eq!(active_on(&replica_db).await, 0, "its statement stopped on the replica");
    let (mut count, mut failures) = (0, Vec::new());
    for client in traffic {
        let (n, failed) = client.await.unwrap();
        count += n;
        failures.extend(failed);
    }
    assert!(failures.is_empty(), "{} of {count} requests failed: {failures:?}", failures.len());
    assert!(count > 100, "traffic ran: {count}");
    assert!(closed_after < Duration::from_secs(30), "closed {closed_after:?} after the kill");

    // No audit event lost: every started query has exactly one end, the throttled one is there.
    let ends: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.attempt, (SELECT COUNT(*) FROM audit_events e WHERE e.attempt = s.attempt AND e.kind IN ('query.finished', 'query.abandoned'))
         FROM audit_events s WHERE s.kind = 'query.started'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(ends.len(), 2, "{ends:?}");
    assert!(ends.iter().all(|(_, n)| *n == 1), "{ends:?}");
    let throttled: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'query.throttled'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(throttled, 1);
    // The dead console's follow slot frees itself with its lease: maria may follow on B again.
    until(Duration::from_secs(20), "the dead follow's slot expired", async || {
        let mut again = follow(&b, &http, &maria).await;
        let said = again.chunk().await.unwrap().unwrap_or_default();
        !String::from_utf8_lossy(&said).starts_with("event: problem")
    })
    .await;
}
