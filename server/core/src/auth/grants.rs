//! Time-bound access for someone outside the owning squad (an incident responder): the REPL or
//! the logs of one service, for a few hours, with a reason. SREs grant and revoke; every grant
//! is in the audit, visible on the service, and ends by itself.

pub use super::GrantInfo;
use super::{GrantAccess, ServiceGrant};
use crate::dates::now;
use crate::store::{Store, StoreError};

/// The longest a grant may last.
pub const MAX_HOURS: u32 = 72;

pub struct NewGrant<'a> {
    pub grantee: &'a str,
    pub service: &'a str,
    pub access: GrantAccess,
    pub hours: u32,
    pub reason: &'a str,
    pub granted_by: &'a str,
}

pub async fn create(store: &Store, grant: NewGrant<'_>) -> Result<GrantInfo, StoreError> {
    let id = format!("{:016x}", rand::random::<u64>());
    let created_at = now();
    let expires_at = created_at + grant.hours as i64 * 3600;
    sqlx::query(
        "INSERT INTO access_grants (id, grantee, service, access, reason, granted_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(grant.grantee)
    .bind(grant.service)
    .bind(grant.access.as_str())
    .bind(grant.reason)
    .bind(grant.granted_by)
    .bind(created_at)
    .bind(expires_at)
    .execute(store.pool())
    .await?;
    Ok(GrantInfo {
        id,
        grantee: grant.grantee.into(),
        service: grant.service.into(),
        access: grant.access,
        reason: grant.reason.into(),
        granted_by: grant.granted_by.into(),
        created_at,
        expires_at,
    })
}

/// `actor`'s grants in force now.
pub async fn active_for(store: &Store, actor: &str) -> Result<Vec<ServiceGrant>, StoreError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT service, access, expires_at FROM access_grants WHERE grantee = $1 AND expires_at > $2 AND revoked_at IS NULL",
    )
    .bind(actor)
    .bind(now())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(service, access, expires_at)| {
            Some(ServiceGrant { service, access: GrantAccess::parse(&access)?, expires_at })
        })
        .collect())
}

/// The grants in force on `service`.
pub async fn on_service(store: &Store, service: &str) -> Result<Vec<GrantInfo>, StoreError> {
    in_force(store, service).await
}

/// Every grant in force, soonest to expire first, for the SREs' access page.
pub async fn all_in_force(store: &Store) -> Result<Vec<GrantInfo>, StoreError> {
    in_force(store, "").await
}

/// The grants in force on `service`, or on every service when it is empty.
async fn in_force(store: &Store, service: &str) -> Result<Vec<GrantInfo>, StoreError> {
    let rows: Vec<(String, String, String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, grantee, service, access, reason, granted_by, created_at, expires_at FROM access_grants
         WHERE ($1 = '' OR service = $1) AND expires_at > $2 AND revoked_at IS NULL ORDER BY expires_at",
    )
    .bind(service)
    .bind(now())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, grantee, service, access, reason, granted_by, created_at, expires_at)| {
            Some(GrantInfo {
                id,
                grantee,
                service,
                access: GrantAccess::parse(&access)?,
                reason,
                granted_by,
                created_at,
                expires_at,
            })
        })
        .collect())
}

/// Ends a grant early; false if it is not in force.
pub async fn revoke(store: &Store, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE access_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL AND expires_at > $1")
        .bind(now())
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every grant of `grantee` (offboarding).
pub async fn revoke_all_of(store: &Store, grantee: &str) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE access_grants SET revoked_at = $1 WHERE grantee = $2 AND revoked_at IS NULL AND expires_at > $1")
        .bind(now())
        .bind(grantee)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected())
}
