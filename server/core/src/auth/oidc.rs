//! Sign-in through an OpenID Connect provider (authorization code flow with PKCE) or GitHub.
//!
//! [`start`] returns the provider's authorization URL and a [`Pending`] login to keep in the
//! server-side session; [`finish`] checks the callback against it (state, then PKCE at the token
//! endpoint, then the ID token's signature, issuer, audience, expiry and nonce) and returns the
//! [`Identity`]. A pending login is used once: the caller removes it from the session first, so
//! a replayed callback finds nothing.

use super::Identity;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, ExtraTokenFields, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

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
}

/// An OpenID Connect provider as configured.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub redirect_url: String,
    pub scopes: Vec<String>,
    /// Claim holding the user's groups, e.g. `groups`.
    pub groups_claim: String,
    /// Groups starting with this prefix become squads (prefix removed); empty: every group.
    pub squad_prefix: String,
    /// Members of this group are SREs.
    pub sre_group: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenFields {
    #[serde(default)]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenFields {}

type OidcTokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;

/// Algorithms we accept for ID tokens: asymmetric only (no `none`, no HMAC with a public key).
const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

pub struct OidcProvider {
    settings: OidcSettings,
    http: reqwest::Client,
    /// Discovery document and keys, fetched on first use and again when a key id is unknown.
    cache: RwLock<Option<(Discovery, JwkSet)>>,
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        // Following redirects would open the token exchange to SSRF.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

fn random_token() -> String {
    CsrfToken::new_random().secret().clone()
}

impl OidcProvider {
    pub fn new(settings: OidcSettings) -> Arc<OidcProvider> {
        Arc::new(OidcProvider { settings, http: http_client(), cache: RwLock::new(None) })
    }

    async fn fetch_metadata(&self) -> Result<(Discovery, JwkSet), AuthError> {
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer.trim_end_matches('/'));
        let unavailable = |e: reqwest::Error| AuthError::ProviderUnavailable(e.to_string());
        let discovery: Discovery =
            self.http.get(&url).send().await.map_err(unavailable)?.error_for_status().map_err(unavailable)?.json().await.map_err(unavailable)?;
        if discovery.issuer.trim_end_matches('/') != self.settings.issuer.trim_end_matches('/') {
            return Err(AuthError::ProviderUnavailable(format!(
                "discovery names issuer {:?}, configured {:?}",
                discovery.issuer, self.settings.issuer
            )));
        }
        let jwks: JwkSet = self
            .http
            .get(&discovery.jwks_uri)
            .send()
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        Ok((discovery, jwks))
    }

    async fn metadata(&self, refresh: bool) -> Result<(Discovery, JwkSet), AuthError> {
        if !refresh {
            if let Some(cached) = self.cache.read().await.clone() {
                return Ok(cached);
            }
        }
        let fresh = self.fetch_metadata().await?;
        *self.cache.write().await = Some(fresh.clone());
        Ok(fresh)
    }

    /// The authorization URL to send the browser to, and the login to remember.
    pub async fn start(&self, provider: &str, return_to: &str) -> Result<(String, Pending), AuthError> {
        let (discovery, _) = self.metadata(false).await?;
        let bad_url = |e: oauth2::url::ParseError| AuthError::ProviderUnavailable(e.to_string());
        let client = BasicClient::new(ClientId::new(self.settings.client_id.clone()))
            .set_auth_uri(AuthUrl::new(discovery.authorization_endpoint).map_err(bad_url)?)
            .set_redirect_uri(RedirectUrl::new(self.settings.redirect_url.clone()).map_err(bad_url)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = random_token();
        let mut request = client.authorize_url(CsrfToken::new_random).set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state) = request.add_extra_param("nonce", nonce.clone()).url();
        let pending = Pending {
            provider: provider.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce,
            return_to: return_to.to_string(),
        };
        Ok((url.to_string(), pending))
    }

    /// Completes the login the callback belongs to.
    pub async fn finish(&self, pending: &Pending, code: Option<&str>, state: Option<&str>) -> Result<Identity, AuthError> {
        check_state(pending, state)?;
        let code = code.filter(|c| !c.is_empty()).ok_or(AuthError::MissingCode)?;
        let (discovery, _) = self.metadata(false).await?;
        let bad_url = |e: oauth2::url::ParseError| AuthError::ProviderUnavailable(e.to_string());
        let mut client = oauth2::Client::<
            BasicErrorResponse,
            OidcTokenResponse,
            BasicTokenIntrospectionResponse,
            StandardRevocableToken,
            BasicRevocationErrorResponse,
        >::new(ClientId::new(self.settings.client_id.clone()))
        .set_token_uri(TokenUrl::new(discovery.token_endpoint).map_err(bad_url)?)
        .set_redirect_uri(RedirectUrl::new(self.settings.redirect_url.clone()).map_err(bad_url)?);
        if let Some(secret) = &self.settings.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = token
            .extra_fields()
            .id_token
            .clone()
            .ok_or_else(|| AuthError::InvalidIdToken("the token response has no id_token".into()))?;
        let _ = token.access_token();
        let claims = self.verify_id_token(&id_token).await?;
        if claims.get("nonce").and_then(|n| n.as_str()) != Some(pending.nonce.as_str()) {
            return Err(AuthError::NonceMismatch);
        }
        Ok(self.identity(&claims))
    }

    /// Checks signature (JWKS), issuer, audience and expiry; returns the claims.
    pub async fn verify_id_token(&self, id_token: &str) -> Result<serde_json::Map<String, serde_json::Value>, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| AuthError::InvalidIdToken(e.to_string());
        let header = jsonwebtoken::decode_header(id_token).map_err(invalid)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(AuthError::InvalidIdToken(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let (discovery, mut jwks) = self.metadata(false).await?;
        let find = |jwks: &JwkSet| match &header.kid {
            Some(kid) => jwks.find(kid).cloned(),
            None if jwks.keys.len() == 1 => jwks.keys.first().cloned(),
            None => None,
        };
        let jwk = match find(&jwks) {
            Some(jwk) => jwk,
            None => {
                // Keys rotate: look again once before refusing.
                jwks = self.metadata(true).await?.1;
                find(&jwks).ok_or_else(|| AuthError::InvalidIdToken("signed with an unknown key".into()))?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_issuer(&[&discovery.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(id_token, &key, &validation)
            .map_err(invalid)?;
        Ok(data.claims)
    }

    fn identity(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Identity {
        let text = |key: &str| claims.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let email = text("email");
        let login = [text("preferred_username"), email.split('@').next().unwrap_or_default().to_string(), text("sub")]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let groups: Vec<String> = claims
            .get(&self.settings.groups_claim)
            .and_then(|g| g.as_array())
            .map(|a| a.iter().filter_map(|g| g.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let sre = !self.settings.sre_group.is_empty() && groups.iter().any(|g| *g == self.settings.sre_group);
        let squads = groups
            .iter()
            .filter_map(|g| g.strip_prefix(self.settings.squad_prefix.as_str()))
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect();
        Identity { login, name: text("name"), email, squads, sre, provider: "oidc".into() }
    }
}

/// The callback's `state` must equal the pending login's, compared in constant time.
pub fn check_state(pending: &Pending, state: Option<&str>) -> Result<(), AuthError> {
    let Some(state) = state else { return Err(AuthError::StateMismatch) };
    let (a, b) = (pending.state.as_bytes(), state.as_bytes());
    if a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0 {
        Ok(())
    } else {
        Err(AuthError::StateMismatch)
    }
}

fn token_error<E: std::error::Error>(e: oauth2::RequestTokenError<E, BasicErrorResponse>) -> AuthError {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => AuthError::ProviderRefused(r.to_string()),
        oauth2::RequestTokenError::Request(e) => AuthError::ProviderUnavailable(e.to_string()),
        other => AuthError::ProviderRefused(other.to_string()),
    }
}

/// GitHub OAuth2: login, and team memberships mapped to squads.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_url: String,
    /// Only teams of this organisation count.
    pub org: String,
    /// Members of this team (slug) are SREs.
    pub sre_team: String,
    /// `https://github.com` (or a GitHub Enterprise URL).
    pub web_url: String,
    /// `https://api.github.com` (or `<enterprise>/api/v3`).
    pub api_url: String,
}

pub struct GithubProvider {
    settings: GithubSettings,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct GithubUser {
    login: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct GithubTeam {
    slug: String,
    organization: GithubOrg,
}

#[derive(Deserialize)]
struct GithubOrg {
    login: String,
}

impl GithubProvider {
    pub fn new(settings: GithubSettings) -> Arc<GithubProvider> {
        Arc::new(GithubProvider { settings, http: http_client() })
    }

    pub fn start(&self, return_to: &str) -> Result<(String, Pending), AuthError> {
        let bad_url = |e: oauth2::url::ParseError| AuthError::ProviderUnavailable(e.to_string());
        let web = self.settings.web_url.trim_end_matches('/');
        let client = BasicClient::new(ClientId::new(self.settings.client_id.clone()))
            .set_auth_uri(AuthUrl::new(format!("{web}/login/oauth/authorize")).map_err(bad_url)?)
            .set_redirect_uri(RedirectUrl::new(self.settings.redirect_url.clone()).map_err(bad_url)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_scope(Scope::new("read:org".into()))
            .add_scope(Scope::new("read:user".into()))
            .url();
        let pending = Pending {
            provider: "github".into(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: String::new(),
            return_to: return_to.to_string(),
        };
        Ok((url.to_string(), pending))
    }

    pub async fn finish(&self, pending: &Pending, code: Option<&str>, state: Option<&str>) -> Result<Identity, AuthError> {
        check_state(pending, state)?;
        let code = code.filter(|c| !c.is_empty()).ok_or(AuthError::MissingCode)?;
        let bad_url = |e: oauth2::url::ParseError| AuthError::ProviderUnavailable(e.to_string());
        let web = self.settings.web_url.trim_end_matches('/');
        let client = BasicClient::new(ClientId::new(self.settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.settings.client_secret.expose().to_string()))
            .set_token_uri(TokenUrl::new(format!("{web}/login/oauth/access_token")).map_err(bad_url)?)
            .set_redirect_uri(RedirectUrl::new(self.settings.redirect_url.clone()).map_err(bad_url)?);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let access = token.access_token().secret().clone();
        let api = self.settings.api_url.trim_end_matches('/');
        let get = |path: String| {
            self.http
                .get(format!("{api}{path}"))
                .bearer_auth(&access)
                .header("User-Agent", "console")
                .header("Accept", "application/vnd.github+json")
                .send()
        };
        let unavailable = |e: reqwest::Error| AuthError::ProviderUnavailable(e.to_string());
        let user: GithubUser =
            get("/user".into()).await.map_err(unavailable)?.error_for_status().map_err(unavailable)?.json().await.map_err(unavailable)?;
        let teams: Vec<GithubTeam> = get("/user/teams?per_page=100".into())
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        let ours: Vec<String> = teams
            .into_iter()
            .filter(|t| t.organization.login.eq_ignore_ascii_case(&self.settings.org))
            .map(|t| t.slug)
            .collect();
        let sre = !self.settings.sre_team.is_empty() && ours.iter().any(|t| *t == self.settings.sre_team);
        Ok(Identity {
            name: user.name.unwrap_or_default(),
            email: user.email.unwrap_or_default(),
            login: user.login,
            squads: ours,
            sre,
            provider: "github".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn state_must_match_exactly() {
        let pending = Pending {
            provider: "oidc".into(),
            state: "abc".into(),
            pkce_verifier: String::new(),
            nonce: String::new(),
            return_to: "/".into(),
        };
        assert!(check_state(&pending, Some("abc")).is_ok());
        for bad in [None, Some(""), Some("abd"), Some("abcd")] {
            assert!(matches!(check_state(&pending, bad), Err(AuthError::StateMismatch)), "{bad:?}");
        }
    }
}
