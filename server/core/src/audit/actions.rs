//! Reading the event log: a service's read record for its owners, and the SREs' exports (each
//! export is itself an event).

use super::{Read, Stored};
use crate::auth::policy::Action;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::query::AuditEntry;

/// The newest 500 reads of `service`: its owning squad and SREs only.
pub async fn service_reads(ctx: &Ctx, service: &str) -> Result<Vec<Read>> {
    let svc = ctx.service(service).await?;
    ctx.authorize_user(Action::ViewServiceAudit, Some(&svc.squad))?;
    Ok(super::reads_of(&ctx.store, service, 500).await?)
}

/// Every event with `from <= date < to` (`YYYY-MM-DD`), oldest first, for archiving (SREs).
pub async fn archive(ctx: &Ctx, from: &str, to: &str) -> Result<Vec<Stored>> {
    let sre = ctx.authorize_user(Action::AdministerReplicas, None)?;
    let date = |d: &str| {
        crate::dates::parse_date(d)
            .ok_or_else(|| Error::Invalid(format!("{d:?} is not a date (YYYY-MM-DD)")))
    };
    let (from, to) = (date(from)?, date(to)?);
    if to <= from {
        return Err(Error::Invalid("`to` must come after `from`".into()));
    }
    Ok(super::export(&ctx.store, &sre.login, from, to).await?)
}

/// The query audit, newest first, as the CSV export reads it (SREs); the export is recorded.
pub async fn export_query_audit(ctx: &Ctx) -> Result<Vec<AuditEntry>> {
    let sre = ctx.authorize_user(Action::AdministerReplicas, None)?;
    let entries = crate::query::replicas::audit_log(&ctx.store, None, 100_000).await?;
    let detail = format!("the query audit, newest {} attempts", entries.len());
    super::record_export(&ctx.store, &sre.login, detail).await?;
    Ok(entries)
}
