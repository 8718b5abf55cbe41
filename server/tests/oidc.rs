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
    let callback =
        app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
    assert_eq!(callback.location(), "/squads/payments", "{}", callback.body);
    let cookie = callback.session_cookie().expect("a fresh session id at sign-in");
    let session = app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json();
    assert_eq!(session["user"]["login"], "maria", "linked by the verified e-mail");
    assert_eq!(session["user"]["sre"], true);
    assert_eq!(session["user"]["squads"], json!(["payments"]));

    // The same callback again: the pending login is gone, and the code is spent.
    let replay =
        app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
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
        let reply = app
            .get_as(&format!("/auth/oidc/callback?{}", query(&code, &state)), Some(&cookie))
            .await;
        assert_eq!(reply.location(), format!("/login?error={error}"), "{}", query(&code, &state));
        let cookie = reply.session_cookie().unwrap_or(cookie);
        assert!(!signed_in(&app, &cookie).await, "{}", query(&code, &state));
    }
    let (cookie, code, state) = authorize(&app, &idp, Mode::WrongAudience).await;
    let reply =
        app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
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

#[tokio::test]
async fn prefixed_groups_become_squads_for_someone_the_catalog_does_not_know() {
    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    idp.set_user(
        "user-77",
        json!({"preferred_username": "quinn", "email": "quinn@elsewhere.example", "email_verified": true,
               "groups": ["squad-search", "payments", "sre-wannabe", "squad-"]}),
    );
    let cookie = sign_in_as(&app, &idp, "user-77").await;
    let user =
        app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json()["user"].clone();
    assert_eq!(user["login"], "oidc:user-77");
    assert_eq!(
        user["squads"],
        json!(["search"]),
        "only the prefixed group; `payments` unprefixed is no squad"
    );
    assert_eq!(user["sre"], false);
}

#[tokio::test]
async fn a_name_or_an_unverified_or_other_email_links_to_no_person() {
    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    let cases = [
        ("maria@example.com", json!(false)),
        ("maria@example.com", json!("true")),
        ("maria@gmail.com", json!(true)),
        ("", json!(true)),
    ];
    for (i, (email, verified)) in cases.iter().enumerate() {
        let subject = format!("namesake-{i}");
        idp.set_user(&subject, json!({"preferred_username": "maria", "email": email, "email_verified": verified, "groups": []}));
        let cookie = sign_in_as(&app, &idp, &subject).await;
        let user = app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json()
            ["user"]
            .clone();
        assert_eq!(user["login"], format!("oidc:{subject}"), "{email} {verified}");
        assert_eq!(user["squads"], json!([]), "{email} {verified}: no catalog squad");
    }
    // The provider trusted for e-mail, and it verified maria's: she is the catalog's maria.
    let cookie = sign_in_as(&app, &idp, MARIA).await;
    let user =
        app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json()["user"].clone();
    assert_eq!(user["login"], "maria");
}

/// A token made in a session, for `/api/v1/`.
async fn token_for(app: &common::TestApp, cookie: &str) -> String {
    let reply = app.post_form("/api/tokens/create", Some(cookie), "name=ci").await;
    assert_eq!(reply.status, axum::http::StatusCode::OK, "{}", reply.body);
    serde_json::from_str::<String>(&reply.body).unwrap()
}

async fn me_by_token(
    app: &common::TestApp,
    token: &str,
) -> (axum::http::StatusCode, serde_json::Value) {
    let request = axum::http::Request::get("/api/v1/me")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    (reply.status, serde_json::from_str(&reply.body).unwrap_or_default())
}

#[tokio::test]
async fn roles_follow_the_provider_on_sessions_and_tokens() {
    let idp = start_idp().await;
    // Re-check on every request: the interval is what the test would otherwise wait for.
    let app = app_with_auth(&idp.issuer, |auth| auth.recheck_secs = 0).await;
    roles_follow(&idp, &app).await;
}

/// The same with two console replicas on one PostgreSQL store: the re-check one replica makes
/// reaches the other's requests.
#[tokio::test]
async fn roles_follow_the_provider_across_replicas_on_postgres() {
    let idp = start_idp().await;
    let db = console_core::store::testing::postgres().await;
    let first = app_on_store(&idp.issuer, db.store.clone(), |auth| auth.recheck_secs = 0).await;
    let second = app_on_store(&idp.issuer, db.store.clone(), |auth| auth.recheck_secs = 3600).await;
    let cookie = sign_in_as(&first, &idp, MARIA).await;
    let token = token_for(&first, &cookie).await;
    assert_eq!(me_by_token(&second, &token).await.1["sre"], true);
    idp.set_claim(MARIA, "groups", json!(["squad-payments"]));
    assert_eq!(me_by_token(&first, &token).await.1["sre"], false, "the first replica re-checks");
    assert_eq!(
        me_by_token(&second, &token).await.1["sre"],
        false,
        "the second reads the same identity"
    );
    let user = second.post_json("/api/auth/session", Some(&cookie), json!({})).await.json()["user"]
        .clone();
    assert_eq!(user["sre"], false);
    db.drop().await;
}

