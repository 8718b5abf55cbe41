//! Sign-in pages and the user's own API tokens. The server-side checks live in `guard`.

mod access;
mod api;
mod login;
mod tokens;

pub use access::AccessPage;
pub use api::*;
pub use login::LoginPage;
pub use tokens::TokensPage;

#[cfg(feature = "ssr")]
pub mod guard;
