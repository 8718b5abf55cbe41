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

/// The filters of `/audit` as typed (every field may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilterForm {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub text: String,
}

/// Events shown on one page of `/audit`.
pub const EVENTS_PER_PAGE: i64 = 100;

/// One page of the event log, every kind, filtered (SREs): the events and whether older ones
/// match too. Dates are `YYYY-MM-DD`; `to` is inclusive.
pub async fn browse(
    ctx: &Ctx,
    form: &FilterForm,
    before: Option<i64>,
) -> Result<(Vec<Stored>, bool)> {
    ctx.authorize_user(Action::AdministerReplicas, None)?;
    let date = |d: &str| -> Result<Option<i64>> {
        if d.trim().is_empty() {
            return Ok(None);
        }
        crate::dates::parse_date(d.trim())
            .map(Some)
            .ok_or_else(|| Error::Invalid(format!("{d:?} is not a date (YYYY-MM-DD)")))
    };
    let filter = super::Filter {
        actor: form.actor.trim().into(),
        service: form.service.trim().into(),
        kind: form.kind.trim().into(),
        outcome: form.outcome.trim().into(),
        from: date(&form.from)?,
        // Inclusive: everything before the next day.
        to: date(&form.to)?.map(|day| day + 86_400),
        text: form.text.trim().chars().take(200).collect(),
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if to <= from {
            return Err(Error::Invalid("the end date comes before the start date".into()));
        }
    }
    let mut events = super::browse(&ctx.store, &filter, before, EVENTS_PER_PAGE).await?;
    let older = events.len() as i64 > EVENTS_PER_PAGE;
    events.truncate(EVENTS_PER_PAGE as usize);
    Ok((events, older))
}

/// The query audit, newest first, as the CSV export reads it (SREs); the export is recorded.
pub async fn export_query_audit(ctx: &Ctx) -> Result<Vec<AuditEntry>> {
    let sre = ctx.authorize_user(Action::AdministerReplicas, None)?;
    let entries = crate::query::replicas::audit_log(&ctx.store, None, 100_000).await?;
    let detail = format!("the query audit, newest {} attempts", entries.len());
    super::record_export(&ctx.store, &sre.login, detail).await?;
    Ok(entries)
}
