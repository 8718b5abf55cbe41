//! The read-only JSON API, on SQLite and on PostgreSQL.

mod common;
use axum::http::StatusCode;
use common::TestApp;
use console_core::store::testing;

async fn check_api(app: TestApp) {
    let (status, page) = app.json("/api/v1/services?q=pay&tier=1").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        page["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    // "pay" matches the payments-api name and ledger's squad, payments.
    assert_eq!(names, ["ledger", "payments-api"]);
    assert_eq!(page["total"], 2);

    let (status, all) = app.json("/api/v1/services?page=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["total"], 39);

    let (status, svc) = app.json("/api/v1/services/ledger").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(svc["service"]["squad"], "payments");
    assert_eq!(svc["service"]["tier"], 1);
    assert_eq!(svc["readiness"]["checks"].as_array().unwrap().len(), 24);

    let (status, squads) = app.json("/api/v1/squads").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(squads.as_array().unwrap().len(), 8);

    let (status, squad) = app.json("/api/v1/squads/identity").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(squad["services"].as_array().unwrap().len(), 4);

    let (status, err) = app.json("/api/v1/services/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"], "service \"nope\" not found");
    let (status, err) = app.json("/api/v1/squads/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(err["error"].as_str().unwrap().contains("not found"));
    let (status, err) = app.json("/api/v1/services?page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().starts_with("page must be"));
}

#[tokio::test]
async fn api_on_sqlite() {
    check_api(TestApp::demo().await).await;
}

#[tokio::test]
async fn api_on_postgres() {
    let db = testing::postgres().await;
    check_api(TestApp::with_store(db.store.clone()).await).await;
    db.drop().await;
}

/// A failure inside a route (here the catalog's table gone, while sessions still work, so the
/// route itself is reached) answers a plain 500 with no detail, on the API and on the pages.
#[tokio::test]
async fn internal_errors_are_logged_not_shown() {
    let app = TestApp::demo().await;
    let token = app.sign_in("maria").await;
    let cookie = Some(token.as_str());
    assert_eq!(
        app.get_as("/api/v1/services", cookie).await.status,
        StatusCode::OK,
        "signed in and served"
    );
    sqlx::query("ALTER TABLE services RENAME TO services_gone")
        .execute(app.store.pool())
        .await
        .unwrap();

    let reply = app.get_as("/api/v1/services", cookie).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.body.contains("internal error; it has been logged"), "{}", reply.body);
    let page = app.get_as("/catalog", cookie).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", page.body);
    assert!(
        page.body.contains("something went wrong on our side; it has been logged"),
        "{}",
        page.body
    );
    for reply in [&reply, &page] {
        for detail in ["no such table", "services_gone", "SqliteError", "SELECT"] {
            assert!(
                !reply.body.contains(detail),
                "internal detail {detail:?} leaked: {}",
                reply.body
            );
        }
    }
}

/// Every error under `/api/v1` is JSON whichever layer answers it: a script reads `{"error"}`,
/// never an HTML page or a bare text (the router's 404 and 405, the sign-in check, the origin
/// check, a body that does not decode).
#[tokio::test]
async fn every_api_error_is_json() {
    use axum::body::Body;
    use axum::http::Request;
    let app = TestApp::demo().await;
    let is_json_error = |reply: &common::Reply, want: StatusCode| {
        assert_eq!(reply.status, want, "{}", reply.body);
        let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/json"), "{want}: {}", reply.body);
        let message = reply.json()["error"].as_str().map(str::to_owned);
        assert!(message.is_some_and(|m| !m.is_empty()), "{want}: {}", reply.body);
    };
    is_json_error(&app.get_as("/api/v1/no-such-route", None).await, StatusCode::UNAUTHORIZED);
    let maria = app.sign_in("maria").await;
    is_json_error(&app.get_as("/api/v1/no-such-route", Some(&maria)).await, StatusCode::NOT_FOUND);
    let delete = Request::delete("/api/v1/services")
        .header("origin", common::PUBLIC_URL)
        .header("cookie", &maria)
        .body(Body::empty())
        .unwrap();
    is_json_error(&app.send(delete).await, StatusCode::METHOD_NOT_ALLOWED);
    let query = |origin: Option<&str>, auth: Option<&str>, body: &str| {
        let mut request = Request::post("/api/v1/services/payments-api/query")
            .header("content-type", "application/json");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.body(Body::from(body.to_owned())).unwrap()
    };
    let sql = r#"{"replica": "payments-demo", "sql": "SELECT 1"}"#;
    is_json_error(&app.send(query(None, None, sql)).await, StatusCode::UNAUTHORIZED);
    let forged = query(None, Some("Bearer not-a-token"), sql);
    is_json_error(&app.send(forged).await, StatusCode::UNAUTHORIZED);
    let mut cross_site = query(Some("https://evil.example"), None, sql);
    cross_site.headers_mut().insert("cookie", maria.parse().unwrap());
    is_json_error(&app.send(cross_site).await, StatusCode::FORBIDDEN);
    // Outside /api/v1 the pages keep their own error pages.
    let mut garbled = query(Some(common::PUBLIC_URL), None, "{not json");
    garbled.headers_mut().insert("cookie", maria.parse().unwrap());
    let garbled = app.send(garbled).await;
    assert!(garbled.status.is_client_error(), "{}", garbled.body);
    is_json_error(&garbled, garbled.status);
    let page = app.get_as("/no-such-page", Some(&maria)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("<html") || page.body.contains("<!DOCTYPE"), "{}", page.body);
}
