//! Authorization for server functions: who is asking, and may they?

use crate::error::AppError;
use console_core::auth::policy::{allows, allows_on_service, Action};
use console_core::auth::{CurrentUser, User};
use leptos::prelude::*;

/// The signed-in user of the request being served, if any.
pub fn current_user() -> Option<User> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CurrentUser>().cloned())
        .and_then(|current| current.0)
}

/// The id of the request's session, if it has one (to mark it in the user's session list).
pub fn current_session_id() -> Option<String> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<console_core::auth::CurrentSession>().cloned())
        .and_then(|session| session.0)
}

/// The user, if the policy lets them do `action` on a resource owned by `owner`.
pub fn authorize(action: Action, owner: Option<&str>) -> Result<Option<User>, AppError> {
    authorize_as(current_user(), action, owner)
}

/// [`authorize`] for a user known by other means (a plain route's request extension).
pub fn authorize_as(
    user: Option<User>,
    action: Action,
    owner: Option<&str>,
) -> Result<Option<User>, AppError> {
    if allows(user.as_ref(), action, owner) {
        return Ok(user);
    }
    refuse(&user, action, owner)
}

/// The user, if the policy (or a grant in force on `service`) lets them do `action` there.
pub fn authorize_on_service(
    user: Option<User>,
    action: Action,
    service: &console_core::catalog::Service,
) -> Result<User, AppError> {
    if allows_on_service(user.as_ref(), action, &service.name, &service.squad) {
        return user.ok_or(AppError::Unauthorized);
    }
    refuse(&user, action, Some(&service.squad)).and_then(|u| u.ok_or(AppError::Unauthorized))
}

fn refuse(
    user: &Option<User>,
    action: Action,
    owner: Option<&str>,
) -> Result<Option<User>, AppError> {
    match user {
        None => Err(AppError::Unauthorized),
        Some(u) => {
            tracing::info!(login = %u.login, ?action, ?owner, "refused by policy");
            Err(AppError::Forbidden(match owner {
                Some(squad) => format!("only members of {squad} (or SREs) may do this"),
                None => "only SREs may do this".into(),
            }))
        }
    }
}

/// Like [`authorize`], for actions that need a signed-in user.
pub fn authorize_user(action: Action, owner: Option<&str>) -> Result<User, AppError> {
    authorize(action, owner)?.ok_or(AppError::Unauthorized)
}
