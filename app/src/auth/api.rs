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

/// The token limits SREs set in the platform defaults, for the token form.
#[server(endpoint = "tokens/limits", input = Json)]
pub async fn token_limits() -> Result<console_core::defaults::TokenLimits, AppError> {
    use super::guard::authorize_user;
    use console_core::{auth::policy::Action, defaults, store::Store};
    authorize_user(Action::ManageOwnTokens, None)?;
    Ok(defaults::repo::current(&expect_context::<Store>()).await?.1.tokens)
}

#[server(endpoint = "tokens/list", input = Json)]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use super::guard::authorize_user;
    use console_core::{auth::policy::Action, auth::tokens, store::Store};
    let user = authorize_user(Action::ManageOwnTokens, None)?;
    Ok(tokens::list(&expect_context::<Store>(), &user.login).await?)
}

/// Creates a token for the signed-in session's identity; the returned text is shown once and
/// never stored. Only a session can do this: API tokens are not accepted outside `/api/v1/`.
#[server(endpoint = "tokens/create")]
pub async fn create_token(
    name: String,
    scope: Option<String>,
    days: Option<u32>,
) -> Result<String, AppError> {
    use super::guard::authorize_user;
    use console_core::auth::{policy::Action, tokens};
    use console_core::{audit, dates::now, defaults, store::Store};
    let user = authorize_user(Action::ManageOwnTokens, None)?;
    let store = expect_context::<Store>();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest("a token needs a name of 1 to 100 characters".into()));
    }
    let limits = defaults::repo::current(&store).await?.1.tokens;
    let scope = match scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => tokens::Scope::Read,
        Some(text) => tokens::Scope::parse(text).ok_or_else(|| {
            AppError::BadRequest(format!("scope must be read or query, not {text:?}"))
        })?,
    };
    if scope == tokens::Scope::Query && !limits.allow_query_scope {
        return Err(AppError::Forbidden("SREs have not allowed tokens with the query scope (platform defaults: tokens.allow_query_scope)".into()));
    }
    let days = days.unwrap_or(limits.default_days);
    if days == 0 || days > limits.max_days {
        return Err(AppError::BadRequest(format!(
            "a token lives 1 to {} days (platform defaults), not {days}",
            limits.max_days
        )));
    }
    let (info, token) = tokens::create(
        &store,
        tokens::NewToken {
            identity_id: &user.identity,
            owner: &user.login,
            name,
            scope,
            expires_at: now() + days as i64 * 86_400,
        },
    )
    .await?;
    audit::append(
        &store,
        &audit::Event {
            kind: audit::TOKEN_CREATED,
            actor: user.login.clone(),
            target: info.id.clone(),
            detail: format!("scope {}, {days} days: {name}", scope.as_str()),
            ..Default::default()
        },
    )
    .await?;
    Ok(token)
}

#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    use super::guard::authorize_user;
    use console_core::{audit, auth::policy::Action, auth::tokens, store::Store};
    let user = authorize_user(Action::ManageOwnTokens, None)?;
    let store = expect_context::<Store>();
    if !tokens::revoke(&store, &user.login, &id).await? {
        return Err(AppError::NotFound(format!("token {id:?}")));
    }
    let event = audit::Event {
        kind: audit::TOKEN_REVOKED,
        actor: user.login,
        target: id,
        ..Default::default()
    };
    audit::append(&store, &event).await?;
    Ok(())
}

/// The signed-in person's sessions, on every device.
#[server(endpoint = "sessions/mine", input = Json)]
pub async fn my_sessions() -> Result<Vec<console_core::auth::SessionInfo>, AppError> {
    use super::guard::{authorize_user, current_session_id};
    use console_core::{auth::people, auth::policy::Action, store::Store};
    let user = authorize_user(Action::ManageOwnTokens, None)?;
    Ok(people::sessions_of(
        &expect_context::<Store>(),
        &user.login,
        current_session_id().as_deref(),
    )
    .await?)
}

