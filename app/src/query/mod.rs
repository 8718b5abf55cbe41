//! The safe-query REPL: read-only SQL against a service's designated replicas.

mod api;
mod audit;
mod page;

pub use api::*;
pub use audit::AuditPage;
pub use page::QueryPage;
