//! Server functions for the catalog pages: authorize, call `console_core::catalog::repo`, map
//! errors. Nothing else.

use crate::error::AppError;
use console_core::catalog::{model, CatalogQuery, Lifecycle, SquadSummary, Tier};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(endpoint = "catalog/search", input = Json)]
pub async fn search_catalog(query: CatalogQuery) -> Result<model::CatalogPage, AppError> {
    use crate::auth::guard::authorize;
    use console_core::{auth::policy::Action, catalog::repo, store::Store};
    authorize(Action::ViewCatalog, None)?;
    query.validate().map_err(AppError::BadRequest)?;
    Ok(repo::search(&expect_context::<Store>(), &query).await?)
}

#[server(endpoint = "catalog/squads", input = Json)]
pub async fn list_squads() -> Result<Vec<SquadSummary>, AppError> {
    use crate::auth::guard::authorize;
    use console_core::{auth::policy::Action, catalog::repo, store::Store};
    authorize(Action::ViewCatalog, None)?;
    Ok(repo::squads(&expect_context::<Store>()).await?)
}

#[server(endpoint = "catalog/service", input = Json)]
pub async fn get_service(name: String) -> Result<model::ServicePage, AppError> {
    use crate::auth::guard::authorize;
    use console_core::{auth::policy::Action, catalog::repo, store::Store};
    authorize(Action::ViewCatalog, None)?;
    repo::service_page(&expect_context::<Store>(), &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("service {name:?}")))
}

#[server(endpoint = "catalog/entity", input = Json)]
pub async fn get_entity(kind: String, key: String) -> Result<model::EntityPage, AppError> {
    use crate::auth::guard::authorize;
    use console_core::{auth::policy::Action, catalog::repo, catalog::EntityKind, store::Store};
    authorize(Action::ViewCatalog, None)?;
    let not_found = || AppError::NotFound(format!("{kind} {key:?}"));
    // Only the kinds with pages of this kind: services and squads have their own.
    let kind = EntityKind::parse(&kind)
        .filter(|k| {
            matches!(
                k,
                EntityKind::System | EntityKind::Domain | EntityKind::Api | EntityKind::Resource
            )
        })
        .ok_or_else(not_found)?;
    repo::entity_page(&expect_context::<Store>(), kind, &key).await?.ok_or_else(not_found)
}

#[server(endpoint = "catalog/squad", input = Json)]
pub async fn get_squad(name: String) -> Result<model::SquadPage, AppError> {
    use crate::auth::guard::authorize;
    use console_core::{auth::policy::Action, catalog::repo, store::Store};
    authorize(Action::ViewCatalog, None)?;
    repo::squad_page(&expect_context::<Store>(), &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("squad {name:?}")))
}

#[server(endpoint = "catalog/readiness", input = Json)]
pub async fn readiness_report() -> Result<console_core::catalog::ReadinessReport, AppError> {
    use crate::auth::guard::authorize;
    use console_core::{auth::policy::Action, catalog::repo, store::Store};
    authorize(Action::ViewCatalog, None)?;
    Ok(repo::readiness_report(&expect_context::<Store>()).await?)
}

/// The squad that owns `service`, or NotFound.
#[cfg(feature = "ssr")]
async fn owner_of(store: &console_core::store::Store, service: &str) -> Result<String, AppError> {
    console_core::catalog::repo::service(store, service)
        .await?
        .map(|s| s.squad)
        .ok_or_else(|| AppError::NotFound(format!("service {service:?}")))
}

