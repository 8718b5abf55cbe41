//! Replicas SREs designate for a service, the audit of every query, and the per-user guards
//! (one running query per user and replica, a rate limit).

use super::limits::Limits;
use super::run;
use super::RunError;
use super::{AuditEntry, Engine, QueryResult, Replica};
use crate::audit::{self, Event};
use crate::catalog::Tier;
use crate::defaults::PlatformDefaults;
use crate::limiter::Cancel;
use crate::store::{Store, StoreError};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

use crate::dates::now;

fn engine_name(e: Engine) -> &'static str {
    match e {
        Engine::Postgres => "postgres",
        Engine::Mysql => "mysql",
        Engine::Sqlite => "sqlite",
    }
}

fn engine_from(s: &str) -> Engine {
    match s {
        "postgres" => Engine::Postgres,
        "mysql" => Engine::Mysql,
        _ => Engine::Sqlite,
    }
}

impl Replica {
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty()
            || !self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "replica id {:?} must be lower-case letters, digits and '-'",
                self.id
            ));
        }
        if let Some(bad) = self
            .extra_functions
            .iter()
            .find(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(format!("{bad:?} is not a function name (letters, digits and '_')"));
        }
        let scheme_ok = match self.engine {
            Engine::Postgres => {
                self.url.starts_with("postgres://") || self.url.starts_with("postgresql://")
            }
            Engine::Mysql => self.url.starts_with("mysql://") || self.url.starts_with("mariadb://"),
            Engine::Sqlite => self.url.starts_with("sqlite:"),
        };
        if !scheme_ok {
            return Err(format!("the URL does not match the engine {}", engine_name(self.engine)));
        }
        if let Ok(url) = url::Url::parse(&self.url) {
            if url.password().is_some() {
                return Err(
                    "put the password in an environment variable or file, not in the URL".into()
                );
            }
        }
        self.query_parameters_allowed()?;
        self.credential_source_allowed()
    }

    /// URL parameters reach the driver: an allow-list per engine. `options` would set server
    /// settings (a timeout of 0, read-write transactions), `password` or `host` would override
    /// the URL's own, `charset` would change how strings are read.
    fn query_parameters_allowed(&self) -> Result<(), String> {
        let query = self.url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let allowed: &[&str] = match self.engine {
                Engine::Postgres => &["sslmode", "sslrootcert", "application_name"],
                Engine::Mysql => &["ssl-mode", "ssl-ca"],
                Engine::Sqlite => &["mode", "immutable"],
            };
            if !allowed.contains(&key) {
                return Err(format!(
                    "the URL parameter {key:?} is not allowed here; allowed: {}",
                    allowed.join(", ")
                ));
            }
            if self.engine == Engine::Sqlite && key == "mode" && value != "ro" {
                return Err("a SQLite replica opens read-only: mode may only be ro".into());
            }
            if matches!(key, "sslrootcert" | "ssl-ca") {
                let decoded = url::form_urlencoded::parse(pair.as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                inside_credentials_dir(&decoded)
                    .map_err(|dir| format!("{key} must name a file inside {dir}"))?;
            }
        }
        Ok(())
    }

    /// A credential comes only from a variable named `CONSOLE_REPLICA_…` or a file under the
    /// credentials directory: never the console's own secrets, nor any file the process can read.
    fn credential_source_allowed(&self) -> Result<(), String> {
        let env = &self.credential_env;
        if !env.is_empty()
            && (!env.starts_with(CREDENTIAL_ENV_PREFIX) || env.len() == CREDENTIAL_ENV_PREFIX.len())
        {
            return Err(format!(
                "a credential variable must be named {CREDENTIAL_ENV_PREFIX}…; {env} is not"
            ));
        }
        if !self.credential_file.is_empty() {
            inside_credentials_dir(&self.credential_file).map_err(|dir| {
                format!("a credential file must be inside {dir}; {} is not", self.credential_file)
            })?;
        }
        Ok(())
    }

    /// The URL with the credential filled in from its source.
    pub fn connect_url(&self) -> Result<String, String> {
        // Again here: a replica stored before the rule must not read outside its lane either.
        self.credential_source_allowed()?;
        let secret =
            if !self.credential_env.is_empty() {
                Some(std::env::var(&self.credential_env).map_err(|_| {
                    format!("environment variable {} is not set", self.credential_env)
                })?)
            } else if !self.credential_file.is_empty() {
                Some(
                    std::fs::read_to_string(&self.credential_file)
                        .map_err(|e| format!("cannot read the credential file: {e}"))?
                        .trim()
                        .to_string(),
                )
            } else {
                None
            };
        match secret {
            None => Ok(self.url.clone()),
            Some(secret) => {
                let mut url = url::Url::parse(&self.url).map_err(|e| e.to_string())?;
                url.set_password(Some(&secret))
                    .map_err(|_| "this URL cannot carry a password".to_string())?;
                Ok(url.to_string())
            }
        }
    }

    /// The replica's own options, else the defaults of the service's tier. Should the defaults
    /// have nothing for the tier, the built-in tier-1 limits (the strictest) apply: masks fail
    /// closed, never open.
    pub fn limits(&self, tier: Tier, defaults: &PlatformDefaults) -> Limits {
        let tier_limits = defaults.query_limits(tier).cloned().unwrap_or_else(|| {
            tracing::warn!(
                tier = tier.number(),
                "no query limits for the tier; the strictest built-in ones apply"
            );
            PlatformDefaults::default()
                .query_limits(Tier::ALL[0])
                .cloned()
                .expect("built-in tier-1 limits")
        });
        Limits {
            statement_timeout: Duration::from_millis(
                self.statement_timeout_ms.unwrap_or(tier_limits.statement_timeout_ms),
            ),
            row_cap: self.row_cap.unwrap_or(tier_limits.row_cap) as usize,
            masks: self.masks.clone().unwrap_or(tier_limits.masks),
            allowed_schemas: self.allowed_schemas.clone(),
            connect_timeout: Duration::from_secs(5),
            extra_functions: self.extra_functions.clone(),
        }
    }
}

type ReplicaRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn from_row(
    (
        id,
        service,
        name,
        engine,
        url,
        credential_env,
        credential_file,
        timeout,
        cap,
        masks,
        schemas,
        functions,
        disabled,
    ): ReplicaRow,
) -> Replica {
    Replica {
        id,
        service,
        name,
        engine: engine_from(&engine),
        url,
        credential_env,
        credential_file,
        statement_timeout_ms: timeout.map(|t| t as u64),
        row_cap: cap.map(|c| c as u64),
        masks: masks.and_then(|m| serde_json::from_str(&m).ok()),
        allowed_schemas: schemas.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default(),
        extra_functions: functions.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default(),
        disabled,
    }
}

const COLUMNS: &str =
    "id, service, name, engine, url, credential_env, credential_file, statement_timeout_ms, row_cap, masks, allowed_schemas, extra_functions, disabled_reason";

/// The console's own store holds sessions and tokens: never a replica, whatever the URL's spelling.
fn not_the_store(store: &Store, replica: &Replica) -> Result<(), ReplicaError> {
    replica.validate().map_err(ReplicaError::Invalid)?;
    if store.location().is_some()
        && store.location() == crate::store::database_location(&replica.url).as_deref()
    {
        return Err(ReplicaError::Invalid(
            "the URL names the console's own store, which cannot be a replica".into(),
        ));
    }
    Ok(())
}

