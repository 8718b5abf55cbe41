//! Sign-in, sessions, API tokens and the CSRF check, through the real router.

mod common;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::idp::{authorize, start_idp, Mode};
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

    let sessions = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
    };
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
    assert_eq!(
        app.get_as("/", Some(&first)).await.status,
        StatusCode::SEE_OTHER,
        "the old id must be dead"
    );
    assert_eq!(app.get_as("/", Some(&second)).await.status, StatusCode::OK);
}

/// A console started from a configuration file on the demo catalog, `database_url` and `auth`
/// its `[auth]` table.
async fn configured(database_url: &str, auth: &str) -> TestApp {
    TestApp::configured(&format!("database_url = {database_url:?}\n[auth]\n{auth}")).await
}

/// On loopback over plain HTTP, cookies are HttpOnly and SameSite=Lax but cannot be Secure.
#[tokio::test]
async fn cookies_on_loopback_are_http_only_and_lax() {
    let app = configured("sqlite::memory:", "dev_sign_in = true").await;
    let reply = app.post_form("/auth/dev", None, "login=maria").await;
    let cookie = reply.set_cookie("console_session").expect("a session cookie");
    assert!(cookie.starts_with("console_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback cannot use Secure cookies: {cookie}"
    );
}

/// With an https public URL, every cookie the console sets (the pending sign-in and the
/// session) is `__Host-`, Secure, HttpOnly, Lax, for the whole site and no other domain.
#[tokio::test]
async fn cookies_are_secure_and_host_only_when_the_public_url_is_https() {
    let idp = start_idp().await;
    let dir = tempfile::tempdir().unwrap();
    let (key, secret) = (dir.path().join("key"), dir.path().join("secret"));
    std::fs::write(&key, "a sealing key of thirty-two bytes or more").unwrap();
    std::fs::write(&secret, "test-secret").unwrap();
    let app = configured(
        "sqlite::memory:",
        &format!(
            "public_url = \"https://console.example.com\"\nsecret_key_file = {key:?}\n[auth.oidc]\nissuer = {:?}\nclient_id = \"console\"\nclient_secret_file = {secret:?}\nsquad_prefix = \"squad-\"\nsre_group = \"sre\"",
            idp.issuer
        ),
    )
    .await;
    let start = app.get_as("/auth/oidc/start?return_to=/squads/payments", None).await;
    let pending = start.set_cookie("console_pending").expect("a pending sign-in cookie");
    let (cookie, code, state) = authorize(&app, &idp, Mode::Good).await;
    let callback =
        app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
    assert_eq!(callback.location(), "/squads/payments", "{}", callback.body);
    let session = callback.set_cookie("console_session").expect("a session cookie at sign-in");
    for set in [&pending, &session] {
        assert!(set.starts_with("__Host-"), "{set}");
        for attribute in ["; Secure", "; HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(attribute), "{attribute} missing: {set}");
        }
        assert!(!set.contains("Domain="), "{set}");
    }
    // The browser sends it back by that name, and it opens the console.
    let cookie = callback.session_cookie().unwrap();
    assert!(cookie.starts_with("__Host-console_session="));
    assert_eq!(app.get_as("/catalog", Some(&cookie)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn forged_expired_and_unknown_sessions_sign_nobody_in() {
    let app = TestApp::demo().await;
    for forged in [
        "console_session=AAAAAAAAAAAAAAAAAAAAAA",
        "console_session=not-even-base64!!",
        "console_session=",
    ] {
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
    // A configuration that does not turn dev sign-in on has none.
    let no_dev = configured("sqlite::memory:", "").await;
    assert_eq!(
        no_dev.post_form("/auth/dev", None, "login=maria").await.location(),
        "/login?error=unknown-provider"
    );
    assert!(no_dev.post_form("/auth/dev", None, "login=maria").await.session_cookie().is_none());
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
    let stored: Vec<String> = sqlx::query_scalar("SELECT secret_hash FROM api_tokens")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    assert!(stored.iter().all(|h| !token.contains(h.as_str()) && h.len() == 64));

    let with_token = |t: &str| {
        Request::get("/api/v1/squads/payments")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(with_token(&token)).await.status, StatusCode::OK);
    assert_eq!(app.send(with_token(&format!("{token}x"))).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.send(with_token("cst_nope_nope")).await.status, StatusCode::UNAUTHORIZED);

    let id = token.split('_').nth(1).unwrap();
    let revoked = app.post_form("/api/tokens/revoke", Some(&cookie), &format!("id={id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(
        app.send(with_token(&token)).await.status,
        StatusCode::UNAUTHORIZED,
        "revocation is immediate"
    );

    // Somebody else cannot revoke maria's tokens: refused, and the token keeps working.
    let two: String = serde_json::from_str(
        &app.post_form("/api/tokens/create", Some(&cookie), "name=two").await.body,
    )
    .unwrap();
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
    sessions
        .create(&mut Record { id: old, data: Default::default(), expiry_date: past })
        .await
        .unwrap();
    sessions
        .create(&mut Record { id: live, data: Default::default(), expiry_date: future })
        .await
        .unwrap();
    let sweeper =
        console::auth::spawn_session_sweeper(store.clone(), std::time::Duration::from_millis(50));
    let left = || async {
        sqlx::query_scalar::<_, String>("SELECT id FROM sessions")
            .fetch_all(store.pool())
            .await
            .unwrap()
    };
    for _ in 0..200 {
        if left().await.len() < 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    sweeper.abort();
    assert_eq!(left().await, [live.to_string()]);
}

/// Idle expiry from the configuration file to the store: a session lives
/// `session_idle_minutes` past its last request, each request pushes that back, and one idle for
/// longer opens nothing.
#[tokio::test]
async fn sessions_expire_when_idle_for_the_configured_minutes() {
    let app = configured("sqlite::memory:", "dev_sign_in = true\nsession_idle_minutes = 7").await;
    let cookie = app.sign_in("maria").await;
    let expires = || async {
        sqlx::query_scalar::<_, i64>("SELECT expires_at FROM sessions")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
    };
    assert!(
        (expires().await - (now() + 7 * 60)).abs() <= 5,
        "7 minutes from sign-in: {} vs {}",
        expires().await,
        now()
    );

    // Nearly idle for 7 minutes: a request pushes the expiry back to 7 minutes from now.
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(now() + 10)
        .execute(app.store.pool())
        .await
        .unwrap();
    assert_eq!(app.get_as("/catalog", Some(&cookie)).await.status, StatusCode::OK);
    assert!(
        (expires().await - (now() + 7 * 60)).abs() <= 5,
        "activity renews it: {} vs {}",
        expires().await,
        now()
    );

    // Idle past it: nothing opens.
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(now() - 1)
        .execute(app.store.pool())
        .await
        .unwrap();
    assert_eq!(app.get_as("/catalog", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
}

/// The absolute lifetime from the configuration file: `session_max_hours` after sign-in a
/// session is over, however active.
#[tokio::test]
async fn sessions_end_the_configured_hours_after_sign_in() {
    let app = configured("sqlite::memory:", "dev_sign_in = true\nsession_max_hours = 2").await;
    let cookie = app.sign_in("maria").await;
    let store = app.store.clone();
    let signed_in_at = |at: i64| {
        let store = store.clone();
        async move {
            let data: String = sqlx::query_scalar("SELECT data FROM sessions")
                .fetch_one(store.pool())
                .await
                .unwrap();
            let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
            data["signed_in_at"] = at.into();
            sqlx::query("UPDATE sessions SET data = $1")
                .bind(data.to_string())
                .execute(store.pool())
                .await
                .unwrap();
        }
    };
    signed_in_at(now() - 2 * 3600 + 60).await;
    assert_eq!(app.get_as("/catalog", Some(&cookie)).await.status, StatusCode::OK, "a minute left");
    signed_in_at(now() - 2 * 3600 - 1).await;
    assert_eq!(
        app.get_as("/catalog", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER,
        "two hours are up"
    );
}

/// Several replicas on one PostgreSQL store share sessions: a sign-in on one opens the other,
/// activity on either keeps it alive, and a sign-out on either ends it on both.
#[tokio::test]
async fn replicas_on_one_postgres_store_share_sessions() {
    let db = console_core::store::testing::postgres().await;
    let first = configured(&db.url, "dev_sign_in = true").await;
    let second = configured(&db.url, "dev_sign_in = true").await;
    let cookie = first.sign_in("maria").await;
    let me = second.post_json("/api/auth/session", Some(&cookie), serde_json::json!({})).await;
    assert_eq!(me.json()["user"]["login"], "maria", "{}", me.body);
    assert_eq!(second.get_as("/catalog", Some(&cookie)).await.status, StatusCode::OK);

    // Renewed by the second, seen by the first.
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(now() + 10)
        .execute(db.store.pool())
        .await
        .unwrap();
    assert_eq!(second.get_as("/catalog", Some(&cookie)).await.status, StatusCode::OK);
    let expires: i64 = sqlx::query_scalar("SELECT expires_at FROM sessions")
        .fetch_one(first.store.pool())
        .await
        .unwrap();
    assert!(expires > now() + 60, "the second replica's renewal is in the shared store");

    assert_eq!(
        second.post_form("/auth/logout", Some(&cookie), "").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        first.get_as("/catalog", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER,
        "signed out on both"
    );
    db.drop().await;
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
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
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}
