//! Authentication on the server: sessions, sign-in routes, the request's user, CSRF defence.
//!
//! Authorization is not here: every handler and server function asks
//! `console_core::auth::policy::allows` for its own action and resource.

mod sign_in;
pub use sign_in::router;

use crate::config::{read_secret, Config, ConfigError};
use crate::AppState;
use axum::extract::{Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use console_core::audit;
use console_core::auth::github::{GithubProvider, GithubSettings};
use console_core::auth::oidc::{OidcProvider, OidcSettings};
use console_core::auth::people::{self, Roles, StoredIdentity};
use console_core::auth::sealed::SealingKey;
use console_core::auth::sign_in::{AuthError, Pending, Secret, PENDING_SECS};
use console_core::auth::tokens::{self, TokenUse};
use console_core::auth::{CurrentUser, Identity, User};
use console_core::store::{Store, StoreError};
use serde::Deserialize;
use std::sync::Arc;
use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// Session key of the signed-in identity's id (also read by the session store).
const IDENTITY: &str = "identity";
const SIGNED_IN_AT: &str = "signed_in_at";
/// The sign-in in progress lives in a short-lived sealed cookie, not in a session row: anyone
/// may start a sign-in, and those must not fill the store.
const PENDING_COOKIE: &str = "console_pending";

/// The SRE account offered by dev sign-in (see `console_core::auth::dev`).
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
    /// Seals pending sign-ins and the providers' credentials; shared by every replica.
    pub sealing: SealingKey,
    /// Roles are asked of the provider again when older than this.
    pub recheck_secs: i64,
    /// How long roles may go un-rechecked (provider down, no refresh token) before the
    /// identity's sessions and tokens stop.
    pub grace_secs: i64,
}

