//! Server functions for sign-in state, API tokens and access: adapters over
//! `console_core::auth::actions`.

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
    use console_core::auth::policy::Action;
    let ctx = crate::ssr::ctx();
    ctx.authorize(Action::ViewSession, None)?;
    let settings = expect_context::<SignInSettings>();
    Ok(SessionView { user: ctx.user, dev_sign_in: settings.dev_sign_in })
}

#[server(endpoint = "auth/options", input = Json)]
pub async fn sign_in_options() -> Result<SignInChoices, AppError> {
    use console_core::auth::policy::Action;
    let ctx = crate::ssr::ctx();
    ctx.authorize(Action::ViewSession, None)?;
    let settings = expect_context::<SignInSettings>();
    let dev_users = match settings.dev_sign_in {
        true => Some(
            console_core::auth::dev::users(&ctx.store)
                .await
                .map_err(console_core::error::Error::from)?,
        ),
        false => None,
    };
    Ok(SignInChoices { oidc: settings.oidc.clone(), github: settings.github, dev_users })
}

/// The token limits SREs set in the platform defaults, for the token form.
#[server(endpoint = "tokens/limits", input = Json)]
pub async fn token_limits() -> Result<console_core::defaults::TokenLimits, AppError> {
    use console_core::auth::actions;
    Ok(actions::token_limits(&crate::ssr::ctx()).await?)
}

#[server(endpoint = "tokens/list", input = Json)]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use console_core::auth::actions;
    Ok(actions::my_tokens(&crate::ssr::ctx()).await?)
}

/// Creates a token for the signed-in session's identity; the returned text is shown once and
/// never stored. Only a session can do this: API tokens are not accepted outside `/api/v1/`.
#[server(endpoint = "tokens/create")]
pub async fn create_token(
    name: String,
    scope: Option<String>,
    days: Option<u32>,
) -> Result<String, AppError> {
    use console_core::auth::actions;
    Ok(actions::create_token(&crate::ssr::ctx(), &name, scope.as_deref(), days).await?)
}

#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    use console_core::auth::actions;
    Ok(actions::revoke_my_token(&crate::ssr::ctx(), &id).await?)
}

/// The signed-in person's sessions, on every device.
#[server(endpoint = "sessions/mine", input = Json)]
pub async fn my_sessions() -> Result<Vec<console_core::auth::SessionInfo>, AppError> {
    use console_core::auth::actions;
    let current = crate::ssr::current_session_id();
    Ok(actions::my_sessions(&crate::ssr::ctx(), current.as_deref()).await?)
}

/// Ends every session of the signed-in person, this one included.
#[server(endpoint = "sessions/end-all")]
pub async fn sign_out_everywhere() -> Result<u64, AppError> {
    use console_core::auth::actions;
    Ok(actions::sign_out_everywhere(&crate::ssr::ctx()).await?)
}

/// Everyone's live tokens, for SREs.
#[server(endpoint = "access/tokens", input = Json)]
pub async fn all_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use console_core::auth::actions;
    Ok(actions::all_tokens(&crate::ssr::ctx()).await?)
}

/// An SRE revokes anyone's token.
#[server(endpoint = "access/revoke-token")]
pub async fn revoke_any_token(id: String) -> Result<(), AppError> {
    use console_core::auth::actions;
    Ok(actions::revoke_any_token(&crate::ssr::ctx(), &id).await?)
}

/// Every sign-in identity, for SREs.
#[server(endpoint = "access/identities", input = Json)]
pub async fn identities() -> Result<Vec<console_core::auth::IdentitySummary>, AppError> {
    use console_core::auth::actions;
    Ok(actions::identities(&crate::ssr::ctx()).await?)
}

/// Offboarding: ends every session and revokes every token of `actor`, at once.
#[server(endpoint = "access/offboard")]
pub async fn offboard(actor: String) -> Result<(u64, u64), AppError> {
    use console_core::auth::actions;
    Ok(actions::offboard(&crate::ssr::ctx(), &actor).await?)
}

/// Lifts an offboarding: the person (and every name blocked with them) may sign in again.
#[server(endpoint = "access/restore")]
pub async fn restore_access(actor: String) -> Result<u64, AppError> {
    use console_core::auth::actions;
    Ok(actions::restore(&crate::ssr::ctx(), &actor).await?)
}

/// Names an offboarding blocked from signing in: (name, blocked by, when).
#[server(endpoint = "access/blocked", input = Json)]
pub async fn blocked_access() -> Result<Vec<(String, String, i64)>, AppError> {
    use console_core::auth::actions;
    Ok(actions::blocked(&crate::ssr::ctx()).await?)
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
    use console_core::auth::actions::{self, GrantRequest};
    let request = GrantRequest {
        grantee: &grantee,
        service: &service,
        access: &access,
        hours,
        reason: &reason,
    };
    Ok(actions::grant(&crate::ssr::ctx(), request).await?)
}

/// An SRE ends a grant before it expires.
#[server(endpoint = "access/revoke-grant")]
pub async fn revoke_grant(id: String) -> Result<(), AppError> {
    use console_core::auth::actions;
    Ok(actions::revoke_grant(&crate::ssr::ctx(), &id).await?)
}

/// Every grant in force (SREs), on the access page.
#[server(endpoint = "access/grants", input = Json)]
pub async fn all_grants() -> Result<Vec<console_core::auth::GrantInfo>, AppError> {
    use console_core::auth::actions;
    Ok(actions::all_grants(&crate::ssr::ctx()).await?)
}

/// The grants in force on a service, shown on its page.
#[server(endpoint = "access/service-grants", input = Json)]
pub async fn service_grants(
    service: String,
) -> Result<Vec<console_core::auth::GrantInfo>, AppError> {
    use console_core::auth::actions;
    Ok(actions::service_grants(&crate::ssr::ctx(), &service).await?)
}
