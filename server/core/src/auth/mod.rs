//! Who the user is and what they may do.
//!
//! `User` and `policy` are plain data and pure functions (shared with the browser so the UI can
//! hide what the user may not do); the server decides with the same `policy::allows`.

pub mod policy;

#[cfg(feature = "server")]
pub mod oidc;
#[cfg(feature = "server")]
pub mod sessions;
#[cfg(feature = "server")]
pub mod tokens;

use serde::{Deserialize, Serialize};

/// What an identity provider (or the dev sign-in) told us about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Stable login, also the member name used in the catalog's squads.
    pub login: String,
    pub name: String,
    pub email: String,
    /// Squads named by the provider (groups claim, GitHub teams), after mapping.
    pub squads: Vec<String>,
    pub sre: bool,
    /// `dev`, `oidc:<name>`, `github`, `token`.
    pub provider: String,
}

/// A signed-in user as every request sees them: the identity plus the squads the catalog
/// lists them in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub login: String,
    pub name: String,
    pub squads: Vec<String>,
    pub sre: bool,
    pub provider: String,
}

impl User {
    pub fn new(identity: &Identity, catalog_squads: &[String]) -> User {
        let mut squads: Vec<String> = identity.squads.iter().chain(catalog_squads).cloned().collect();
        squads.sort();
        squads.dedup();
        User {
            login: identity.login.clone(),
            name: if identity.name.is_empty() { identity.login.clone() } else { identity.name.clone() },
            squads,
            sre: identity.sre,
            provider: identity.provider.clone(),
        }
    }

    pub fn member_of(&self, squad: &str) -> bool {
        self.squads.iter().any(|s| s == squad)
    }
}

/// An API token as its owner sees it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
}

/// The request's user, put in the request extensions by the server's authentication layer.
#[derive(Debug, Clone, Default)]
pub struct CurrentUser(pub Option<User>);
