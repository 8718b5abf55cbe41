//! Sign-in pages and the user's own API tokens. The checks live in `console_core::ctx::Ctx`.

mod access;
mod api;
mod login;
mod tokens;

pub use access::AccessPage;
pub use api::*;
pub use login::LoginPage;
pub use tokens::TokensPage;
