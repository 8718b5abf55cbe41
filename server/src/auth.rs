//! Authentication on the server: sessions, sign-in routes, the request's user, CSRF defence.
//!
//! Authorization is not here: every handler and server function asks
//! `console_core::auth::policy::allows` for its own action and resource.

use crate::config::{read_secret, Config, ConfigError};
use crate::AppState;
use axum::extract::{Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use console_core::auth::oidc::{AuthError, GithubProvider, GithubSettings, OidcProvider, OidcSettings, Pending, Secret};
use console_core::auth::{tokens, CurrentUser, Identity, User};
use console_core::catalog::repo;
use console_core::store::Store;
use serde::Deserialize;
use std::sync::Arc;
use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

const IDENTITY: &str = "identity";
const SIGNED_IN_AT: &str = "signed_in_at";
const PENDING: &str = "pending_login";

/// The SRE account offered by dev sign-in (see `app::auth::dev_users`).
pub const DEV_SRE: &str = "sre";

/// Sign-in settings and providers, built once from the configuration.
#[derive(Clone)]
pub struct Auth {
    pub public_url: String,
    pub dev_sign_in: bool,
    pub max_age_secs: i64,
    pub idle_minutes: i64,
    pub secure_cookies: bool,
    pub oidc: Option<(String, Arc<OidcProvider>)>,
    pub github: Option<Arc<GithubProvider>>,
}

impl Auth {
    pub fn from_config(config: &Config) -> Result<Auth, ConfigError> {
        let public_url = config.public_url();
        let oidc = match &config.auth.oidc {
            None => None,
            Some(o) => {
                let secret = read_secret("auth.oidc.client_secret_env", &o.client_secret_env, &o.client_secret_file)?;
                let provider = OidcProvider::new(OidcSettings {
                    issuer: o.issuer.clone(),
                    client_id: o.client_id.clone(),
                    client_secret: secret.map(Secret::new),
                    redirect_url: format!("{public_url}/auth/oidc/callback"),
                    scopes: o.scopes.clone(),
                    groups_claim: o.groups_claim.clone(),
                    squad_prefix: o.squad_prefix.clone(),
                    sre_group: o.sre_group.clone(),
                });
                Some((o.name.clone(), provider))
            }
        };
        let github = match &config.auth.github {
            None => None,
            Some(g) => {
                let secret = read_secret("auth.github.client_secret_env", &g.client_secret_env, &g.client_secret_file)?
                    .unwrap_or_default();
                Some(GithubProvider::new(GithubSettings {
                    client_id: g.client_id.clone(),
                    client_secret: Secret::new(secret),
                    redirect_url: format!("{public_url}/auth/github/callback"),
                    org: g.org.clone(),
                    sre_team: g.sre_team.clone(),
                    web_url: g.web_url.clone(),
                    api_url: g.api_url.clone(),
                }))
            }
        };
        let loopback_http = public_url.starts_with("http://")
            && ["http://127.", "http://localhost", "http://[::1]"].iter().any(|p| public_url.starts_with(p));
        Ok(Auth {
            dev_sign_in: config.dev_sign_in(),
            max_age_secs: config.auth.session_max_hours as i64 * 3600,
            idle_minutes: config.auth.session_idle_minutes as i64,
            secure_cookies: !loopback_http,
            public_url,
            oidc,
            github,
        })
    }

    /// Dev sign-in only, for tests and `make run`.
    pub fn dev(public_url: &str) -> Auth {
        Auth {
            public_url: public_url.trim_end_matches('/').to_string(),
            dev_sign_in: true,
            max_age_secs: 24 * 3600,
            idle_minutes: 8 * 60,
            secure_cookies: false,
            oidc: None,
            github: None,
        }
    }
}

/// Deletes expired sessions every `every`, for as long as the console runs: sign-ins that were
/// started and never finished (anyone may start one) leave rows nothing else removes.
pub fn spawn_session_sweeper(store: Store, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    let sessions = console_core::auth::sessions::DbSessionStore::new(store);
    tokio::spawn(async move {
        loop {
            match sessions.delete_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "expired sessions removed"),
                Err(error) => tracing::warn!(%error, "expired sessions could not be removed"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

impl Auth {
    pub fn session_layer(&self, store: Store) -> SessionManagerLayer<console_core::auth::sessions::DbSessionStore> {
        SessionManagerLayer::new(console_core::auth::sessions::DbSessionStore::new(store))
            .with_name("console_session")
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(self.secure_cookies)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(time::Duration::minutes(self.idle_minutes)))
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Sign-in and sign-out routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/oidc/start", get(oidc_start))
        .route("/auth/oidc/callback", get(oidc_callback))
        .route("/auth/github/start", get(github_start))
        .route("/auth/github/callback", get(github_callback))
        .route("/auth/dev", post(dev_sign_in))
        .route("/auth/logout", post(logout))
}

#[derive(Deserialize)]
struct StartParams {
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Only local paths: an absolute or protocol-relative URL would make us an open redirect.
/// A path on this console to return to after sign-in, else `/`. An allow-list: printable ASCII
/// only (browsers drop tabs and line breaks, so `/\t/evil` would become `//evil`), one leading
/// slash, no backslash.
fn safe_return(path: Option<&str>) -> String {
    match path {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') => p.to_string(),
        _ => "/".to_string(),
    }
}

/// A provider's `error` parameter, as the OAuth error codes are spelt (`access_denied`): anything
/// else would let the provider's text forge lines in the log.
fn provider_error(text: &str) -> String {
    let code: String = text.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).take(64).collect();
    if code.is_empty() { "unspecified".into() } else { code }
}

fn login_error(provider: &str, error: &AuthError) -> Response {
    tracing::warn!(provider, %error, "sign-in failed");
    Redirect::to(&format!("/login?error={}", error.code())).into_response()
}

async fn begin(session: &Session, started: Result<(String, Pending), AuthError>, provider: &str) -> Response {
    match started {
        Ok((url, pending)) => match session.insert(PENDING, pending).await {
            Ok(()) => Redirect::to(&url).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot store pending login");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        },
        Err(e) => login_error(provider, &e),
    }
}

async fn oidc_start(State(state): State<AppState>, session: Session, Query(p): Query<StartParams>) -> Response {
    let Some((_, provider)) = state.auth.oidc.clone() else {
        return login_error("oidc", &AuthError::UnknownProvider("oidc".into()));
    };
    begin(&session, provider.start("oidc", &safe_return(p.return_to.as_deref())).await, "oidc").await
}

async fn github_start(State(state): State<AppState>, session: Session, Query(p): Query<StartParams>) -> Response {
    let Some(provider) = state.auth.github.clone() else {
        return login_error("github", &AuthError::UnknownProvider("github".into()));
    };
    begin(&session, provider.start(&safe_return(p.return_to.as_deref())), "github").await
}

/// Takes the pending login out of the session: it can be used once only.
async fn take_pending(session: &Session, provider: &str) -> Result<Pending, AuthError> {
    match session.remove::<Pending>(PENDING).await {
        Ok(Some(p)) if p.provider == provider => Ok(p),
        _ => Err(AuthError::StateMismatch),
    }
}

async fn oidc_callback(State(state): State<AppState>, session: Session, Query(p): Query<CallbackParams>) -> Response {
    let result = async {
        let (_, provider) = state.auth.oidc.clone().ok_or_else(|| AuthError::UnknownProvider("oidc".into()))?;
        let pending = take_pending(&session, "oidc").await?;
        if let Some(error) = p.error {
            return Err(AuthError::ProviderRefused(provider_error(&error)));
        }
        let identity = provider.finish(&pending, p.code.as_deref(), p.state.as_deref()).await?;
        Ok((identity, pending.return_to))
    }
    .await;
    finish_login(&session, result, "oidc").await
}

async fn github_callback(State(state): State<AppState>, session: Session, Query(p): Query<CallbackParams>) -> Response {
    let result = async {
        let provider = state.auth.github.clone().ok_or_else(|| AuthError::UnknownProvider("github".into()))?;
        let pending = take_pending(&session, "github").await?;
        if let Some(error) = p.error {
            return Err(AuthError::ProviderRefused(provider_error(&error)));
        }
        let identity = provider.finish(&pending, p.code.as_deref(), p.state.as_deref()).await?;
        Ok((identity, pending.return_to))
    }
    .await;
    finish_login(&session, result, "github").await
}

async fn finish_login(session: &Session, result: Result<(Identity, String), AuthError>, provider: &str) -> Response {
    match result {
        Ok((identity, return_to)) => match sign_in(session, &identity).await {
            Ok(()) => Redirect::to(&safe_return(Some(&return_to))).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot store session");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        },
        Err(e) => login_error(provider, &e),
    }
}

/// A new session id at sign-in, so a session fixed before sign-in is worth nothing after.
async fn sign_in(session: &Session, identity: &Identity) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(IDENTITY, identity).await?;
    session.insert(SIGNED_IN_AT, now()).await?;
    tracing::info!(login = %identity.login, provider = %identity.provider, "signed in");
    Ok(())
}

#[derive(Deserialize)]
struct DevForm {
    login: String,
    return_to: Option<String>,
}

async fn dev_sign_in(State(state): State<AppState>, session: Session, Form(form): Form<DevForm>) -> Response {
    if !state.auth.dev_sign_in {
        return login_error("dev", &AuthError::UnknownProvider("dev".into()));
    }
    let known = match app::auth::dev_users(&state.store).await {
        Ok(users) => users.into_iter().any(|(login, _)| login == form.login),
        Err(e) => {
            tracing::error!(error = %e, "store error");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if !known {
        return login_error("dev", &AuthError::ProviderRefused(format!("no demo user {:?}", form.login)));
    }
    let identity = Identity {
        login: form.login.clone(),
        name: form.login.clone(),
        email: String::new(),
        squads: vec![],
        sre: form.login == DEV_SRE,
        provider: "dev".into(),
    };
    finish_login(&session, Ok((identity, safe_return(form.return_to.as_deref()))), "dev").await
}

async fn logout(session: Session) -> Response {
    // Deletes the session on the server, not only the cookie.
    if let Err(e) = session.flush().await {
        tracing::error!(error = %e, "cannot delete session");
    }
    Redirect::to("/login").into_response()
}

/// Who is asking: a Bearer API token, or the session's identity while it is within its
/// absolute lifetime. Adds the catalog's squads and puts a [`CurrentUser`] in the request.
pub async fn authenticate(State(state): State<AppState>, session: Session, mut request: Request, next: Next) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let identity = match bearer {
        Some(token) => match tokens::verify(&state.store, token.trim()).await {
            Ok(Some(identity)) => Some(identity),
            Ok(None) => return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "invalid or revoked API token"}))).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "store error verifying token");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
        None => match session_identity(&state, &session).await {
            Ok(identity) => identity,
            Err(e) => {
                tracing::error!(error = %e, "cannot read session");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
    };
    let user = match identity {
        None => None,
        Some(identity) => match repo::squads_of(&state.store, &identity.login).await {
            Ok(squads) => Some(User::new(&identity, &squads)),
            Err(e) => {
                tracing::error!(error = %e, "store error resolving squads");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
    };
    let path = request.uri().path().to_string();
    if user.is_none() && !is_public(&path) {
        if path.starts_with("/api/v1/") {
            return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "sign in or send an API token"}))).into_response();
        }
        if request.method() == Method::GET {
            let target = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let encoded = console_core::catalog::encode_component(target);
            return Redirect::to(&format!("/login?return_to={encoded}")).into_response();
        }
    }
    request.extensions_mut().insert(CurrentUser(user));
    next.run(request).await
}

async fn session_identity(state: &AppState, session: &Session) -> Result<Option<Identity>, tower_sessions::session::Error> {
    let Some(identity) = session.get::<Identity>(IDENTITY).await? else { return Ok(None) };
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await?.unwrap_or(0);
    if now() - signed_in_at > state.auth.max_age_secs {
        tracing::info!(login = %identity.login, "session past its absolute lifetime");
        session.flush().await?;
        return Ok(None);
    }
    Ok(Some(identity))
}

/// Paths anyone may reach. Server functions (`/api/…` other than `/api/v1/`) are reachable
/// too, and each authorizes itself.
fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/healthz" | "/readyz" | "/metrics" | "/favicon.svg")
        || path.starts_with("/auth/")
        || path.starts_with("/pkg/")
        || (path.starts_with("/api/") && !path.starts_with("/api/v1/"))
}

/// CSRF defence beyond SameSite: a state-changing request must come from our own pages.
pub async fn check_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let allowed = {
        let headers = request.headers();
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
        let public = state.auth.public_url.as_str();
        match (origin, referer) {
            (Some(origin), _) => origin == public,
            (None, Some(referer)) => referer == public || referer.starts_with(&format!("{public}/")),
            (None, None) => false,
        }
    };
    if allowed {
        next.run(request).await
    } else {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
        (StatusCode::FORBIDDEN, "cross-site request refused: Origin does not match the console's public URL").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_local() {
        assert_eq!(safe_return(Some("/services/ledger?x=1")), "/services/ledger?x=1");
        // Browsers drop tabs and line breaks from URLs: `/\t/evil.example/` is `//evil.example/`.
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "evil", "/\t/evil.example/", "/\n/evil.example", "/\r/x", "/ /evil.example", "/\u{a0}/x"] {
            assert_eq!(safe_return(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return(None), "/");
    }

    #[test]
    fn provider_errors_cannot_forge_log_lines() {
        assert_eq!(provider_error("access_denied"), "access_denied");
        assert_eq!(provider_error("x\n2026-12-02T00:00:00Z INFO signed in login=sre"), "x2026-12-02T000000ZINFOsignedinloginsre");
        assert_eq!(provider_error("\u{1b}[31m"), "31m");
        assert_eq!(provider_error(""), "unspecified");
    }
}
