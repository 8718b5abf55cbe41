//! SIGTERM as Kubernetes sends it, to the real binary, during a running query and an open log
//! follow: readiness goes false at once while everything is still served (no 5xx) for the
//! pre-stop delay; then the follow ends with its reason, the query is stopped and recorded
//! `abandoned` ("the console stopped"), and the process exits within the drain bound.

mod common;
use common::process;
use std::time::{Duration, Instant};

const PRE_STOP: u64 = 2;
const TIMEOUT: u64 = 5;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_then_exits_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("console.db");
    let drain = [
        ("CONSOLE_DRAIN_DELAY_SECONDS", PRE_STOP.to_string()),
        ("CONSOLE_DRAIN_TIMEOUT_SECONDS", TIMEOUT.to_string()),
        ("CONSOLE_LOG_LEVEL", "warn".to_string()),
    ];
    let mut console =
        process::spawn("drained", dir.path(), &format!("sqlite://{}", db.display()), &drain);
    let http = process::http();
    console.ready(&http).await;
    let base = console.base.clone();
    let cookie = console.sign_in(&http, "maria").await;

    // A query that runs for many seconds on the demo replica (200⁴ rows counted).
    let query = tokio::spawn({
        let (http, base, cookie) = (http.clone(), base.clone(), cookie.clone());
        async move {
            let sql = "SELECT COUNT(*) FROM customers a, customers b, customers c, customers d";
            let reply = http
                .post(format!("{base}/api/query/run"))
                .header("origin", &base)
                .header("cookie", &cookie)
                .json(&serde_json::json!({"service": "payments-api", "replica": "payments-demo", "sql": sql}))
                .send()
                .await
                .unwrap();
            (reply.status().as_u16(), reply.text().await.unwrap_or_default())
        }
    });
    // An open follow of ledger's logs.
    let mut follow = http
        .get(format!("{base}/services/ledger/logs/stream?follow=true"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), 200);
    let first = follow.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event:"), "the follow streams");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let terminated = Instant::now();
    console.signal("-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The pre-stop delay: unready, yet everything answers.
    let readyz = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 503);
    for path in ["/healthz", "/catalog", "/api/v1/services"] {
        let reply =
            http.get(format!("{base}{path}")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{path} during the pre-stop delay");
        assert_eq!(reply.headers()["connection"], "close", "{path}: not kept alive");
    }
    assert!(!query.is_finished(), "the query still runs during the pre-stop delay");

    // Then the follow ends with its reason.
    let mut rest = String::new();
    while let Ok(Some(chunk)) = follow.chunk().await {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(rest.contains("restarting"), "the follow says why it ends: {rest}");
    let (status, body) = query.await.unwrap();
    assert!(!body.contains("COUNT"), "no result: {status} {body}");

    // The process exits within the bound.
    let exited = loop {
        if let Some(status) = console.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            terminated.elapsed() < Duration::from_secs(PRE_STOP + TIMEOUT + 2),
            "exits in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exited.success(), "{exited:?}");
    let took = terminated.elapsed();
    assert!(took >= Duration::from_secs(PRE_STOP), "served through the pre-stop delay: {took:?}");

    // The running query was recorded abandoned because the console stopped.
    let store =
        console_core::store::Store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let audit = console_core::audit::export(&store, "test", 0, i64::MAX).await.unwrap();
    let abandoned: Vec<_> = audit.iter().filter(|e| e.kind == "query.abandoned").collect();
    assert_eq!(abandoned.len(), 1, "{audit:?}");
    assert!(abandoned[0].detail.contains("the console stopped"), "{:?}", abandoned[0]);
    assert!(audit.iter().all(|e| e.kind != "query.finished"), "not also finished");
}
