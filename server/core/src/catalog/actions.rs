//! The catalog's use cases: reading pages, owners editing and attesting, SREs re-importing.
//! Each authorizes through the [`Ctx`], then calls `repo` (rows ⇄ model) and `merge`.

use super::ingest::{self, ImportOptions};
use super::model::{CatalogPage, EntityKind};
use super::pages::{EntityPage, ServiceAccess, ServicePage, SquadPage};
use super::readiness::Evidence;
use super::repo::{self, ServiceEdit};
use super::{CatalogQuery, ReadinessReport, Service, SquadSummary};
use crate::auth::policy::Action;
use crate::ctx::Ctx;
use crate::error::{Error, Result};

pub async fn search(ctx: &Ctx, query: &CatalogQuery) -> Result<CatalogPage> {
    ctx.authorize(Action::ViewCatalog, None)?;
    query.validate().map_err(Error::Invalid)?;
    Ok(repo::search(&ctx.store, query).await?)
}

pub async fn squads(ctx: &Ctx) -> Result<Vec<SquadSummary>> {
    ctx.authorize(Action::ViewCatalog, None)?;
    Ok(repo::squads(&ctx.store).await?)
}

pub async fn service_page(ctx: &Ctx, name: &str) -> Result<ServicePage> {
    ctx.authorize(Action::ViewCatalog, None)?;
    repo::service_page(&ctx.store, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("service {name:?}")))
}

/// What the viewer may do on service `name`, and who can open the rest to them.
pub async fn access(ctx: &Ctx, name: &str) -> Result<ServiceAccess> {
    use crate::auth::policy::{allows, allows_on_service};
    ctx.authorize(Action::ViewCatalog, None)?;
    let svc = ctx.service(name).await?;
    let user = ctx.user.as_ref();
    let on_service = |action| allows_on_service(user, action, &svc.name, &svc.squad);
    let owners = |action| allows(user, action, Some(&svc.squad));
    let mut access = ServiceAccess {
        service: svc.name.clone(),
        squad: svc.squad.clone(),
        edit: owners(Action::EditService),
        set_tier: owners(Action::SetTier),
        attest: owners(Action::AttestReadiness),
        query: on_service(Action::QueryReplica),
        logs: on_service(Action::ReadLogs),
        service_audit: on_service(Action::ViewServiceAudit),
        replicas: 0,
        how_to_get_access: String::new(),
    };
    if access.query {
        access.replicas = crate::query::replicas::for_service(&ctx.store, &svc.name).await?.len();
    }
    if !(access.query && access.logs) {
        access.how_to_get_access = if user.is_none() {
            "Sign in to see what you may do here.".into()
        } else if svc.squad.is_empty() {
            format!(
                "{} has no owning squad, so only SREs read its logs and data: ask an SRE for \
                 time-bound access (they grant it on the Access page).",
                svc.name
            )
        } else {
            let squad = repo::squad(&ctx.store, &svc.squad).await?;
            let chat = squad
                .as_ref()
                .map(|s| s.chat_channel.trim())
                .filter(|c| !c.is_empty())
                .map(|c| format!(" (in {c})"))
                .unwrap_or_default();
            let squad_name = squad.map_or(svc.squad.clone(), |s| s.display_name);
            format!(
                "Logs and data of {} are read by squad {squad_name} and SREs. To read them, ask \
                 the squad{chat} or an SRE for time-bound access: an SRE grants it on the Access \
                 page, and every read is recorded.",
                svc.name
            )
        };
    }
    Ok(access)
}

/// A system, domain, API or resource (services and squads have pages of their own).
pub async fn entity_page(ctx: &Ctx, kind: &str, key: &str) -> Result<EntityPage> {
    ctx.authorize(Action::ViewCatalog, None)?;
    let not_found = || Error::NotFound(format!("{kind} {key:?}"));
    let kind = EntityKind::parse(kind)
        .filter(|k| {
            matches!(
                k,
                EntityKind::System | EntityKind::Domain | EntityKind::Api | EntityKind::Resource
            )
        })
        .ok_or_else(not_found)?;
    repo::entity_page(&ctx.store, kind, key).await?.ok_or_else(not_found)
}

pub async fn squad_page(ctx: &Ctx, name: &str) -> Result<SquadPage> {
    ctx.authorize(Action::ViewCatalog, None)?;
    repo::squad_page(&ctx.store, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("squad {name:?}")))
}

pub async fn readiness_report(ctx: &Ctx) -> Result<ReadinessReport> {
    ctx.authorize(Action::ViewCatalog, None)?;
    Ok(repo::readiness_report(&ctx.store).await?)
}

/// The service, for its owners' edit form; others get Forbidden.
pub async fn service_for_edit(ctx: &Ctx, name: &str) -> Result<Service> {
    let service = ctx.service(name).await?;
    ctx.authorize_user(Action::EditService, Some(&service.squad))?;
    Ok(service)
}

/// Members of the owning squad (and SREs) edit their service; the tier only SREs (it comes from
/// the descriptor in Git otherwise).
pub async fn update_service(ctx: &Ctx, name: &str, edit: ServiceEdit) -> Result<()> {
    let current = ctx.service(name).await?;
    let user = ctx.authorize_user(Action::EditService, Some(&current.squad))?;
    if current.tier != edit.tier {
        ctx.authorize_user(Action::SetTier, Some(&current.squad)).map_err(|_| {
            Error::Forbidden(
                "the tier is set in the service's descriptor in Git or by an SRE".into(),
            )
        })?;
    }
    let edit = ServiceEdit {
        description: edit.description.trim().into(),
        runbook: edit.runbook.trim().into(),
        slo: edit.slo.trim().into(),
        ..edit
    };
    edit.validate().map_err(Error::Invalid)?;
    repo::update_service(&ctx.store, name, &edit, &user.login).await?;
    tracing::info!(login = %user.login, service = %name, "service edited");
    Ok(())
}

/// Members of the owning squad (and SREs) attest (`attested`) or withdraw a readiness check.
pub async fn attest(ctx: &Ctx, service: &str, check: &str, attested: bool) -> Result<()> {
    let svc = ctx.service(service).await?;
    let user = ctx.authorize_user(Action::AttestReadiness, Some(&svc.squad))?;
    let checks = &ctx.defaults().await?.1.readiness;
    if !checks.iter().any(|c| c.id == check && c.evidence == Evidence::Attested) {
        return Err(Error::Invalid(format!("{check:?} is not a check a squad attests")));
    }
    let today = crate::dates::date(crate::dates::now());
    let by = attested.then_some((user.login.as_str(), today.as_str()));
    repo::attest(&ctx.store, service, check, by).await?;
    tracing::info!(login = %user.login, %service, %check, attested, "readiness attestation");
    Ok(())
}

/// SREs re-import the catalog from its descriptors under `dir`, all or nothing; the summary's
/// lines say what changed.
pub async fn import(
    ctx: &Ctx,
    dir: Option<&std::path::Path>,
    options: ImportOptions,
) -> Result<Vec<String>> {
    let user = ctx.authorize_user(Action::ImportCatalog, None)?;
    let dir = dir.ok_or_else(|| Error::Invalid("no catalog_dir is configured".into()))?;
    let dry_run = options.dry_run;
    let s = ingest::import_dir_with(&ctx.store, dir, options).await?;
    tracing::info!(login = %user.login, dry_run, squads = s.squads(), services = s.services(), removed = s.services_removed.len(), "catalog re-imported");
    Ok(s.lines())
}
