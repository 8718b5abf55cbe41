//! The REPL's use cases: what a server function, the CSV download and the JSON API call. Each
//! authorizes through the [`Ctx`], then does the guarded, audited work in `replicas` and `run`.

use super::replicas;
use super::RunError;
use super::{AuditEntry, QueryResult, Replica, ReplicaSummary, ReplicaView};
use crate::audit::{self, Event};
use crate::auth::policy::Action;
use crate::ctx::Ctx;
use crate::error::{Error, Result};

/// Queries a user may start per minute.
pub const QUERIES_PER_MINUTE: i64 = 30;
/// The limiter's kind for a running query (one per user and replica).
pub const SLOT: &str = "query";

/// `replica` of `service`, or NotFound (a replica of another service is not this one's).
async fn replica_of(ctx: &Ctx, service: &str, replica: &str) -> Result<Replica> {
    replicas::get(&ctx.store, replica)
        .await?
        .filter(|r| r.service == service)
        .ok_or_else(|| Error::NotFound(format!("replica {replica:?} of {service}")))
}

/// The replicas of `service` the user may query, with the limits in force.
pub async fn replicas_of(ctx: &Ctx, service: &str) -> Result<Vec<ReplicaView>> {
    let svc = ctx.service(service).await?;
    ctx.authorize_on_service(Action::QueryReplica, &svc)?;
    let defaults = &ctx.defaults().await?.1;
    Ok(replicas::for_service(&ctx.store, service)
        .await?
        .into_iter()
        .map(|replica| {
            let limits = replica.limits(svc.tier, defaults);
            ReplicaView {
                statement_timeout_ms: limits.statement_timeout.as_millis() as u64,
                row_cap: limits.row_cap as u64,
                masks: limits.masks,
                replica: ReplicaSummary::from(&replica),
            }
        })
        .collect())
}

/// Runs `sql` (raw bytes: a download's form may not even be UTF-8) on `replica` of `service`:
/// look up the service, authorize, find the replica, take a slot and a token from the limiter,
/// then the guarded, audited run. Every attempt, allowed, refused or failed, is in the audit log.
pub async fn run(ctx: &Ctx, service: &str, replica: &str, sql: &[u8]) -> Result<QueryResult> {
    // Signed in first: an anonymous caller learns nothing, not even which services exist.
    ctx.signed_in()?;
    let svc = ctx.service(service).await?;
    let user = ctx.authorize_on_service(Action::QueryReplica, &svc)?;
    let target = replica_of(ctx, service, replica).await?;
    let (store, login, target) = (&ctx.store, &user.login, &target);
    let throttled = |why: String| async move {
        replicas::throttled(store, login, target, &why).await?;
        Err::<QueryResult, Error>(Error::Throttled(why))
    };
    let Some(slot) = ctx.limiter.acquire(SLOT, login, &target.id).await? else {
        return throttled("you already have a query running on this replica".into()).await;
    };
    if !ctx.limiter.take_token(SLOT, login, QUERIES_PER_MINUTE).await? {
        slot.release().await;
        return throttled(format!("at most {QUERIES_PER_MINUTE} queries a minute; wait a moment"))
            .await;
    }
    let sql = match std::str::from_utf8(sql) {
        Ok(sql) => sql,
        Err(_) => {
            let refusal =
                RunError::Refused(super::guard::Refusal::new("the query is not valid UTF-8"));
            let text = String::from_utf8_lossy(sql);
            replicas::audit(store, login, target, &text, &Err(refusal.clone()), 0).await?;
            slot.release().await;
            return Err(refusal.into());
        }
    };
    Ok(replicas::query_holding(store, login, target, svc.tier, sql, slot).await??)
}

/// Stops the user's running query on `replica`: the slot's holder (on whichever console
/// replica) sees the request at its next heartbeat. False if nothing was running.
pub async fn cancel(ctx: &Ctx, service: &str, replica: &str) -> Result<bool> {
    let svc = ctx.service(service).await?;
    let user = ctx.authorize_on_service(Action::QueryReplica, &svc)?;
    Ok(ctx.limiter.request_cancel(SLOT, &user.login, replica).await?)
}

