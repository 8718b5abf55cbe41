//! The one REPL flow, shared by the `query/run` server function and the CSV download: look up
//! the service, authorize, find the replica, take a slot from the limiter, then the guarded,
//! audited run. Each step's failure is an [`AppError`] with its status.

use crate::auth::guard::authorize_on_service;
use crate::error::AppError;
use console_core::auth::policy::Action;
use console_core::auth::User;
use console_core::limiter::Limiter;
use console_core::query::replicas;
use console_core::query::run::RunError;
use console_core::query::QueryResult;
use console_core::store::Store;

/// Queries a user may start per minute.
pub const QUERIES_PER_MINUTE: i64 = 30;
/// The limiter's kind for a running query (one per user and replica).
pub const SLOT: &str = "query";

/// Runs `sql` (raw bytes: a download's form may not even be UTF-8) for `user` on `replica` of `service`.
pub async fn run(
    store: &Store,
    limiter: &Limiter,
    user: Option<User>,
    service: &str,
    replica: &str,
    sql: &[u8],
) -> Result<QueryResult, AppError> {
    // Signed in first: an anonymous caller learns nothing, not even which services exist.
    let user = user.ok_or(AppError::Unauthorized)?;
    let svc = console_core::catalog::repo::service(store, service)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("service {service:?}")))?;
    let user = authorize_on_service(Some(user), Action::QueryReplica, &svc)?;
    let target = replicas::get(store, replica)
        .await?
        .filter(|r| r.service == service)
        .ok_or_else(|| AppError::NotFound(format!("replica {replica:?} of {service}")))?;
    let (login, target) = (&user.login, &target);
    let throttled = |why: String| async move {
        replicas::throttled(store, login, target, &why).await?;
        Err::<QueryResult, AppError>(AppError::Throttled(why))
    };
    let Some(slot) = limiter.acquire(SLOT, &user.login, &target.id).await? else {
        return throttled("you already have a query running on this replica".into()).await;
    };
    if !limiter.take_token(SLOT, &user.login, QUERIES_PER_MINUTE).await? {
        slot.release().await;
        return throttled(format!("at most {QUERIES_PER_MINUTE} queries a minute; wait a moment"))
            .await;
    }
    let sql = match std::str::from_utf8(sql) {
        Ok(sql) => sql,
        Err(_) => {
            let refusal = RunError::Refused(console_core::query::guard::Refusal::new(
                "the query is not valid UTF-8",
            ));
            replicas::audit(
                store,
                &user.login,
                &target,
                &String::from_utf8_lossy(sql),
                &Err(refusal.clone()),
                0,
            )
            .await?;
            slot.release().await;
            return Err(refusal.into());
        }
    };
    Ok(replicas::query_holding(store, &user.login, &target, svc.tier, sql, slot).await??)
}