async fn roles_follow(idp: &Idp, app: &common::TestApp) {
    let (idp, app) = (idp.clone(), app);
    let cookie = sign_in_as(app, &idp, MARIA).await;
    let token = token_for(app, &cookie).await;
    assert_eq!(me_by_token(app, &token).await.1["sre"], true);
    assert_eq!(app.get_as("/admin", Some(&cookie)).await.status, axum::http::StatusCode::OK);

    idp.set_claim(MARIA, "groups", json!(["squad-payments"]));
    let user =
        app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json()["user"].clone();
    assert_eq!(user["sre"], false, "the session lost SRE");
    let (status, me) = me_by_token(app, &token).await;
    assert_eq!(
        (status, me["sre"].clone()),
        (axum::http::StatusCode::OK, json!(false)),
        "the token lost SRE"
    );
    assert_eq!(app.get_as("/admin", Some(&cookie)).await.status, axum::http::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn roles_the_provider_cannot_confirm_stop_after_the_grace_period() {
    let idp = start_idp().await;
    let app = app_with_auth(&idp.issuer, |auth| {
        auth.recheck_secs = 60;
        auth.grace_secs = 600;
    })
    .await;
    let cookie = sign_in_as(&app, &idp, MARIA).await;
    let token = token_for(&app, &cookie).await;
    idp.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let age = |secs: i64| format!("UPDATE identities SET checked_at = checked_at - {secs}");
    // Due for a re-check, the provider down, within the grace period: roles kept.
    sqlx::query(&age(120)).execute(app.store.pool()).await.unwrap();
    assert!(signed_in(&app, &cookie).await);
    assert_eq!(me_by_token(&app, &token).await.1["sre"], true);
    // Past it: the session and the token stop.
    sqlx::query(&age(600)).execute(app.store.pool()).await.unwrap();
    assert!(!signed_in(&app, &cookie).await);
    assert_eq!(me_by_token(&app, &token).await.0, axum::http::StatusCode::UNAUTHORIZED);
    // The provider back: the next sign-in works again.
    idp.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let cookie = sign_in_as(&app, &idp, MARIA).await;
    assert!(signed_in(&app, &cookie).await);
    assert_eq!(me_by_token(&app, &token).await.0, axum::http::StatusCode::OK);
}

#[tokio::test]
async fn an_identity_the_provider_disowns_is_signed_out_everywhere() {
    let idp = start_idp().await;
    let app = app_with_auth(&idp.issuer, |auth| auth.recheck_secs = 0).await;
    let cookie = sign_in_as(&app, &idp, MARIA).await;
    let token = token_for(&app, &cookie).await;
    // The person left: the provider refuses the refresh token.
    idp.refresh.lock().unwrap().clear();
    assert!(!signed_in(&app, &cookie).await);
    assert_eq!(me_by_token(&app, &token).await.0, axum::http::StatusCode::UNAUTHORIZED);
    // Back (re-hired, or the cookie and token were stolen): a new sign-in revives neither.
    let fresh = sign_in_as(&app, &idp, MARIA).await;
    assert!(signed_in(&app, &fresh).await);
    assert!(!signed_in(&app, &cookie).await, "the old session stays ended");
    assert_eq!(
        me_by_token(&app, &token).await.0,
        axum::http::StatusCode::UNAUTHORIZED,
        "the old token stays revoked"
    );
    let audit = console_core::audit::export(&app.store, "test", 0, i64::MAX).await.unwrap();
    assert!(
        audit.iter().any(|e| e.kind == "auth.disowned" && e.actor == "maria"),
        "disowning is in the audit"
    );
}

/// Anyone may start a sign-in: a thousand starts store nothing (the pending login is a sealed,
/// ten-minute cookie), and a pending login past its ten minutes is refused.
#[tokio::test]
async fn anonymous_sign_in_starts_leave_no_rows() {
    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    for _ in 0..1000 {
        let reply = app.get_as("/auth/oidc/start?return_to=/", None).await;
        assert_eq!(reply.status, axum::http::StatusCode::SEE_OTHER);
        assert!(reply.cookie("console_pending").is_some());
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    // A pending cookie sealed by another key (another console, or forged) is no sign-in.
    let (_, code, state) = authorize(&app, &idp, Mode::Good).await;
    let forged =
        format!("console_pending={}", console_core::auth::sealed::SealingKey::random().seal("{}"));
    let reply =
        app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&forged)).await;
    assert_eq!(reply.location(), "/login?error=state");
}

/// Over HTTPS both cookies are `__Host-` cookies (only this host sets them, Secure, Path=/),
/// and the whole sign-in works with them.
#[tokio::test]
async fn https_cookies_are_host_bound() {
    let idp = start_idp().await;
    let app = app_with_auth(&idp.issuer, |auth| auth.secure_cookies = true).await;
    let start = app.get_as("/auth/oidc/start?return_to=/squads/payments", None).await;
    let set = start.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(
        set.starts_with("__Host-console_pending=")
            && set.contains("; Secure")
            && set.contains("Path=/;"),
        "{set}"
    );
    let location = start.location().to_string();
    let code = "host-code".to_string();
    idp.codes.lock().unwrap().insert(
        code.clone(),
        Grant::new(
            &query_param(&location, "nonce"),
            &query_param(&location, "code_challenge"),
            MARIA,
        ),
    );
    let pending = start.cookie("__Host-console_pending").unwrap();
    let callback = app
        .get_as(
            &format!("/auth/oidc/callback?code={code}&state={}", query_param(&location, "state")),
            Some(&pending),
        )
        .await;
    assert_eq!(callback.location(), "/squads/payments", "{}", callback.body);
    let session = callback
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-console_session="))
        .map(str::to_string);
    let session = session.expect("a __Host- session cookie");
    assert!(session.contains("Secure") && session.contains("Path=/"), "{session}");
    // A plain-named cookie is not ours over HTTPS.
    let value = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-console_session=")
        .to_string();
    assert!(!signed_in(&app, &format!("console_session={value}")).await);
    assert!(signed_in(&app, session.split(';').next().unwrap()).await);
}

/// Offboarding a person reaches an identity the catalog has since unlinked (their User removed
/// from Git): its session ends and its token is revoked.
#[tokio::test]
async fn offboarding_reaches_identities_the_catalog_unlinked() {
    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    let cookie = sign_in_as(&app, &idp, MARIA).await;
    let token = token_for(&app, &cookie).await;
    // maria's User leaves the catalog: her sign-in now acts as oidc:user-42.
    let people: Vec<console_core::auth::people::Person> = vec![];
    console_core::auth::people::replace_people(&app.store, &people).await.unwrap();
    assert_eq!(me_by_token(&app, &token).await.1["login"], "oidc:user-42");
    console_core::auth::people::offboard(&app.store, "maria", "sre").await.unwrap();
    assert!(!signed_in(&app, &cookie).await, "her session ended");
    assert_eq!(
        me_by_token(&app, &token).await.0,
        axum::http::StatusCode::UNAUTHORIZED,
        "her token revoked"
    );
}

/// Offboarding is sticky: the person cannot sign in again, with the same account or another one
/// that links to them (here by a verified e-mail), until an SRE restores access; a sign-in that
/// is not theirs is untouched.
#[tokio::test]
async fn an_offboarded_person_cannot_sign_in_again_with_any_identity() {
    let idp = start_idp().await;
    let app = app_with(&idp.issuer).await;
    sign_in_as(&app, &idp, MARIA).await;
    console_core::auth::people::offboard(&app.store, "maria", "sre").await.unwrap();
    idp.set_user("maria-second-account", json!({"preferred_username": "mf", "email": "maria@example.com", "email_verified": true, "groups": []}));
    idp.set_user("someone-else", json!({"preferred_username": "se", "email": "se@example.com", "email_verified": true, "groups": []}));
    let callback = |subject: &'static str| {
        let (app, idp) = (&app, &idp);
        async move {
            let (cookie, code, state) =
                common::idp::authorize_as(app, idp, subject, common::idp::Mode::Good).await;
            app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie))
                .await
        }
    };
    for subject in [MARIA, "maria-second-account"] {
        let refused = callback(subject).await;
        assert_eq!(refused.location(), "/login?error=blocked", "{subject}");
        assert!(refused.session_cookie().is_none(), "{subject}: no session");
    }
    let blocked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind = $1")
        .bind(console_core::audit::SIGN_IN_BLOCKED)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(blocked, 2, "each refused sign-in is audited");
    assert!(callback("someone-else").await.session_cookie().is_some(), "another person signs in");
    assert!(console_core::auth::people::restore(&app.store, "maria").await.unwrap() > 0);
    sign_in_as(&app, &idp, MARIA).await;
    assert!(
        callback("maria-second-account").await.session_cookie().is_some(),
        "restored for every identity"
    );
}
