//! A fake OpenID provider that speaks the real protocol over HTTP: discovery, JWKS,
//! PKCE-checked single-use codes, RS256-signed ID tokens, rotating refresh tokens; its users
//! (claims per subject) can be changed while the console runs; with ways to misbehave.

use super::{TestApp, PUBLIC_URL};
use axum::extract::{Form, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use console::auth::Auth;
use console_core::auth::oidc::{OidcProvider, OidcSettings};
use console_core::auth::sign_in::Secret;
use console_core::store::testing;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    Good,
    WrongNonce,
    Expired,
    Forged,
    WrongAudience,
}

#[derive(Clone)]
pub struct Grant {
    nonce: String,
    challenge: String,
    mode: Mode,
    subject: String,
}

impl Grant {
    /// A good login of `subject` for a sign-in with this nonce and PKCE challenge.
    pub fn new(nonce: &str, challenge: &str, subject: &str) -> Grant {
        Grant {
            nonce: nonce.into(),
            challenge: challenge.into(),
            mode: Mode::Good,
            subject: subject.into(),
        }
    }
}

#[derive(Clone)]
pub struct Idp {
    pub issuer: String,
    pub codes: Arc<Mutex<HashMap<String, Grant>>>,
    /// Claims per subject (besides iss, aud, exp, iat, nonce): change them to change the user.
    pub users: Arc<Mutex<HashMap<String, Value>>>,
    /// Live refresh tokens → subject.
    pub refresh: Arc<Mutex<HashMap<String, String>>>,
    /// While true, the token endpoint answers 503 (the provider is down).
    pub down: Arc<AtomicBool>,
    counter: Arc<AtomicUsize>,
}

/// The subject of the default user: `maria`, verified e-mail, in squad-payments and sre.
pub const MARIA: &str = "user-42";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

impl Idp {
    /// Adds or replaces the user `subject` with `claims`.
    pub fn set_user(&self, subject: &str, claims: Value) {
        self.users.lock().unwrap().insert(subject.to_string(), claims);
    }
    /// Changes one claim of `subject`.
    pub fn set_claim(&self, subject: &str, claim: &str, value: Value) {
        self.users.lock().unwrap().get_mut(subject).unwrap()[claim] = value;
    }
}

pub async fn start_idp() -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let idp = Idp {
        issuer: issuer.clone(),
        codes: Arc::default(),
        users: Arc::default(),
        refresh: Arc::default(),
        down: Arc::default(),
        counter: Arc::default(),
    };
    idp.set_user(
        MARIA,
        json!({"preferred_username": "maria", "name": "Maria Silva", "email": "maria@example.com",
               "email_verified": true, "groups": ["squad-payments", "sre"]}),
    );
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(idp): State<Idp>| async move {
                Json(json!({
                    "issuer": idp.issuer,
                    "authorization_endpoint": format!("{}/authorize", idp.issuer),
                    "token_endpoint": format!("{}/token", idp.issuer),
                    "jwks_uri": format!("{}/jwks", idp.issuer),
                }))
            }),
        )
        .route(
            "/jwks",
            get(|| async {
                Json(json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                  "n": include_str!("../fixtures/idp.n").trim(), "e": "AQAB"}]}))
            }),
        )
        .route("/token", post(token))
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    idp
}

fn id_token(idp: &Idp, subject: &str, nonce: Option<&str>, mode: Mode) -> Option<String> {
    let mut claims = idp.users.lock().unwrap().get(subject)?.clone();
    let extra = json!({
        "iss": idp.issuer,
        "sub": subject,
        "aud": if mode == Mode::WrongAudience { "someone-else" } else { "console" },
        "exp": if mode == Mode::Expired { now() - 3600 } else { now() + 300 },
        "iat": now(),
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(if mode == Mode::WrongNonce { "another-nonce" } else { nonce });
    }
    let pem: &[u8] = if mode == Mode::Forged {
        include_bytes!("../fixtures/other.pem")
    } else {
        include_bytes!("../fixtures/idp.pem")
    };
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("k1".into());
    Some(jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap())
}

fn new_refresh(idp: &Idp, subject: &str) -> String {
    let token = format!("rt-{}", idp.counter.fetch_add(1, Ordering::SeqCst));
    idp.refresh.lock().unwrap().insert(token.clone(), subject.to_string());
    token
}

async fn token(
    State(idp): State<Idp>,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let refuse = |why: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": why})),
        )
            .into_response()
    };
    if idp.down.load(Ordering::SeqCst) {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
        // Refresh tokens rotate: the old one is spent.
        let Some(subject) = idp
            .refresh
            .lock()
            .unwrap()
            .remove(form.get("refresh_token").map(String::as_str).unwrap_or_default())
        else {
            return refuse("unknown or used refresh token");
        };
        let Some(id_token) = id_token(&idp, &subject, None, Mode::Good) else {
            return refuse("no such user any more");
        };
        let refresh = new_refresh(&idp, &subject);
        return Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token, "refresh_token": refresh})).into_response();
    }
    // Codes are single use.
    let Some(grant) =
        idp.codes.lock().unwrap().remove(form.get("code").map(String::as_str).unwrap_or_default())
    else {
        return refuse("unknown or used code");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge {
        return refuse("PKCE verifier does not match");
    }
    let Some(id_token) = id_token(&idp, &grant.subject, Some(&grant.nonce), grant.mode) else {
        return refuse("no such user");
    };
    let refresh = new_refresh(&idp, &grant.subject);
    Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token, "refresh_token": refresh})).into_response()
}