pub async fn register(store: &Store, replica: &Replica, by: &str) -> Result<(), ReplicaError> {
    not_the_store(store, replica)?;
    let done = sqlx::query(
        "INSERT INTO replicas (id, service, name, engine, url, credential_env, credential_file, statement_timeout_ms, row_cap, masks, created_by, created_at, allowed_schemas, extra_functions, disabled_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&replica.id)
    .bind(&replica.service)
    .bind(&replica.name)
    .bind(engine_name(replica.engine))
    .bind(&replica.url)
    .bind(&replica.credential_env)
    .bind(&replica.credential_file)
    .bind(replica.statement_timeout_ms.map(|v| v as i64))
    .bind(replica.row_cap.map(|v| v as i64))
    .bind(replica.masks.as_ref().map(|m| serde_json::to_string(m).unwrap_or_default()))
    .bind(by)
    .bind(now())
    .bind(serde_json::to_string(&replica.allowed_schemas).unwrap_or_default())
    .bind(serde_json::to_string(&replica.extra_functions).unwrap_or_default())
    .bind(replica.disabled.trim())
    .execute(store.pool())
    .await
    .map_err(StoreError::from)?;
    if done.rows_affected() == 0 {
        return Err(ReplicaError::Invalid(format!(
            "a replica with id {:?} already exists: edit it, or pick another id",
            replica.id
        )));
    }
    Ok(())
}

/// Replaces what an SRE may change of replica `replica.id` (not its id or service). False when
/// there is no such replica of that service.
pub async fn update(store: &Store, replica: &Replica) -> Result<bool, ReplicaError> {
    not_the_store(store, replica)?;
    let done = sqlx::query(
        "UPDATE replicas SET name = $3, engine = $4, url = $5, credential_env = $6, credential_file = $7, statement_timeout_ms = $8, row_cap = $9, masks = $10, allowed_schemas = $11, extra_functions = $12, disabled_reason = $13
         WHERE id = $1 AND service = $2",
    )
    .bind(&replica.id)
    .bind(&replica.service)
    .bind(&replica.name)
    .bind(engine_name(replica.engine))
    .bind(&replica.url)
    .bind(&replica.credential_env)
    .bind(&replica.credential_file)
    .bind(replica.statement_timeout_ms.map(|v| v as i64))
    .bind(replica.row_cap.map(|v| v as i64))
    .bind(replica.masks.as_ref().map(|m| serde_json::to_string(m).unwrap_or_default()))
    .bind(serde_json::to_string(&replica.allowed_schemas).unwrap_or_default())
    .bind(serde_json::to_string(&replica.extra_functions).unwrap_or_default())
    .bind(replica.disabled.trim())
    .execute(store.pool())
    .await
    .map_err(StoreError::from)?;
    Ok(done.rows_affected() == 1)
}

/// Disables (a reason) or enables (empty) replica `id`. False when there is none.
pub async fn set_disabled(store: &Store, id: &str, reason: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE replicas SET disabled_reason = $2 WHERE id = $1")
        .bind(id)
        .bind(reason.trim())
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes replica `id`; the audit keeps its history under its id. False when there is none.
pub async fn remove(store: &Store, id: &str) -> Result<bool, StoreError> {
    let done =
        sqlx::query("DELETE FROM replicas WHERE id = $1").bind(id).execute(store.pool()).await?;
    Ok(done.rows_affected() == 1)
}

/// Every replica of `service`, disabled ones too, with who designated it and when.
pub async fn managed(
    store: &Store,
    service: &str,
) -> Result<Vec<super::ManagedReplica>, StoreError> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT id, created_at, created_by FROM replicas WHERE service = $1 ORDER BY name",
    )
    .bind(service)
    .fetch_all(store.pool())
    .await?;
    let replicas = for_service(store, service).await?;
    Ok(replicas
        .into_iter()
        .filter_map(|replica| {
            let (_, created_at, created_by) = rows.iter().find(|(id, ..)| *id == replica.id)?;
            Some(super::ManagedReplica {
                created_by: created_by.clone(),
                created_at: *created_at,
                replica,
            })
        })
        .collect())
}