impl Auth {
    pub fn from_config(config: &Config) -> Result<Auth, ConfigError> {
        let public_url = config.public_url();
        let oidc = match &config.auth.oidc {
            None => None,
            Some(o) => {
                let secret = read_secret(
                    "auth.oidc.client_secret_env",
                    &o.client_secret_env,
                    &o.client_secret_file,
                )?;
                let provider = OidcProvider::new(OidcSettings {
                    issuer: o.issuer.clone(),
                    client_id: o.client_id.clone(),
                    client_secret: secret.map(Secret::new),
                    redirect_url: format!("{public_url}/auth/oidc/callback"),
                    scopes: o.scopes.clone(),
                    groups_claim: o.groups_claim.clone(),
                    squad_prefix: o.squad_prefix.clone().unwrap_or_default(),
                    squad_map: o.squad_map.clone(),
                    sre_group: o.sre_group.clone(),
                    trust_email: o.trust_email,
                });
                Some((o.name.clone(), provider))
            }
        };
        let github = match &config.auth.github {
            None => None,
            Some(g) => {
                let secret = read_secret(
                    "auth.github.client_secret_env",
                    &g.client_secret_env,
                    &g.client_secret_file,
                )?
                .unwrap_or_default();
                Some(GithubProvider::new(GithubSettings {
                    client_id: g.client_id.clone(),
                    client_secret: Secret::new(secret),
                    redirect_url: format!("{public_url}/auth/github/callback"),
                    org: g.org.clone(),
                    team_map: g.team_map.clone(),
                    team_prefix: g.team_prefix.clone().unwrap_or_default(),
                    sre_team: g.sre_team.clone(),
                    trust_email: g.trust_email,
                    web_url: g.web_url.clone(),
                    api_url: g.api_url.clone(),
                }))
            }
        };
        let loopback_http = public_url.starts_with("http://")
            && ["http://127.", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| public_url.starts_with(p));
        let sealing = match read_secret(
            "auth.secret_key_env",
            &config.auth.secret_key_env,
            &config.auth.secret_key_file,
        )? {
            Some(secret) => SealingKey::from_secret(&Secret::new(secret)),
            // Only with dev sign-in alone (validate refuses providers without a key): nothing
            // sealed then outlives the process.
            None => SealingKey::random(),
        };
        Ok(Auth {
            dev_sign_in: config.dev_sign_in(),
            max_age_secs: config.auth.session_max_hours as i64 * 3600,
            idle_minutes: config.auth.session_idle_minutes as i64,
            secure_cookies: !loopback_http,
            public_url,
            oidc,
            github,
            sealing,
            recheck_secs: config.auth.recheck_minutes as i64 * 60,
            grace_secs: config.auth.recheck_grace_minutes as i64 * 60,
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
            sealing: SealingKey::random(),
            recheck_secs: 15 * 60,
            grace_secs: 60 * 60,
        }
    }
}

/// Deletes expired sessions every `every`, for as long as the console runs: sign-ins that were
/// started and never finished (anyone may start one) leave rows nothing else removes.
pub fn spawn_session_sweeper(
    store: Store,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
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
    pub fn session_layer(
        &self,
        store: Store,
    ) -> SessionManagerLayer<console_core::auth::sessions::DbSessionStore> {
        SessionManagerLayer::new(console_core::auth::sessions::DbSessionStore::new(store))
            .with_name(cookie_name(self, "console_session"))
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(self.secure_cookies)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(time::Duration::minutes(self.idle_minutes)))
            // Written back on every request, unmodified too: otherwise the stored expiry stays
            // where sign-in put it and an active person is signed out `idle_minutes` after it.
            .with_always_save(true)
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A cookie's name: with HTTPS, `__Host-` binds it to this exact host (a sibling subdomain
/// cannot plant one), which also requires `Path=/` and Secure.
pub fn cookie_name(auth: &Auth, name: &str) -> String {
    if auth.secure_cookies {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// The Bearer token of a request, if it sends one: the same answer for the CSRF check and for
/// authentication, so a malformed token (not UTF-8) is refused as a token, never quietly
/// replaced by the session cookie the CSRF check let through. Other schemes (a proxy's Basic)
/// are not ours and are ignored.
fn bearer_token(headers: &header::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    // The scheme is case-insensitive (RFC 7235).
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(std::str::from_utf8(&value[7..]).map(str::to_string).unwrap_or_default())
}

/// The API token a request came with, for the audit and the scope check.
#[derive(Debug, Clone, Default)]
pub struct RequestToken(pub Option<TokenUse>);

fn unauthorized(message: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Who is asking: a Bearer API token (on `/api/v1/*` only), or the session's identity while it
/// is within its absolute lifetime. Reads the identity's current roles (re-checking them with
/// the provider when due) and puts a [`CurrentUser`] in the request.
pub async fn authenticate(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let bearer = bearer_token(request.headers());
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "{what}");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    };
    let (identity_id, token) = match bearer {
        // Tokens are for the machine API: pages and server functions (token management among
        // them) take the session cookie only, so no token can make or revoke tokens.
        Some(_) if !path.starts_with("/api/v1/") => {
            return unauthorized("API tokens are accepted on /api/v1/ only")
        }
        Some(token) => match tokens::verify(&state.store, token.trim()).await {
            Ok(Some(used)) => (Some(used.identity_id.clone()), Some(used)),
            Ok(None) => return unauthorized("invalid, expired or revoked API token"),
            Err(e) => return internal("store error verifying token", &e),
        },
        None => match session_identity(&state, &session).await {
            Ok(id) => (id, None),
            Err(e) => return internal("cannot read session", &e),
        },
    };
    // When this credential stops being valid, for requests that last (streams).
    let ends_at = match &token {
        Some(used) => Some(used.expires_at),
        None => session
            .get::<i64>(SIGNED_IN_AT)
            .await
            .ok()
            .flatten()
            .map(|at| at + state.auth.max_age_secs),
    };
    let user = match identity_id {
        None => None,
        Some(id) => match current_user(&state, &id).await {
            Ok(user) => user,
            Err(e) => return internal("store error resolving the user", &e),
        },
    };
    if user.is_none() && token.is_some() {
        return unauthorized(
            "this token's roles could not be re-checked with the sign-in provider; sign in again",
        );
    }
    if user.is_none() && !is_public(&path) {
        if path.starts_with("/api/v1/") {
            return unauthorized("sign in or send an API token");
        }
        if request.method() == Method::GET {
            let target = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let encoded = console_core::catalog::encode_component(target);
            return Redirect::to(&format!("/login?return_to={encoded}")).into_response();
        }
    }
    let session_id = if token.is_none() && user.is_some() {
        session.id().map(|id| id.to_string())
    } else {
        None
    };
    request.extensions_mut().insert(CurrentUser(user));
    request.extensions_mut().insert(console_core::auth::CurrentSession(session_id));
    request.extensions_mut().insert(CredentialEnds(ends_at));
    request.extensions_mut().insert(RequestToken(token));
    next.run(request).await
}

/// The identity's user with current roles, or None when its roles are past the grace period
/// (the provider could not confirm them) or the identity is gone.
pub async fn current_user(state: &AppState, id: &str) -> Result<Option<User>, StoreError> {
    let Some(mut identity) = people::find(&state.store, id).await? else { return Ok(None) };
    let auth = &state.auth;
    if identity.provider == "dev" && !auth.dev_sign_in {
        // A session or token from a time the dev sign-in was on (`make run` on this store).
        return Ok(None);
    }
    if identity.provider != "dev" {
        let age = now() - identity.checked_at;
        // The lease outlasts a re-check's timeouts, so two replicas never spend one rotating
        // refresh token (the provider would take the second use for theft).
        if age >= auth.recheck_secs && people::claim_recheck(&state.store, id, 120).await? {
            recheck(state, &identity).await?;
            identity = match people::find(&state.store, id).await? {
                Some(fresh) => fresh,
                None => return Ok(None),
            };
        }
        if now() - identity.checked_at > auth.recheck_secs + auth.grace_secs {
            tracing::info!(actor = %identity.actor, "roles not re-checked within the grace period: refused until the next sign-in");
            return Ok(None);
        }
    }
    Ok(Some(identity.user(&state.store).await?))
}

/// Asks the provider for the identity's roles now. A provider that no longer vouches for it
/// (membership gone, refresh token refused) takes its roles away at once; one that cannot be
/// reached leaves them for the grace period.
async fn recheck(state: &AppState, identity: &StoredIdentity) -> Result<(), StoreError> {
    let auth = &state.auth;
    let credential = auth.sealing.open(&identity.credential).unwrap_or_default();
    let result: Result<(Identity, Option<String>), AuthError> = if credential.is_empty() {
        Err(AuthError::ProviderUnavailable("no credential kept for re-checks".into()))
    } else {
        match (identity.provider.as_str(), &auth.oidc, &auth.github) {
            ("oidc", Some((_, provider)), _) => {
                provider.recheck(&identity.subject, &credential).await
            }
            ("github", _, Some(provider)) => {
                provider.recheck(&identity.subject, &credential).await.map(|i| (i, None))
            }
            _ => Err(AuthError::UnknownProvider(identity.provider.clone())),
        }
    };
    match result {
        Ok((fresh, rotated)) => {
            let sealed = rotated.map(|c| auth.sealing.seal(&c));
            let roles = Roles { squads: fresh.squads.clone(), sre: fresh.sre };
            if roles != identity.roles {
                tracing::info!(actor = %identity.actor, sre = roles.sre, squads = ?roles.squads, "roles changed at the provider");
                let detail = format!(
                    "sre {}, squads [{}] (were: sre {}, squads [{}])",
                    roles.sre,
                    roles.squads.join(", "),
                    identity.roles.sre,
                    identity.roles.squads.join(", ")
                );
                record(state, audit::ROLES_CHANGED, &identity.actor, &identity.provider, detail)
                    .await;
            }
            people::recheck_passed(&state.store, &fresh, sealed.as_deref()).await
        }
        Err(AuthError::RecheckRefused(why)) | Err(AuthError::NotMember(why)) => {
            tracing::warn!(actor = %identity.actor, reason = %why, "the provider no longer vouches for this identity: signed out everywhere");
            record(state, audit::IDENTITY_DISOWNED, &identity.actor, &identity.provider, why).await;
            people::disown(&state.store, &identity.id).await
        }
        Err(error) => {
            tracing::warn!(actor = %identity.actor, %error, "roles could not be re-checked; kept for the grace period");
            people::recheck_failed(&state.store, &identity.id).await
        }
    }
}

/// An identity event in the audit log (sign-ins, role changes, disowning); a failure to write
/// it is logged, not fatal: the change itself already happened at the provider.
async fn record(state: &AppState, kind: &'static str, actor: &str, provider: &str, detail: String) {
    let event = audit::Event {
        kind,
        actor: actor.to_string(),
        target: provider.to_string(),
        detail,
        ..Default::default()
    };
    if let Err(error) = audit::append(&state.store, &event).await {
        tracing::error!(%error, kind, "identity event could not be audited");
    }
}

/// When the request's session reaches its absolute lifetime, or its token expires (unix seconds).
#[derive(Clone, Copy, Debug)]
pub struct CredentialEnds(pub Option<i64>);

async fn session_identity(
    state: &AppState,
    session: &Session,
) -> Result<Option<String>, tower_sessions::session::Error> {
    let identity = match session.get::<String>(IDENTITY).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return Ok(None),
        // A session from before identities were stored holds something else: signed out.
        Err(tower_sessions::session::Error::SerdeJson(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await?.unwrap_or(0);
    if now() - signed_in_at > state.auth.max_age_secs {
        tracing::info!("session past its absolute lifetime");
        session.flush().await?;
        return Ok(None);
    }
    Ok(Some(identity))
}

/// GET routes whose every call is written to the audit.
fn is_audited_read(path: &str) -> bool {
    path.ends_with("/logs.txt")
        || path.ends_with("/logs/stream")
        || path.starts_with("/admin/audit")
        || path == crate::defaults::EXPORT
}

/// Paths anyone may reach. Server functions (`/api/…` other than `/api/v1/`) are reachable
/// too, and each authorizes itself.
fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/healthz" | "/readyz" | "/favicon.svg")
        || path.starts_with("/auth/")
        || path.starts_with("/pkg/")
        || (path.starts_with("/api/") && !path.starts_with("/api/v1/"))
}

/// CSRF defence beyond SameSite: a state-changing request must come from our own pages.
pub async fn check_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // A Bearer token is no ambient credential a browser would attach for another site: scripts
    // calling the API send no Origin. (With a token, the session cookie is not used at all.)
    let api = request.uri().path().starts_with("/api/v1/");
    if bearer_token(request.headers()).is_some() && api {
        return next.run(request).await;
    }
    // No cookie, no ambient credential to forge with: the API answers it (401, as JSON).
    if api && !request.headers().contains_key(header::COOKIE) {
        return next.run(request).await;
    }
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        // A GET that reads data into the audit (logs, audit exports) must not be made in the
        // user's name by another site's link or image (a sibling subdomain included): browsers
        // say where a request came from; only our own pages and typed-in URLs pass.
        let cross_site = request
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| !matches!(v.as_bytes(), b"same-origin" | b"none"));
        if cross_site && is_audited_read(request.uri().path()) {
            tracing::warn!(path = %request.uri().path(), "cross-site read refused");
            return (
                StatusCode::FORBIDDEN,
                "cross-site request refused: open this from the console",
            )
                .into_response();
        }
        return next.run(request).await;
    }
    let allowed = {
        let headers = request.headers();
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
        let public = state.auth.public_url.as_str();
        match (origin, referer) {
            (Some(origin), _) => origin == public,
            (None, Some(referer)) => {
                referer == public || referer.starts_with(&format!("{public}/"))
            }
            (None, None) => false,
        }
    };
    if allowed {
        next.run(request).await
    } else {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
        let why = "cross-site request refused: Origin does not match the console's public URL";
        match api {
            true => crate::api::error::ApiError::from(app::error::AppError::Forbidden(why.into()))
                .into_response(),
            false => (StatusCode::FORBIDDEN, why).into_response(),
        }
    }
}
