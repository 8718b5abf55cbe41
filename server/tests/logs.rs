//! Nothing secret is logged, at any level, through sign-in, token use and a failed sign-in.
//! (Its own test binary: a thread-local log subscriber must be the only one in the process.)

mod common;
use common::idp::*;
use std::sync::{Arc, Mutex};

/// Collects everything logged, at every level, while a test runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    let (cookie, code, state) = authorize(&app, &idp, Mode::Good).await;
    let callback =
        app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
    let session = callback.session_cookie().unwrap();
    let token: String = serde_json::from_str(
        &app.post_form("/api/tokens/create", Some(&session), "name=ci").await.body,
    )
    .unwrap();
    let bearer = axum::http::Request::get("/api/v1/squads")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(bearer).await.status, axum::http::StatusCode::OK);
    // And a failed sign-in, which logs its reason.
    let (cookie, code, state) = authorize(&app, &idp, Mode::Forged).await;
    app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("signed in") && logs.contains("sign-in failed"),
        "the flows above were not logged"
    );
    let session_id = session.split_once('=').unwrap().1;
    for secret in [
        "test-secret",
        token.as_str(),
        token.rsplit('_').next().unwrap(),
        session_id,
        code.as_str(),
        "\"at\"",
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs: {secret}");
    }
}

/// A name from the provider that carries a line break cannot forge a second log line: the text
/// log the console writes (`console::logging::Escaped`) keeps each event on one line.
#[tokio::test]
async fn provider_names_cannot_forge_log_lines() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(console::logging::Escaped(move || writer.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    let forged =
        "2026-12-02T00:00:00.000000Z  INFO console::auth: signed in login=sre provider=dev";
    idp.set_user(
        "user-eve",
        serde_json::json!({"preferred_username": format!("eve\n{forged}"), "groups": []}),
    );
    sign_in_as(&app, &idp, "user-eve").await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("signed in login=eve\\n2026"), "the sign-in was logged, escaped: {logs}");
    assert!(!logs.lines().any(|line| line.starts_with(forged)), "a forged line: {logs}");
}
