//! Server functions of the REPL: authorize (owning squad or SRE), then the guarded, audited run.

use crate::error::AppError;
use console_core::query::QueryResult;
use console_core::query::{AuditEntry, Replica, ReplicaSummary};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// A replica as the REPL shows it, with the limits in force (never its URL or credential source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaView {
    pub replica: ReplicaSummary,
    pub statement_timeout_ms: u64,
    pub row_cap: u64,
    pub masks: Vec<String>,
}

#[cfg(feature = "ssr")]
async fn service_and_owner(
    store: &console_core::store::Store,
    service: &str,
) -> Result<console_core::catalog::Service, AppError> {
    console_core::catalog::repo::service(store, service)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("service {service:?}")))
}

#[server(endpoint = "query/replicas", input = Json)]
pub async fn list_replicas(service: String) -> Result<Vec<ReplicaView>, AppError> {
    use crate::auth::guard::authorize_on_service;
    use console_core::{auth::policy::Action, defaults, query::replicas, store::Store};
    let store = expect_context::<Store>();
    let svc = service_and_owner(&store, &service).await?;
    authorize_on_service(crate::auth::guard::current_user(), Action::QueryReplica, &svc)?;
    let defaults = defaults::repo::current(&store).await?.1;
    Ok(replicas::for_service(&store, &service)
        .await?
        .into_iter()
        .map(|replica| {
            let limits = replica.limits(svc.tier, &defaults);
            ReplicaView {
                statement_timeout_ms: limits.statement_timeout.as_millis() as u64,
                row_cap: limits.row_cap as u64,
                masks: limits.masks,
                replica: ReplicaSummary::from(&replica),
            }
        })
        .collect())
}

/// Runs one query. Every attempt, allowed, refused or failed, is in the audit log.
#[server(endpoint = "query/run", input = Json)]
pub async fn run_query(
    service: String,
    replica: String,
    sql: String,
) -> Result<QueryResult, AppError> {
    use console_core::limiter::Limiter;
    use console_core::store::Store;
    let user = crate::auth::guard::current_user();
    super::flow::run(
        &expect_context::<Store>(),
        &expect_context::<Limiter>(),
        user,
        &service,
        &replica,
        sql.as_bytes(),
    )
    .await
}

/// Stops the user's running query on `replica`.
#[server(endpoint = "query/cancel", input = Json)]
pub async fn cancel_query(service: String, replica: String) -> Result<bool, AppError> {
    use crate::auth::guard::authorize_on_service;
    use console_core::limiter::Limiter;
    use console_core::{auth::policy::Action, store::Store};
    let svc = service_and_owner(&expect_context::<Store>(), &service).await?;
    let user =
        authorize_on_service(crate::auth::guard::current_user(), Action::QueryReplica, &svc)?;
    // The slot's holder (on whichever console replica) sees the request at its next heartbeat.
    Ok(expect_context::<Limiter>().request_cancel(super::flow::SLOT, &user.login, &replica).await?)
}

/// Tables and columns of the replica, for the editor's side panel.
#[server(endpoint = "query/schema", input = Json)]
pub async fn replica_schema(
    service: String,
    replica: String,
) -> Result<Vec<(String, Vec<String>)>, AppError> {
    use crate::auth::guard::authorize_on_service;
    use console_core::query::replicas;
    use console_core::{auth::policy::Action, store::Store};
    let store = expect_context::<Store>();
    let svc = service_and_owner(&store, &service).await?;
    authorize_on_service(crate::auth::guard::current_user(), Action::QueryReplica, &svc)?;
    let target = replicas::get(&store, &replica)
        .await?
        .filter(|r| r.service == service)
        .ok_or_else(|| AppError::NotFound(format!("replica {replica:?} of {service}")))?;
    // The guard's own snapshot: only the allowed schemas' tables, read fresh.
    let defaults = console_core::defaults::repo::current(&store).await?.1;
    let limits = target.limits(svc.tier, &defaults);
    let url = target.connect_url().map_err(AppError::BadRequest)?;
    let schema = console_core::query::schema::snapshot(target.engine, &url, &limits, true)
        .await
        .map_err(|e| {
            tracing::warn!(replica = %target.id, error = %e, "schema could not be read");
            AppError::Unavailable("the replica's schema could not be read right now".into())
        })?;
    Ok(schema.tables())
}

/// The user's own recent queries.
#[server(endpoint = "query/history", input = Json)]
pub async fn query_history() -> Result<Vec<AuditEntry>, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, query::replicas, store::Store};
    // Any signed-in user may read their own history; QueryReplica is checked per service on run.
    let user = authorize_user(Action::ViewCatalog, None)?;
    Ok(replicas::audit_log(&expect_context::<Store>(), Some(&user.login), 50).await?)
}

/// The whole audit log, newest first (SREs).
#[server(endpoint = "query/audit", input = Json)]
pub async fn query_audit() -> Result<Vec<AuditEntry>, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, query::replicas, store::Store};
    authorize_user(Action::AdministerReplicas, None)?;
    Ok(replicas::audit_log(&expect_context::<Store>(), None, 500).await?)
}

/// SREs designate a replica for a service; the answer is a warning naming what the credential
/// can do beyond reading. A superuser credential is refused unless `override_note` says why; the
/// registration, its warnings and the note are kept in the audit log.
#[server(endpoint = "query/register", input = Json)]
pub async fn register_replica(
    replica: Replica,
    #[server(default)] override_note: Option<String>,
) -> Result<Option<String>, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::audit::{self, Event};
    use console_core::query::replicas::{self, ReplicaError};
    use console_core::{auth::policy::Action, store::Store};
    let user = authorize_user(Action::AdministerReplicas, None)?;
    let store = expect_context::<Store>();
    service_and_owner(&store, &replica.service).await?;
    replica.validate().map_err(AppError::BadRequest)?;
    let note = override_note.unwrap_or_default().trim().to_string();
    // One connection: what the credential can do, and the warning that says so.
    let (warning, powers) = match replicas::inspect_credential(&replica).await {
        Ok(report) => (report.warning, report.powers),
        Err(why) => {
            (Some(format!("registered, but the connection could not be checked: {why}")), vec![])
        }
    };
    if let Some(root) =
        powers.iter().find(|p| matches!(p.as_str(), "superuser" | "SUPER" | "ALL PRIVILEGES"))
    {
        if note.is_empty() {
            return Err(AppError::BadRequest(format!(
                "the credential has {root}: a read replica needs a SELECT-only role; to register it anyway, give an override note"
            )));
        }
    }
    match replicas::register(&store, &replica, &user.login).await {
        Ok(()) => {}
        Err(ReplicaError::Invalid(why)) => return Err(AppError::BadRequest(why)),
        Err(ReplicaError::Store(e)) => return Err(e.into()),
    }
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
    audit::append(&store, &event).await?;
    Ok(warning)
}

/// Checks a replica's connection and credential on demand (SREs).
#[server(endpoint = "query/check", input = Json)]
pub async fn check_replica(replica: String) -> Result<String, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, query::replicas, store::Store};
    authorize_user(Action::AdministerReplicas, None)?;
    let target = replicas::get(&expect_context::<Store>(), &replica)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("replica {replica:?}")))?;
    match replicas::check_credential(&target).await {
        Ok(None) => Ok("reachable; the credential is read-only".into()),
        Ok(Some(warning)) => Ok(format!("reachable; warning: {warning}")),
        Err(why) => Err(AppError::Unavailable(why)),
    }
}