pub async fn for_service(store: &Store, service: &str) -> Result<Vec<Replica>, StoreError> {
    let rows: Vec<ReplicaRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM replicas WHERE service = $1 ORDER BY name"))
            .bind(service)
            .fetch_all(store.pool())
            .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub async fn get(store: &Store, id: &str) -> Result<Option<Replica>, StoreError> {
    let row: Option<ReplicaRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM replicas WHERE id = $1"))
            .bind(id)
            .fetch_optional(store.pool())
            .await?;
    Ok(row.map(from_row))
}

/// How an attempt's outcome reads in the audit: outcome, detail, rows, bytes.
fn described(outcome: &Result<QueryResult, RunError>) -> (&'static str, String, i64, i64) {
    match outcome {
        Ok(r) => {
            let mut notes: Vec<String> =
                r.probed.iter().map(|c| format!("existence check on {c}")).collect();
            if r.truncated {
                notes.push("stopped at the row cap".into());
            }
            let bytes = r.rows.iter().flatten().flatten().map(|c| c.len() as i64).sum();
            ("allowed", notes.join("; "), r.rows.len() as i64, bytes)
        }
        Err(RunError::Refused(why)) => ("refused", why.reason.clone(), 0, 0),
        // The person's own cancel is not a failure of theirs or of the replica.
        Err(e @ RunError::Cancelled) => ("cancelled", e.to_string(), 0, 0),
        // Users read their own history: where the credential lives and the driver's text stay in the log.
        Err(RunError::Unreachable(why)) => {
            tracing::warn!(%why, "replica unreachable");
            ("failed", "the replica cannot be reached".into(), 0, 0)
        }
        Err(e) => ("failed", e.to_string(), 0, 0),
    }
}

/// The audit's text of a query: kept whole up to the guard's limit, cut beyond it.
fn audited_sql(sql: &str) -> String {
    // PostgreSQL text cannot hold NUL: written visibly, so the attempt is still recorded.
    sql.chars().take(super::guard::MAX_SQL_BYTES + 16).collect::<String>().replace('\0', "\\0")
}

/// Records an attempt that ended before it started (refused at the door): one finished event.
pub async fn audit(
    store: &Store,
    login: &str,
    replica: &Replica,
    sql: &str,
    outcome: &Result<QueryResult, RunError>,
    duration_ms: u64,
) -> Result<(), StoreError> {
    let (result, detail, rows, bytes) = described(outcome);
    audit::append(
        store,
        &Event {
            kind: audit::QUERY_FINISHED,
            attempt: audit::attempt_id(),
            actor: login.into(),
            entity: replica.service.clone(),
            target: replica.id.clone(),
            outcome: result.into(),
            detail,
            sql_text: audited_sql(sql),
            rows,
            bytes,
            duration_ms: duration_ms as i64,
            ..Event::default()
        },
    )
    .await
}

/// Records that `login` was throttled on `replica`: once per user and minute.
pub async fn throttled(
    store: &Store,
    login: &str,
    replica: &Replica,
    why: &str,
) -> Result<(), StoreError> {
    let event = Event {
        kind: audit::QUERY_THROTTLED,
        attempt: audit::attempt_id(),
        actor: login.into(),
        entity: replica.service.clone(),
        target: replica.id.clone(),
        outcome: "throttled".into(),
        detail: format!("{why} (further refusals this minute are not recorded one by one)"),
        ..Event::default()
    };
    audit::append_once_a_minute(store, &event).await.map(|_| ())
}

/// Newest first, one entry per attempt; `login` narrows to one user (their history). An
/// attempt whose only event is `started` is running, or its console died: it shows as started.
pub async fn audit_log(
    store: &Store,
    login: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows: Vec<(i64, i64, String, String, String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT e.id, e.at, e.actor, e.entity, e.target,
                CASE WHEN e.sql_text <> '' THEN e.sql_text
                     ELSE COALESCE((SELECT s.sql_text FROM audit_events s WHERE s.attempt = e.attempt AND s.kind = 'query.started'), '') END,
                e.outcome, e.detail, e.row_count, e.duration_ms
         FROM audit_events e
         WHERE ($1 = '' OR e.actor = $1)
           AND (e.kind IN ('query.finished', 'query.abandoned', 'query.throttled')
                OR (e.kind = 'query.started'
                    AND NOT EXISTS (SELECT 1 FROM audit_events f WHERE f.attempt = e.attempt AND f.kind <> 'query.started')))
         ORDER BY e.id DESC LIMIT $2",
    )
    .bind(login.unwrap_or_default())
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, at, login, service, replica, sql, outcome, reason, rows, duration_ms)| {
            AuditEntry { id, at, login, service, replica, sql, outcome, reason, rows, duration_ms }
        })
        .collect())
}

/// Runs `sql` on `replica` for `login` under the service's limits, and audits the attempt.
pub async fn query(
    store: &Store,
    login: &str,
    replica: &Replica,
    tier: Tier,
    sql: &str,
) -> Result<Result<QueryResult, RunError>, StoreError> {
    query_cancellable(store, login, replica, tier, sql, &Cancel::default(), None).await
}

