//! The platform defaults' use cases (SREs only): read, save, roll back, compare. Saving writes
//! the new version and every service's re-computed readiness score in one transaction, so no
//! version is ever in force without its scores.

use super::links::LinkTemplate;
use super::repo::{self, DefaultsError};
use super::{DiffLine, PlatformDefaults, Version};
use crate::auth::policy::Action;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::store::Store;

/// The largest document an SRE may save.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// The version in force, its document, and every version (version 0, the built-in defaults,
/// can always be rolled back to).
pub async fn load(ctx: &Ctx) -> Result<(i64, PlatformDefaults, Vec<Version>)> {
    ctx.authorize_user(Action::AdminDefaults, None)?;
    let (version, defaults) = repo::current(&ctx.store).await?;
    let mut history = repo::history(&ctx.store).await?;
    history.push(Version {
        version: 0,
        author: "console".into(),
        created_at: 0,
        note: "built-in defaults".into(),
    });
    Ok((version, defaults, history))
}

/// Saves a whole document (the editor, or an imported file) as the next version after
/// `based_on`.
pub async fn save(ctx: &Ctx, based_on: i64, document: &str, note: &str) -> Result<i64> {
    let user = ctx.authorize_user(Action::AdminDefaults, None)?;
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::Invalid("the document is larger than 512 KB".into()));
    }
    let version = save_as(&ctx.store, based_on, document, &user.login, note.trim()).await?;
    tracing::info!(login = %user.login, version, "platform defaults saved");
    Ok(version)
}

/// Saves new link templates, keeping the rest of the document.
pub async fn save_links(ctx: &Ctx, based_on: i64, links: Vec<LinkTemplate>) -> Result<i64> {
    let user = ctx.authorize_user(Action::AdminDefaults, None)?;
    let mut defaults = ctx.defaults().await?.1.clone();
    defaults.links = links;
    let version =
        save_as(&ctx.store, based_on, &defaults.to_toml(), &user.login, "link templates").await?;
    tracing::info!(login = %user.login, version, "link templates saved");
    Ok(version)
}

/// Makes `version`'s document current again, as a new version.
pub async fn rollback(ctx: &Ctx, version: i64) -> Result<i64> {
    let user = ctx.authorize_user(Action::AdminDefaults, None)?;
    let new = rollback_as(&ctx.store, version, &user.login).await?;
    tracing::info!(login = %user.login, to = version, new, "platform defaults rolled back");
    Ok(new)
}

/// What `version` changed compared with the one before it: the changed lines with three lines
/// of context around each.
pub async fn diff(ctx: &Ctx, version: i64) -> Result<Vec<DiffLine>> {
    ctx.authorize_user(Action::AdminDefaults, None)?;
    let new = repo::document(&ctx.store, version).await?;
    let old = repo::document(&ctx.store, (version - 1).max(0)).await?;
    Ok(super::with_context(super::diff(&old, &new), 3))
}

/// The version in force and its document as TOML, for `GET /admin/defaults.toml`.
pub async fn export(ctx: &Ctx) -> Result<(i64, String)> {
    ctx.authorize_user(Action::AdminDefaults, None)?;
    let (version, defaults) = ctx.defaults().await?;
    Ok((*version, defaults.to_toml()))
}

