//! The audit event log in the browser: the whole log for SREs (`/audit`), and who read a
//! service's data (its log views, follows and downloads and the queries run on its replicas)
//! for the owning squad.

mod events;
mod reads;
mod server_fns;

pub use events::AuditPage;
pub use reads::ServiceReadsPage;
pub use server_fns::*;