/// Ends every session of the signed-in person, this one included.
#[server(endpoint = "sessions/end-all")]
pub async fn sign_out_everywhere() -> Result<u64, AppError> {
    use super::guard::authorize_user;
    use console_core::{audit, auth::people, auth::policy::Action, store::Store};
    let user = authorize_user(Action::ManageOwnTokens, None)?;
    let store = expect_context::<Store>();
    let ended = people::end_sessions(&store, &user.login).await?;
    let event = audit::Event {
        kind: audit::SESSIONS_ENDED,
        actor: user.login.clone(),
        target: user.login,
        detail: format!("{ended} sessions, by themselves"),
        ..Default::default()
    };
    audit::append(&store, &event).await?;
    Ok(ended)
}

/// Everyone's live tokens, for SREs.
#[server(endpoint = "access/tokens", input = Json)]
pub async fn all_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use super::guard::authorize_user;
    use console_core::{auth::policy::Action, auth::tokens, store::Store};
    authorize_user(Action::AdministerAccess, None)?;
    Ok(tokens::list_all(&expect_context::<Store>()).await?)
}

/// An SRE revokes anyone's token.
#[server(endpoint = "access/revoke-token")]
pub async fn revoke_any_token(id: String) -> Result<(), AppError> {
    use super::guard::authorize_user;
    use console_core::{audit, auth::policy::Action, auth::tokens, store::Store};
    let user = authorize_user(Action::AdministerAccess, None)?;
    let store = expect_context::<Store>();
    if !tokens::revoke_any(&store, &id).await? {
        return Err(AppError::NotFound(format!("token {id:?}")));
    }
    let event = audit::Event {
        kind: audit::TOKEN_REVOKED,
        actor: user.login,
        target: id,
        detail: "by an SRE".into(),
        ..Default::default()
    };
    audit::append(&store, &event).await?;
    Ok(())
}

/// Every sign-in identity, for SREs.
#[server(endpoint = "access/identities", input = Json)]
pub async fn identities() -> Result<Vec<console_core::auth::IdentitySummary>, AppError> {
    use super::guard::authorize_user;
    use console_core::{auth::people, auth::policy::Action, store::Store};
    authorize_user(Action::AdministerAccess, None)?;
    Ok(people::identities(&expect_context::<Store>()).await?)
}

/// Offboarding: ends every session and revokes every token of `actor`, at once.
#[server(endpoint = "access/offboard")]
pub async fn offboard(actor: String) -> Result<(u64, u64), AppError> {
    use super::guard::authorize_user;
    use console_core::{audit, auth::people, auth::policy::Action, store::Store};
    let user = authorize_user(Action::AdministerAccess, None)?;
    let actor = actor.trim().to_string();
    if actor.is_empty() {
        return Err(AppError::BadRequest("name the person to offboard".into()));
    }
    let store = expect_context::<Store>();
    let (sessions, tokens) = people::offboard(&store, &actor, &user.login).await?;
    let event = audit::Event {
        kind: audit::ACCESS_OFFBOARDED,
        actor: user.login,
        target: actor,
        detail: format!("{sessions} sessions ended, {tokens} tokens revoked"),
        ..Default::default()
    };
    audit::append(&store, &event).await?;
    Ok((sessions, tokens))
}

/// Lifts an offboarding: the person (and every name blocked with them) may sign in again.
#[server(endpoint = "access/restore")]
pub async fn restore_access(actor: String) -> Result<u64, AppError> {
    use super::guard::authorize_user;
    use console_core::{audit, auth::people, auth::policy::Action, store::Store};
    let user = authorize_user(Action::AdministerAccess, None)?;
    let actor = actor.trim().to_string();
    if actor.is_empty() {
        return Err(AppError::BadRequest("name the person whose access to restore".into()));
    }
    let store = expect_context::<Store>();
    let lifted = people::restore(&store, &actor).await?;
    if lifted == 0 {
        return Err(AppError::NotFound(format!("{actor} is not blocked")));
    }
    let event = audit::Event {
        kind: audit::ACCESS_RESTORED,
        actor: user.login,
        target: actor,
        detail: format!("{lifted} names may sign in again"),
        ..Default::default()
    };
    audit::append(&store, &event).await?;
    Ok(lifted)
}

