//! The audit event log: append-only events, one table for every feature that must leave a record
//! (see `migrations/*/0010_audit_events.sql`). An action that takes time writes `…started` before
//! it begins and `…finished` or `…abandoned` when it ends, tied by one attempt id, so a client
//! that goes away, or a console that dies, still leaves its `started` behind.

pub mod actions;
pub mod running;

use crate::store::{Store, StoreError};

/// One event. Empty strings and zeros are "not applicable".
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub kind: &'static str,
    pub attempt: String,
    /// The person.
    pub actor: String,
    /// The API token's id, when the person acted through one.
    pub token: String,
    /// What the action was about (the service).
    pub entity: String,
    /// Where it acted (the replica).
    pub target: String,
    pub outcome: String,
    pub detail: String,
    pub sql_text: String,
    pub rows: i64,
    pub bytes: i64,
    pub duration_ms: i64,
}

pub const QUERY_STARTED: &str = "query.started";
pub const QUERY_FINISHED: &str = "query.finished";
pub const QUERY_ABANDONED: &str = "query.abandoned";
pub const QUERY_THROTTLED: &str = "query.throttled";
pub const AUDIT_EXPORTED: &str = "audit.exported";
pub const TOKEN_CREATED: &str = "token.created";
pub const TOKEN_REVOKED: &str = "token.revoked";
pub const ACCESS_OFFBOARDED: &str = "access.offboarded";
pub const ACCESS_RESTORED: &str = "access.restored";
pub const SIGN_IN_BLOCKED: &str = "auth.sign-in-blocked";
pub const SIGNED_IN: &str = "auth.signed-in";
pub const ROLES_CHANGED: &str = "auth.roles-changed";
pub const IDENTITY_DISOWNED: &str = "auth.disowned";
pub const ACCESS_GRANTED: &str = "access.granted";
pub const ACCESS_GRANT_REVOKED: &str = "access.grant-revoked";
pub const SESSIONS_ENDED: &str = "sessions.ended";
pub const LOGS_READ: &str = "logs.read";
pub const LOGS_FOLLOWED: &str = "logs.followed";
pub const LOGS_FOLLOW_ENDED: &str = "logs.follow-ended";
pub const LOGS_DOWNLOADED: &str = "logs.downloaded";
pub const DEFAULTS_SAVED: &str = "defaults.saved";
pub const QUERY_SAVED: &str = "query.saved";
pub const QUERY_UNSAVED: &str = "query.unsaved";

/// One read of a service's data (logs viewed, followed, downloaded; queries run), as the
/// owning squad sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub at: i64,
    pub kind: String,
    pub actor: String,
    /// Window and filter of a log read; the SQL of a query.
    pub detail: String,
    pub rows: i64,
}

/// The newest `limit` reads of `service`: of this service, by its uid, not of an earlier one
/// that had its name. Events from before uids count for the service that had the name then.
pub async fn reads_of(store: &Store, service: &str, limit: i64) -> Result<Vec<Read>, StoreError> {
    let rows: Vec<(i64, String, String, String, String, i64)> = sqlx::query_as(
        // A finished query's SQL is on its started event (the same attempt).
        "SELECT e.at, e.kind, e.actor, e.detail,
                CASE WHEN e.sql_text <> '' OR e.attempt = '' THEN e.sql_text
                     ELSE COALESCE((SELECT s.sql_text FROM audit_events s WHERE s.attempt = e.attempt AND s.kind = 'query.started' LIMIT 1), '') END,
                e.row_count
         FROM audit_events e
         WHERE (entity_uid = (SELECT uid FROM services WHERE name = $1)
                OR (entity_uid = '' AND entity = $1 AND EXISTS (
                    SELECT 1 FROM audit_names_before_uids b JOIN services s ON s.uid = b.uid WHERE b.name = $1 AND s.name = $1)))
           AND (kind LIKE 'logs.%' OR kind = 'query.finished') ORDER BY e.id DESC LIMIT $2",
    )
    .bind(service)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, kind, actor, detail, sql, rows)| Read {
            at,
            kind,
            actor,
            detail: if sql.is_empty() { detail } else { sql },
            rows,
        })
        .collect())
}

/// One stored event, as exports read it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Stored {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub attempt: String,
    pub actor: String,
    pub token: String,
    pub entity: String,
    pub target: String,
    pub outcome: String,
    pub detail: String,
    pub sql_text: String,
    pub row_count: i64,
    pub byte_count: i64,
    pub duration_ms: i64,
}

