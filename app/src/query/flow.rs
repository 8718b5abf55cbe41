//! The one REPL flow, shared by the `query/run` server function and the CSV download: look up
//! the service, authorize, find the replica, take a slot from the limiter, then the guarded,
//! audited run. Each step's failure is an [`AppError`] with its status.

use crate::auth::guard::authorize_as;
use crate::error::AppError;
use console_core::auth::policy::Action;
use console_core::auth::User;
use console_core::query::replicas::{self, Throttle};
use console_core::query::run::RunError;
use console_core::query::QueryResult;
use console_core::store::Store;

/// Queries a user may start per minute.
pub const QUERIES_PER_MINUTE: usize = 30;

/// Runs `sql` (raw bytes: a download's form may not even be UTF-8) for `user` on `replica` of `service`.
pub async fn run(store: &Store, throttle: &Throttle, user: Option<User>, service: &str, replica: &str, sql: &[u8]) -> Result<QueryResult, AppError> {
    let svc = console_core::catalog::repo::service(store, service).await?.ok_or_else(|| AppError::NotFound(format!("service {service:?}")))?;
    let user = authorize_as(user, Action::QueryReplica, Some(&svc.squad))?.ok_or(AppError::Unauthorized)?;
    let target = replicas::get(store, replica)
        .await?
        .filter(|r| r.service == service)
        .ok_or_else(|| AppError::NotFound(format!("replica {replica:?} of {service}")))?;
    let slot = throttle.acquire(&user.login, &target.id, QUERIES_PER_MINUTE).map_err(AppError::Throttled)?;
    let sql = match std::str::from_utf8(sql) {
        Ok(sql) => sql,
        Err(_) => {
            let refusal = RunError::Refused(console_core::query::guard::Refusal::new("the query is not valid UTF-8"));
            replicas::audit(store, &user.login, &target, &String::from_utf8_lossy(sql), &Err(refusal.clone()), 0).await?;
            return Err(refusal.into());
        }
    };
    Ok(replicas::query_cancellable(store, &user.login, &target, svc.tier, sql, &slot.cancel).await??)
}
