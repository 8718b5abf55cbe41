//! A console that dies without draining (kill -9, OOM, a lost node) leaves its running queries
//! behind: once its lease expires, a surviving replica stops the statement on the replica and
//! records the attempt `abandoned`, exactly once; the dead console, were it only paused, would
//! not record it a second time.

use console_core::audit::{self, running};
use console_core::catalog::Tier;
use console_core::limiter::Limiter;
use console_core::query::{replicas, Engine, Replica};
use console_core::store::testing::{self, ScratchDb};
use console_core::store::Store;
use std::time::{Duration, Instant};

/// Statements of `database` running now, other than the asker's.
async fn active_on(url: &str, database: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    n
}

async fn events_of(store: &Store, attempt: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, detail FROM audit_events WHERE attempt = $1 ORDER BY id")
        .bind(attempt)
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_consoles_query_is_stopped_and_closed_by_a_survivor() {
    let db = testing::postgres().await;
    let store = db.store.clone();
    let replica_db = ScratchDb::postgres("orphan_replica").await;
    let pool = sqlx::PgPool::connect(&replica_db.url).await.unwrap();
    sqlx::query("CREATE TABLE n AS SELECT g AS i FROM generate_series(1, 3000) g")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let replica = Replica::new("orders-ro", "ledger", "orders", Engine::Postgres, &replica_db.url);
    replicas::register(&store, &replica, "sre").await.unwrap();

    // Console A runs a long query on a runtime of its own and dies once the statement runs: the
    // runtime is dropped with its tasks (no drain, no release, the heartbeat gone), the
    // connection to the replica closed under the statement, as kill -9 leaves it.
    let (url, replica_a) = (db.url.clone(), replica.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            // A console process of its own: its own connections to the store.
            let store_a = Store::open(&url).await.unwrap();
            let limiter = Limiter::new(store_a.clone())
                .with_lease(Duration::from_secs(2), Duration::from_millis(200));
            let slot = limiter.acquire("query", "maria", "orders-ro").await.unwrap().unwrap();
            let run = replicas::query_holding(
                &store_a,
                "maria",
                &replica_a,
                Tier::new(3).unwrap(),
                "SELECT COUNT(*) FROM n a, n b, n c",
                slot,
            );
            let backend_known = async {
                loop {
                    let known: Option<String> =
                        sqlx::query_scalar("SELECT backend FROM running_work WHERE backend <> ''")
                            .fetch_optional(store_a.pool())
                            .await
                            .unwrap();
                    if known.is_some() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            tokio::select! {
                _ = run => panic!("the query ended before the console died"),
                _ = backend_known => {}
            }
        });
        // A current-thread runtime runs nothing outside block_on: dropping it is the death.
        drop(runtime);
    })
    .join()
    .unwrap();

    let attempt: String =
        sqlx::query_scalar("SELECT attempt FROM audit_events WHERE kind = 'query.started'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(events_of(&store, &attempt).await.len(), 1, "only started, nobody closed it");
    assert_eq!(active_on(&replica_db.url, &replica_db.name).await, 1, "the statement runs on");

    // The survivor's sweep: nothing while the lease lives, then the attempt, once.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut closed = 0;
    while closed == 0 {
        assert!(Instant::now() < deadline, "closed within the lease and a sweep");
        closed = replicas::close_orphans(&store).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(closed, 1);
    assert_eq!(replicas::close_orphans(&store).await.unwrap(), 0, "closed once");
    assert_eq!(active_on(&replica_db.url, &replica_db.name).await, 0, "stopped on the replica");
    let events = events_of(&store, &attempt).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].0, audit::QUERY_ABANDONED);
    assert!(
        events[1].1.contains("the console stopped") && events[1].1.contains("not running"),
        "{events:?}"
    );
    // The person may query again at once.
    let limiter = Limiter::new(store.clone());
    assert!(limiter.acquire("query", "maria", "orders-ro").await.unwrap().is_some());
    db.drop().await;
}

/// A console whose lease lapsed (the store away longer than the lease) but which lives on: the
/// survivor closes the attempt, and the console's own end then finds it closed.
#[tokio::test]
async fn the_end_of_an_attempt_is_written_by_one_side_only() {
    let store = testing::sqlite().await;
    let work = running::Running {
        attempt: "a1".into(),
        holder: "h-lapsed".into(),
        actor: "maria".into(),
        token: String::new(),
        entity: "ledger".into(),
        target: "gone-replica".into(),
        backend: String::new(),
        started_at: console_core::dates::now(),
    };
    running::begin(&store, &work).await.unwrap();
    assert_eq!(running::orphans(&store).await.unwrap(), vec![work.clone()], "no lease holds it");
    assert!(running::claim(&store, &work).await.unwrap());
    assert!(!running::claim(&store, &work).await.unwrap(), "a second replica gets nothing");
    assert!(!running::end(&store, "a1").await.unwrap(), "the console owes no end any more");

    // Work under a live lease is nobody's orphan, and its console owes its end.
    let limiter = Limiter::new(store.clone());
    let lease = limiter.acquire("query", "ines", "r1").await.unwrap().unwrap();
    let live = running::Running { attempt: "a2".into(), holder: lease.holder().into(), ..work };
    running::begin(&store, &live).await.unwrap();
    assert!(running::orphans(&store).await.unwrap().is_empty());
    assert!(running::end(&store, "a2").await.unwrap());
    lease.release().await;
}
