//! Work that wrote a `started` event and owes its end (migration 0018, `running_work`). It runs
//! under a limiter lease; whoever deletes its row writes the end event: the console running it
//! when it ends, or, once the lease has expired because that console died without draining
//! (kill -9, OOM, a lost node), a surviving replica. Never both, never neither.

use crate::store::{Store, StoreError};

/// A running attempt, as a survivor needs it to close it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Running {
    pub attempt: String,
    /// The limiter lease it runs under.
    pub holder: String,
    pub actor: String,
    pub token: String,
    pub entity: String,
    pub target: String,
    /// The engine's id of the session running it on the replica, once known ('' before).
    pub backend: String,
    /// Seconds.
    pub started_at: i64,
}

/// Records that `work` runs (after its `started` event is written).
pub async fn begin(store: &Store, work: &Running) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO running_work (attempt, holder, actor, token, entity, target, backend, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&work.attempt)
    .bind(&work.holder)
    .bind(&work.actor)
    .bind(&work.token)
    .bind(&work.entity)
    .bind(&work.target)
    .bind(&work.backend)
    .bind(work.started_at)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Keeps the replica's session id with the work, so a survivor can stop the statement.
pub async fn set_backend(store: &Store, attempt: &str, backend: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE running_work SET backend = $1 WHERE attempt = $2")
        .bind(backend)
        .bind(attempt)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// The work has ended: true when the caller owes the end event, false when a survivor already
/// wrote it (this console's lease had expired).
pub async fn end(store: &Store, attempt: &str) -> Result<bool, StoreError> {
    let gone = sqlx::query("DELETE FROM running_work WHERE attempt = $1")
        .bind(attempt)
        .execute(store.pool())
        .await?;
    Ok(gone.rows_affected() == 1)
}

/// The work whose lease has expired: its console died without ending it.
pub async fn orphans(store: &Store) -> Result<Vec<Running>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT attempt, holder, actor, token, entity, target, backend, started_at FROM running_work w
         WHERE NOT EXISTS (SELECT 1 FROM limiter_leases l WHERE l.holder = w.holder AND l.expires_at >= $1)",
    )
    .bind(crate::limiter::now_ms())
    .fetch_all(store.pool())
    .await?)
}

/// Takes an orphan: true for one replica only, which then owes its end event (and puts the row
/// back with [`begin`] if it cannot write it, so the next sweep tries again).
pub async fn claim(store: &Store, work: &Running) -> Result<bool, StoreError> {
    let taken = sqlx::query("DELETE FROM running_work WHERE attempt = $1 AND holder = $2")
        .bind(&work.attempt)
        .bind(&work.holder)
        .execute(store.pool())
        .await?;
    Ok(taken.rows_affected() == 1)
}
