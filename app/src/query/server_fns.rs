//! Server functions of the REPL: adapters over `console_core::query::actions`.

use crate::error::AppError;
pub use console_core::query::ReplicaView;
use console_core::query::{AuditEntry, ManagedReplica, QueryResult, Replica};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(endpoint = "query/replicas", input = Json)]
pub async fn list_replicas(service: String) -> Result<Vec<ReplicaView>, AppError> {
    use console_core::query::actions;
    Ok(actions::replicas_of(&crate::ssr::ctx(), &service).await?)
}

/// Runs one query. Every attempt, allowed, refused or failed, is in the audit log.
#[server(endpoint = "query/run", input = Json)]
pub async fn run_query(
    service: String,
    replica: String,
    sql: String,
) -> Result<QueryResult, AppError> {
    use console_core::query::actions;
    Ok(actions::run(&crate::ssr::ctx(), &service, &replica, sql.as_bytes()).await?)
}

/// Stops the user's running query on `replica`.
#[server(endpoint = "query/cancel", input = Json)]
pub async fn cancel_query(service: String, replica: String) -> Result<bool, AppError> {
    use console_core::query::actions;
    Ok(actions::cancel(&crate::ssr::ctx(), &service, &replica).await?)
}

/// Tables and columns of the replica, for the editor's side panel.
#[server(endpoint = "query/schema", input = Json)]
pub async fn replica_schema(
    service: String,
    replica: String,
) -> Result<Vec<(String, Vec<String>)>, AppError> {
    use console_core::query::actions;
    Ok(actions::schema(&crate::ssr::ctx(), &service, &replica).await?)
}

/// The user's own recent queries.
#[server(endpoint = "query/history", input = Json)]
pub async fn query_history() -> Result<Vec<AuditEntry>, AppError> {
    use console_core::query::actions;
    Ok(actions::history(&crate::ssr::ctx()).await?)
}

/// The whole audit log, newest first (SREs).
#[server(endpoint = "query/audit", input = Json)]
pub async fn query_audit() -> Result<Vec<AuditEntry>, AppError> {
    use console_core::query::actions;
    Ok(actions::audit_log(&crate::ssr::ctx()).await?)
}

/// SREs designate a replica for a service; the answer is a warning naming what the credential
/// can do beyond reading (a superuser credential needs an override note).
#[server(endpoint = "query/register", input = Json)]
pub async fn register_replica(
    replica: Replica,
    #[server(default)] override_note: Option<String>,
) -> Result<Option<String>, AppError> {
    use console_core::query::actions;
    Ok(actions::register(&crate::ssr::ctx(), &replica, override_note).await?)
}

/// Checks a replica's connection and credential on demand (SREs).
#[server(endpoint = "query/check", input = Json)]
pub async fn check_replica(replica: String) -> Result<String, AppError> {
    use console_core::query::actions;
    Ok(actions::check(&crate::ssr::ctx(), &replica).await?)
}

/// Every replica of the service, disabled ones too (SREs).
#[server(endpoint = "query/managed", input = Json)]
pub async fn managed_replicas(service: String) -> Result<Vec<ManagedReplica>, AppError> {
    use console_core::query::actions;
    Ok(actions::managed(&crate::ssr::ctx(), &service).await?)
}

/// SREs change a replica, checked as at designation.
#[server(endpoint = "query/update", input = Json)]
pub async fn update_replica(
    replica: Replica,
    #[server(default)] override_note: Option<String>,
) -> Result<Option<String>, AppError> {
    use console_core::query::actions;
    Ok(actions::update(&crate::ssr::ctx(), &replica, override_note).await?)
}

/// SREs disable a replica with a reason, or enable it (an empty reason) once it can be reached.
#[server(endpoint = "query/set-disabled", input = Json)]
pub async fn set_replica_disabled(
    service: String,
    replica: String,
    reason: String,
) -> Result<(), AppError> {
    use console_core::query::actions;
    Ok(actions::set_disabled(&crate::ssr::ctx(), &service, &replica, &reason).await?)
}

/// SREs remove a replica; its queries stay in the audit log.
#[server(endpoint = "query/remove", input = Json)]
pub async fn remove_replica(service: String, replica: String) -> Result<(), AppError> {
    use console_core::query::actions;
    Ok(actions::remove(&crate::ssr::ctx(), &service, &replica).await?)
}

/// The saved, named queries of the service (those who may query it).
#[server(endpoint = "query/saved", input = Json)]
pub async fn saved_queries(
    service: String,
) -> Result<Vec<console_core::query::SavedQuery>, AppError> {
    use console_core::query::saved;
    Ok(saved::saved(&crate::ssr::ctx(), &service).await?)
}

/// Saves the editor's text under a name, for the squad (replacing a query of that name).
#[server(endpoint = "query/save", input = Json)]
pub async fn save_query(service: String, name: String, sql: String) -> Result<(), AppError> {
    use console_core::query::saved;
    Ok(saved::save(&crate::ssr::ctx(), &service, &name, &sql).await?)
}

/// Deletes a saved query.
#[server(endpoint = "query/delete-saved", input = Json)]
pub async fn delete_saved_query(service: String, name: String) -> Result<(), AppError> {
    use console_core::query::saved;
    Ok(saved::remove(&crate::ssr::ctx(), &service, &name).await?)
}
