//! Who the user is and what they may do.
//!
//! `User` and `policy` are plain data and pure functions (shared with the browser so the UI can
//! hide what the user may not do); the server decides with the same `policy::allows`.

pub mod policy;

#[cfg(feature = "server")]
pub mod actions;
#[cfg(feature = "server")]
pub mod dev;

#[cfg(feature = "server")]
pub mod github;
#[cfg(feature = "server")]
pub mod grants;
#[cfg(feature = "server")]
pub mod oidc;
#[cfg(feature = "server")]
pub mod people;
#[cfg(feature = "server")]
pub mod sealed;
#[cfg(feature = "server")]
pub mod sessions;
#[cfg(feature = "server")]
pub mod sign_in;
#[cfg(feature = "server")]
pub mod tokens;

use serde::{Deserialize, Serialize};

/// What an identity provider (or the dev sign-in) told us about an account, before it is linked
/// to a person (see `people`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `dev`, `oidc`, `github`.
    pub provider: String,
    /// The provider's stable subject: OIDC `sub`, the GitHub user id, the dev login.
    pub subject: String,
    /// The provider's name for the account (`preferred_username`, the GitHub login): shown,
    /// never matched against the catalog outside dev sign-in.
    pub login: String,
    pub name: String,
    /// E-mail addresses the provider vouches for (verified, and the provider trusted for them).
    pub verified_emails: Vec<String>,
    /// Squads the provider grants (mapped or prefixed groups, teams of the organisation).
    pub squads: Vec<String>,
    pub sre: bool,
}

/// A signed-in user as every request sees them: the identity's current roles plus the squads
/// the catalog lists their person in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Who they act as in audits and ownership: the person, else `provider:login`.
    pub login: String,
    pub name: String,
    pub squads: Vec<String>,
    pub sre: bool,
    pub provider: String,
    /// The identity row behind the session or token.
    #[serde(default)]
    pub identity: String,
    /// Time-bound access to services the user's squads do not own.
    #[serde(default)]
    pub grants: Vec<ServiceGrant>,
}

impl User {
    pub fn member_of(&self, squad: &str) -> bool {
        self.squads.iter().any(|s| s == squad)
    }

    /// Whether a grant in force lets the user do `action` on `service`.
    pub fn granted(&self, service: &str, action: policy::Action) -> bool {
        self.grants.iter().any(|g| g.service == service && g.access.covers(action))
    }
}

/// What a time-bound grant opens on one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantAccess {
    /// The REPL on its replicas.
    Query,
    /// Its pod logs.
    Logs,
}

impl GrantAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantAccess::Query => "query",
            GrantAccess::Logs => "logs",
        }
    }
    pub fn parse(text: &str) -> Option<GrantAccess> {
        match text {
            "query" => Some(GrantAccess::Query),
            "logs" => Some(GrantAccess::Logs),
            _ => None,
        }
    }
    pub fn covers(self, action: policy::Action) -> bool {
        matches!(
            (self, action),
            (GrantAccess::Query, policy::Action::QueryReplica)
                | (GrantAccess::Logs, policy::Action::ReadLogs)
        )
    }
}

/// A grant as the service page and SREs see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantInfo {
    pub id: String,
    pub grantee: String,
    pub service: String,
    pub access: GrantAccess,
    pub reason: String,
    pub granted_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A grant in force, as the request's user carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceGrant {
    pub service: String,
    pub access: GrantAccess,
    pub expires_at: i64,
}

/// An API token as its owner sees it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    /// Who it acts as (shown to SREs listing everyone's tokens).
    pub owner: String,
    /// `read` or `query`.
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
}

/// One of a person's signed-in sessions, as they see it in their list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// A short, non-secret handle (a hash of the session id).
    pub handle: String,
    pub provider: String,
    pub expires_at: i64,
    /// The session this list was asked from.
    pub current: bool,
}

/// A sign-in identity, for the SREs' access page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentitySummary {
    /// Who it acts as: the person, else `provider:login`.
    pub actor: String,
    pub provider: String,
    pub login: String,
    pub person: Option<String>,
    pub checked_at: i64,
    pub check_failed_at: Option<i64>,
}

/// The request's user, put in the request extensions by the server's authentication layer.
#[derive(Debug, Clone, Default)]
pub struct CurrentUser(pub Option<User>);

/// The request's session id (when signed in with a session), put in the request extensions by
/// the server's authentication layer.
#[derive(Debug, Clone, Default)]
pub struct CurrentSession(pub Option<String>);
