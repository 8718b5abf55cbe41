//! OpenID Connect sign-in against the fake provider in `common/idp.rs`. Each way a callback
//! can be bad gets a clear error and signs nobody in.

mod common;
use common::idp::*;
use serde_json::json;

#[tokio::test]
async fn signs_in_with_groups_as_squads_and_sre() {
    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    let (cookie, code, state) = authorize(&app, &idp, Mode::Good).await;
    let callback = app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
    assert_eq!(callback.location(), "/squads/payments", "{}", callback.body);
    let cookie = callback.session_cookie().expect("a fresh session id at sign-in");
    let session = app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json();
    assert_eq!(session["user"]["login"], "maria");
    assert_eq!(session["user"]["sre"], true);
    assert!(session["user"]["squads"].as_array().unwrap().contains(&json!("payments")));

    // The same callback again: the pending login is gone, and the code is spent.
    let replay = app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
    assert_eq!(replay.location(), "/login?error=state");
}

#[tokio::test]
async fn bad_callbacks_sign_nobody_in() {
    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    let cases: [(Mode, fn(&str, &str) -> String, &str); 8] = [
        (Mode::Good, |c, s| format!("code={c}&state={s}x"), "state"),
        (Mode::Good, |c, _| format!("code={c}"), "state"),
        (Mode::Good, |_, s| format!("state={s}"), "missing-code"),
        (Mode::Good, |c, s| format!("code={c}nope&state={s}"), "refused"),
        (Mode::Good, |_, s| format!("error=access_denied&state={s}"), "refused"),
        (Mode::WrongNonce, |c, s| format!("code={c}&state={s}"), "invalid-token"),
        (Mode::Expired, |c, s| format!("code={c}&state={s}"), "invalid-token"),
        (Mode::Forged, |c, s| format!("code={c}&state={s}"), "invalid-token"),
    ];
    for (mode, query, error) in cases {
        let (cookie, code, state) = authorize(&app, &idp, mode).await;
        let reply = app.get_as(&format!("/auth/oidc/callback?{}", query(&code, &state)), Some(&cookie)).await;
        assert_eq!(reply.location(), format!("/login?error={error}"), "{}", query(&code, &state));
        let cookie = reply.session_cookie().unwrap_or(cookie);
        assert!(!signed_in(&app, &cookie).await, "{}", query(&code, &state));
    }
    let (cookie, code, state) = authorize(&app, &idp, Mode::WrongAudience).await;
    let reply = app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
    assert_eq!(reply.location(), "/login?error=invalid-token");
    // A callback without any login started here.
    let stray = app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), None).await;
    assert_eq!(stray.location(), "/login?error=state");
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_clear_error() {
    let app = app_with("http://127.0.0.1:9").await;
    let reply = app.get_as("/auth/oidc/start", None).await;
    assert_eq!(reply.location(), "/login?error=provider-down");
    let login = app.get_as("/login?error=provider-down", None).await;
    assert!(login.body.contains("cannot be reached right now"));
}