/// Tables and columns of the replica, for the editor's side panel: the guard's own snapshot,
/// only the allowed schemas' tables, read fresh.
pub async fn schema(ctx: &Ctx, service: &str, replica: &str) -> Result<Vec<(String, Vec<String>)>> {
    let svc = ctx.service(service).await?;
    ctx.authorize_on_service(Action::QueryReplica, &svc)?;
    let target = replica_of(ctx, service, replica).await?;
    let limits = target.limits(svc.tier, &ctx.defaults().await?.1);
    let url = target.connect_url().map_err(Error::Invalid)?;
    let schema =
        super::schema::snapshot(target.engine, &url, &limits, true).await.map_err(|e| {
            tracing::warn!(replica = %target.id, error = %e, "schema could not be read");
            Error::Unavailable("the replica's schema could not be read right now".into())
        })?;
    Ok(schema.tables())
}

/// The user's own recent queries. Any signed-in user may read their own history; QueryReplica
/// is checked per service on run.
pub async fn history(ctx: &Ctx) -> Result<Vec<AuditEntry>> {
    let user = ctx.authorize_user(Action::ViewCatalog, None)?;
    Ok(replicas::audit_log(&ctx.store, Some(&user.login), 50).await?)
}

/// The whole query audit, newest first (SREs).
pub async fn audit_log(ctx: &Ctx) -> Result<Vec<AuditEntry>> {
    ctx.authorize_user(Action::AdministerReplicas, None)?;
    Ok(replicas::audit_log(&ctx.store, None, 500).await?)
}

/// SREs designate a replica for a service; the answer is a warning naming what the credential
/// can do beyond reading. A superuser credential is refused unless `override_note` says why; the
/// registration, its warnings and the note are kept in the audit log.
pub async fn register(
    ctx: &Ctx,
    replica: &Replica,
    override_note: Option<String>,
) -> Result<Option<String>> {
    let user = ctx.authorize_user(Action::AdministerReplicas, None)?;
    ctx.service(&replica.service).await?;
    replica.validate().map_err(Error::Invalid)?;
    let note = override_note.unwrap_or_default().trim().to_string();
    // One connection: what the credential can do, and the warning that says so.
    let (warning, powers) = match replicas::inspect_credential(replica).await {
        Ok(report) => (report.warning, report.powers),
        Err(why) => {
            (Some(format!("registered, but the connection could not be checked: {why}")), vec![])
        }
    };
    if let Some(root) =
        powers.iter().find(|p| matches!(p.as_str(), "superuser" | "SUPER" | "ALL PRIVILEGES"))
    {
        if note.is_empty() {
            return Err(Error::Invalid(format!(
                "the credential has {root}: a read replica needs a SELECT-only role; to register it anyway, give an override note"
            )));
        }
    }
    replicas::register(&ctx.store, replica, &user.login).await?;
    let mut detail = warning.clone().unwrap_or_else(|| "the credential reads only".into());
    if !note.is_empty() {
        detail.push_str(&format!("; override: {note}"));
    }
    let event = Event {
        kind: "replica.registered",
        attempt: audit::attempt_id(),
        actor: user.login.clone(),
        entity: replica.service.clone(),
        target: replica.id.clone(),
        outcome: "registered".into(),
        detail,
        ..Event::default()
    };
    audit::append(&ctx.store, &event).await?;
    Ok(warning)
}

/// Checks a replica's connection and credential on demand (SREs).
pub async fn check(ctx: &Ctx, replica: &str) -> Result<String> {
    ctx.authorize_user(Action::AdministerReplicas, None)?;
    let target = replicas::get(&ctx.store, replica)
        .await?
        .ok_or_else(|| Error::NotFound(format!("replica {replica:?}")))?;
    match replicas::check_credential(&target).await {
        Ok(None) => Ok("reachable; the credential is read-only".into()),
        Ok(Some(warning)) => Ok(format!("reachable; warning: {warning}")),
        Err(why) => Err(Error::Unavailable(why)),
    }
}
