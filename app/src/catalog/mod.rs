//! Catalog pages: home, search, service, squad.

mod api;
mod home;
mod readiness;
mod search;
mod service;
mod squad;

pub use api::*;
pub use home::HomePage;
pub use readiness::ReadinessPage;
pub use search::CatalogPage;
pub use service::{EditServicePage, ServicePage};
pub use squad::SquadPage;
