//! The store's limiter on both stores: rates and running slots hold across limiters sharing a
//! store (as console replicas do), and a slot whose holder stopped renewing expires.

use console_core::limiter::Limiter;
use console_core::store::{testing, Store};
use std::time::Duration;

async fn prove(store: Store) {
    // Two console replicas: two limiters, one store.
    let (a, b) = (Limiter::new(store.clone()), Limiter::new(store.clone()));
    let mut passed = 0;
    for i in 0..40 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        if limiter.take_token("query", "maria", 30).await.unwrap() {
            passed += 1;
        }
    }
    // 30 in the bucket; refilled at one every 2 s, so a slow run may see one more.
    assert!((30..=31).contains(&passed), "{passed} of 40 passed a 30-a-minute limit");
    assert!(a.take_token("query", "joao", 30).await.unwrap(), "buckets are per user");

    // One running slot per user and resource, whichever replica asks.
    let held = a.acquire("query", "maria", "r1").await.unwrap().expect("a free slot");
    assert!(b.acquire("query", "maria", "r1").await.unwrap().is_none());
    assert!(
        b.acquire("query", "maria", "r2").await.unwrap().is_some(),
        "another resource is another slot"
    );
    // A cancel request through the other replica reaches the holder at its next heartbeat.
    assert!(b.request_cancel("query", "maria", "r1").await.unwrap());
    tokio::time::timeout(Duration::from_secs(5), async {
        while !held.cancel.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the holder saw the cancel");
    held.release().await;
    let again = b.acquire("query", "maria", "r1").await.unwrap().expect("released slots are free");
    again.release().await;

    // A cancelled holder keeps its slot until it releases it (the replica has not confirmed yet).
    let short = Limiter::new(store.clone())
        .with_lease(Duration::from_millis(600), Duration::from_millis(100));
    let cancelled = short.acquire("query", "ines", "r1").await.unwrap().unwrap();
    assert!(b.request_cancel("query", "ines", "r1").await.unwrap());
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(cancelled.cancel.is_cancelled());
    assert!(
        b.acquire("query", "ines", "r1").await.unwrap().is_none(),
        "a cancelled slot stays held until released"
    );
    cancelled.release().await;
    assert!(b.acquire("query", "ines", "r1").await.unwrap().is_some());

    // A holder that stops renewing (a killed console) loses its slot when the lease runs out.
    // The lease is many heartbeats long: on a loaded machine a renewal can be late by a second.
    let short = Limiter::new(store.clone())
        .with_lease(Duration::from_millis(2_000), Duration::from_millis(100));
    let kept = short.acquire("query", "lena", "r1").await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        b.acquire("query", "lena", "r1").await.unwrap().is_none(),
        "a renewed slot stays held past its first lease"
    );
    kept.abandon();
    assert!(
        b.acquire("query", "lena", "r1").await.unwrap().is_none(),
        "not before the lease runs out"
    );
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert!(
        b.acquire("query", "lena", "r1").await.unwrap().is_some(),
        "the stopped holder's slot expired"
    );
}

#[tokio::test]
async fn limits_hold_across_replicas_on_sqlite() {
    prove(testing::sqlite().await).await;
}

#[tokio::test]
async fn limits_hold_across_replicas_on_postgres() {
    let db = testing::postgres().await;
    prove(db.store.clone()).await;
    db.drop().await;
}
