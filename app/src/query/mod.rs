//! The safe-query REPL: read-only SQL against a service's designated replicas.

mod editor;
mod manage;
mod page;
mod server_fns;

pub use page::QueryPage;
pub use server_fns::*;
