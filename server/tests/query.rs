//! The REPL through the real router: owners query the demo replica, capped and masked; others
//! are refused; every attempt lands in the append-only audit.

mod common;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::{json, Value};
use std::future::IntoFuture;

/// A replica of payments-api that was reachable when designated and is down now (nothing
/// listens on port 9): stored directly, as the designation's check would refuse it today.
async fn down_replica(app: &TestApp, id: &str) {
    let replica = console_core::query::Replica::new(
        id,
        "payments-api",
        "down",
        console_core::query::Engine::Postgres,
        "postgres://reader@127.0.0.1:9/ledger",
    );
    console_core::query::replicas::register(&app.store, &replica, "sre").await.unwrap();
}

async fn with_demo_replica() -> (TestApp, tempfile::TempDir) {
    let app = TestApp::demo().await;
    let dir = tempfile::tempdir().unwrap();
    console::demo::ensure(&app.store, &dir.path().join("demo.db")).await.unwrap();
    (app, dir)
}

async fn run(app: &TestApp, cookie: &str, sql: &str) -> (StatusCode, Value) {
    let reply = app
        .post_json(
            "/api/query/run",
            Some(cookie),
            json!({"service": "payments-api", "replica": "payments-demo", "sql": sql}),
        )
        .await;
    (reply.status, serde_json::from_str(&reply.body).unwrap_or(Value::Null))
}

