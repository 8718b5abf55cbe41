//! `/audit`: the whole event log for SREs, every kind, filtered and paged.

mod common;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::{json, Value};

async fn events(app: &TestApp, cookie: &str, filter: Value, before: Option<i64>) -> Value {
    let reply = app
        .post_json("/api/audit/events", Some(cookie), json!({"filter": filter, "before": before}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{filter}: {}", reply.body);
    reply.json()
}

fn kinds(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_audit_page_shows_every_kind_filtered_and_paged() {
    let app = TestApp::demo().await;
    let dir = tempfile::tempdir().unwrap();
    console::demo::ensure(&app.store, &dir.path().join("demo.db")).await.unwrap();
    let (sre, maria) = (app.sign_in("sre").await, app.sign_in("maria").await);

    // A query, a token, and a defaults change: three families of events.
    let ran = app
        .post_json(
            "/api/query/run",
            Some(&maria),
            json!({"service": "payments-api", "replica": "payments-demo", "sql": "SELECT 'needle-42'"}),
        )
        .await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.body);
    let document = console_core::defaults::PlatformDefaults::default();
    let mut changed = document.clone();
    changed.lifecycles.insert("ga".into(), console_core::catalog::Lifecycle::Production);
    let saved = app
        .post_json(
            "/api/admin/save-document",
            Some(&sre),
            json!({"based_on": 0, "document": changed.to_toml(), "note": "map ga"}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);

    let all = events(&app, &sre, json!({}), None).await;
    let all_kinds = kinds(&all);
    for kind in ["query.started", "query.finished", "defaults.saved", "auth.signed-in"] {
        assert!(all_kinds.iter().any(|k| k == kind), "{kind} in {all_kinds:?}");
    }
    // Newest first.
    let ids: Vec<i64> =
        all["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

    // A family, a person, a service, a text, an outcome.
    let queries = events(&app, &sre, json!({"kind": "query"}), None).await;
    assert!(kinds(&queries).iter().all(|k| k.starts_with("query.")), "{queries}");
    assert!(!kinds(&queries).is_empty());
    let defaults = events(&app, &sre, json!({"kind": "defaults"}), None).await;
    assert_eq!(defaults["events"][0]["target"], "version 1");
    assert_eq!(defaults["events"][0]["detail"], "map ga");
    assert_eq!(defaults["events"][0]["actor"], "sre");
    let by_maria = events(&app, &sre, json!({"actor": "maria"}), None).await;
    assert!(by_maria["events"].as_array().unwrap().iter().all(|e| e["actor"] == "maria"));
    let found = events(&app, &sre, json!({"text": "needle-42"}), None).await;
    assert_eq!(kinds(&found), ["query.started"], "the SQL is on the started event");
    let on_service =
        events(&app, &sre, json!({"service": "payments-api", "outcome": "allowed"}), None).await;
    assert_eq!(kinds(&on_service), ["query.finished"]);
    // A LIKE wildcard in the text is a character, not a pattern.
    assert!(events(&app, &sre, json!({"text": "%"}), None).await["events"]
        .as_array()
        .unwrap()
        .is_empty());
    // Dates: today holds them all, an old day none; the end date is inclusive.
    let today = console_core::dates::date(console_core::dates::now());
    let dated = events(&app, &sre, json!({"from": today, "to": today}), None).await;
    assert_eq!(dated["events"].as_array().unwrap().len(), ids.len());
    let old = events(&app, &sre, json!({"to": "2020-01-01"}), None).await;
    assert!(old["events"].as_array().unwrap().is_empty());

    // Pages of 100 by id: no event twice, none missed, whatever arrives meanwhile.
    for n in 0..150 {
        let event = console_core::audit::Event {
            kind: console_core::audit::LOGS_READ,
            actor: "arjun".into(),
            entity: "ledger".into(),
            outcome: "ok".into(),
            detail: format!("read {n}"),
            ..Default::default()
        };
        console_core::audit::append(&app.store, &event).await.unwrap();
    }
    let first = events(&app, &sre, json!({"actor": "arjun"}), None).await;
    assert_eq!(first["events"].as_array().unwrap().len(), 100);
    let older = first["older"].as_i64().expect("an older page");
    let second = events(&app, &sre, json!({"actor": "arjun"}), Some(older)).await;
    assert_eq!(second["events"].as_array().unwrap().len(), 50);
    assert!(second["older"].is_null());
    assert_eq!(second["events"][49]["detail"], "read 0");

    // The page itself, with its filters in the URL.
    let page = app.get_as("/audit?kind=defaults", Some(&sre)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("defaults.saved") && !page.body.contains("logs.read"),
        "{}",
        page.body
    );

    // Bad input is the caller's: a date that is not one, an end before the start.
    let bad = app
        .post_json("/api/audit/events", Some(&sre), json!({"filter": {"from": "2026-02-31"}}))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let reversed = app
        .post_json(
            "/api/audit/events",
            Some(&sre),
            json!({"filter": {"from": "2026-03-02", "to": "2026-03-01"}}),
        )
        .await;
    assert_eq!(reversed.status, StatusCode::BAD_REQUEST, "{}", reversed.body);
    // Members do not read the log.
    let refused = app.post_json("/api/audit/events", Some(&maria), json!({"filter": {}})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

/// A defaults save and its event commit together: a save that fails leaves no event.
#[tokio::test]
async fn a_refused_defaults_save_leaves_no_event() {
    let app = TestApp::demo().await;
    let sre = app.sign_in("sre").await;
    let same = console_core::defaults::PlatformDefaults::default().to_toml();
    let refused = app
        .post_json(
            "/api/admin/save-document",
            Some(&sre),
            json!({"based_on": 0, "document": same, "note": ""}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let page = events(&app, &sre, json!({"kind": "defaults"}), None).await;
    assert!(page["events"].as_array().unwrap().is_empty(), "{page}");
}