/// [`query`], stoppable through `cancel`: `started` is in the audit before anything runs, then
/// `finished`, or `abandoned` when the cancel came from a client that went away. Under a lease
/// (`holder`), the attempt is kept in `running_work` while it runs, so a surviving replica closes
/// it if this console dies.
async fn query_cancellable(
    store: &Store,
    login: &str,
    replica: &Replica,
    tier: Tier,
    sql: &str,
    cancel: &Cancel,
    holder: Option<&str>,
) -> Result<Result<QueryResult, RunError>, StoreError> {
    let defaults = crate::defaults::repo::current(store).await?.1;
    let limits = replica.limits(tier, &defaults);
    let attempt = audit::attempt_id();
    let event = |kind| Event {
        kind,
        attempt: attempt.clone(),
        actor: login.into(),
        entity: replica.service.clone(),
        target: replica.id.clone(),
        ..Event::default()
    };
    audit::append(
        store,
        &Event {
            outcome: "started".into(),
            sql_text: audited_sql(sql),
            ..event(audit::QUERY_STARTED)
        },
    )
    .await?;
    if let Some(holder) = holder {
        let work = audit::running::Running {
            attempt: attempt.clone(),
            holder: holder.into(),
            actor: login.into(),
            token: audit::current_token(),
            entity: replica.service.clone(),
            target: replica.id.clone(),
            backend: String::new(),
            started_at: now(),
        };
        audit::running::begin(store, &work).await?;
    }
    let started = Instant::now();
    let run = async {
        match replica.connect_url() {
            Ok(url) => run::run_cancellable(replica.engine, &url, sql, &limits, cancel).await,
            Err(e) => Err(RunError::Unreachable(e)),
        }
    };
    // The replica's session id goes to the store as soon as it is known (a survivor needs it).
    let keep_backend = async {
        let backend = cancel.backend().await;
        if holder.is_some() {
            if let Err(e) = audit::running::set_backend(store, &attempt, &backend).await {
                tracing::warn!(error = %e, "the running statement's session not recorded");
            }
        }
        std::future::pending::<()>().await
    };
    let outcome = tokio::select! {
        biased;
        outcome = run => outcome,
        _ = keep_backend => unreachable!("keep_backend never ends"),
    };
    let duration_ms = started.elapsed().as_millis() as i64;
    let end = if cancel.is_abandoned() {
        let why = match cancel.is_stopping() {
            true => "the console stopped",
            false => "the client went away",
        };
        let detail = match &outcome {
            Err(RunError::CancelUnconfirmed) => format!("{why}; cancel unconfirmed by the replica"),
            Err(RunError::Cancelled) => format!("{why}; stopped on the replica"),
            Err(e) => format!("{why}; {e}"),
            Ok(_) => format!("{why}; the query had finished"),
        };
        Event { outcome: "abandoned".into(), detail, duration_ms, ..event(audit::QUERY_ABANDONED) }
    } else {
        let (result, detail, rows, bytes) = described(&outcome);
        Event {
            outcome: result.into(),
            detail,
            rows,
            bytes,
            duration_ms,
            ..event(audit::QUERY_FINISHED)
        }
    };
    // A survivor that found this console's lease expired has written the end already.
    let owed = match holder {
        Some(_) => audit::running::end(store, &attempt).await?,
        None => true,
    };
    if owed {
        audit::append(store, &end).await?;
    } else {
        tracing::warn!(attempt, "the query's end was recorded by another replica (lease lost)");
    }
    Ok(outcome)
}

/// Closes the queries of consoles that died without draining (their lease expired): each is
/// stopped on its replica if it still runs and recorded `abandoned`, by one replica only.
/// Returns how many were closed.
pub async fn close_orphans(store: &Store) -> Result<usize, StoreError> {
    let mut defaults = None;
    let mut closed = 0;
    for work in audit::running::orphans(store).await? {
        if !audit::running::claim(store, &work).await? {
            continue;
        }
        let stopped = match get(store, &work.target).await? {
            Some(replica) if !work.backend.is_empty() => {
                // Read only when there is something to stop: the sweep runs every few seconds.
                if defaults.is_none() {
                    defaults = Some(crate::defaults::repo::current(store).await?.1);
                }
                let limits = replica.limits(Tier::ALL[0], defaults.as_ref().expect("read above"));
                match replica.connect_url() {
                    Ok(url) => run::stop_orphan(replica.engine, &url, &work.backend, &limits).await,
                    Err(_) => RunError::CancelUnconfirmed,
                }
            }
            // Never connected: nothing runs on the replica.
            Some(_) => RunError::Cancelled,
            None => RunError::CancelUnconfirmed,
        };
        let detail = match stopped {
            RunError::Cancelled => {
                "the console stopped; closed by another replica; not running on the replica"
            }
            _ => "the console stopped; closed by another replica; stop unconfirmed by the replica",
        };
        let event = Event {
            kind: audit::QUERY_ABANDONED,
            attempt: work.attempt.clone(),
            actor: work.actor.clone(),
            token: work.token.clone(),
            entity: work.entity.clone(),
            target: work.target.clone(),
            outcome: "abandoned".into(),
            detail: detail.into(),
            duration_ms: (now() - work.started_at).max(0) * 1000,
            ..Event::default()
        };
        if let Err(e) = audit::append(store, &event).await {
            audit::running::begin(store, &work).await?;
            return Err(e);
        }
        tracing::warn!(attempt = work.attempt, "closed a query whose console stopped");
        closed += 1;
    }
    Ok(closed)
}

/// [`query_cancellable`] in a task of its own that holds `slot` until the replica has confirmed
/// the end. If the caller goes away (a client that disconnects drops the request), the statement
/// is cancelled on the replica, the attempt is recorded as abandoned, and only then is the slot
/// released; a cancel request from any console reaches it through the slot.
pub async fn query_holding(
    store: &Store,
    login: &str,
    replica: &Replica,
    tier: Tier,
    sql: &str,
    slot: crate::limiter::Lease,
) -> Result<Result<QueryResult, RunError>, StoreError> {
    let cancel = slot.cancel.clone();
    let (store, login, replica, sql) =
        (store.clone(), login.to_string(), replica.clone(), sql.to_string());
    // The spawned task records the attempt: it carries the API token the caller acts through.
    let task = tokio::spawn(audit::through_token(audit::current_token(), async move {
        let outcome = query_cancellable(
            &store,
            &login,
            &replica,
            tier,
            &sql,
            &slot.cancel,
            Some(slot.holder()),
        )
        .await;
        slot.release().await;
        outcome
    }));
    let abandon = AbandonOnDrop(Some(cancel));
    let outcome = task.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "query task failed");
        Ok(Err(RunError::Database("the query stopped unexpectedly".into())))
    });
    abandon.disarm();
    outcome
}

