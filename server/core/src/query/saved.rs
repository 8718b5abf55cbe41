//! Saved, named queries of a service: shared with everyone who may query the service (its squad,
//! and those granted access), so an incident's useful query is one click for the next person.
//! Saving or deleting one is audited; running one is a query like any other (guarded, masked,
//! capped and audited when it runs: a saved text gains no power by being saved).

use super::SavedQuery;
use crate::audit::{self, Event};
use crate::auth::policy::Action;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::store::{Store, StoreError};

/// A name is a short label, not a document.
pub const MAX_NAME_CHARS: usize = 80;
/// As long as the editor takes.
pub const MAX_SQL_BYTES: usize = 64 * 1024;
/// Saved queries a service keeps: a shared shelf, not an archive.
pub const MAX_PER_SERVICE: i64 = 200;

/// A name people can read in a list: trimmed, 1 to 80 characters, no control characters.
fn valid_name(name: &str) -> std::result::Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("give the query a name".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("the name is longer than {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("the name has a control character (a line break or a tab)".into());
    }
    Ok(name.to_string())
}

/// The saved queries of `service`, by name.
pub async fn list(
    store: &Store,
    service: &str,
) -> std::result::Result<Vec<SavedQuery>, StoreError> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT name, sql_text, saved_by, saved_at FROM saved_queries WHERE service = $1 ORDER BY name",
    )
    .bind(service)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, sql, saved_by, saved_at)| SavedQuery { name, sql, saved_by, saved_at })
        .collect())
}

/// Saves `sql` as `name` (replacing a query of that name), and the audit event, in one
/// transaction. False when the service already keeps [`MAX_PER_SERVICE`] other queries.
async fn upsert(
    store: &Store,
    service: &str,
    name: &str,
    sql: &str,
    event: &Event,
) -> std::result::Result<bool, StoreError> {
    let mut tx = store.pool().begin().await?;
    let others: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM saved_queries WHERE service = $1 AND name <> $2")
            .bind(service)
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
    if others >= MAX_PER_SERVICE {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO saved_queries (service, name, sql_text, saved_by, saved_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (service, name) DO UPDATE SET sql_text = excluded.sql_text, saved_by = excluded.saved_by, saved_at = excluded.saved_at",
    )
    .bind(service)
    .bind(name)
    .bind(sql)
    .bind(&event.actor)
    .bind(crate::dates::now())
    .execute(&mut *tx)
    .await?;
    audit::append_on(&mut tx, event).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes `name` of `service` and records it with the text it held (the audit can give it
/// back), in one transaction. False when there is none.
async fn delete(
    store: &Store,
    service: &str,
    name: &str,
    mut event: Event,
) -> std::result::Result<bool, StoreError> {
    let mut tx = store.pool().begin().await?;
    let deleted: Option<String> = sqlx::query_scalar(
        "DELETE FROM saved_queries WHERE service = $1 AND name = $2 RETURNING sql_text",
    )
    .bind(service)
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(sql) = deleted else {
        return Ok(false);
    };
    event.sql_text = sql;
    audit::append_on(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(true)
}

/// A change to the shelf, as the audit records it: who, which service, which name.
fn shelf_event(kind: &'static str, outcome: &str, actor: &str, service: &str, name: &str) -> Event {
    Event {
        kind,
        attempt: audit::attempt_id(),
        actor: actor.to_string(),
        token: audit::current_token(),
        entity: service.to_string(),
        outcome: outcome.to_string(),
        detail: name.to_string(),
        ..Event::default()
    }
}

/// The saved queries of `service`, for those who may query it.
pub async fn saved(ctx: &Ctx, service: &str) -> Result<Vec<SavedQuery>> {
    let svc = ctx.service(service).await?;
    ctx.authorize_on_service(Action::QueryReplica, &svc)?;
    Ok(list(&ctx.store, &svc.name).await?)
}

/// Saves the editor's text under a name the squad will see. Nothing is run: the text is checked
/// by the guard when someone runs it.
pub async fn save(ctx: &Ctx, service: &str, name: &str, sql: &str) -> Result<()> {
    let svc = ctx.service(service).await?;
    let user = ctx.authorize_on_service(Action::QueryReplica, &svc)?;
    let name = valid_name(name).map_err(Error::Invalid)?;
    if sql.trim().is_empty() {
        return Err(Error::Invalid("the editor is empty: there is nothing to save".into()));
    }
    if sql.len() > MAX_SQL_BYTES {
        return Err(Error::Invalid(format!(
            "the query is longer than {} KB",
            MAX_SQL_BYTES / 1024
        )));
    }
    let event = Event {
        sql_text: sql.to_string(),
        ..shelf_event(audit::QUERY_SAVED, "saved", &user.login, &svc.name, &name)
    };
    if !upsert(&ctx.store, &svc.name, &name, sql, &event).await? {
        return Err(Error::Invalid(format!(
            "{} keeps at most {MAX_PER_SERVICE} saved queries: delete one first",
            svc.name
        )));
    }
    Ok(())
}

/// Deletes a saved query (anyone who may query the service: the shelf is the squad's).
pub async fn remove(ctx: &Ctx, service: &str, name: &str) -> Result<()> {
    let svc = ctx.service(service).await?;
    let user = ctx.authorize_on_service(Action::QueryReplica, &svc)?;
    let event = shelf_event(audit::QUERY_UNSAVED, "deleted", &user.login, &svc.name, name);
    if !delete(&ctx.store, &svc.name, name, event).await? {
        return Err(Error::NotFound(format!("saved query {name:?} of {}", svc.name)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_labels() {
        assert_eq!(valid_name("  slow orders  ").unwrap(), "slow orders");
        assert!(valid_name("   ").is_err());
        assert!(valid_name("a\nb").is_err());
        assert!(valid_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(valid_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
    }
}
