//! Server functions for the catalog pages: adapters over `console_core::catalog::actions`.

use crate::error::AppError;
use console_core::catalog::{model, pages, CatalogQuery, Lifecycle, SquadSummary, Tier};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(endpoint = "catalog/search", input = Json)]
pub async fn search_catalog(query: CatalogQuery) -> Result<model::CatalogPage, AppError> {
    use console_core::catalog::actions;
    Ok(actions::search(&crate::ssr::ctx(), &query).await?)
}

#[server(endpoint = "catalog/squads", input = Json)]
pub async fn list_squads() -> Result<Vec<SquadSummary>, AppError> {
    use console_core::catalog::actions;
    Ok(actions::squads(&crate::ssr::ctx()).await?)
}

#[server(endpoint = "catalog/service", input = Json)]
pub async fn get_service(name: String) -> Result<pages::ServicePage, AppError> {
    use console_core::catalog::actions;
    Ok(actions::service_page(&crate::ssr::ctx(), &name).await?)
}

/// What the viewer may do on the service, and who opens the rest: pages show only the controls
/// the viewer may use.
#[server(endpoint = "catalog/service-access", input = Json)]
pub async fn service_access(name: String) -> Result<pages::ServiceAccess, AppError> {
    use console_core::catalog::actions;
    Ok(actions::access(&crate::ssr::ctx(), &name).await?)
}

#[server(endpoint = "catalog/entity", input = Json)]
pub async fn get_entity(kind: String, key: String) -> Result<pages::EntityPage, AppError> {
    use console_core::catalog::actions;
    Ok(actions::entity_page(&crate::ssr::ctx(), &kind, &key).await?)
}

#[server(endpoint = "catalog/squad", input = Json)]
pub async fn get_squad(name: String) -> Result<pages::SquadPage, AppError> {
    use console_core::catalog::actions;
    Ok(actions::squad_page(&crate::ssr::ctx(), &name).await?)
}

#[server(endpoint = "catalog/readiness", input = Json)]
pub async fn readiness_report() -> Result<console_core::catalog::ReadinessReport, AppError> {
    use console_core::catalog::actions;
    Ok(actions::readiness_report(&crate::ssr::ctx()).await?)
}

/// The service, for its owners' edit form; others get Forbidden.
#[server(endpoint = "catalog/service-for-edit", input = Json)]
pub async fn service_for_edit(name: String) -> Result<console_core::catalog::Service, AppError> {
    use console_core::catalog::actions;
    Ok(actions::service_for_edit(&crate::ssr::ctx(), &name).await?)
}

/// Members of the owning squad (and SREs) edit their service.
#[server(endpoint = "catalog/update-service", input = Json)]
pub async fn update_service(
    name: String,
    description: String,
    tier: Tier,
    lifecycle: Lifecycle,
    runbook: String,
    slo: String,
) -> Result<(), AppError> {
    use console_core::catalog::{actions, repo::ServiceEdit};
    let edit = ServiceEdit { description, tier, lifecycle, runbook, slo };
    Ok(actions::update_service(&crate::ssr::ctx(), &name, edit).await?)
}

/// Members of the owning squad (and SREs) attest or withdraw a readiness check.
#[server(endpoint = "catalog/attest", input = Json)]
pub async fn attest_check(service: String, check: String, attested: bool) -> Result<(), AppError> {
    use console_core::catalog::actions;
    Ok(actions::attest(&crate::ssr::ctx(), &service, &check, attested).await?)
}

/// Where descriptors are re-imported from on demand, and how (server side only).
#[cfg(feature = "ssr")]
#[derive(Debug, Clone)]
pub struct CatalogSource(
    pub Option<std::path::PathBuf>,
    pub console_core::catalog::ingest::ImportOptions,
);

/// SREs re-import the catalog from its descriptors, all or nothing; `preview` is a dry run that
/// says what would change and writes nothing (the page shows it before asking to import).
#[server(endpoint = "catalog/import")]
pub async fn import_catalog(#[server(default)] preview: bool) -> Result<String, AppError> {
    use console_core::catalog::actions;
    let CatalogSource(dir, mut options) = expect_context::<CatalogSource>();
    options.dry_run |= preview;
    Ok(actions::import(&crate::ssr::ctx(), dir.as_deref(), options).await?.join("\n"))
}
