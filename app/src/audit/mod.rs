//! Who read a service's data: its log views, follows and downloads and the queries run on its
//! replicas, from the audit event log, for the owning squad (and SREs).

mod reads;
mod server_fns;

pub use reads::ServiceReadsPage;
pub use server_fns::*;
