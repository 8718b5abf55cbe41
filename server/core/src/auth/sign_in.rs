//! What both sign-in providers share: a pending login kept in the server-side session and
//! checked once at the callback, the errors a sign-in ends with, secrets that never print, an
//! HTTP client that follows no redirect.

use oauth2::basic::BasicErrorResponse;
use oauth2::CsrfToken;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A secret from the environment or a file. Never printed, never serialised.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown sign-in provider {0:?}")]
    UnknownProvider(String),
    #[error("the sign-in provider cannot be reached: {0}")]
    ProviderUnavailable(String),
    #[error("this sign-in was not started here, was already used, or was tampered with (state mismatch)")]
    StateMismatch,
    #[error("the sign-in callback has no authorization code")]
    MissingCode,
    #[error("the sign-in provider refused: {0}")]
    ProviderRefused(String),
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error("the ID token was issued for another sign-in (nonce mismatch)")]
    NonceMismatch,
    #[error("not a member of the organisation {0}")]
    NotMember(String),
    #[error("the provider no longer vouches for this identity: {0}")]
    RecheckRefused(String),
}

impl AuthError {
    /// A short code for the login page's `?error=`; the page maps it to a fixed message.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::UnknownProvider(_) => "unknown-provider",
            AuthError::ProviderUnavailable(_) => "provider-down",
            AuthError::StateMismatch => "state",
            AuthError::MissingCode => "missing-code",
            AuthError::ProviderRefused(_) => "refused",
            AuthError::InvalidIdToken(_) | AuthError::NonceMismatch => "invalid-token",
            AuthError::NotMember(_) => "not-member",
            AuthError::RecheckRefused(_) => "refused",
        }
    }
}

/// A login in progress, kept in the server-side session until the callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
    /// Local path to return to after sign-in.
    pub return_to: String,
    /// When it began: a pending login is good for [`PENDING_SECS`] only.
    #[serde(default)]
    pub started_at: i64,
}

/// How long a started sign-in may take to come back.
pub const PENDING_SECS: i64 = 10 * 60;

pub(super) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        // Following redirects would open the token exchange to SSRF.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

pub(super) fn random_token() -> String {
    CsrfToken::new_random().secret().clone()
}

/// The callback's `state` must equal the pending login's, compared in constant time, and come
/// back within [`PENDING_SECS`].
pub fn check_state(pending: &Pending, state: Option<&str>) -> Result<(), AuthError> {
    let Some(state) = state else { return Err(AuthError::StateMismatch) };
    if now_secs() - pending.started_at > PENDING_SECS {
        return Err(AuthError::StateMismatch);
    }
    if super::tokens::constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::StateMismatch)
    }
}

pub(super) fn token_error<E: std::error::Error>(
    e: oauth2::RequestTokenError<E, BasicErrorResponse>,
) -> AuthError {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => AuthError::ProviderRefused(r.to_string()),
        oauth2::RequestTokenError::Request(e) => AuthError::ProviderUnavailable(e.to_string()),
        other => AuthError::ProviderRefused(other.to_string()),
    }
}

pub(super) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Squads from a provider's groups or teams: only those mapped by name or carrying the prefix.
/// Never every group: a group anyone can create must not become a squad by accident.
pub fn squads_from(groups: &[String], prefix: &str, map: &BTreeMap<String, String>) -> Vec<String> {
    let mut squads: Vec<String> = groups
        .iter()
        .filter_map(|g| {
            map.get(g).cloned().or_else(|| {
                (!prefix.is_empty())
                    .then(|| g.strip_prefix(prefix))
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
        })
        .collect();
    squads.sort();
    squads.dedup();
    squads
}