/// Abandons the attempt when dropped before the answer arrived.
struct AbandonOnDrop(Option<Cancel>);

impl AbandonOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(url: &str, engine: Engine) -> Replica {
        Replica::new("orders-ro", "ledger", "orders", engine, url)
    }

    /// Limits come from the tier's defaults (values no built-in has), the replica's own
    /// options win, and a tier the defaults lack gets the strictest built-in limits: masks
    /// never fall open to none.
    #[test]
    fn limits_come_from_the_tier_and_fail_closed() {
        let mut defaults = PlatformDefaults::default();
        let tier2 = defaults.query.iter_mut().find(|q| q.tier == 2).unwrap();
        (tier2.row_cap, tier2.statement_timeout_ms, tier2.masks) =
            (37, 4321, vec!["*iban*".into()]);
        let plain = replica("sqlite://x.db", Engine::Sqlite);
        let limits = plain.limits(Tier::new(2).unwrap(), &defaults);
        assert_eq!(
            (limits.row_cap, limits.statement_timeout, limits.masks.clone()),
            (37, Duration::from_millis(4321), vec!["*iban*".to_string()])
        );
        let own = Replica { row_cap: Some(7), masks: Some(vec!["name".into()]), ..plain.clone() };
        assert_eq!(
            (
                own.limits(Tier::new(2).unwrap(), &defaults).row_cap,
                own.limits(Tier::new(2).unwrap(), &defaults).masks
            ),
            (7, vec!["name".to_string()])
        );

        defaults.query.retain(|q| q.tier != 3);
        let strictest = PlatformDefaults::default().query_limits(Tier::ALL[0]).cloned().unwrap();
        let fallback = plain.limits(Tier::new(3).unwrap(), &defaults);
        assert!(!strictest.masks.is_empty());
        assert_eq!((fallback.row_cap as u64, fallback.masks), (strictest.row_cap, strictest.masks));
    }

    /// URL parameters are an allow-list per engine: no settings, no overrides, no other files.
    #[test]
    fn url_parameters_are_an_allow_list() {
        for (url, engine, why) in [
            ("postgres://ro@db/orders?password=x", Engine::Postgres, "\"password\" is not allowed"),
            (
                "postgres://ro@db/orders?options=-c%20statement_timeout%3D0",
                Engine::Postgres,
                "\"options\" is not allowed",
            ),
            (
                "postgres://ro@db/orders?host=store.internal",
                Engine::Postgres,
                "\"host\" is not allowed",
            ),
            (
                "postgres://ro@db/orders?sslmode=require&sslrootcert=/etc/passwd",
                Engine::Postgres,
                "sslrootcert must name a file inside",
            ),
            ("mysql://ro@db/orders?charset=gbk", Engine::Mysql, "\"charset\" is not allowed"),
            ("sqlite://x.db?mode=rwc", Engine::Sqlite, "mode may only be ro"),
        ] {
            let err = replica(url, engine).validate().unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
        for (url, engine) in [
            (
                "postgres://ro@db/orders?sslmode=verify-full&application_name=console",
                Engine::Postgres,
            ),
            ("mysql://ro@db/orders?ssl-mode=REQUIRED", Engine::Mysql),
            ("sqlite://x.db?mode=ro", Engine::Sqlite),
        ] {
            replica(url, engine).validate().unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }

    #[test]
    fn registrations_are_checked() {
        assert!(replica("postgres://ro@db/orders", Engine::Postgres).validate().is_ok());
        assert!(replica("postgres://ro:hunter2@db/orders", Engine::Postgres)
            .validate()
            .unwrap_err()
            .contains("not in the URL"));
        assert!(replica("mysql://db/orders", Engine::Postgres)
            .validate()
            .unwrap_err()
            .contains("does not match"));
        let mut bad = replica("sqlite://x.db", Engine::Sqlite);
        bad.id = "Bad Id".into();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn credentials_come_from_the_environment() {
        let mut r = replica("postgres://ro@db:5432/orders", Engine::Postgres);
        r.credential_env = "CONSOLE_REPLICA_TEST_SECRET_X".into();
        assert!(r.connect_url().unwrap_err().contains("is not set"));
        std::env::set_var("CONSOLE_REPLICA_TEST_SECRET_X", "s3cr3t");
        assert_eq!(r.connect_url().unwrap(), "postgres://ro:s3cr3t@db:5432/orders");
        assert!(!format!("{r:?}").contains("s3cr3t"));
    }

    #[test]
    fn tier_defaults_apply_unless_the_replica_overrides() {
        let defaults = PlatformDefaults::default();
        let mut r = replica("sqlite://x.db", Engine::Sqlite);
        let t1 = r.limits(Tier::new(1).unwrap(), &defaults);
        let t4 = r.limits(Tier::new(4).unwrap(), &defaults);
        assert!(t1.row_cap < t4.row_cap);
        assert_eq!(
            t1.row_cap as u64,
            defaults.query_limits(Tier::new(1).unwrap()).unwrap().row_cap
        );
        r.row_cap = Some(7);
        assert_eq!(r.limits(Tier::new(1).unwrap(), &defaults).row_cap, 7);
    }
}

/// `Ok` when `file` is inside the credentials directory, lexically and through symbolic links
/// (checked once the file exists); else the directory, for the message.
fn inside_credentials_dir(file: &str) -> Result<(), String> {
    let dir = credentials_dir();
    let path = std::path::Path::new(file);
    let lexically_inside = path.is_absolute()
        && path.starts_with(&dir)
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_)));
    let really_inside = match (path.canonicalize(), dir.canonicalize()) {
        (Ok(file), Ok(dir)) => file.starts_with(dir),
        _ => true,
    };
    if lexically_inside && really_inside {
        Ok(())
    } else {
        Err(dir.display().to_string())
    }
}