/// The console's settings for this provider: squads from `squad-` groups, SREs from `sre`.
pub fn settings(issuer: &str) -> OidcSettings {
    OidcSettings {
        issuer: issuer.to_string(),
        client_id: "console".into(),
        client_secret: Some(Secret::new("test-secret".into())),
        redirect_url: format!("{PUBLIC_URL}/auth/oidc/callback"),
        scopes: vec!["openid".into(), "groups".into()],
        groups_claim: "groups".into(),
        squad_prefix: "squad-".into(),
        squad_map: Default::default(),
        sre_group: "sre".into(),
        trust_email: true,
    }
}

pub async fn app_with(issuer: &str) -> TestApp {
    app_with_auth(issuer, |_| {}).await
}

/// The demo app signing in through this provider, with `adjust` applied to its settings.
pub async fn app_with_auth(issuer: &str, adjust: impl FnOnce(&mut Auth)) -> TestApp {
    app_on_store(issuer, testing::sqlite().await, adjust).await
}

/// [`app_with_auth`] on a given store (PostgreSQL for the several-replicas case).
pub async fn app_on_store(
    issuer: &str,
    store: console_core::store::Store,
    adjust: impl FnOnce(&mut Auth),
) -> TestApp {
    let mut auth = Auth::dev(PUBLIC_URL);
    auth.dev_sign_in = false;
    auth.oidc = Some(("Test IdP".into(), OidcProvider::new(settings(issuer))));
    adjust(&mut auth);
    TestApp::build(store, auth).await
}

pub fn query_param(url: &str, key: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.replace("%2B", "+").replace("%2F", "/").replace("%3D", "="))
        .unwrap_or_default()
}

/// Starts a sign-in, lets the fake user `subject` log in with `mode`; returns (pending-login
/// cookie, code, state).
pub async fn authorize_as(
    app: &TestApp,
    idp: &Idp,
    subject: &str,
    mode: Mode,
) -> (String, String, String) {
    let start = app.get_as("/auth/oidc/start?return_to=/squads/payments", None).await;
    let location = start.location().to_string();
    assert!(location.starts_with(&format!("{}/authorize?", idp.issuer)), "{location}");
    assert_eq!(query_param(&location, "code_challenge_method"), "S256");
    assert!(start.session_cookie().is_none(), "starting a sign-in stores no session");
    let code = format!("code-{}", idp.counter.fetch_add(1, Ordering::SeqCst));
    idp.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            nonce: query_param(&location, "nonce"),
            challenge: query_param(&location, "code_challenge"),
            mode,
            subject: subject.to_string(),
        },
    );
    (
        start.cookie("console_pending").expect("pending login cookie"),
        code,
        query_param(&location, "state"),
    )
}

pub async fn authorize(app: &TestApp, idp: &Idp, mode: Mode) -> (String, String, String) {
    authorize_as(app, idp, MARIA, mode).await
}

/// Signs `subject` in; returns the session cookie.
pub async fn sign_in_as(app: &TestApp, idp: &Idp, subject: &str) -> String {
    let (cookie, code, state) = authorize_as(app, idp, subject, Mode::Good).await;
    let callback =
        app.get_as(&format!("/auth/oidc/callback?code={code}&state={state}"), Some(&cookie)).await;
    assert_eq!(callback.location(), "/squads/payments", "{}", callback.body);
    callback.session_cookie().expect("a session at sign-in")
}

pub async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    app.get_as("/", Some(cookie)).await.status == axum::http::StatusCode::OK
}
