//! Access use cases: one's own tokens and sessions; for SREs, everyone's tokens, offboarding and
//! time-bound grants. Each validates, writes and records its audit event here.

use super::policy::Action;
use super::{grants, people, tokens, GrantAccess, GrantInfo, IdentitySummary, SessionInfo};
use super::{TokenInfo, User};
use crate::audit::{self, Event};
use crate::ctx::Ctx;
use crate::dates::now;
use crate::defaults::TokenLimits;
use crate::error::{Error, Result};

/// The token limits SREs set in the platform defaults, for the token form.
pub async fn token_limits(ctx: &Ctx) -> Result<TokenLimits> {
    ctx.authorize_user(Action::ManageOwnTokens, None)?;
    Ok(ctx.defaults().await?.1.tokens.clone())
}

pub async fn my_tokens(ctx: &Ctx) -> Result<Vec<TokenInfo>> {
    let user = ctx.authorize_user(Action::ManageOwnTokens, None)?;
    Ok(tokens::list(&ctx.store, &user.login).await?)
}

/// Creates a token for the signed-in identity; the returned text is shown once, never stored.
pub async fn create_token(
    ctx: &Ctx,
    name: &str,
    scope: Option<&str>,
    days: Option<u32>,
) -> Result<String> {
    let user = ctx.authorize_user(Action::ManageOwnTokens, None)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Invalid("a token needs a name of 1 to 100 characters".into()));
    }
    let limits = &ctx.defaults().await?.1.tokens;
    let scope = match scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => tokens::Scope::Read,
        Some(text) => tokens::Scope::parse(text)
            .ok_or_else(|| Error::Invalid(format!("scope must be read or query, not {text:?}")))?,
    };
    if scope == tokens::Scope::Query && !limits.allow_query_scope {
        return Err(Error::Forbidden("SREs have not allowed tokens with the query scope (platform defaults: tokens.allow_query_scope)".into()));
    }
    let days = days.unwrap_or(limits.default_days);
    if days == 0 || days > limits.max_days {
        return Err(Error::Invalid(format!(
            "a token lives 1 to {} days (platform defaults), not {days}",
            limits.max_days
        )));
    }
    let new = tokens::NewToken {
        identity_id: &user.identity,
        owner: &user.login,
        name,
        scope,
        expires_at: now() + days as i64 * 86_400,
    };
    let (info, token) = tokens::create(&ctx.store, new).await?;
    let event = Event {
        kind: audit::TOKEN_CREATED,
        actor: user.login.clone(),
        target: info.id.clone(),
        detail: format!("scope {}, {days} days: {name}", scope.as_str()),
        ..Default::default()
    };
    audit::append(&ctx.store, &event).await?;
    Ok(token)
}

pub async fn revoke_my_token(ctx: &Ctx, id: &str) -> Result<()> {
    let user = ctx.authorize_user(Action::ManageOwnTokens, None)?;
    if !tokens::revoke(&ctx.store, &user.login, id).await? {
        return Err(Error::NotFound(format!("token {id:?}")));
    }
    record(ctx, audit::TOKEN_REVOKED, user, |e| e.target = id.to_string()).await
}

/// The signed-in person's sessions on every device; `current` is marked.
pub async fn my_sessions(ctx: &Ctx, current: Option<&str>) -> Result<Vec<SessionInfo>> {
    let user = ctx.authorize_user(Action::ManageOwnTokens, None)?;
    Ok(people::sessions_of(&ctx.store, &user.login, current).await?)
}

/// Ends every session of the signed-in person, this one included.
pub async fn sign_out_everywhere(ctx: &Ctx) -> Result<u64> {
    let user = ctx.authorize_user(Action::ManageOwnTokens, None)?;
    let ended = people::end_sessions(&ctx.store, &user.login).await?;
    record(ctx, audit::SESSIONS_ENDED, user, |e| {
        e.target = user.login.clone();
        e.detail = format!("{ended} sessions, by themselves");
    })
    .await?;
    Ok(ended)
}

/// Everyone's live tokens, for SREs.
pub async fn all_tokens(ctx: &Ctx) -> Result<Vec<TokenInfo>> {
    ctx.authorize_user(Action::AdministerAccess, None)?;
    Ok(tokens::list_all(&ctx.store).await?)
}

/// An SRE revokes anyone's token.
pub async fn revoke_any_token(ctx: &Ctx, id: &str) -> Result<()> {
    let user = ctx.authorize_user(Action::AdministerAccess, None)?;
    if !tokens::revoke_any(&ctx.store, id).await? {
        return Err(Error::NotFound(format!("token {id:?}")));
    }
    record(ctx, audit::TOKEN_REVOKED, user, |e| {
        e.target = id.to_string();
        e.detail = "by an SRE".into();
    })
    .await
}

/// Every sign-in identity, for SREs.
pub async fn identities(ctx: &Ctx) -> Result<Vec<IdentitySummary>> {
    ctx.authorize_user(Action::AdministerAccess, None)?;
    Ok(people::identities(&ctx.store).await?)
}