/// Credential variables must start with this.
pub const CREDENTIAL_ENV_PREFIX: &str = "CONSOLE_REPLICA_";

/// Where credential files must live: `CONSOLE_REPLICA_CREDENTIALS_DIR`, else
/// `/etc/console/replica-credentials` (a mounted Kubernetes secret, say).
pub fn credentials_dir() -> std::path::PathBuf {
    std::env::var_os("CONSOLE_REPLICA_CREDENTIALS_DIR")
        .map(Into::into)
        .unwrap_or_else(|| "/etc/console/replica-credentials".into())
}

/// What one connection tells about a replica's credential.
#[derive(Debug, Clone, Default)]
pub struct CredentialReport {
    /// What the credential can do that a read replica's should not: `superuser`, `write`,
    /// `replication`, `pg_read_server_files`, `pg_write_server_files`, `pg_execute_server_program`,
    /// `pg_signal_backend` (PostgreSQL); `ALL PRIVILEGES`, `SUPER`, `FILE`, `PROCESS`,
    /// `REPLICATION`, `write` (MariaDB/MySQL). SQLite replicas are opened read-only: nothing.
    pub powers: Vec<String>,
    /// What an SRE should hear at registration and on demand: writes, a primary, overloaded
    /// built-ins, and the powers above.
    pub warning: Option<String>,
}

