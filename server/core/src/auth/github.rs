//! Sign-in through GitHub (OAuth2): membership of the organisation required, its teams mapped
//! to squads. Shares the pending login and its checks with OIDC ([`super::sign_in`]).

use super::sign_in::*;
use super::Identity;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

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
