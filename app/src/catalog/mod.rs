//! Catalog pages: home, search, service, squad, and the other entities (systems, APIs…).

mod entity;
mod home;
mod readiness;
mod search;
mod server_fns;
mod service;
mod squad;

pub use entity::EntityPage;
pub use home::HomePage;
pub use readiness::ReadinessPage;
pub use search::CatalogPage;
pub use server_fns::*;
pub use service::{EditServicePage, ServicePage};
pub use squad::SquadPage;

/// The key of the entity a page shows: `name` from `/services/:name`, `namespace/name` from
/// `/services/:namespace/:name` (the same for squads and other entities).
pub fn key_from(params: &leptos_router::params::ParamsMap) -> String {
    let name = params.get("name").unwrap_or_default();
    match params.get("namespace") {
        Some(namespace) => console_core::catalog::entity_key(&namespace, &name),
        None => name,
    }
}