/// Connects once and reports what the credential can do (see [`CredentialReport`]).
pub async fn inspect_credential(replica: &Replica) -> Result<CredentialReport, String> {
    use sqlx::{ConnectOptions, Connection};
    use std::str::FromStr;
    let url = replica.connect_url()?;
    let timeout = Duration::from_secs(5);
    let unreachable = |e: String| format!("the replica cannot be reached: {e}");
    let (powers, warning) = match replica.engine {
        Engine::Postgres => {
            let options = sqlx::postgres::PgConnectOptions::from_str(&url)
                .map_err(|e| unreachable(e.to_string()))?;
            let mut conn = tokio::time::timeout(timeout, options.connect())
                .await
                .map_err(|_| unreachable("no answer".into()))?
                .map_err(|e| unreachable(e.to_string()))?;
            let (in_recovery, superuser, replication, read_files, write_files, program, signal, write): (bool, bool, bool, bool, bool, bool, bool, Option<bool>) = sqlx::query_as(
                "SELECT pg_is_in_recovery(), r.rolsuper, r.rolreplication,
                        pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),
                        pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'),
                        pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'),
                        pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'),
                        (SELECT bool_or(has_table_privilege(c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE'))
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema'))
                 FROM pg_roles r WHERE r.rolname = current_user",
            )
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
            // Functions outside pg_catalog that share a name with an allowed built-in: queries
            // calling that name are refused on this replica, so say so now.
            let shadowing: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            let allowed = super::guard::functions::Allowed::new(Engine::Postgres, &[]);
            let shadowing: Vec<String> = shadowing
                .into_iter()
                .filter(|f| {
                    f.rsplit('.').next().is_some_and(|n| {
                        allowed.allows(&n.to_lowercase(), super::guard::functions::Callable::Scalar)
                    })
                })
                .collect();
            let can_write = write.unwrap_or(false);
            let mut warnings: Vec<String> = match (in_recovery, can_write) {
                (true, _) => vec![],
                (false, true) => vec!["this credential can write to tables on a primary; the guards keep queries read-only, but use a read-only role on a replica".to_string()],
                (false, false) => vec!["this is a primary, not a replica (pg_is_in_recovery() is false)".to_string()],
            };
            if !shadowing.is_empty() {
                warnings.push(format!("functions outside pg_catalog overload allowed built-ins, so queries calling them are refused: {}", shadowing.join(", ")));
            }
            let named = [
                (superuser, "superuser"),
                (can_write, "write"),
                (replication, "replication"),
                (read_files && !superuser, "pg_read_server_files"),
                (write_files && !superuser, "pg_write_server_files"),
                (program && !superuser, "pg_execute_server_program"),
                (signal && !superuser, "pg_signal_backend"),
            ];
            let powers = named
                .into_iter()
                .filter(|(has, _)| *has)
                .map(|(_, name)| name.to_string())
                .collect();
            (powers, (!warnings.is_empty()).then(|| warnings.join("; ")))
        }
        Engine::Mysql => {
            let options = sqlx::mysql::MySqlConnectOptions::from_str(&url)
                .map_err(|e| unreachable(e.to_string()))?;
            let mut conn = tokio::time::timeout(timeout, options.connect())
                .await
                .map_err(|_| unreachable("no answer".into()))?
                .map_err(|e| unreachable(e.to_string()))?;
            let grants: Vec<String> = sqlx::query_scalar("SHOW GRANTS")
                .fetch_all(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            let writes =
                ["ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "DROP", "ALTER", "CREATE"];
            let warning = grants
                .iter()
                .any(|g| writes.iter().any(|w| g.to_uppercase().contains(w)))
                .then(|| "this credential's grants allow writes; the guards keep queries read-only, but grant SELECT only".to_string());
            (mysql_powers(&grants), warning)
        }
        Engine::Sqlite => (vec![], None), // Always opened read-only with query_only.
    };
    let beyond: Vec<&str> = powers.iter().map(String::as_str).filter(|p| *p != "write").collect();
    let beyond = (!beyond.is_empty()).then(|| {
        format!(
            "this credential can also do what a read replica's should not: {}",
            beyond.join(", ")
        )
    });
    let warning = match (warning, beyond) {
        (Some(w), Some(p)) => Some(format!("{w}; {p}")),
        (w, p) => w.or(p),
    };
    Ok(CredentialReport { powers, warning })
}

/// The powers of [`inspect_credential`].
pub async fn credential_powers(replica: &Replica) -> Result<Vec<String>, String> {
    inspect_credential(replica).await.map(|r| r.powers)
}

/// The warning of [`inspect_credential`].
pub async fn check_credential(replica: &Replica) -> Result<Option<String>, String> {
    inspect_credential(replica).await.map(|r| r.warning)
}

/// Powers named in `SHOW GRANTS` lines (`GRANT <privileges> ON <scope> TO …`).
fn mysql_powers(grants: &[String]) -> Vec<String> {
    let mut powers: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !powers.iter().any(|x| x == p) {
            powers.push(p.to_string());
        }
    };
    for grant in grants {
        let upper = grant.to_uppercase();
        let Some(list) = upper.strip_prefix("GRANT ").and_then(|rest| rest.split(" ON ").next())
        else {
            continue;
        };
        let global = upper.contains(" ON *.* ");
        for privilege in list.split(',').map(str::trim) {
            match privilege {
                "ALL PRIVILEGES" | "ALL" => {
                    add("ALL PRIVILEGES");
                    add("write");
                    if global {
                        for p in ["SUPER", "FILE", "PROCESS", "REPLICATION"] {
                            add(p);
                        }
                    }
                }
                "SUPER" | "FILE" | "PROCESS" => add(privilege),
                p if p.starts_with("REPLICATION") => add("REPLICATION"),
                "INSERT" | "UPDATE" | "DELETE" | "DROP" | "ALTER" | "CREATE" => add("write"),
                _ => {}
            }
        }
    }
    powers
}
