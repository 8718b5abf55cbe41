//! A fake OpenID provider that speaks the real protocol over HTTP: discovery, JWKS,
//! PKCE-checked single-use codes, RS256-signed ID tokens; with ways to misbehave.

use super::{TestApp, PUBLIC_URL};
use axum::extract::{Form, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use console::auth::Auth;
use console_core::auth::oidc::{OidcProvider, OidcSettings, Secret};
use console_core::store::testing;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
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
}

#[derive(Clone)]
pub struct Idp {
    pub issuer: String,
    pub codes: Arc<Mutex<HashMap<String, Grant>>>,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

pub async fn start_idp() -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let idp = Idp { issuer: issuer.clone(), codes: Arc::default() };
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(|State(idp): State<Idp>| async move {
            Json(json!({
                "issuer": idp.issuer,
                "authorization_endpoint": format!("{}/authorize", idp.issuer),
                "token_endpoint": format!("{}/token", idp.issuer),
                "jwks_uri": format!("{}/jwks", idp.issuer),
            }))
        }))
        .route("/jwks", get(|| async {
            Json(json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                  "n": include_str!("../fixtures/idp.n").trim(), "e": "AQAB"}]}))
        }))
        .route("/token", post(token))
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    idp
}

async fn token(State(idp): State<Idp>, Form(form): Form<HashMap<String, String>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let refuse = |why: &str| (axum::http::StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": why}))).into_response();
    // Codes are single use.
    let Some(grant) = idp.codes.lock().unwrap().remove(form.get("code").map(String::as_str).unwrap_or_default()) else {
        return refuse("unknown or used code");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge {
        return refuse("PKCE verifier does not match");
    }
    let claims = json!({
        "iss": idp.issuer,
        "sub": "user-42",
        "aud": if grant.mode == Mode::WrongAudience { "someone-else" } else { "console" },
        "exp": if grant.mode == Mode::Expired { now() - 3600 } else { now() + 300 },
        "iat": now(),
        "nonce": if grant.mode == Mode::WrongNonce { "another-nonce".to_string() } else { grant.nonce.clone() },
        "preferred_username": "maria",
        "name": "Maria Silva",
        "email": "maria@example.com",
        "groups": ["squad-payments", "sre"],
    });
    let pem: &[u8] = if grant.mode == Mode::Forged { include_bytes!("../fixtures/other.pem") } else { include_bytes!("../fixtures/idp.pem") };
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("k1".into());
    let id_token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap();
    Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})).into_response()
}

pub async fn app_with(issuer: &str) -> TestApp {
    let mut auth = Auth::dev(PUBLIC_URL);
    auth.dev_sign_in = false;
    let provider = OidcProvider::new(OidcSettings {
        issuer: issuer.to_string(),
        client_id: "console".into(),
        client_secret: Some(Secret::new("test-secret".into())),
        redirect_url: format!("{PUBLIC_URL}/auth/oidc/callback"),
        scopes: vec!["openid".into(), "groups".into()],
        groups_claim: "groups".into(),
        squad_prefix: "squad-".into(),
        sre_group: "sre".into(),
    });
    auth.oidc = Some(("Test IdP".into(), provider));
    TestApp::build(testing::sqlite().await, auth).await
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

/// Starts a sign-in, lets the fake user log in with `mode`; returns (cookie, code, state).
pub async fn authorize(app: &TestApp, idp: &Idp, mode: Mode) -> (String, String, String) {
    let start = app.get_as("/auth/oidc/start?return_to=/squads/payments", None).await;
    let location = start.location().to_string();
    assert!(location.starts_with(&format!("{}/authorize?", idp.issuer)), "{location}");
    assert_eq!(query_param(&location, "code_challenge_method"), "S256");
    let code = format!("code-{}", idp.codes.lock().unwrap().len());
    idp.codes.lock().unwrap().insert(
        code.clone(),
        Grant { nonce: query_param(&location, "nonce"), challenge: query_param(&location, "code_challenge"), mode },
    );
    (start.session_cookie().expect("pending login cookie"), code, query_param(&location, "state"))
}

pub async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    app.get_as("/", Some(cookie)).await.status == axum::http::StatusCode::OK
}

