//! Versioned platform defaults in the store. Versions are never changed or deleted.

use super::PlatformDefaults;
use crate::store::{Store, StoreError};

pub use super::Version;

#[derive(Debug, thiserror::Error)]
pub enum DefaultsError {
    #[error("the defaults are not valid: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("version {0} does not exist")]
    NoSuchVersion(i64),
    #[error("someone else saved a new version meanwhile; reload and try again")]
    Conflict,
    #[error("nothing changed: version {0} already says this")]
    Unchanged(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

use crate::dates::now;

/// The version in force (0 and the built-in defaults before anyone saved). A stored version was
/// valid when saved; one a later release cannot read is skipped, loudly, for the newest one it
/// can read, under that version's own number: never the built-in defaults under another
/// version's number (they may be looser than what the SREs set).
pub async fn current(store: &Store) -> Result<(i64, PlatformDefaults), StoreError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, document FROM platform_defaults ORDER BY version DESC")
            .fetch_all(store.pool())
            .await?;
    for (version, text) in rows {
        match PlatformDefaults::from_toml(&text) {
            Ok(defaults) => return Ok((version, defaults)),
            Err(problems) => tracing::error!(
                version,
                ?problems,
                "stored platform defaults unreadable; trying the version before"
            ),
        }
    }
    Ok((0, PlatformDefaults::default()))
}

/// The document of one version, as TOML (version 0: the built-in defaults).
pub async fn document(store: &Store, version: i64) -> Result<String, DefaultsError> {
    if version == 0 {
        return Ok(PlatformDefaults::default().to_toml());
    }
    sqlx::query_scalar("SELECT document FROM platform_defaults WHERE version = $1")
        .bind(version)
        .fetch_optional(store.pool())
        .await
        .map_err(StoreError::from)?
        .ok_or(DefaultsError::NoSuchVersion(version))
}

pub async fn history(store: &Store) -> Result<Vec<Version>, StoreError> {
    let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(
        "SELECT version, author, created_at, note FROM platform_defaults ORDER BY version DESC",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(version, author, created_at, note)| Version { version, author, created_at, note })
        .collect())
}

/// Inserts `defaults` as the next version inside `tx`. The caller (`defaults::actions`) has
/// checked the version the author edited is still the latest and re-scores the catalog in the
/// same transaction; a concurrent save of the same number fails here with `Conflict`.
pub async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    defaults: &PlatformDefaults,
    author: &str,
    note: &str,
) -> Result<i64, DefaultsError> {
    // After the newest stored version, readable or not.
    let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM platform_defaults")
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::from)?;
    let version = newest + 1;
    // The primary key makes a concurrent save of the same version fail instead of doubling up.
    let inserted = sqlx::query("INSERT INTO platform_defaults (version, document, author, created_at, note) VALUES ($1, $2, $3, $4, $5)")
        .bind(version)
        .bind(defaults.to_toml())
        .bind(author)
        .bind(now())
        .bind(note)
        .execute(&mut **tx)
        .await;
    match inserted {
        Ok(_) => Ok(version),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(DefaultsError::Conflict),
        Err(e) => Err(StoreError::from(e).into()),
    }
}
