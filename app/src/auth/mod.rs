//! Sign-in pages and the user's own API tokens. The checks live in `console_core::ctx::Ctx`.

mod access;
mod login;
mod server_fns;
mod tokens;

pub use access::AccessPage;
pub use login::LoginPage;
pub use server_fns::*;
pub use tokens::TokensPage;
