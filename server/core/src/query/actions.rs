//! The REPL's use cases: what a server function, the CSV download and the JSON API call. Each
//! authorizes through the [`Ctx`], then does the guarded, audited work in `replicas` and `run`.

use super::replicas;
use super::RunError;
use super::{AuditEntry, ManagedReplica, QueryResult, Replica, ReplicaSummary, ReplicaView};
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

/// [`replica_of`], if it is in use: a disabled replica runs nothing.
async fn usable_replica(ctx: &Ctx, service: &str, replica: &str) -> Result<Replica> {
    let target = replica_of(ctx, service, replica).await?;
    if !target.disabled.is_empty() {
        return Err(Error::Unavailable(format!(
            "replica {replica:?} is disabled by an SRE: {}",
            target.disabled
        )));
    }
    Ok(target)
}

/// The replicas of `service` the user may query (disabled ones are not offered), with the
/// limits in force.
pub async fn replicas_of(ctx: &Ctx, service: &str) -> Result<Vec<ReplicaView>> {
    let svc = ctx.service(service).await?;
    ctx.authorize_on_service(Action::QueryReplica, &svc)?;
    let defaults = &ctx.defaults().await?.1;
    Ok(replicas::for_service(&ctx.store, service)
        .await?
        .into_iter()
        .filter(|replica| replica.disabled.is_empty())
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
    let target = usable_replica(ctx, service, replica).await?;
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
    let target = usable_replica(ctx, service, replica).await?;
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

/// What a replica's connection check found, before it is saved: the warning for the SRE and
/// the audit's detail. A connection that fails is refused unless the replica is saved disabled
/// with a reason; a superuser credential unless `override_note` says why.
async fn vet(replica: &Replica, override_note: &str) -> Result<(Option<String>, String)> {
    let (warning, powers) = match replicas::inspect_credential(replica).await {
        Ok(report) => (report.warning, report.powers),
        Err(why) if replica.disabled.trim().is_empty() => {
            return Err(Error::Invalid(format!(
                "the connection check failed: {why}. Fix the URL or the credential, or save the \
                 replica disabled with a reason until it can be reached."
            )));
        }
        Err(why) => (Some(format!("saved disabled; the connection check failed: {why}")), vec![]),
    };
    if let Some(root) =
        powers.iter().find(|p| matches!(p.as_str(), "superuser" | "SUPER" | "ALL PRIVILEGES"))
    {
        if override_note.is_empty() {
            return Err(Error::Invalid(format!(
                "the credential has {root}: a read replica needs a SELECT-only role; to register it anyway, give an override note"
            )));
        }
    }
    let mut detail = warning.clone().unwrap_or_else(|| "the credential reads only".into());
    if !override_note.is_empty() {
        detail.push_str(&format!("; override: {override_note}"));
    }
    if !replica.disabled.trim().is_empty() {
        detail.push_str(&format!("; disabled: {}", replica.disabled.trim()));
    }
    Ok((warning, detail))
}

/// One SRE action on a replica, in the audit log.
async fn audited(ctx: &Ctx, kind: &'static str, replica: &Replica, detail: String) -> Result<()> {
    let event = Event {
        kind,
        attempt: audit::attempt_id(),
        actor: ctx.signed_in()?.login.clone(),
        entity: replica.service.clone(),
        target: replica.id.clone(),
        outcome: kind.trim_start_matches("replica.").into(),
        detail,
        ..Event::default()
    };
    audit::append(&ctx.store, &event).await?;
    Ok(())
}

/// SREs designate a replica for a service, once its connection check passes (or disabled, with
/// the reason); the answer is a warning naming what the credential can do beyond reading.
pub async fn register(
    ctx: &Ctx,
    replica: &Replica,
    override_note: Option<String>,
) -> Result<Option<String>> {
    let user = ctx.authorize_user(Action::AdministerReplicas, None)?;
    ctx.service(&replica.service).await?;
    replica.validate().map_err(Error::Invalid)?;
    let note = override_note.unwrap_or_default().trim().to_string();
    let (warning, detail) = vet(replica, &note).await?;
    replicas::register(&ctx.store, replica, &user.login).await?;
    audited(ctx, "replica.registered", replica, detail).await?;
    Ok(warning)
}

/// SREs change a replica (URL, credential, options, disabled or not): checked as at
/// registration. Its id and service stay; so does its history.
pub async fn update(
    ctx: &Ctx,
    replica: &Replica,
    override_note: Option<String>,
) -> Result<Option<String>> {
    ctx.authorize_user(Action::AdministerReplicas, None)?;
    replica_of(ctx, &replica.service, &replica.id).await?;
    replica.validate().map_err(Error::Invalid)?;
    let note = override_note.unwrap_or_default().trim().to_string();
    let (warning, detail) = vet(replica, &note).await?;
    if !replicas::update(&ctx.store, replica).await? {
        return Err(Error::NotFound(format!("replica {:?} of {}", replica.id, replica.service)));
    }
    audited(ctx, "replica.updated", replica, detail).await?;
    Ok(warning)
}

/// SREs take a replica out of use (with the reason) or back in (once it can be reached).
pub async fn set_disabled(ctx: &Ctx, service: &str, id: &str, reason: &str) -> Result<()> {
    ctx.authorize_user(Action::AdministerReplicas, None)?;
    let mut replica = replica_of(ctx, service, id).await?;
    let reason = reason.trim();
    if reason.is_empty() {
        replicas::check_credential(&replica).await.map_err(|why| {
            Error::Invalid(format!("it cannot be enabled: the connection check failed: {why}"))
        })?;
    }
    replicas::set_disabled(&ctx.store, id, reason).await?;
    replica.disabled = reason.to_string();
    let (kind, detail) = if reason.is_empty() {
        ("replica.enabled", "the connection check passed".to_string())
    } else {
        ("replica.disabled", reason.to_string())
    };
    audited(ctx, kind, &replica, detail).await
}

/// SREs remove a replica. Its queries stay in the audit log under its id.
pub async fn remove(ctx: &Ctx, service: &str, id: &str) -> Result<()> {
    ctx.authorize_user(Action::AdministerReplicas, None)?;
    let replica = replica_of(ctx, service, id).await?;
    replicas::remove(&ctx.store, id).await?;
    audited(ctx, "replica.removed", &replica, format!("{} ({})", replica.name, replica.url)).await
}

/// Every replica of `service`, disabled ones too, for the SREs' management list.
pub async fn managed(ctx: &Ctx, service: &str) -> Result<Vec<ManagedReplica>> {
    ctx.authorize_user(Action::AdministerReplicas, None)?;
    ctx.service(service).await?;
    Ok(replicas::managed(&ctx.store, service).await?)
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
