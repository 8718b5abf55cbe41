//! GitHub sign-in against a fake GitHub (OAuth endpoints and REST API) over HTTP: team
//! memberships of the configured organisation become squads, the SRE team makes an SRE.

mod common;
use axum::extract::Form;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{TestApp, PUBLIC_URL};
use console::auth::Auth;
use console_core::auth::oidc::{GithubProvider, GithubSettings, Secret};
use console_core::store::testing;
use serde_json::json;
use std::collections::HashMap;

async fn fake_github() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/login/oauth/access_token", post(|Form(form): Form<HashMap<String, String>>| async move {
            if form.get("code").map(String::as_str) == Some("good") && form.contains_key("code_verifier") {
                Ok(Json(json!({"access_token": "gho_fake", "token_type": "bearer", "scope": "read:org"})))
            } else {
                Err((StatusCode::BAD_REQUEST, Json(json!({"error": "bad_verification_code"}))))
            }
        }))
        .route("/api/user", get(|headers: HeaderMap| async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer gho_fake") {
                return Err(StatusCode::UNAUTHORIZED);
            }
            Ok(Json(json!({"login": "octo-maria", "name": "Maria", "email": null})))
        }))
        .route("/api/user/teams", get(|| async {
            Json(json!([
                {"slug": "payments", "organization": {"login": "acme"}},
                {"slug": "platform-sre", "organization": {"login": "acme"}},
                {"slug": "payments-fans", "organization": {"login": "other-org"}},
            ]))
        }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn app_with(base: &str) -> TestApp {
    let mut auth = Auth::dev(PUBLIC_URL);
    auth.dev_sign_in = false;
    auth.github = Some(GithubProvider::new(GithubSettings {
        client_id: "gh-client".into(),
        client_secret: Secret::new("gh-secret".into()),
        redirect_url: format!("{PUBLIC_URL}/auth/github/callback"),
        org: "acme".into(),
        sre_team: "platform-sre".into(),
        web_url: base.to_string(),
        api_url: format!("{base}/api"),
    }));
    TestApp::build(testing::sqlite().await, auth).await
}

fn state_of(location: &str) -> String {
    location.split(['?', '&']).find_map(|p| p.strip_prefix("state=")).unwrap().to_string()
}

#[tokio::test]
async fn teams_of_the_org_become_squads() {
    let base = fake_github().await;
    let app = app_with(&base).await;
    let start = app.get_as("/auth/github/start", None).await;
    assert!(start.location().starts_with(&format!("{base}/login/oauth/authorize?")), "{}", start.location());
    let cookie = start.session_cookie().unwrap();
    let state = state_of(start.location());
    let callback = app.get_as(&format!("/auth/github/callback?code=good&state={state}"), Some(&cookie)).await;
    assert_eq!(callback.location(), "/");
    let cookie = callback.session_cookie().unwrap();
    let session = app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json();
    assert_eq!(session["user"]["login"], "octo-maria");
    assert_eq!(session["user"]["sre"], true);
    let squads = session["user"]["squads"].as_array().unwrap();
    assert!(squads.contains(&json!("payments")));
    assert!(!squads.contains(&json!("payments-fans")), "teams of other orgs must not count");
}

#[tokio::test]
async fn a_refused_code_signs_nobody_in() {
    let base = fake_github().await;
    let app = app_with(&base).await;
    let start = app.get_as("/auth/github/start", None).await;
    let cookie = start.session_cookie().unwrap();
    let state = state_of(start.location());
    let callback = app.get_as(&format!("/auth/github/callback?code=bad&state={state}"), Some(&cookie)).await;
    assert_eq!(callback.location(), "/login?error=refused");
    let cookie = callback.session_cookie().unwrap_or(cookie);
    assert_eq!(app.get_as("/", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
}
