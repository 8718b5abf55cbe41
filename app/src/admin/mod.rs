//! Platform defaults, for SREs: link templates, readiness requirements, query and log limits;
//! versioned, diffed, rolled back, exported and imported as one TOML document.

mod api;
mod page;

pub use api::*;
pub use page::AdminPage;