/// The service, for its owners' edit form; others get Forbidden.
#[server(endpoint = "catalog/service-for-edit", input = Json)]
pub async fn service_for_edit(name: String) -> Result<console_core::catalog::Service, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, catalog::repo, store::Store};
    let store = expect_context::<Store>();
    let owner = owner_of(&store, &name).await?;
    authorize_user(Action::EditService, Some(&owner))?;
    repo::service(&store, &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("service {name:?}")))
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
    use crate::auth::guard::authorize_user;
    use console_core::catalog::repo::{self, ServiceEdit};
    use console_core::{auth::policy::Action, store::Store};
    let store = expect_context::<Store>();
    let owner = owner_of(&store, &name).await?;
    let user = authorize_user(Action::EditService, Some(&owner))?;
    let current = repo::service(&store, &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("service {name:?}")))?;
    if current.tier != tier {
        // The tier comes from the descriptor in Git or from an SRE.
        authorize_user(Action::SetTier, Some(&owner)).map_err(|_| {
            AppError::Forbidden(
                "the tier is set in the service's descriptor in Git or by an SRE".into(),
            )
        })?;
    }
    let edit = ServiceEdit {
        description: description.trim().into(),
        tier,
        lifecycle,
        runbook: runbook.trim().into(),
        slo: slo.trim().into(),
    };
    edit.validate().map_err(AppError::BadRequest)?;
    repo::update_service(&store, &name, &edit, &user.login).await?;
    tracing::info!(login = %user.login, service = %name, "service edited");
    Ok(())
}

/// Members of the owning squad (and SREs) attest or withdraw a readiness check.
#[server(endpoint = "catalog/attest", input = Json)]
pub async fn attest_check(service: String, check: String, attested: bool) -> Result<(), AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::catalog::readiness::Evidence;
    use console_core::{auth::policy::Action, catalog::repo, store::Store};
    let store = expect_context::<Store>();
    let owner = owner_of(&store, &service).await?;
    let user = authorize_user(Action::AttestReadiness, Some(&owner))?;
    if !repo::checks(&store)
        .await?
        .iter()
        .any(|c| c.id == check && c.evidence == Evidence::Attested)
    {
        return Err(AppError::BadRequest(format!("{check:?} is not a check a squad attests")));
    }
    let today = today();
    let by = attested.then_some((user.login.as_str(), today.as_str()));
    repo::attest(&store, &service, &check, by).await?;
    tracing::info!(login = %user.login, %service, %check, attested, "readiness attestation");
    Ok(())
}

#[cfg(feature = "ssr")]
fn today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    console_core::dates::date(now)
}

/// Where descriptors are re-imported from on demand, and how (server side only).
#[cfg(feature = "ssr")]
#[derive(Debug, Clone)]
pub struct CatalogSource(
    pub Option<std::path::PathBuf>,
    pub console_core::catalog::repo::ImportOptions,
);

/// SREs re-import the catalog from its descriptors, all or nothing.
#[server(endpoint = "catalog/import")]
pub async fn import_catalog() -> Result<String, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::catalog::repo::{self, ImportError};
    use console_core::{auth::policy::Action, store::Store};
    let user = authorize_user(Action::ImportCatalog, None)?;
    let Some(dir) = expect_context::<CatalogSource>().0.clone() else {
        return Err(AppError::BadRequest("no catalog_dir is configured".into()));
    };
    let options = expect_context::<CatalogSource>().1;
    match repo::import_dir_with(&expect_context::<Store>(), &dir, options).await {
        Ok(s) => {
            tracing::info!(login = %user.login, squads = s.squads(), services = s.services(), removed = s.services_removed.len(), "catalog re-imported");
            Ok(s.lines().join("\n"))
        }
        Err(ImportError::Refused(why)) => {
            Err(AppError::BadRequest(format!("nothing changed: {why}")))
        }
        Err(ImportError::Invalid(problems)) => Err(AppError::BadRequest(format!(
            "nothing changed; {} problem(s): {}",
            problems.len(),
            problems.iter().take(20).map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
        ))),
        Err(ImportError::Store(e)) => Err(e.into()),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn today_is_a_date() {
        let t = super::today();
        assert_eq!(t.len(), 10);
        assert!(t.starts_with("20"));
    }
}
