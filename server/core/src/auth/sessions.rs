//! Sessions in the console's own database, so several console replicas share them.

use crate::store::Store;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    pub fn new(store: Store) -> Self {
        DbSessionStore { store }
    }

    /// Removes expired sessions; called now and then, not on every request.
    pub async fn delete_expired(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(self.store.pool())
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

/// Whether the session `id` is still live (not signed out, ended or expired).
pub async fn exists(
    store: &Store,
    id: &str,
) -> std::result::Result<bool, crate::store::StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .fetch_optional(store.pool())
            .await?;
    Ok(found.is_some())
}

fn backend(e: sqlx::Error) -> Error {
    crate::store::connections::note(&e);
    Error::Backend(e.to_string())
}

fn encode(record: &Record) -> Result<String> {
    serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))
}

/// The identity a session is signed in as (the server's `identity` key), kept in its own column
/// so a person's sessions can be listed and ended.
fn identity_of(record: &Record) -> Option<String> {
    record.data.get("identity").and_then(|v| v.as_str()).map(str::to_string)
}

/// A session nobody signed in to lives minutes, not the idle lifetime: anyone can make one.
fn expires_at(record: &Record) -> i64 {
    let expiry = record.expiry_date.unix_timestamp();
    match identity_of(record) {
        Some(_) => expiry,
        None => expiry.min(OffsetDateTime::now_utc().unix_timestamp() + ANONYMOUS_SECS),
    }
}

/// How long a session without a signed-in identity is kept.
pub const ANONYMOUS_SECS: i64 = 10 * 60;

#[async_trait::async_trait]
impl tower_sessions::SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // A new id must never take over an existing session: retry on collision.
        loop {
            let done = sqlx::query(
                "INSERT INTO sessions (id, data, expires_at, identity_id) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.id.to_string())
            .bind(encode(record)?)
            .bind(expires_at(record))
            .bind(identity_of(record))
            .execute(self.store.pool())
            .await
            .map_err(backend)?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        // An update, never an insert: a session ended meanwhile (signed out everywhere,
        // offboarded, its identity disowned) must not come back because a request of it was
        // still in flight. New sessions come through `create`.
        sqlx::query(
            "UPDATE sessions SET data = $2, expires_at = $3, identity_id = $4 WHERE id = $1",
        )
        .bind(record.id.to_string())
        .bind(encode(record)?)
        .bind(expires_at(record))
        .bind(identity_of(record))
        .execute(self.store.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(OffsetDateTime::now_utc().unix_timestamp())
        .fetch_optional(self.store.pool())
        .await
        .map_err(backend)?;
        let Some((data, expires_at)) = row else { return Ok(None) };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?,
            expiry_date: OffsetDateTime::from_unix_timestamp(expires_at)
                .map_err(|e| Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.store.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