/// [`save`] by `author`, already authorized (tests, the start-up seed): validate, check the
/// author edited the latest version, then the version and the re-scored catalog in one
/// transaction.
pub async fn save_as(
    store: &Store,
    based_on: i64,
    document: &str,
    author: &str,
    note: &str,
) -> Result<i64> {
    let defaults = PlatformDefaults::from_toml(document).map_err(DefaultsError::Invalid)?;
    let (latest, in_force) = repo::current(store).await?;
    if latest != based_on {
        return Err(DefaultsError::Conflict.into());
    }
    // A version that changes nothing would be an empty line in the history.
    if defaults == in_force {
        return Err(DefaultsError::Unchanged(latest).into());
    }
    // Read before the transaction: an in-memory SQLite store has one connection, which the
    // transaction holds.
    let scores = crate::catalog::repo::scores_under(store, &defaults.readiness).await?;
    let mut tx = store.pool().begin().await?;
    let version = repo::insert_version(&mut tx, &defaults, author, note).await?;
    crate::catalog::repo::write_scores(&mut tx, &scores).await?;
    let event = crate::audit::Event {
        kind: crate::audit::DEFAULTS_SAVED,
        attempt: crate::audit::attempt_id(),
        actor: author.into(),
        target: format!("version {version}"),
        outcome: "saved".into(),
        detail: note.into(),
        ..Default::default()
    };
    crate::audit::append_on(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(version)
}

/// [`rollback`] by `author`, already authorized.
pub async fn rollback_as(store: &Store, version: i64, author: &str) -> Result<i64> {
    let document = repo::document(store, version).await?;
    let (latest, _) = repo::current(store).await?;
    save_as(store, latest, &document, author, &format!("rollback to version {version}")).await
}

#[cfg(test)]
mod tests {
    use super::{rollback_as as rollback, save_as as save};
    use crate::catalog::{fixture::synthetic_org, ingest, repo as catalog};
    use crate::defaults::repo::{current, history};
    use crate::defaults::PlatformDefaults;
    use crate::error::Error;
    use crate::store::testing;
    use crate::store::Store;

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
        ingest::replace_all(&store, &synthetic_org(2, 8)).await.unwrap();
        let (v0, d0) = current(&store).await.unwrap();
        assert_eq!((v0, &d0), (0, &PlatformDefaults::default()));

        let mut d1 = d0.clone();
        d1.links[0].url = "https://grafana.example.com/d/new?var-service={service}".into();
        let v1 = save(&store, 0, &d1.to_toml(), "hana", "new dashboard").await.unwrap();
        assert_eq!(v1, 1);
        assert_eq!(current(&store).await.unwrap().1, d1);

        // A stale editor cannot overwrite version 1.
        assert!(matches!(save(&store, 0, &d0.to_toml(), "eli", "").await, Err(Error::Conflict(_))));
        // An invalid document is refused and changes nothing.
        let bad =
            d1.to_toml().replace("https://grafana.example.com/d/new", "javascript:alert(1)//");
        assert!(matches!(save(&store, 1, &bad, "eli", "").await, Err(Error::Invalid(_))));
        assert_eq!(current(&store).await.unwrap().0, 1);
        // So is one that changes nothing (reformatted, it is the same document): no empty version.
        let same = format!("# only a comment\n{}", d1.to_toml());
        let Err(Error::Invalid(why)) = save(&store, 1, &same, "eli", "").await else {
            panic!("an unchanged document is refused");
        };
        assert!(why.contains("nothing changed"), "{why}");
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
        assert!(matches!(rollback(&store, 42, "hana").await, Err(Error::NotFound(_))));
        // Rolling back to what is in force would change nothing.
        assert!(matches!(rollback(&store, 3, "hana").await, Err(Error::Invalid(_))));
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

    /// Saving and re-scoring are one transaction: when writing the scores fails, the new
    /// version is not in force and no version was added.
    async fn a_failing_rescore_leaves_no_new_version(store: Store, refuse_updates: &[&str]) {
        ingest::replace_all(&store, &synthetic_org(2, 8)).await.unwrap();
        // A first version that differs from the built-in one (an unchanged document is refused).
        let mut d0 = PlatformDefaults::default();
        d0.lifecycles.insert("ga".into(), crate::catalog::Lifecycle::Production);
        assert_eq!(save(&store, 0, &d0.to_toml(), "hana", "first").await.unwrap(), 1);
        for statement in refuse_updates {
            sqlx::query(statement).execute(store.pool()).await.unwrap();
        }
        let mut d2 = d0.clone();
        d2.readiness.retain(|c| c.tier != 4 || c.id == "owner");
        let saved = save(&store, 1, &d2.to_toml(), "hana", "fewer basics").await;
        assert!(matches!(saved, Err(Error::Internal(_))), "{saved:?}");
        assert_eq!(current(&store).await.unwrap(), (1, d0));
        assert_eq!(history(&store).await.unwrap().len(), 1, "no version 2 was written");
    }

    #[tokio::test]
    async fn a_failing_rescore_leaves_no_new_version_on_sqlite() {
        let refuse = "CREATE TRIGGER refuse_scores BEFORE UPDATE ON services \
                      BEGIN SELECT RAISE(ABORT, 'scores refused'); END";
        a_failing_rescore_leaves_no_new_version(crate::store::testing::sqlite().await, &[refuse])
            .await;
    }

    #[tokio::test]
    async fn a_failing_rescore_leaves_no_new_version_on_postgres() {
        let db = crate::store::testing::postgres().await;
        let refuse = [
            "CREATE FUNCTION refuse_scores() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'scores refused'; END $$",
            "CREATE TRIGGER refuse_scores BEFORE UPDATE ON services \
             FOR EACH ROW EXECUTE FUNCTION refuse_scores()",
        ];
        a_failing_rescore_leaves_no_new_version(db.store.clone(), &refuse).await;
        db.drop().await;
    }
}
