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
use oauth2::basic::{
    BasicClient, BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, ExtraTokenFields,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Groups starting with this prefix become squads (prefix removed); empty: none by prefix.
    pub squad_prefix: String,
    /// Groups named here become the squad they map to.
    pub squad_map: BTreeMap<String, String>,
    /// Members of this group are SREs.
    pub sre_group: String,
    /// Link to a person by the `email` claim when the provider marks it `email_verified`.
    pub trust_email: bool,
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

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenFields {
    #[serde(default)]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenFields {}

type OidcTokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;
type TokenClient = oauth2::Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

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
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let unavailable = |e: reqwest::Error| AuthError::ProviderUnavailable(e.to_string());
        let discovery: Discovery = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
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
    pub async fn start(
        &self,
        provider: &str,
        return_to: &str,
    ) -> Result<(String, Pending), AuthError> {
        let (discovery, _) = self.metadata(false).await?;
        let bad_url = |e: oauth2::url::ParseError| AuthError::ProviderUnavailable(e.to_string());
        let client = BasicClient::new(ClientId::new(self.settings.client_id.clone()))
            .set_auth_uri(AuthUrl::new(discovery.authorization_endpoint).map_err(bad_url)?)
            .set_redirect_uri(
                RedirectUrl::new(self.settings.redirect_url.clone()).map_err(bad_url)?,
            );
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
            started_at: now_secs(),
        };
        Ok((url.to_string(), pending))
    }

    /// Completes the login the callback belongs to: the identity, and the refresh token (if the
    /// provider gave one) that lets the console re-check its roles later.
    pub async fn finish(
        &self,
        pending: &Pending,
        code: Option<&str>,
        state: Option<&str>,
    ) -> Result<(Identity, Option<String>), AuthError> {
        check_state(pending, state)?;
        let code = code.filter(|c| !c.is_empty()).ok_or(AuthError::MissingCode)?;
        let (discovery, _) = self.metadata(false).await?;
        let client = self.token_client(&discovery)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = token.extra_fields().id_token.clone().ok_or_else(|| {
            AuthError::InvalidIdToken("the token response has no id_token".into())
        })?;
        let claims = self.verify_id_token(&id_token).await?;
        if claims.get("nonce").and_then(|n| n.as_str()) != Some(pending.nonce.as_str()) {
            return Err(AuthError::NonceMismatch);
        }
        let refresh = token.refresh_token().map(|r| r.secret().clone());
        Ok((self.identity(&claims)?, refresh))
    }

    fn token_client(&self, discovery: &Discovery) -> Result<TokenClient, AuthError> {
        let bad_url = |e: oauth2::url::ParseError| AuthError::ProviderUnavailable(e.to_string());
        let mut client = oauth2::Client::<
            BasicErrorResponse,
            OidcTokenResponse,
            BasicTokenIntrospectionResponse,
            StandardRevocableToken,
            BasicRevocationErrorResponse,
        >::new(ClientId::new(self.settings.client_id.clone()))
        .set_token_uri(TokenUrl::new(discovery.token_endpoint.clone()).map_err(bad_url)?)
        .set_redirect_uri(RedirectUrl::new(self.settings.redirect_url.clone()).map_err(bad_url)?);
        if let Some(secret) = &self.settings.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        Ok(client)
    }

    /// Asks the provider again who `subject` is now, with the refresh token kept from sign-in:
    /// a fresh ID token (or, without one, the userinfo endpoint). Returns the identity and the
    /// rotated refresh token, if the provider rotated it.
    pub async fn recheck(
        &self,
        subject: &str,
        refresh_token: &str,
    ) -> Result<(Identity, Option<String>), AuthError> {
        let (discovery, _) = self.metadata(false).await?;
        let client = self.token_client(&discovery)?;
        let token = client
            .exchange_refresh_token(&oauth2::RefreshToken::new(refresh_token.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                // Only the provider's own answer (invalid_grant: revoked, expired, the person
                // gone) disowns; a provider that is down or answers garbage leaves the grace period.
                oauth2::RequestTokenError::ServerResponse(r) => {
                    AuthError::RecheckRefused(r.to_string())
                }
                other => AuthError::ProviderUnavailable(other.to_string()),
            })?;
        let claims = match token.extra_fields().id_token.clone() {
            Some(id_token) => self.verify_id_token(&id_token).await?,
            None => {
                let url = discovery.userinfo_endpoint.clone().ok_or_else(|| {
                    AuthError::RecheckRefused("no ID token and no userinfo endpoint".into())
                })?;
                let unavailable = |e: reqwest::Error| AuthError::ProviderUnavailable(e.to_string());
                self.http
                    .get(url)
                    .bearer_auth(token.access_token().secret())
                    .send()
                    .await
                    .map_err(unavailable)?
                    .error_for_status()
                    .map_err(unavailable)?
                    .json::<serde_json::Map<String, serde_json::Value>>()
                    .await
                    .map_err(unavailable)?
            }
        };
        let identity = self.identity(&claims)?;
        if identity.subject != subject {
            return Err(AuthError::RecheckRefused(
                "the provider answered for another subject".into(),
            ));
        }
        Ok((identity, token.refresh_token().map(|r| r.secret().clone())))
    }

    /// Checks signature (JWKS), issuer, audience and expiry; returns the claims.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| AuthError::InvalidIdToken(e.to_string());
        let header = jsonwebtoken::decode_header(id_token).map_err(invalid)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(AuthError::InvalidIdToken(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
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
                find(&jwks)
                    .ok_or_else(|| AuthError::InvalidIdToken("signed with an unknown key".into()))?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_issuer(&[&discovery.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            id_token,
            &key,
            &validation,
        )
        .map_err(invalid)?;
        Ok(data.claims)
    }

    /// The identity the claims describe. The subject is `sub` (required); the e-mail counts for
    /// linking only when the provider is trusted for it and marks it verified.
    fn identity(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Identity, AuthError> {
        let text =
            |key: &str| claims.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let subject = text("sub");
        if subject.is_empty() {
            return Err(AuthError::InvalidIdToken("no sub claim".into()));
        }
        let email = text("email");
        let verified = claims.get("email_verified").and_then(|v| v.as_bool()) == Some(true);
        // Shown only; never an unverified e-mail, which anyone may set to someone else's.
        let login = [text("preferred_username"), subject.clone()]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let groups: Vec<String> = claims
            .get(&self.settings.groups_claim)
            .and_then(|g| g.as_array())
            .map(|a| a.iter().filter_map(|g| g.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let sre = !self.settings.sre_group.is_empty() && groups.contains(&self.settings.sre_group);
        Ok(Identity {
            provider: "oidc".into(),
            subject,
            login,
            name: text("name"),
            verified_emails: if self.settings.trust_email && verified && !email.is_empty() {
                vec![email]
            } else {
                vec![]
            },
            squads: squads_from(&groups, &self.settings.squad_prefix, &self.settings.squad_map),
            sre,
        })
    }
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

fn token_error<E: std::error::Error>(
    e: oauth2::RequestTokenError<E, BasicErrorResponse>,
) -> AuthError {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => AuthError::ProviderRefused(r.to_string()),
        oauth2::RequestTokenError::Request(e) => AuthError::ProviderUnavailable(e.to_string()),
        other => AuthError::ProviderRefused(other.to_string()),
    }
}

/// GitHub OAuth2: membership of the organisation required; its teams mapped to squads.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_url: String,
    /// Only members of this organisation sign in; only its teams count.
    pub org: String,
    /// Teams named here become the squad they map to, keyed `id:<id>` (survives renames) or
    /// `slug:<slug>`: two key spaces, so a team whose slug is another team's id matches nothing.
    pub team_map: BTreeMap<String, String>,
    /// Teams whose slug starts with this become squads (prefix removed); empty: none by prefix.
    pub team_prefix: String,
    /// Members of this team (`id:<id>` or `slug:<slug>`) are SREs.
    pub sre_team: String,
    /// Link to a person by the account's verified e-mail addresses (`/user/emails`).
    pub trust_email: bool,
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
    id: u64,
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize)]
struct GithubMembership {
    state: String,
}

#[derive(Deserialize)]
struct GithubTeam {
    #[serde(default)]
    id: u64,
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
            .set_redirect_uri(
                RedirectUrl::new(self.settings.redirect_url.clone()).map_err(bad_url)?,
            );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_scope(Scope::new("read:org".into()))
            .add_scope(Scope::new("read:user".into()))
            .add_scope(Scope::new("user:email".into()))
            .url();
        let pending = Pending {
            provider: "github".into(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: String::new(),
            return_to: return_to.to_string(),
            started_at: now_secs(),
        };
        Ok((url.to_string(), pending))
    }

    /// Completes the sign-in: the identity and the access token kept for re-checks.
    pub async fn finish(
        &self,
        pending: &Pending,
        code: Option<&str>,
        state: Option<&str>,
    ) -> Result<(Identity, Option<String>), AuthError> {
        check_state(pending, state)?;
        let code = code.filter(|c| !c.is_empty()).ok_or(AuthError::MissingCode)?;
        let bad_url = |e: oauth2::url::ParseError| AuthError::ProviderUnavailable(e.to_string());
        let web = self.settings.web_url.trim_end_matches('/');
        let client = BasicClient::new(ClientId::new(self.settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.settings.client_secret.expose().to_string()))
            .set_token_uri(
                TokenUrl::new(format!("{web}/login/oauth/access_token")).map_err(bad_url)?,
            )
            .set_redirect_uri(
                RedirectUrl::new(self.settings.redirect_url.clone()).map_err(bad_url)?,
            );
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let access = token.access_token().secret().clone();
        let identity = self.identity(&access).await?;
        Ok((identity, Some(access)))
    }

    /// Asks GitHub again, with the kept access token: still a member, which teams, which user.
    pub async fn recheck(&self, subject: &str, access: &str) -> Result<Identity, AuthError> {
        let identity = self.identity(access).await.map_err(|e| match e {
            AuthError::NotMember(org) => {
                AuthError::RecheckRefused(format!("no longer a member of {org}"))
            }
            other => other,
        })?;
        if identity.subject != subject {
            return Err(AuthError::RecheckRefused(
                "the token now belongs to another account".into(),
            ));
        }
        Ok(identity)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        access: &str,
        path: &str,
    ) -> Result<Result<T, reqwest::StatusCode>, AuthError> {
        let api = self.settings.api_url.trim_end_matches('/');
        let unavailable = |e: reqwest::Error| AuthError::ProviderUnavailable(e.to_string());
        let response = self
            .http
            .get(format!("{api}{path}"))
            .bearer_auth(access)
            .header("User-Agent", "console")
            .header("Accept", "application/vnd.github+json")
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(AuthError::ProviderUnavailable(format!(
                "GitHub answered {status} for {path}"
            )));
        }
        if !status.is_success() {
            return Ok(Err(status));
        }
        Ok(Ok(response.json().await.map_err(unavailable)?))
    }

    async fn identity(&self, access: &str) -> Result<Identity, AuthError> {
        let org = &self.settings.org;
        let user: GithubUser = self.get(access, "/user").await?.map_err(|status| {
            AuthError::RecheckRefused(format!("GitHub answered {status} for the user"))
        })?;
        // Membership first: anyone can hold a GitHub account.
        let member = matches!(
            self.get::<GithubMembership>(access, &format!("/user/memberships/orgs/{org}")).await?,
            Ok(m) if m.state == "active"
        );
        if !member {
            return Err(AuthError::NotMember(org.clone()));
        }
        let teams: Vec<GithubTeam> =
            self.get(access, "/user/teams?per_page=100").await?.unwrap_or_default();
        let ours: Vec<GithubTeam> =
            teams.into_iter().filter(|t| t.organization.login.eq_ignore_ascii_case(org)).collect();
        // A team is known by its slug, which its maintainers can rename (and anyone may then
        // create a team with the old one), and by its id, which stays: the map may use either,
        // each in its own key space.
        let keys: Vec<String> = ours.iter().flat_map(|t| github_team_keys(t.id, &t.slug)).collect();
        let sre = !self.settings.sre_team.is_empty() && keys.contains(&self.settings.sre_team);
        let verified_emails = if self.settings.trust_email {
            let emails: Vec<GithubEmail> =
                self.get(access, "/user/emails").await?.unwrap_or_default();
            emails.into_iter().filter(|e| e.verified).map(|e| e.email).collect()
        } else {
            vec![]
        };
        Ok(Identity {
            provider: "github".into(),
            subject: user.id.to_string(),
            name: user.name.unwrap_or_default(),
            login: user.login,
            verified_emails,
            squads: squads_from(
                &keys,
                &github_slug_prefix(&self.settings.team_prefix),
                &self.settings.team_map,
            ),
            sre,
        })
    }
}

/// The keys a GitHub team is known by in `team_map` and `sre_team`: `id:<id>` and `slug:<slug>`.
pub fn github_team_keys(id: u64, slug: &str) -> [String; 2] {
    [format!("id:{id}"), format!("slug:{slug}")]
}

/// A slug prefix as a key prefix (only slugs carry the prefix); empty stays empty: no squad by prefix.
fn github_slug_prefix(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("slug:{prefix}")
    }
}

/// Why a `team_map` or `sre_team` key is not `id:<digits>` or `slug:<slug>`, if it is not.
pub fn github_team_key_problem(key: &str) -> Option<String> {
    let well_formed = match key.split_once(':') {
        Some(("id", id)) => !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        Some(("slug", slug)) => {
            !slug.is_empty()
                && slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        }
        _ => false,
    };
    (!well_formed).then(|| {
        let hint = if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) { format!("id:{key}") } else { format!("slug:{key}") };
        format!(
            "the team key {key:?} must say what it is: \"id:<team id>\" (survives renames) or \"slug:<team slug>\", e.g. {hint:?}; \
             ids and slugs share no key space, so a team whose slug is another team's id matches nothing"
        )
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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
            started_at: now_secs(),
        };
        assert!(check_state(&pending, Some("abc")).is_ok());
        for bad in [None, Some(""), Some("abd"), Some("abcd")] {
            assert!(matches!(check_state(&pending, bad), Err(AuthError::StateMismatch)), "{bad:?}");
        }
        // A sign-in left pending for more than ten minutes is over.
        let stale = Pending { started_at: now_secs() - PENDING_SECS - 1, ..pending };
        assert!(matches!(check_state(&stale, Some("abc")), Err(AuthError::StateMismatch)));
    }

    #[test]
    fn only_mapped_or_prefixed_groups_are_squads() {
        let groups: Vec<String> = ["squad-payments", "payments", "eng-search", "squad-", "sre"]
            .map(String::from)
            .to_vec();
        let map: BTreeMap<String, String> =
            [("eng-search".to_string(), "search".to_string())].into();
        assert_eq!(squads_from(&groups, "squad-", &map), ["payments", "search"]);
        assert_eq!(squads_from(&groups, "", &map), ["search"], "no prefix: only the map");
        assert_eq!(
            squads_from(&groups, "", &BTreeMap::new()),
            Vec::<String>::new(),
            "never every group"
        );
    }
}
