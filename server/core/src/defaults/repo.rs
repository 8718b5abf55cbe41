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

/// Saves `document` as the next version after `based_on` (the version the author edited), so
/// two SREs saving at once cannot silently overwrite each other.
pub async fn save(
    store: &Store,
    based_on: i64,
    document: &str,
    author: &str,
    note: &str,
) -> Result<i64, DefaultsError> {
    let defaults = PlatformDefaults::from_toml(document).map_err(DefaultsError::Invalid)?;
    let (latest, _) = current(store).await?;
    if latest != based_on {
        return Err(DefaultsError::Conflict);
    }
    // After the newest stored version, readable or not.
    let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM platform_defaults")
        .fetch_one(store.pool())
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
        .execute(store.pool())
        .await;
    match inserted {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(DefaultsError::Conflict)
        }
        Err(e) => return Err(StoreError::from(e).into()),
    }
    crate::catalog::repo::refresh_all_scores(store, &defaults.readiness).await?;
    Ok(version)
}

/// Makes version `version`'s document current again, as a new version.
pub async fn rollback(store: &Store, version: i64, author: &str) -> Result<i64, DefaultsError> {
    let document = document(store, version).await?;
    let (latest, _) = current(store).await?;
    save(store, latest, &document, author, &format!("rollback to version {version}")).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{fixture::synthetic_org, repo as catalog};
    use crate::store::testing;

    /// A stored version this release cannot read is skipped for the newest readable one, under
    /// that one's number; an SRE can still save over it.
    #[tokio::test]
    async fn an_unreadable_version_falls_back_to_the_newest_readable_one() {
        let store = testing::sqlite().await;
        let mut d1 = PlatformDefaults::default();
        d1.links[0].url = "https://grafana.example.com/d/strict?var-service={service}".into();
        assert_eq!(save(&store, 0, &d1.to_toml(), "hana", "").await.unwrap(), 1);
        sqlx::query("INSERT INTO platform_defaults (version, document, author, created_at, note) VALUES (2, 'not = [valid', 'a later release', 0, '')")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(
            current(&store).await.unwrap(),
            (1, d1.clone()),
            "version 1, not the built-in defaults as version 2"
        );
        let mut d3 = d1.clone();
        d3.links[0].url = "https://grafana.example.com/d/fixed?var-service={service}".into();
        assert_eq!(save(&store, 1, &d3.to_toml(), "hana", "fixed").await.unwrap(), 3);
        assert_eq!(current(&store).await.unwrap(), (3, d3));
    }

    async fn versions_and_rollback(store: Store) {
        catalog::replace_all(&store, &synthetic_org(2, 8)).await.unwrap();
        let (v0, d0) = current(&store).await.unwrap();
        assert_eq!((v0, &d0), (0, &PlatformDefaults::default()));

        let mut d1 = d0.clone();
        d1.links[0].url = "https://grafana.example.com/d/new?var-service={service}".into();
        let v1 = save(&store, 0, &d1.to_toml(), "hana", "new dashboard").await.unwrap();
        assert_eq!(v1, 1);
        assert_eq!(current(&store).await.unwrap().1, d1);

        // A stale editor cannot overwrite version 1.
        assert!(matches!(
            save(&store, 0, &d0.to_toml(), "eli", "").await,
            Err(DefaultsError::Conflict)
        ));
        // An invalid document is refused and changes nothing.
        let bad =
            d1.to_toml().replace("https://grafana.example.com/d/new", "javascript:alert(1)//");
        assert!(matches!(save(&store, 1, &bad, "eli", "").await, Err(DefaultsError::Invalid(_))));
        assert_eq!(current(&store).await.unwrap().0, 1);

        // Requirements drive every service's score: drop all tier-4 checks but one.
        let before = catalog::search(
            &store,
            &crate::catalog::CatalogQuery { page: 1, ..Default::default() },
        )
        .await
        .unwrap();
        let mut d2 = d1.clone();
        d2.readiness.retain(|c| c.tier != 4 || c.id == "owner");
        save(&store, 1, &d2.to_toml(), "hana", "fewer basics").await.unwrap();
        let after = catalog::search(
            &store,
            &crate::catalog::CatalogQuery { page: 1, ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(after.services[0].readiness.required + 2, before.services[0].readiness.required);

        let v3 = rollback(&store, 1, "hana").await.unwrap();
        assert_eq!(v3, 3);
        assert_eq!(current(&store).await.unwrap().1, d1);
        let h = history(&store).await.unwrap();
        assert_eq!(h.iter().map(|v| v.version).collect::<Vec<_>>(), [3, 2, 1]);
        assert_eq!(h[0].note, "rollback to version 1");
        assert!(matches!(
            rollback(&store, 42, "hana").await,
            Err(DefaultsError::NoSuchVersion(42))
        ));
    }

    #[tokio::test]
    async fn versions_and_rollback_on_sqlite() {
        versions_and_rollback(testing::sqlite().await).await;
    }

    #[tokio::test]
    async fn versions_and_rollback_on_postgres() {
        let db = testing::postgres().await;
        versions_and_rollback(db.store.clone()).await;
        db.drop().await;
    }
}
