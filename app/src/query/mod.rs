//! The safe-query REPL: read-only SQL against a service's designated replicas.

mod api;
mod page;

pub use api::*;
pub use page::QueryPage;