/// Names an offboarding blocked from signing in: (name, blocked by, when).
#[server(endpoint = "access/blocked", input = Json)]
pub async fn blocked_access() -> Result<Vec<(String, String, i64)>, AppError> {
    use super::guard::authorize_user;
    use console_core::{auth::people, auth::policy::Action, store::Store};
    authorize_user(Action::AdministerAccess, None)?;
    Ok(people::blocked(&expect_context::<Store>()).await?)
}

/// An SRE gives a non-owner the REPL or the logs of one service for `hours`, with a reason.
#[server(endpoint = "access/grant")]
pub async fn grant_service_access(
    grantee: String,
    service: String,
    access: String,
    hours: u32,
    reason: String,
) -> Result<console_core::auth::GrantInfo, AppError> {
    use super::guard::authorize_user;
    use console_core::auth::{grants, policy::Action, GrantAccess};
    use console_core::{audit, catalog::repo, store::Store};
    let user = authorize_user(Action::AdministerAccess, None)?;
    let store = expect_context::<Store>();
    let (grantee, reason) = (grantee.trim(), reason.trim());
    let access = GrantAccess::parse(access.trim()).ok_or_else(|| {
        AppError::BadRequest(format!("access must be query or logs, not {access:?}"))
    })?;
    if grantee.is_empty() {
        return Err(AppError::BadRequest("name who the grant is for".into()));
    }
    if reason.chars().count() < 5 || reason.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "a grant needs a reason of 5 to 500 characters (the incident, the ticket)".into(),
        ));
    }
    if !(1..=grants::MAX_HOURS).contains(&hours) {
        return Err(AppError::BadRequest(format!(
            "a grant lasts 1 to {} hours, not {hours}",
            grants::MAX_HOURS
        )));
    }
    repo::service(&store, &service)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("service {service:?}")))?;
    let grant = grants::create(
        &store,
        grants::NewGrant {
            grantee,
            service: &service,
            access,
            hours,
            reason,
            granted_by: &user.login,
        },
    )
    .await?;
    let event = audit::Event {
        kind: audit::ACCESS_GRANTED,
        actor: user.login,
        entity: service,
        target: grantee.to_string(),
        detail: format!("{} for {hours} h: {reason}", access.as_str()),
        attempt: grant.id.clone(),
        ..Default::default()
    };
    audit::append(&store, &event).await?;
    Ok(grant)
}

/// An SRE ends a grant before it expires.
#[server(endpoint = "access/revoke-grant")]
pub async fn revoke_grant(id: String) -> Result<(), AppError> {
    use super::guard::authorize_user;
    use console_core::{audit, auth::grants, auth::policy::Action, store::Store};
    let user = authorize_user(Action::AdministerAccess, None)?;
    let store = expect_context::<Store>();
    if !grants::revoke(&store, &id).await? {
        return Err(AppError::NotFound(format!("grant {id:?}")));
    }
    let event = audit::Event {
        kind: audit::ACCESS_GRANT_REVOKED,
        actor: user.login,
        attempt: id,
        ..Default::default()
    };
    audit::append(&store, &event).await?;
    Ok(())
}

/// The grants in force on a service, shown on its page.
#[server(endpoint = "access/service-grants", input = Json)]
pub async fn service_grants(
    service: String,
) -> Result<Vec<console_core::auth::GrantInfo>, AppError> {
    use super::guard::authorize_user;
    use console_core::{auth::grants, auth::policy::Action, store::Store};
    authorize_user(Action::ViewCatalog, None)?;
    Ok(grants::on_service(&expect_context::<Store>(), &service).await?)
}