/// Every event with `from <= at < to` (seconds), oldest first: what an SRE archives by date.
/// The export is itself an event, appended after the range is read.
pub async fn export(
    store: &Store,
    actor: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Stored>, StoreError> {
    let events: Vec<Stored> = sqlx::query_as(
        "SELECT id, at, kind, attempt, actor, token, entity, target, outcome, detail, sql_text, row_count, byte_count, duration_ms
         FROM audit_events WHERE at >= $1 AND at < $2 ORDER BY id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(store.pool())
    .await?;
    let detail = format!(
        "{} events from {} to {}",
        events.len(),
        crate::dates::date(from),
        crate::dates::date(to)
    );
    record_export(store, actor, detail).await?;
    Ok(events)
}

/// What an SRE narrows the event log to on `/audit`. Empty fields do not filter; `kind` is a
/// kind (`query.finished`) or a family (`query`); dates are `YYYY-MM-DD`, `to` inclusive; `text`
/// is found in the detail, the target or the SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub actor: String,
    pub service: String,
    pub kind: String,
    pub outcome: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub text: String,
}

/// One page of events matching `filter`, newest first, older than event `before` (keyset
/// pagination: a page never shifts when new events arrive). `limit + 1` are read, so the caller
/// knows whether an older page exists.
pub async fn browse(
    store: &Store,
    filter: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Stored>, StoreError> {
    let like = |text: &str| {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    };
    sqlx::query_as(
        "SELECT id, at, kind, attempt, actor, token, entity, target, outcome, detail, sql_text, row_count, byte_count, duration_ms
         FROM audit_events
         WHERE id < $1
           AND ($2 = '' OR actor = $2)
           AND ($3 = '' OR entity = $3)
           AND ($4 = '' OR kind = $4 OR kind LIKE $5 ESCAPE '\\')
           AND ($6 = '' OR outcome = $6)
           AND at >= $7 AND at < $8
           AND ($9 = '' OR detail LIKE $10 ESCAPE '\\' OR sql_text LIKE $10 ESCAPE '\\' OR target LIKE $10 ESCAPE '\\')
         ORDER BY id DESC LIMIT $11",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(&filter.actor)
    .bind(&filter.service)
    .bind(&filter.kind)
    .bind(format!("{}.%", filter.kind.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
    .bind(&filter.outcome)
    .bind(filter.from.unwrap_or(i64::MIN))
    .bind(filter.to.unwrap_or(i64::MAX))
    .bind(&filter.text)
    .bind(like(&filter.text))
    .bind(limit + 1)
    .fetch_all(store.pool())
    .await
    .map_err(Into::into)
}

/// Every export of the audit is itself an event.
pub async fn record_export(store: &Store, actor: &str, detail: String) -> Result<(), StoreError> {
    append(
        store,
        &Event {
            kind: AUDIT_EXPORTED,
            attempt: attempt_id(),
            actor: actor.into(),
            outcome: "exported".into(),
            detail,
            ..Event::default()
        },
    )
    .await
}

tokio::task_local! {
    /// The API token the current request acts through: every event appended while it is set
    /// names it, however deep in the flow the event is written.
    static TOKEN: String;
}

/// Runs `work` as acting through the API token `token` (its id).
pub async fn through_token<F: std::future::Future>(token: String, work: F) -> F::Output {
    TOKEN.scope(token, work).await
}

/// The token the current task acts through ('' for none), to carry into a spawned task.
pub fn current_token() -> String {
    TOKEN.try_with(|t| t.clone()).unwrap_or_default()
}

/// A fresh attempt id.
pub fn attempt_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub async fn append(store: &Store, event: &Event) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    append_on(&mut conn, event).await
}

/// [`append`] on a connection the caller holds: inside a transaction, the event commits (or
/// rolls back) with the change it records.
pub async fn append_on(conn: &mut sqlx::AnyConnection, event: &Event) -> Result<(), StoreError> {
    let written = sqlx::query(
        "INSERT INTO audit_events (at, kind, attempt, actor, token, entity, target, outcome, detail, sql_text, row_count, byte_count, duration_ms, entity_uid)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, COALESCE((SELECT uid FROM services WHERE name = $6), ''))",
    )
    .bind(crate::dates::now())
    .bind(event.kind)
    .bind(&event.attempt)
    .bind(&event.actor)
    .bind(if event.token.is_empty() { current_token() } else { event.token.clone() })
    .bind(&event.entity)
    .bind(&event.target)
    .bind(&event.outcome)
    .bind(&event.detail)
    .bind(&event.sql_text)
    .bind(event.rows)
    .bind(event.bytes)
    .bind(event.duration_ms)
    .execute(&mut *conn)
    .await;
    telemetry::count(event, written.is_ok());
    written?;
    Ok(())
}

/// What this process wrote to the log, for `/metrics`: events by kind and outcome, and the
/// writes that failed (each failed write also failed its request: nothing evades the log).
pub mod telemetry {
    use super::Event;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    static WRITTEN: Mutex<BTreeMap<(&'static str, String), u64>> = Mutex::new(BTreeMap::new());
    static FAILED: AtomicU64 = AtomicU64::new(0);

    pub(super) fn count(event: &Event, written: bool) {
        if !written {
            FAILED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut counts = WRITTEN.lock().expect("audit counts");
        *counts.entry((event.kind, event.outcome.clone())).or_default() += 1;
    }

    /// Events written since start, by kind and outcome.
    pub fn written() -> Vec<(&'static str, String, u64)> {
        let counts = WRITTEN.lock().expect("audit counts");
        counts.iter().map(|((kind, outcome), n)| (*kind, outcome.clone(), *n)).collect()
    }

    /// Writes that failed since start.
    pub fn failed() -> u64 {
        FAILED.load(Ordering::Relaxed)
    }
}

/// Appends `event` unless `actor` already has one of its kind this minute: repeated refusals
/// (throttling) leave one event per user and minute, not one per request.
pub async fn append_once_a_minute(store: &Store, event: &Event) -> Result<bool, StoreError> {
    let now = crate::dates::now();
    let seen: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM audit_events WHERE kind = $1 AND actor = $2 AND at >= $3 LIMIT 1",
    )
    .bind(event.kind)
    .bind(&event.actor)
    .bind(now - now.rem_euclid(60))
    .fetch_optional(store.pool())
    .await?;
    if seen.is_some() {
        return Ok(false);
    }
    append(store, event).await?;
    Ok(true)
}
