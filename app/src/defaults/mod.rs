//! Platform defaults, for SREs: link templates, readiness requirements, query and log limits;
//! versioned, diffed, rolled back, exported and imported as one TOML document.

mod page;
mod server_fns;

pub use page::DefaultsPage;
pub use server_fns::*;
