//! Server-side glue for server functions: the request's [`Ctx`] from Leptos' context.

use console_core::auth::{CurrentSession, CurrentUser, User};
use console_core::ctx::Ctx;
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
        .and_then(|parts| parts.extensions.get::<CurrentSession>().cloned())
        .and_then(|session| session.0)
}

/// The request's context: what every `console_core::<feature>::actions` function takes.
pub fn ctx() -> Ctx {
    Ctx::new(expect_context(), expect_context(), expect_context(), current_user())
}