/// Limits SREs set in the platform defaults reach the REPL and its CSV: values no built-in
/// fallback has (37 rows, 4,321 ms, only e-mails masked).
#[tokio::test]
async fn query_limits_set_in_the_platform_defaults_reach_the_repl_and_the_csv() {
    use console_core::defaults::{actions as defaults, PlatformDefaults};
    let (app, _dir) = with_demo_replica().await;
    let mut document = PlatformDefaults::default();
    let tier1 = document.query.iter_mut().find(|q| q.tier == 1).unwrap();
    (tier1.row_cap, tier1.statement_timeout_ms, tier1.masks) = (37, 4321, vec!["*email*".into()]);
    defaults::save_as(&app.store, 0, &document.to_toml(), "sre", "stricter tier 1").await.unwrap();

    let maria = app.sign_in("maria").await;
    let replicas = app
        .post_json("/api/query/replicas", Some(&maria), json!({"service": "payments-api"}))
        .await
        .json();
    assert_eq!(
        (replicas[0]["row_cap"].clone(), replicas[0]["statement_timeout_ms"].clone()),
        (json!(37), json!(4321))
    );
    let (_, big) = run(&app, &maria, "SELECT * FROM payments").await;
    assert_eq!(big["rows"].as_array().unwrap().len(), 37);
    assert_eq!(big["truncated"], true);
    // The timeout is the SREs' too: an endless query is cancelled after 4.3 s, not the built-in 5.
    let (status, endless) = run(
        &app,
        &maria,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    )
    .await;
    assert_ne!(status, StatusCode::OK);
    assert!(endless.to_string().contains("cancelled after 4.3 s (statement timeout)"), "{endless}");
    let (_, masked) =
        run(&app, &maria, "SELECT email, password_hash FROM customers ORDER BY id LIMIT 1").await;
    assert_eq!(masked["rows"][0][0], "••••", "the masks in force are the SREs'");
    assert_ne!(masked["rows"][0][1], "••••", "and only those: {masked}");
    // The CSV is capped the same (the customers table has 200 rows).
    let csv = app
        .post_form(
            "/services/payments-api/query.csv",
            Some(&maria),
            "replica=payments-demo&sql=SELECT%20id%20FROM%20customers",
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert_eq!(csv.body.lines().count(), 1 + 37);
}

/// The query rate is counted in the store: two console replicas, each started from a
/// configuration on one PostgreSQL store, give a person QUERIES_PER_MINUTE queries in all, not
/// per replica, then a 429 that says why. (The bucket refills one query every 2 s, so a slow run
/// may see one more per 2 s it took; never a second allowance.)
#[tokio::test]
async fn the_query_rate_holds_across_replicas_on_one_store() {
    use console_core::query::actions::QUERIES_PER_MINUTE;
    let db = console_core::store::testing::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(
        "database_url = {:?}\ndemo_replica = {:?}\n[auth]\ndev_sign_in = true",
        db.url,
        dir.path().join("demo.db").display().to_string()
    );
    let replicas = [TestApp::configured(&settings).await, TestApp::configured(&settings).await];
    let maria = replicas[0].sign_in("maria").await;
    let started = std::time::Instant::now();
    let (mut passed, mut refusal) = (0, None);
    for i in 0..2 * QUERIES_PER_MINUTE as usize {
        match run(&replicas[i % 2], &maria, "SELECT 1").await {
            (StatusCode::OK, _) if refusal.is_none() => passed += 1,
            (StatusCode::OK, _) => {}
            (StatusCode::TOO_MANY_REQUESTS, body) => refusal = refusal.or(Some(body)),
            (other, body) => panic!("query {i}: {other}: {body}"),
        }
    }
    let refills = started.elapsed().as_secs() as i64 / 2;
    assert!(
        (QUERIES_PER_MINUTE..=QUERIES_PER_MINUTE + refills).contains(&passed),
        "{passed} passed before the first refusal, across two replicas"
    );
    let refusal = refusal.expect("the allowance ends").to_string();
    assert!(
        refusal.contains(&format!("at most {QUERIES_PER_MINUTE} queries a minute")),
        "{refusal}"
    );
    // Another person has their own allowance.
    let sre = replicas[1].sign_in("sre").await;
    assert_eq!(run(&replicas[1], &sre, "SELECT 1").await.0, StatusCode::OK);
    db.drop().await;
}

#[tokio::test]
async fn owners_query_with_the_tier_limits_and_masks() {
    let (app, _dir) = with_demo_replica().await;
    let maria = app.sign_in("maria").await;
    let replicas = app
        .post_json("/api/query/replicas", Some(&maria), json!({"service": "payments-api"}))
        .await
        .json();
    // payments-api is tier 1: the strictest defaults, without anyone configuring them.
    assert_eq!(replicas[0]["row_cap"], 500);
    assert_eq!(replicas[0]["statement_timeout_ms"], 5000);

    let (status, result) = run(
        &app,
        &maria,
        "SELECT id, name, email, password_hash FROM customers ORDER BY id LIMIT 3",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["rows"][0][1], "Ana 0");
    assert_eq!(result["rows"][0][2], "••••");
    assert_eq!(result["rows"][0][3], "••••");

    let (_, big) = run(&app, &maria, "SELECT * FROM payments").await;
    assert_eq!(big["rows"].as_array().unwrap().len(), 500);
    assert_eq!(big["truncated"], true);

    let schema = app
        .post_json(
            "/api/query/schema",
            Some(&maria),
            json!({"service": "payments-api", "replica": "payments-demo"}),
        )
        .await
        .json();
    assert!(
        schema.to_string().contains("customers") && schema.to_string().contains("amount_cents")
    );
    let page = app.get_as("/services/payments-api/query", Some(&maria)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("at most 500 rows"));

    // A shared link pre-fills the editor; the CSV has the same masks and cap.
    let shared = app.get_as("/services/payments-api/query?replica=payments-demo&sql=SELECT%20name%20FROM%20customers", Some(&maria)).await;
    assert!(
        shared.body.contains("sql=SELECT%20name%20FROM%20customers"),
        "the shared query did not prefill the editor"
    );
    let csv = app
        .post_form(
            "/services/payments-api/query.csv",
            Some(&maria),
            "replica=payments-demo&sql=SELECT%20id%2C%20email%20FROM%20customers%20ORDER%20BY%20id",
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "\"id\",\"email\"");
    assert_eq!(lines[1], "\"1\",\"••••\"");
    assert_eq!(lines.len(), 201);
    // NULL is an empty field, every value (even the empty string and the text NULL) is quoted,
    // and a line break inside a value keeps the row on one line.
    let kinds = app
        .post_form("/services/payments-api/query.csv", Some(&maria), "replica=payments-demo&sql=SELECT+NULL+AS+a%2C+%27%27+AS+b%2C+%27x%27+%7C%7C+char(10)+%7C%7C+%27y%27+AS+c%2C+%27NULL%27+AS+d")
        .await;
    assert_eq!(kinds.status, StatusCode::OK, "{}", kinds.body);
    assert_eq!(kinds.body, "\"a\",\"b\",\"c\",\"d\"\n,\"\",\"x\\ny\",\"NULL\"\n");
    let refused = app
        .post_form(
            "/services/payments-api/query.csv",
            Some(&maria),
            "replica=payments-demo&sql=DELETE%20FROM%20customers",
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("refused"));
    // Invalid UTF-8 is refused with a clear message, and audited.
    let bad = app
        .post_form(
            "/services/payments-api/query.csv",
            Some(&maria),
            "replica=payments-demo&sql=SELECT%20%FF%FE",
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("not valid UTF-8"), "{}", bad.body);
    let sre = app.sign_in("sre").await;
    let audit = app.post_json("/api/query/audit", Some(&sre), json!({})).await.json();
    assert_eq!(audit[0]["reason"], "the query is not valid UTF-8");
    assert_eq!(audit[0]["outcome"], "refused");
    let arjun = app.sign_in("arjun").await;
    assert_eq!(
        app.post_form(
            "/services/payments-api/query.csv",
            Some(&arjun),
            "replica=payments-demo&sql=SELECT%201"
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn refusals_failures_and_reads_are_all_audited() {
    let (app, _dir) = with_demo_replica().await;
    let maria = app.sign_in("maria").await;
    let attempts = [
        ("SELECT count(*) FROM customers", "allowed"),
        ("DELETE FROM customers", "refused"),
        ("", "refused"),
        ("SELECT * FROM customers; DROP TABLE customers", "refused"),
        ("SELECT * FROM no_such_table", "refused"),
        // Passes the guard, fails on the replica (integer overflow).
        ("SELECT abs(-9223372036854775808) FROM customers", "failed"),
    ];
    for (sql, _) in attempts {
        run(&app, &maria, sql).await;
    }
    let huge = format!("SELECT 1 -- {}", "x".repeat(1_000_000));
    let (status, body) = run(&app, &maria, &huge).await;
    assert_ne!(status, StatusCode::OK);
    assert!(body.to_string().contains("longer than"), "{body}");

    let sre = app.sign_in("sre").await;
    let audit = app.post_json("/api/query/audit", Some(&sre), json!({})).await.json();
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), attempts.len() + 1);
    for (sql, outcome) in attempts {
        let entry = entries
            .iter()
            .find(|e| e["sql"] == sql)
            .unwrap_or_else(|| panic!("{sql:?} not audited"));
        assert_eq!(entry["outcome"], outcome, "{sql:?}");
        assert_eq!(entry["login"], "maria");
    }
    let refused = entries.iter().find(|e| e["sql"] == "DELETE FROM customers").unwrap();
    assert!(refused["reason"].as_str().unwrap().contains("read-only statements"));
    // The data is untouched.
    let (_, count) = run(&app, &maria, "SELECT count(*) AS n FROM customers").await;
    assert_eq!(count["rows"][0][0], "200");
    // Developers see their own history (all eight of their attempts, nobody else's), not the
    // audit log.
    assert_eq!(run(&app, &sre, "SELECT 1").await.0, StatusCode::OK);
    let history = app.post_json("/api/query/history", Some(&maria), json!({})).await.json();
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), attempts.len() + 2, "{history:?}");
    assert!(history.iter().all(|e| e["login"] == "maria"), "{history:?}");
    let refused = app.post_json("/api/query/audit", Some(&maria), json!({})).await;
    assert!(refused.body.contains("Forbidden"));
    // SREs browse it and export it; CSV cells cannot smuggle spreadsheet formulas.
    run(&app, &maria, "=cmd|' /C calc'!A0").await;
    let csv = app.get_as("/admin/audit.csv", Some(&sre)).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv
        .body
        .starts_with("id,at,login,service,replica,outcome,reason,rows,duration_ms,sql\n"));
    assert!(csv.body.contains("\"DELETE FROM customers\""));
    assert!(csv.body.contains("\"'=cmd|"), "formula not neutralised");
    let page = app.get_as("/audit", Some(&sre)).await;
    assert!(page.body.contains("DELETE FROM customers"));
}

