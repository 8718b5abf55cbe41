//! The Kubernetes pages' use cases: read the watch caches for a service its viewer may see;
//! plan, cap, audit and re-check the log and live-view streams.

use super::logs::LogPlan;
use super::model::{LogLine, LogOptions, ServiceWorkloads};
use super::{views, Cluster, K8sError};
use crate::audit;
use crate::auth::policy::{allows_on_service, Action};
use crate::auth::User;
use crate::catalog::Service;
use crate::ctx::Ctx;
use crate::defaults::LogLimits;
use crate::error::{Error, Result};
use crate::limiter::Lease;
use crate::store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A service's deployments, pods and events on every cluster it maps to (from the caches: no
/// API-server request). `cluster` narrows to one cluster; empty: all.
pub async fn workloads(ctx: &Ctx, service: &str, cluster: &str) -> Result<ServiceWorkloads> {
    let svc = ctx.service(service).await?;
    ctx.authorize_user(Action::ViewWorkloads, Some(&svc.squad))?;
    let mut workloads = svc.workloads.clone();
    if !cluster.is_empty() {
        if !workloads.cluster.is_empty() && workloads.cluster != cluster {
            return Err(Error::Invalid(format!(
                "{service} runs on cluster {:?} only",
                workloads.cluster
            )));
        }
        workloads.cluster = cluster.to_string();
    }
    Ok(views::service_workloads(&ctx.clusters, &svc.name, &workloads)?)
}

/// The service (if the user may read its logs), the platform's log limits, and the checked plan
/// for `options`. The plan's own error is returned apart: a stream reports it as an event, a
/// download as a status.
pub async fn log_plan(
    ctx: &Ctx,
    service: &str,
    options: &LogOptions,
) -> Result<(Service, LogLimits, std::result::Result<LogPlan, K8sError>)> {
    let svc = ctx.service(service).await?;
    ctx.authorize_on_service(Action::ReadLogs, &svc)?;
    let limits = ctx.defaults().await?.1.logs.clone();
    let plan = LogPlan::new(&ctx.clusters, &svc.workloads, options, &limits);
    Ok((svc, limits, plan))
}

/// One of `cap` running slots of `kind` for the user, counted in the store (so the cap holds
/// across console replicas); `Throttled` with `full` when all are held. The slot is held as
/// long as the lease.
pub async fn slot(ctx: &Ctx, kind: &str, cap: u64, full: &str) -> Result<Lease> {
    let login = ctx.signed_in()?.login.clone();
    for i in 0..cap {
        if let Some(lease) = ctx.limiter.acquire(kind, &login, &format!("slot-{i}")).await? {
            return Ok(lease);
        }
    }
    Err(Error::Throttled(full.to_string()))
}

/// The user's live deployment view of `service`: the first view (which checks the request:
/// unknown cluster, empty selector), the clusters to watch for changes, and a slot of the
/// platform's cap on live views per person.
pub async fn live_view(ctx: &Ctx, service: &str) -> Result<LiveView> {
    let svc = ctx.service(service).await?;
    ctx.authorize_on_service(Action::ViewWorkloads, &svc)?;
    let watched = ctx.clusters.pick(&svc.workloads.cluster)?;
    let first = views::service_workloads(&ctx.clusters, &svc.name, &svc.workloads)?;
    let cap = ctx.defaults().await?.1.logs.max_live_views_per_user;
    let full = format!("you already have {cap} live views open: close one first");
    let slot = slot(ctx, "workloads.live", cap, &full).await?;
    Ok(LiveView { service: svc, watched, first, slot })
}

pub struct LiveView {
    pub service: Service,
    pub watched: Vec<Arc<Cluster>>,
    pub first: ServiceWorkloads,
    pub slot: Lease,
}

/// Records a read of `service`'s logs: who, which window and filter, how many lines. Written
/// once the lines are known and before they are sent: a read whose record cannot be written is
/// not served (`Internal`, fails closed).
pub async fn record_read(
    ctx: &Ctx,
    kind: &'static str,
    service: &str,
    options: &LogOptions,
    lines: usize,
) -> Result<()> {
    let event = audit::Event {
        kind,
        actor: ctx.signed_in()?.login.clone(),
        entity: service.to_string(),
        detail: options.query_string().trim_start_matches('?').to_string(),
        rows: lines as i64,
        ..Default::default()
    };
    audit::append(&ctx.store, &event)
        .await
        .map_err(|e| Error::Internal(format!("log read {kind} of {service} not recorded: {e}")))
}

/// What a stream that lasts (a follow, a live view) re-checks while it runs: access is decided
/// at every request, and such a stream is one request that can last days.
pub struct StreamAccess {
    pub session: Option<String>,
    /// The session's absolute lifetime or the token's expiry: a stream ends there too.
    pub ends_at: Option<i64>,
    pub action: Action,
    pub service: String,
}

impl StreamAccess {
    /// The session still exists within its absolute lifetime (or the token has not expired), and
    /// `user` as the caller resolved them now (current roles, grants in force) may still do the
    /// action on the service's current owner. A check that cannot be made ends the stream.
    pub async fn still_allowed(&self, store: &Store, user: Option<&User>) -> bool {
        if self.ends_at.is_some_and(|end| crate::dates::now() >= end) {
            return false;
        }
        if let Some(session) = &self.session {
            match crate::auth::sessions::exists(store, session).await {
                Ok(true) => {}
                Ok(false) => return false,
                Err(error) => {
                    tracing::warn!(%error, "session check failed; the stream ends");
                    return false;
                }
            }
        }
        // The owner as it is now: an import may have moved the service, or removed it.
        match crate::catalog::repo::service(store, &self.service).await {
            Ok(Some(service)) => {
                allows_on_service(user, self.action, &service.name, &service.squad)
            }
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(%error, "access check failed; the stream ends");
                false
            }
        }
    }
}

/// The lines to send next while following: `first`, then whatever else is already waiting, up
/// to `max`. A quiet stream's line goes out alone at once; a busy stream's gather into one
/// event.
pub fn next_batch(
    first: LogLine,
    waiting: &mut mpsc::Receiver<LogLine>,
    max: usize,
) -> Vec<LogLine> {
    let mut batch = vec![first];
    while batch.len() < max {
        match waiting.try_recv() {
            Ok(line) => batch.push(line),
            Err(_) => break,
        }
    }
    batch
}
