//! Sign-in, sessions, API tokens and the CSRF check, through the real router.

mod common;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{TestApp, PUBLIC_URL};
use console::auth::Auth;
use console_core::store::testing;

#[tokio::test]
async fn anonymous_users_are_sent_to_sign_in() {
    let app = TestApp::demo().await;
    let reply = app.get_as("/services/ledger?tab=1", None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), "/login?return_to=%2Fservices%2Fledger%3Ftab%3D1");
    let api = app.get_as("/api/v1/services", None).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert!(api.json()["error"].as_str().unwrap().contains("sign in"));
    // The login page itself is public and offers the demo users.
    let login = app.get_as("/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Dev sign-in"));
    assert!(login.body.contains("maria (payments)"));
}

#[tokio::test]
async fn dev_sign_in_lands_on_my_squads_and_sign_out_ends_the_session() {
    let app = TestApp::demo().await;
    let cookie = app.sign_in("maria").await;
    let home = app.get_as("/", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("data-testid=\"my-squads\""), "{}", home.body);
    assert!(home.body.contains("data-testid=\"dev-banner\""), "dev banner missing");

    let sessions = || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions").fetch_one(app.store.pool()).await.unwrap() };
    assert_eq!(sessions().await, 1);
    let out = app.post_form("/auth/logout", Some(&cookie), "").await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(sessions().await, 0, "logout must delete the session on the server");
    assert_eq!(app.get_as("/", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in() {
    let app = TestApp::demo().await;
    let first = app.sign_in("maria").await;
    let again = app.post_form("/auth/dev", Some(&first), "login=arjun").await;
    let second = again.session_cookie().expect("a new cookie at sign-in");
    assert_ne!(first, second);
    assert_eq!(app.get_as("/", Some(&first)).await.status, StatusCode::SEE_OTHER, "the old id must be dead");
    assert_eq!(app.get_as("/", Some(&second)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn cookies_are_http_only_and_lax_and_secure_off_loopback() {
    let app = TestApp::demo().await;
    let reply = app.post_form("/auth/dev", None, "login=maria").await;
    let cookie = reply.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP on loopback cannot use Secure cookies");

    let config = console::config::Config::load(
        None,
        [("CONSOLE_AUTH__PUBLIC_URL", "https://console.example.com"), ("CONSOLE_AUTH__DEV_SIGN_IN", "false")]
            .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    assert!(Auth::from_config(&config).unwrap().secure_cookies);
}

#[tokio::test]
async fn forged_expired_and_unknown_sessions_sign_nobody_in() {
    let app = TestApp::demo().await;
    for forged in ["console_session=AAAAAAAAAAAAAAAAAAAAAA", "console_session=not-even-base64!!", "console_session="] {
        assert_eq!(app.get_as("/", Some(forged)).await.status, StatusCode::SEE_OTHER, "{forged}");
    }
    // Past its absolute lifetime, a session is over even if it was used a second ago.
    let mut auth = Auth::dev(PUBLIC_URL);
    auth.max_age_secs = -1;
    let strict = TestApp::build(testing::sqlite().await, auth).await;
    let cookie = strict.sign_in("maria").await;
    assert_eq!(strict.get_as("/", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn dev_sign_in_refuses_unknown_users() {
    let app = TestApp::demo().await;
    let reply = app.post_form("/auth/dev", None, "login=mallory").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), "/login?error=refused");
    assert!(reply.session_cookie().is_none());
}

#[tokio::test]
async fn unconfigured_providers_are_refused() {
    let app = TestApp::demo().await;
    for path in ["/auth/oidc/start", "/auth/github/start", "/auth/oidc/callback?code=x&state=y"] {
        let reply = app.get_as(path, None).await;
        assert_eq!(reply.location(), "/login?error=unknown-provider", "{path}");
    }
    let mut auth = Auth::dev(PUBLIC_URL);
    auth.dev_sign_in = false;
    let no_dev = TestApp::build(testing::sqlite().await, auth).await;
    assert_eq!(no_dev.post_form("/auth/dev", None, "login=maria").await.location(), "/login?error=unknown-provider");
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = TestApp::demo().await;
    let cookie = app.sign_in("maria").await;
    for origin in [None, Some("https://evil.example"), Some("http://127.0.0.1:3000.evil.example")] {
        let mut request = Request::post("/auth/logout").header(header::COOKIE, &cookie);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let reply = app.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{origin:?}");
    }
    // A Referer from our own pages is enough when a browser sends no Origin.
    let request = Request::post("/auth/logout")
        .header(header::COOKIE, &cookie)
        .header(header::REFERER, format!("{PUBLIC_URL}/tokens"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn api_tokens_work_until_revoked() {
    let app = TestApp::demo().await;
    let cookie = app.sign_in("maria").await;
    let created = app.post_form("/api/tokens/create", Some(&cookie), "name=ci").await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let token: String = serde_json::from_str(&created.body).unwrap();
    assert!(token.starts_with("cst_"));
    // Only the hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT secret_hash FROM api_tokens").fetch_all(app.store.pool()).await.unwrap();
    assert!(stored.iter().all(|h| !token.contains(h.as_str()) && h.len() == 64));

    let with_token = |t: &str| Request::get("/api/v1/squads/payments").header(header::AUTHORIZATION, format!("Bearer {t}")).body(Body::empty()).unwrap();
    assert_eq!(app.send(with_token(&token)).await.status, StatusCode::OK);
    assert_eq!(app.send(with_token(&format!("{token}x"))).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.send(with_token("cst_nope_nope")).await.status, StatusCode::UNAUTHORIZED);

    let id = token.split('_').nth(1).unwrap();
    let revoked = app.post_form("/api/tokens/revoke", Some(&cookie), &format!("id={id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(app.send(with_token(&token)).await.status, StatusCode::UNAUTHORIZED, "revocation is immediate");

    // Somebody else cannot revoke maria's tokens: refused, and the token keeps working.
    let two: String = serde_json::from_str(&app.post_form("/api/tokens/create", Some(&cookie), "name=two").await.body).unwrap();
    let other = app.sign_in("arjun").await;
    let live = two.split('_').nth(1).unwrap();
    let refused = app.post_form("/api/tokens/revoke", Some(&other), &format!("id={live}")).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    assert_eq!(app.send(with_token(&two)).await.status, StatusCode::OK, "the token still works");
}

/// Sessions that expired (a sign-in started and never finished, say) are removed by the sweeper;
/// live ones stay.
#[tokio::test]
async fn expired_sessions_are_swept() {
    use tower_sessions::cookie::time;
    use tower_sessions::session::{Id, Record};
    use tower_sessions::SessionStore;
    let store = console_core::store::testing::sqlite().await;
    let sessions = console_core::auth::sessions::DbSessionStore::new(store.clone());
    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let future = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let (old, live) = (Id::default(), Id::default());
    sessions.create(&mut Record { id: old, data: Default::default(), expiry_date: past }).await.unwrap();
    sessions.create(&mut Record { id: live, data: Default::default(), expiry_date: future }).await.unwrap();
    let sweeper = console::auth::spawn_session_sweeper(store.clone(), std::time::Duration::from_millis(50));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sweeper.abort();
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions").fetch_all(store.pool()).await.unwrap();
    assert_eq!(left, [live.to_string()]);
}

/// Idle expiry from the configuration to the store: a session lives `session_idle_minutes` past
/// its last request, each request pushes that back, and one idle for longer opens nothing.
#[tokio::test]
async fn sessions_expire_when_idle_for_the_configured_minutes() {
    let config = console::config::Config::load(
        None,
        [("CONSOLE_AUTH__SESSION_IDLE_MINUTES", "7"), ("CONSOLE_AUTH__DEV_SIGN_IN", "true")].map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    let app = TestApp::build(console_core::store::testing::sqlite().await, Auth::from_config(&config).unwrap()).await;
    let cookie = app.sign_in("maria").await;
    let expires = || async { sqlx::query_scalar::<_, i64>("SELECT expires_at FROM sessions").fetch_one(app.store.pool()).await.unwrap() };
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((expires().await - (now() + 7 * 60)).abs() <= 5, "7 minutes from sign-in: {} vs {}", expires().await, now());

    // Nearly idle for 7 minutes: a request pushes the expiry back to 7 minutes from now.
    sqlx::query("UPDATE sessions SET expires_at = $1").bind(now() + 10).execute(app.store.pool()).await.unwrap();
    assert_eq!(app.get_as("/catalog", Some(&cookie)).await.status, StatusCode::OK);
    assert!((expires().await - (now() + 7 * 60)).abs() <= 5, "activity renews it: {} vs {}", expires().await, now());

    // Idle past it: nothing opens.
    sqlx::query("UPDATE sessions SET expires_at = $1").bind(now() - 1).execute(app.store.pool()).await.unwrap();
    assert_eq!(app.get_as("/catalog", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
}

/// Sessions are written back on every request (rolling idle expiry), yet one that was ended
/// stays ended: "sign out everywhere" ends the very session that asked for it too.
#[tokio::test]
async fn an_ended_session_is_not_written_back() {
    let app = TestApp::demo().await;
    let laptop = app.sign_in("maria").await;
    let phone = app.sign_in("maria").await;
    let ended = app.post_json("/api/sessions/end-all", Some(&laptop), serde_json::json!({})).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    for cookie in [&laptop, &phone] {
        assert_eq!(app.get_as("/catalog", Some(cookie)).await.status, StatusCode::SEE_OTHER);
    }
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(left, 0);
}