#[tokio::test]
async fn other_squads_are_refused_and_a_down_replica_is_a_clear_error() {
    let (app, _dir) = with_demo_replica().await;
    let arjun = app.sign_in("arjun").await;
    let (_, body) = run(&app, &arjun, "SELECT 1").await;
    assert!(body.to_string().contains("Forbidden"), "{body}");
    assert_eq!(
        app.get_as("/services/payments-api/query", Some(&arjun)).await.status,
        StatusCode::FORBIDDEN
    );

    let sre = app.sign_in("sre").await;
    let replica = json!({"id": "ledger-pg", "service": "payments-api", "name": "ledger pg", "engine": "postgres",
                         "url": "postgres://reader@127.0.0.1:9/ledger", "credential_env": "", "credential_file": "",
                         "statement_timeout_ms": null, "row_cap": null, "masks": null});
    // A replica that cannot be reached is refused, and nothing is saved…
    let refused =
        app.post_json("/api/query/register", Some(&sre), json!({"replica": replica})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("the connection check failed"), "{}", refused.body);
    assert!(refused.body.contains("save the replica disabled with a reason"), "{}", refused.body);
    assert!(console_core::query::replicas::get(&app.store, "ledger-pg").await.unwrap().is_none());
    // …unless the SRE saves it disabled, with the reason: it is then not offered and runs nothing.
    let mut disabled = replica.clone();
    disabled["disabled"] = json!("the ledger replica is being rebuilt");
    let done = app.post_json("/api/query/register", Some(&sre), json!({"replica": disabled})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("saved disabled"), "{}", done.body);
    let maria = app.sign_in("maria").await;
    let offered = app
        .post_json("/api/query/replicas", Some(&maria), json!({"service": "payments-api"}))
        .await;
    assert!(
        !offered.body.contains("ledger-pg"),
        "a disabled replica is not offered: {}",
        offered.body
    );
    let reply = app
        .post_json(
            "/api/query/run",
            Some(&maria),
            json!({"service": "payments-api", "replica": "ledger-pg", "sql": "SELECT 1"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
    assert!(reply.body.contains("being rebuilt"), "{}", reply.body);
    // Enabling it needs a connection check that passes.
    let enable = app
        .post_json(
            "/api/query/set-disabled",
            Some(&sre),
            json!({"service": "payments-api", "replica": "ledger-pg", "reason": ""}),
        )
        .await;
    assert_eq!(enable.status, StatusCode::BAD_REQUEST, "{}", enable.body);
    // Removed: gone from the list, its history kept in the audit.
    let removed = app
        .post_json(
            "/api/query/remove",
            Some(&sre),
            json!({"service": "payments-api", "replica": "ledger-pg"}),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert!(console_core::query::replicas::get(&app.store, "ledger-pg").await.unwrap().is_none());
    let events = console_core::audit::export(&app.store, "test", 0, i64::MAX).await.unwrap();
    let kinds: Vec<_> =
        events.iter().filter(|e| e.target == "ledger-pg").map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"replica.registered") && kinds.contains(&"replica.removed"),
        "{kinds:?}"
    );

    // A replica that goes down after it was designated: a clear error at run time.
    down_replica(&app, "ledger-pg").await;
    let mut with_password = replica.clone();
    with_password["id"] = json!("leaky");
    with_password["url"] = json!("postgres://reader:hunter2@db/ledger");
    let refused =
        app.post_json("/api/query/register", Some(&sre), json!({"replica": with_password})).await;
    assert!(refused.body.contains("not in the URL"), "{}", refused.body);

    let started = std::time::Instant::now();
    let reply = app
        .post_json(
            "/api/query/run",
            Some(&maria),
            json!({"service": "payments-api", "replica": "ledger-pg", "sql": "SELECT 1"}),
        )
        .await;
    assert!(reply.body.contains("cannot be reached"), "{}", reply.body);
    assert!(started.elapsed().as_secs() < 7);
    let audit = app.post_json("/api/query/audit", Some(&sre), json!({})).await.json();
    assert_eq!(audit[0]["outcome"], "failed");
    assert_eq!(audit[0]["replica"], "ledger-pg");
}

#[tokio::test]
async fn a_user_cancels_their_running_query() {
    let (app, _dir) = with_demo_replica().await;
    let maria = app.sign_in("maria").await;
    let endless =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let router = app.router.clone();
    let cookie = maria.clone();
    let running = tokio::spawn(async move {
        use tower::ServiceExt;
        let request = axum::http::Request::post("/api/query/run")
            .header("origin", common::PUBLIC_URL)
            .header("content-type", "application/json")
            .header("cookie", cookie)
            .body(axum::body::Body::from(
                json!({"service": "payments-api", "replica": "payments-demo", "sql": endless})
                    .to_string(),
            ))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        String::from_utf8(
            axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec(),
        )
        .unwrap()
    });
    let started = std::time::Instant::now();
    let mut cancelled = false;
    while !cancelled && started.elapsed() < std::time::Duration::from_secs(3) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let reply = app
            .post_json(
                "/api/query/cancel",
                Some(&maria),
                json!({"service": "payments-api", "replica": "payments-demo"}),
            )
            .await;
        cancelled = reply.body == "true";
    }
    assert!(cancelled, "the query was never seen running");
    let body = running.await.unwrap();
    assert!(body.contains("cancelled by the user"), "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "cancel must not wait for the 5 s timeout"
    );
    let sre = app.sign_in("sre").await;
    let audit = app.post_json("/api/query/audit", Some(&sre), json!({})).await.json();
    assert_eq!(audit[0]["reason"], "cancelled by the user");
    assert_eq!(audit[0]["outcome"], "cancelled", "a cancel is not a failure");
}

/// Each refusal kind answers its own status, the same on the server function and the CSV download.
#[tokio::test]
async fn each_refusal_kind_answers_its_status_on_every_route() {
    let (app, _dir) = with_demo_replica().await;
    down_replica(&app, "down-pg").await;
    let sre = app.sign_in("sre").await;
    let maria = app.sign_in("maria").await;
    let arjun = app.sign_in("arjun").await;
    let via_function = |cookie: Option<String>, replica: &'static str, sql: &'static str| {
        let app = &app;
        async move {
            let reply = app
                .post_json(
                    "/api/query/run",
                    cookie.as_deref(),
                    json!({"service": "payments-api", "replica": replica, "sql": sql}),
                )
                .await;
            (reply.status, reply.body)
        }
    };
    let via_csv = |cookie: Option<String>, replica: &'static str, sql: &'static str| {
        let app = &app;
        async move {
            let form = format!("replica={replica}&sql={}", sql.replace(' ', "+"));
            let reply =
                app.post_form("/services/payments-api/query.csv", cookie.as_deref(), &form).await;
            (reply.status, reply.body)
        }
    };
    for route in ["function", "csv"] {
        let call = |cookie: Option<&String>, replica, sql| {
            let cookie = cookie.cloned();
            async move {
                if route == "function" {
                    via_function(cookie, replica, sql).await
                } else {
                    via_csv(cookie, replica, sql).await
                }
            }
        };
        let cases = [
            (
                call(Some(&maria), "payments-demo", "SELECT count(*) FROM customers").await,
                StatusCode::OK,
                "",
            ),
            (
                call(Some(&maria), "payments-demo", "DELETE FROM customers").await,
                StatusCode::BAD_REQUEST,
                "read-only",
            ),
            (
                call(None, "payments-demo", "SELECT 1").await,
                StatusCode::UNAUTHORIZED,
                "Unauthorized|sign in",
            ),
            (
                call(None, "no-such-replica", "SELECT 1").await,
                StatusCode::UNAUTHORIZED,
                "Unauthorized|sign in",
            ),
            (
                call(Some(&arjun), "payments-demo", "SELECT 1").await,
                StatusCode::FORBIDDEN,
                "payments",
            ),
            (
                call(Some(&maria), "no-such-replica", "SELECT 1").await,
                StatusCode::NOT_FOUND,
                "no-such-replica",
            ),
            (
                call(Some(&maria), "down-pg", "SELECT 1").await,
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot be reached",
            ),
        ];
        for ((status, body), want, says) in cases {
            assert_eq!(status, want, "{route}: {body}");
            assert!(says.split('|').any(|s| body.contains(s)), "{route}: {want}: {body}");
        }
    }
    // Arguments that do not decode are the caller's mistake.
    let garbled =
        app.post_json("/api/query/run", Some(&maria), json!({"service": "payments-api"})).await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST, "{}", garbled.body);
    // The rate limit: the same 429 on both routes once it is spent.
    let mut last = StatusCode::OK;
    for _ in 0..40 {
        last = via_function(Some(maria.clone()), "payments-demo", "SELECT 1").await.0;
        if last != StatusCode::OK {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let (status, body) = via_csv(Some(maria.clone()), "payments-demo", "SELECT 1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // The CSV download runs SQL, so it is a POST: a GET link (a cross-site one) runs nothing,
    // and a cross-site POST is refused before it reaches the flow.
    let sre_get = app
        .get_as("/services/payments-api/query.csv?replica=payments-demo&sql=SELECT%201", Some(&sre))
        .await;
    assert_eq!(sre_get.status, StatusCode::METHOD_NOT_ALLOWED);
    let cross_site = app
        .send(
            axum::http::Request::post("/services/payments-api/query.csv")
                .header("origin", "https://evil.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", &sre)
                .body(axum::body::Body::from("replica=payments-demo&sql=SELECT+1"))
                .unwrap(),
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let audit = app.post_json("/api/query/audit", Some(&sre), json!({})).await.json();
    assert!(
        audit.as_array().unwrap().iter().all(|e| e["login"] != "sre"),
        "nothing ran as the SRE"
    );
}

/// A client that goes away mid-query: `started` is already audited, the statement is stopped on
/// the replica (not left running), the attempt ends as abandoned, and the slot frees after that.
#[tokio::test]
async fn a_client_that_disconnects_leaves_a_record_and_nothing_running() {
    let (app, _dir) = with_demo_replica().await;
    let admin_url = console_core::store::testing::postgres_admin_url();
    let sre = app.sign_in("sre").await;
    let replica = json!({"id": "slow-pg", "service": "payments-api", "name": "slow", "engine": "postgres", "url": admin_url,
                         "credential_env": "", "credential_file": "", "statement_timeout_ms": 30000, "row_cap": null, "masks": null});
    let registered = app
        .post_json(
            "/api/query/register",
            Some(&sre),
            json!({"replica": replica, "override_note": "the test server's superuser"}),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    let maria = app.sign_in("maria").await;
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, app.router.clone()).into_future());
    for (route, marker) in [("function", 424242), ("csv", 434343)] {
        // A statement that would run for a long time, with a number to find it by on the replica.
        let sql = format!("SELECT count(*) + {marker} FROM generate_series(1, 30000) a, generate_series(1, 30000) b");
        // A real client on a real socket, which it then closes.
        let (path, content_type, body) = if route == "function" {
            (
                "/api/query/run",
                "application/json",
                json!({"service": "payments-api", "replica": "slow-pg", "sql": sql}).to_string(),
            )
        } else {
            let form = format!(
                "replica=slow-pg&sql={}",
                sql.replace('+', "%2B").replace(' ', "+").replace(',', "%2C")
            );
            ("/services/payments-api/query.csv", "application/x-www-form-urlencoded", form)
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {}\r\nCookie: {maria}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            common::PUBLIC_URL,
            body.len()
        );
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut client, request.as_bytes()).await.unwrap();
        // The statement is running on the replica.
        let running = format!("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%+ {marker} FROM%' AND pid <> pg_backend_pid()");
        let mut seen = false;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let n: i64 = sqlx::query_scalar(&running).fetch_one(&mut admin).await.unwrap();
            if n > 0 {
                seen = true;
                break;
            }
        }
        assert!(seen, "{route}: the slow statement never showed up on the replica");
        let audit = app.post_json("/api/query/audit", Some(&sre), json!({})).await.json();
        assert_eq!(
            audit[0]["outcome"], "started",
            "{route}: started is audited before the statement ends: {}",
            audit[0]
        );
        // The client goes away.
        drop(client);
        let dropped = std::time::Instant::now();
        let mut gone = false;
        while dropped.elapsed() < std::time::Duration::from_secs(5) {
            let n: i64 = sqlx::query_scalar(&running).fetch_one(&mut admin).await.unwrap();
            if n == 0 {
                gone = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(gone, "{route}: the statement kept running on the replica after the client left");
        // The attempt ends as abandoned, and only then is the slot free again.
        let mut ended = serde_json::Value::Null;
        for _ in 0..50 {
            let audit = app.post_json("/api/query/audit", Some(&sre), json!({})).await.json();
            if audit[0]["outcome"] == "abandoned" {
                ended = audit[0].clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            ended["reason"].as_str().unwrap_or_default().contains("stopped on the replica"),
            "{route}: {ended}"
        );
        assert!(ended["sql"].as_str().unwrap_or_default().contains(&marker.to_string()));
        let next = app
            .post_json(
                "/api/query/run",
                Some(&maria),
                json!({"service": "payments-api", "replica": "slow-pg", "sql": "SELECT 1"}),
            )
            .await;
        assert_eq!(next.status, StatusCode::OK, "{route}: the slot was not freed: {}", next.body);
    }
}

/// Throttling leaves one event per user and minute; SREs archive the raw event log by date,
/// and each export is itself an event.
#[tokio::test]
async fn the_event_log_records_throttling_once_and_exports_by_date() {
    let (app, _dir) = with_demo_replica().await;
    let maria = app.sign_in("maria").await;
    let mut throttled = 0;
    for _ in 0..36 {
        let reply = app
            .post_json(
                "/api/query/run",
                Some(&maria),
                json!({"service": "payments-api", "replica": "payments-demo", "sql": "SELECT 1"}),
            )
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
        }
    }
    assert!(throttled >= 5, "{throttled}");
    let sre = app.sign_in("sre").await;
    let today = console_core::dates::date(console_core::dates::now());
    let tomorrow = console_core::dates::date(console_core::dates::now() + 86_400);
    let path = format!("/admin/audit-events.csv?from={today}&to={tomorrow}");
    let export = app.get_as(&path, Some(&sre)).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    assert!(export.body.starts_with(
        "id,at,kind,attempt,actor,token,entity,target,outcome,detail,rows,bytes,duration_ms,sql\n"
    ));
    let count = |kind: &str, body: &str| {
        body.lines().filter(|l| l.contains(&format!(",\"{kind}\","))).count()
    };
    assert_eq!(count("query.throttled", &export.body), 1, "one throttle event per user and minute");
    assert!(
        count("query.started", &export.body) >= 30
            && count("query.started", &export.body) == count("query.finished", &export.body)
    );
    assert_eq!(count("audit.exported", &export.body), 0);
    let again = app.get_as(&path, Some(&sre)).await;
    assert_eq!(count("audit.exported", &again.body), 1, "the first export is in the log");
    // Outside the range: nothing; bad dates and non-SREs are refused.
    let empty =
        app.get_as("/admin/audit-events.csv?from=2020-01-01&to=2020-01-02", Some(&sre)).await;
    assert_eq!(empty.body.lines().count(), 1);
    assert_eq!(
        app.get_as("/admin/audit-events.csv?from=2026-02-31&to=2026-03-02", Some(&sre))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.get_as(&path, Some(&maria)).await.status, StatusCode::FORBIDDEN);
}

/// Owners see a replica's name, engine and limits, never its URL or credential source; a
/// superuser credential is refused unless an SRE overrides with a note, which the log keeps.
#[tokio::test]
async fn owners_never_see_replica_urls_and_superusers_need_a_note() {
    let (app, _dir) = with_demo_replica().await;
    let sre = app.sign_in("sre").await;
    let admin_url = console_core::store::testing::postgres_admin_url();
    let root = json!({"id": "root-pg", "service": "payments-api", "name": "root", "engine": "postgres", "url": admin_url,
                      "credential_env": "", "credential_file": "", "statement_timeout_ms": null, "row_cap": null, "masks": null});
    let refused = app.post_json("/api/query/register", Some(&sre), json!({"replica": root})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("superuser") && refused.body.contains("override note"),
        "{}",
        refused.body
    );
    let noted = app
        .post_json(
            "/api/query/register",
            Some(&sre),
            json!({"replica": root, "override_note": "load test replica, rebuilt nightly"}),
        )
        .await;
    assert_eq!(noted.status, StatusCode::OK, "{}", noted.body);
    assert!(noted.body.contains("superuser"), "the warning names the power: {}", noted.body);
    let leaky = json!({"id": "leaky-env", "service": "payments-api", "name": "leaky", "engine": "postgres", "url": "postgres://reader@db/ledger",
                       "credential_env": "CONSOLE_OIDC_CLIENT_SECRET", "credential_file": "", "statement_timeout_ms": null, "row_cap": null, "masks": null});
    let refused = app.post_json("/api/query/register", Some(&sre), json!({"replica": leaky})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("CONSOLE_REPLICA_"), "{}", refused.body);

    let maria = app.sign_in("maria").await;
    let list = app
        .post_json("/api/query/replicas", Some(&maria), json!({"service": "payments-api"}))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("root-pg"));
    for secret in ["postgres://", "sqlite:", "url", "credential"] {
        assert!(
            !list.body.contains(secret),
            "the owner's replica list holds {secret:?}: {}",
            list.body
        );
    }
    let today = console_core::dates::date(console_core::dates::now());
    let tomorrow = console_core::dates::date(console_core::dates::now() + 86_400);
    let log = app
        .get_as(&format!("/admin/audit-events.csv?from={today}&to={tomorrow}"), Some(&sre))
        .await;
    assert!(
        log.body.contains("replica.registered")
            && log.body.contains("override: load test replica, rebuilt nightly"),
        "{}",
        log.body
    );
}

/// A script with a `query`-scoped token runs the same guarded, masked, audited query as the REPL,
/// and a write is refused the same way.
#[tokio::test]
async fn a_query_token_runs_the_repls_flow_through_the_api() {
    let (app, _dir) = with_demo_replica().await;
    let (version, mut defaults) = console_core::defaults::repo::current(&app.store).await.unwrap();
    defaults.tokens.allow_query_scope = true;
    console_core::defaults::actions::save_as(
        &app.store,
        version,
        &toml::to_string(&defaults).unwrap(),
        "sre",
        "scripts may query",
    )
    .await
    .unwrap();
    let maria = app.sign_in("maria").await;
    let token: String = serde_json::from_str(
        &app.post_form("/api/tokens/create", Some(&maria), "name=nightly&scope=query").await.body,
    )
    .unwrap();
    let send = |sql: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let request = axum::http::Request::post("/api/v1/services/payments-api/query")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"replica": "payments-demo", "sql": sql}).to_string(),
                ))
                .unwrap();
            let reply = app.send(request).await;
            (reply.status, serde_json::from_str::<Value>(&reply.body).unwrap_or(Value::Null))
        }
    };
    let (status, result) = send("SELECT id, email FROM customers ORDER BY id LIMIT 2").await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["rows"].as_array().unwrap().len(), 2);
    assert_eq!(result["rows"][0][1], "••••", "masked as in the REPL");
    let (status, refused) = send("DELETE FROM customers").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let audit = console_core::audit::export(&app.store, "test", 0, i64::MAX).await.unwrap();
    let finished: Vec<_> =
        audit.iter().filter(|e| e.kind == "query.finished" && e.actor == "maria").collect();
    assert_eq!(finished.len(), 2, "both attempts audited: {finished:?}");
    let token_id = token.strip_prefix("cst_").unwrap().split('_').next().unwrap();
    assert!(
        finished.iter().all(|e| e.token == token_id),
        "each names the token it came through: {finished:?}"
    );
}

