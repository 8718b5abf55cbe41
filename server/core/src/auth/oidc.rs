//! Sign-in through an OpenID Connect provider (authorization code flow with PKCE).
//!
//! [`start`] returns the provider's authorization URL and a [`Pending`] login to keep in the
//! server-side session; [`finish`] checks the callback against it (state, then PKCE at the token
//! endpoint, then the ID token's signature, issuer, audience, expiry and nonce) and returns the
//! [`Identity`]. A pending login is used once: the caller removes it from the session first, so
//! a replayed callback finds nothing.

use super::sign_in::*;
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
use std::sync::Arc;
use tokio::sync::RwLock;

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
