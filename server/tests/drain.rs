//! SIGTERM as Kubernetes sends it, to the real binary, during a running query and an open log
//! follow: readiness goes false at once while everything is still served (no 5xx) for the
//! pre-stop delay; then the follow ends with its reason, the query is stopped and recorded
//! `abandoned` ("the console stopped"), and the process exits within the drain bound.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PRE_STOP: u64 = 2;
const TIMEOUT: u64 = 5;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_then_exits_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let (port, sandbox) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{port}");
    let db = dir.path().join("console.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_console"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONSOLE_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("CONSOLE_LISTEN", format!("127.0.0.1:{port}"))
        .env("CONSOLE_CATALOG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/catalog"))
        .env("CONSOLE_DEMO_REPLICA", dir.path().join("replica.db"))
        .env("CONSOLE_SITE_ROOT", dir.path())
        .env("CONSOLE_AUTH__DEV_SIGN_IN", "true")
        .env("CONSOLE_KUBERNETES__SANDBOX", format!("127.0.0.1:{sandbox}"))
        .env("CONSOLE_KUBERNETES__KUBECONFIG", dir.path().join("kubeconfig"))
        .env("CONSOLE_DRAIN_DELAY_SECONDS", PRE_STOP.to_string())
        .env("CONSOLE_DRAIN_TIMEOUT_SECONDS", TIMEOUT.to_string())
        .env("CONSOLE_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut ready = false;
    for _ in 0..200 {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the console started");
    let signed_in = http
        .post(format!("{base}/auth/dev"))
        .header("origin", &base)
        .form(&[("login", "maria")])
        .send()
        .await
        .unwrap();
    let cookie =
        signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();

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
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The pre-stop delay: unready, yet everything answers.
    let readyz = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 503);
    for path in ["/healthz", "/catalog", "/api/v1/services"] {
        let reply =
            http.get(format!("{base}{path}")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{path} during the pre-stop delay");
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
        if let Some(status) = child.try_wait().unwrap() {
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
