//! Server functions for sign-in state and API tokens.

use crate::error::AppError;
use console_core::auth::TokenInfo;
use console_core::auth::User;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// How one may sign in here, for the login page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInChoices {
    /// Display name of the OpenID Connect provider, if configured.
    pub oidc: Option<String>,
    pub github: bool,
    /// Demo users (login, squads) when dev sign-in is on.
    pub dev_users: Option<Vec<(String, Vec<String>)>>,
}

/// The session as the page frame shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub user: Option<User>,
    pub dev_sign_in: bool,
}

/// Server-side settings the sign-in server functions read from context.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    pub oidc: Option<String>,
    pub github: bool,
    pub dev_sign_in: bool,
}

#[server(endpoint = "auth/session", input = Json)]
pub async fn session_info() -> Result<SessionView, AppError> {
    use super::guard::authorize;
    use console_core::auth::policy::Action;
    let user = authorize(Action::ViewSession, None)?;
    let settings = expect_context::<SignInSettings>();
    Ok(SessionView { user, dev_sign_in: settings.dev_sign_in })
}

#[server(endpoint = "auth/options", input = Json)]
pub async fn sign_in_options() -> Result<SignInChoices, AppError> {
    use super::guard::authorize;
    use console_core::auth::policy::Action;
    use console_core::store::Store;
    authorize(Action::ViewSession, None)?;
    let settings = expect_context::<SignInSettings>();
    let dev_users = if settings.dev_sign_in {
        let store = expect_context::<Store>();
        Some(dev_users(&store).await?)
    } else {
        None
    };
    Ok(SignInChoices { oidc: settings.oidc.clone(), github: settings.github, dev_users })
}

/// Every member listed in the catalog, plus one SRE called `sre`.
#[cfg(feature = "ssr")]
pub async fn dev_users(
    store: &console_core::store::Store,
) -> Result<Vec<(String, Vec<String>)>, console_core::store::StoreError> {
    use console_core::catalog::repo;
    let mut users: Vec<(String, Vec<String>)> = Vec::new();
    for squad in repo::squads(store).await? {
        if let Some(found) = repo::squad(store, &squad.name).await? {
            for member in found.members {
                match users.iter_mut().find(|(login, _)| *login == member) {
                    Some((_, squads)) => squads.push(squad.name.clone()),
                    None => users.push((member, vec![squad.name.clone()])),
                }
            }
        }
    }
    users.sort();
    users.insert(0, ("sre".to_string(), vec![]));
    Ok(users)
}

#[server(endpoint = "tokens/list", input = Json)]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use super::guard::authorize_user;
    use console_core::{auth::policy::Action, auth::tokens, store::Store};
    let user = authorize_user(Action::ManageOwnTokens, None)?;
    Ok(tokens::list(&expect_context::<Store>(), &user.login).await?)
}

/// Creates a token; the returned text is shown once and never stored.
#[server(endpoint = "tokens/create")]
pub async fn create_token(name: String) -> Result<String, AppError> {
    use super::guard::authorize_user;
    use console_core::auth::{policy::Action, tokens, Identity};
    use console_core::store::Store;
    let user = authorize_user(Action::ManageOwnTokens, None)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest("a token needs a name of 1 to 100 characters".into()));
    }
    let identity = Identity {
        login: user.login.clone(),
        name: user.name.clone(),
        email: String::new(),
        squads: user.squads.clone(),
        sre: user.sre,
        provider: user.provider.clone(),
    };
    let (_, token) = tokens::create(&expect_context::<Store>(), &identity, name).await?;
    Ok(token)
}

#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    use super::guard::authorize_user;
    use console_core::{auth::policy::Action, auth::tokens, store::Store};
    let user = authorize_user(Action::ManageOwnTokens, None)?;
    if tokens::revoke(&expect_context::<Store>(), &user.login, &id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("token {id:?}")))
    }
}
