//! Who read a service's data: its log views, follows and downloads and the queries run on its
//! replicas, from the audit event log, for the owning squad (and SREs).

mod api;
mod reads;

pub use api::*;
pub use reads::ServiceReadsPage;