/// The owning squad's "who read this service" list shows each query's SQL (it is stored on the
/// attempt's started event; the finished event carries the outcome).
#[tokio::test]
async fn the_reads_page_shows_the_sql_to_the_owning_squad() {
    let (app, _dir) = with_demo_replica().await;
    let maria = app.sign_in("maria").await;
    let sql = "SELECT id, name FROM customers WHERE id = 3 -- reads-page marker";
    let (status, _) = run(&app, &maria, sql).await;
    assert_eq!(status, StatusCode::OK);
    let reads = app
        .post_json("/api/audit/service-reads", Some(&maria), json!({"service": "payments-api"}))
        .await;
    assert_eq!(reads.status, StatusCode::OK, "{}", reads.body);
    let list = reads.json();
    let query = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "query.finished")
        .expect("the query is listed");
    assert_eq!(query["detail"], sql, "{}", reads.body);
    assert_eq!(query["actor"], "maria");
}

/// Saved, named queries: a squad's shelf. Saved by one member, seen and run by another, refused
/// to other squads, a bad name refused with nothing saved, replaced by name, deleted with the
/// text kept in the audit.
#[tokio::test]
async fn a_squad_shares_saved_queries_and_each_change_is_audited() {
    let (app, _dir) = with_demo_replica().await;
    let (maria, joao, arjun) =
        (app.sign_in("maria").await, app.sign_in("joao").await, app.sign_in("arjun").await);
    let save = |cookie: String, name: &'static str, sql: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/api/query/save",
                Some(&cookie),
                json!({"service": "payments-api", "name": name, "sql": sql}),
            )
            .await
        }
    };
    let list = |cookie: String| {
        let app = &app;
        async move {
            app.post_json("/api/query/saved", Some(&cookie), json!({"service": "payments-api"}))
                .await
        }
    };

    let saved = save(maria.clone(), "  recent customers ", "SELECT id, name FROM customers").await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    // Another member of the squad sees it, trimmed, with who saved it.
    let shelf = list(joao.clone()).await.json();
    assert_eq!(shelf[0]["name"], "recent customers", "{shelf}");
    assert_eq!(shelf[0]["saved_by"], "maria");
    assert_eq!(shelf[0]["sql"], "SELECT id, name FROM customers");
    // Running it is a query like any other: guarded and audited.
    let (status, _) = run(&app, &joao, shelf[0]["sql"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    // Other squads neither see nor add to the shelf.
    assert_eq!(list(arjun.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(save(arjun, "mine", "SELECT 1").await.status, StatusCode::FORBIDDEN);
    // A name with a line break, or an empty editor: refused, nothing saved.
    let bad = save(maria.clone(), "two\nlines", "SELECT 1").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("control character"), "{}", bad.body);
    assert_eq!(save(maria.clone(), "empty", "  ").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(list(maria.clone()).await.json().as_array().unwrap().len(), 1);

    // The same name replaces; deleting keeps the text in the audit.
    save(joao.clone(), "recent customers", "SELECT id FROM customers").await;
    let shelf = list(maria.clone()).await.json();
    assert_eq!(
        (shelf[0]["sql"].as_str(), shelf[0]["saved_by"].as_str()),
        (Some("SELECT id FROM customers"), Some("joao"))
    );
    let deleted = app
        .post_json(
            "/api/query/delete-saved",
            Some(&maria),
            json!({"service": "payments-api", "name": "recent customers"}),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(list(maria.clone()).await.json(), json!([]));
    let again = app
        .post_json(
            "/api/query/delete-saved",
            Some(&maria),
            json!({"service": "payments-api", "name": "recent customers"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    let events = console_core::audit::export(&app.store, "test", 0, i64::MAX).await.unwrap();
    let trail: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| e.kind.starts_with("query.saved") || e.kind == "query.unsaved")
        .map(|e| (e.kind.as_str(), e.actor.as_str(), e.sql_text.as_str()))
        .collect();
    assert_eq!(
        trail,
        vec![
            ("query.saved", "maria", "SELECT id, name FROM customers"),
            ("query.saved", "joao", "SELECT id FROM customers"),
            ("query.unsaved", "maria", "SELECT id FROM customers"),
        ]
    );
}
