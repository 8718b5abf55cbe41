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