/// Offboarding: ends every session and revokes every token of `actor`, at once.
pub async fn offboard(ctx: &Ctx, actor: &str) -> Result<(u64, u64)> {
    let user = ctx.authorize_user(Action::AdministerAccess, None)?;
    let actor = actor.trim();
    if actor.is_empty() {
        return Err(Error::Invalid("name the person to offboard".into()));
    }
    let (sessions, tokens) = people::offboard(&ctx.store, actor, &user.login).await?;
    record(ctx, audit::ACCESS_OFFBOARDED, user, |e| {
        e.target = actor.to_string();
        e.detail = format!("{sessions} sessions ended, {tokens} tokens revoked");
    })
    .await?;
    Ok((sessions, tokens))
}

/// Lifts an offboarding: the person (and every name blocked with them) may sign in again.
pub async fn restore(ctx: &Ctx, actor: &str) -> Result<u64> {
    let user = ctx.authorize_user(Action::AdministerAccess, None)?;
    let actor = actor.trim();
    if actor.is_empty() {
        return Err(Error::Invalid("name the person whose access to restore".into()));
    }
    let lifted = people::restore(&ctx.store, actor).await?;
    if lifted == 0 {
        return Err(Error::NotFound(format!("{actor} is not blocked")));
    }
    record(ctx, audit::ACCESS_RESTORED, user, |e| {
        e.target = actor.to_string();
        e.detail = format!("{lifted} names may sign in again");
    })
    .await?;
    Ok(lifted)
}

/// Names an offboarding blocked from signing in: (name, blocked by, when).
pub async fn blocked(ctx: &Ctx) -> Result<Vec<(String, String, i64)>> {
    ctx.authorize_user(Action::AdministerAccess, None)?;
    Ok(people::blocked(&ctx.store).await?)
}

/// What an SRE grants: a non-owner gets the REPL or the logs of one service for `hours`.
pub struct GrantRequest<'a> {
    pub grantee: &'a str,
    pub service: &'a str,
    pub access: &'a str,
    pub hours: u32,
    pub reason: &'a str,
}

pub async fn grant(ctx: &Ctx, request: GrantRequest<'_>) -> Result<GrantInfo> {
    let user = ctx.authorize_user(Action::AdministerAccess, None)?;
    let GrantRequest { grantee, service, access, hours, reason } = request;
    let (grantee, reason) = (grantee.trim(), reason.trim());
    let access = GrantAccess::parse(access.trim())
        .ok_or_else(|| Error::Invalid(format!("access must be query or logs, not {access:?}")))?;
    if grantee.is_empty() {
        return Err(Error::Invalid("name who the grant is for".into()));
    }
    if reason.chars().count() < 5 || reason.chars().count() > 500 {
        return Err(Error::Invalid(
            "a grant needs a reason of 5 to 500 characters (the incident, the ticket)".into(),
        ));
    }
    if !(1..=grants::MAX_HOURS).contains(&hours) {
        return Err(Error::Invalid(format!(
            "a grant lasts 1 to {} hours, not {hours}",
            grants::MAX_HOURS
        )));
    }
    ctx.service(service).await?;
    let new = grants::NewGrant { grantee, service, access, hours, reason, granted_by: &user.login };
    let grant = grants::create(&ctx.store, new).await?;
    record(ctx, audit::ACCESS_GRANTED, user, |e| {
        e.entity = service.to_string();
        e.target = grantee.to_string();
        e.detail = format!("{} for {hours} h: {reason}", access.as_str());
        e.attempt = grant.id.clone();
    })
    .await?;
    Ok(grant)
}

/// An SRE ends a grant before it expires.
pub async fn revoke_grant(ctx: &Ctx, id: &str) -> Result<()> {
    let user = ctx.authorize_user(Action::AdministerAccess, None)?;
    if !grants::revoke(&ctx.store, id).await? {
        return Err(Error::NotFound(format!("grant {id:?}")));
    }
    record(ctx, audit::ACCESS_GRANT_REVOKED, user, |e| e.attempt = id.to_string()).await
}

/// The grants in force on a service, shown on its page.
pub async fn service_grants(ctx: &Ctx, service: &str) -> Result<Vec<GrantInfo>> {
    ctx.authorize_user(Action::ViewCatalog, None)?;
    Ok(grants::on_service(&ctx.store, service).await?)
}

/// Every grant in force, for the SREs' access page.
pub async fn all_grants(ctx: &Ctx) -> Result<Vec<GrantInfo>> {
    ctx.authorize_user(Action::AdministerAccess, None)?;
    Ok(grants::all_in_force(&ctx.store).await?)
}

/// Appends the event of an access change made by `user`.
async fn record(
    ctx: &Ctx,
    kind: &'static str,
    user: &User,
    fill: impl FnOnce(&mut Event),
) -> Result<()> {
    let mut event = Event { kind, actor: user.login.clone(), ..Default::default() };
    fill(&mut event);
    audit::append(&ctx.store, &event).await?;
    Ok(())
}
