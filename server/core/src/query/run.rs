//! Layers 2 to 4 of the query guard, on the replica itself:
//! 2. each query runs on a connection of its own, in a READ ONLY transaction that is always
//!    rolled back, with the statement timeout set in that same session;
//! 3. rows stream from the driver and stop at the row cap, so memory stays bounded;
//! 4. masked columns are replaced before anything leaves the server.

use super::guard::{self, Refusal};
use super::{Engine, QueryResult};
use futures_util::TryStreamExt;
use sqlx::{Column, ConnectOptions, Connection, Row, TypeInfo, ValueRef};
use std::str::FromStr;
use std::time::{Duration, Instant};


/// The safe options in force for one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub statement_timeout: Duration,
    pub row_cap: usize,
    /// Column name patterns, `*` as wildcard, compared case-insensitively.
    pub masks: Vec<String>,
    /// Schemas queries may read; empty: all. PostgreSQL also gets them as its search_path.
    pub allowed_schemas: Vec<String>,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the replica cannot be reached: {0}")]
    Unreachable(String),
    #[error("cancelled after {0:.1} s (statement timeout)")]
    Timeout(f64),
    #[error("the replica refused the query: {0}")]
    Database(String),
    #[error("cancelled by the user")]
    Cancelled,
}

/// Lets a user stop their own running query.
#[derive(Clone, Default, Debug)]
pub struct Cancel(std::sync::Arc<(std::sync::atomic::AtomicBool, tokio::sync::Notify)>);

impl Cancel {
    pub fn cancel(&self) {
        self.0 .0.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }
    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(std::sync::atomic::Ordering::SeqCst)
    }
    async fn cancelled(&self) {
        loop {
            let notified = self.0 .1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// Ends the transaction: ROLLBACK; or, when the cap cut the result short, drop the connection,
/// which rolls back on the server without reading the rows nobody will see.
macro_rules! finish {
    ($conn:expr, $result:expr) => {
        if matches!($result, Ok((_, _, true))) {
            drop($conn);
        } else {
            let _ = sqlx::query("ROLLBACK").execute(&mut $conn).await;
            let _ = $conn.close().await;
        }
    };
}

pub const MASK: &str = "••••";

/// Does `column` match a mask pattern such as `*password*`, `email`, `phone*`?
pub fn is_masked(column: &str, masks: &[String]) -> bool {
    let column = column.to_lowercase();
    masks.iter().any(|m| glob(&m.to_lowercase(), &column))
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut tail) = text.strip_prefix(head) else { return false };
            loop {
                if glob(rest, tail) {
                    return true;
                }
                match tail.chars().next() {
                    Some(c) => tail = &tail[c.len_utf8()..],
                    None => return false,
                }
            }
        }
    }
}

/// Checks `sql` with layer 1, then runs it under layers 2–4.
pub async fn run(engine: Engine, url: &str, sql: &str, limits: &Limits) -> Result<QueryResult, RunError> {
    run_cancellable(engine, url, sql, limits, &Cancel::default()).await
}

/// [`run`], stoppable through `cancel`.
pub async fn run_cancellable(engine: Engine, url: &str, sql: &str, limits: &Limits, cancel: &Cancel) -> Result<QueryResult, RunError> {
    guard::check_schemas(sql, engine, &limits.allowed_schemas)?;
    run_checked_cancellable(engine, url, sql, limits, cancel).await
}

/// Layers 2–4 alone (tests use it to prove the database refuses what the parser let through).
pub async fn run_checked(engine: Engine, url: &str, sql: &str, limits: &Limits) -> Result<QueryResult, RunError> {
    run_checked_cancellable(engine, url, sql, limits, &Cancel::default()).await
}

async fn run_checked_cancellable(engine: Engine, url: &str, sql: &str, limits: &Limits, cancel: &Cancel) -> Result<QueryResult, RunError> {
    let started = Instant::now();
    // Cancelling drops the connection: the server ends the query and rolls back.
    let result = match engine {
        Engine::Postgres => tokio::select! {
            r = postgres(url, sql, limits) => r,
            _ = cancel.cancelled() => Err(RunError::Cancelled),
        },
        Engine::Mysql => tokio::select! {
            r = mysql(url, sql, limits) => r,
            _ = cancel.cancelled() => Err(RunError::Cancelled),
        },
        // SQLite runs in a worker thread: its progress handler stops it from inside.
        Engine::Sqlite => sqlite(url, sql, limits, cancel).await,
    };
    result.map(|(columns, rows, truncated)| QueryResult {
        columns,
        rows,
        truncated,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

type Rows = (Vec<String>, Vec<Vec<Option<String>>>, bool);

fn database_error(e: sqlx::Error, limits: &Limits) -> RunError {
    let text = e.to_string();
    let timed_out = text.contains("statement timeout")
        || text.contains("canceling statement")
        || text.contains("max_statement_time")
        || text.contains("maximum statement execution time");
    if timed_out {
        RunError::Timeout(limits.statement_timeout.as_secs_f64())
    } else {
        RunError::Database(match e {
            sqlx::Error::Database(db) => db.message().to_string(),
            other => other.to_string(),
        })
    }
}

/// Collects at most `row_cap` rows from a stream of rows, turning each cell into text.
async fn collect<R, S>(mut stream: S, limits: &Limits, cell: fn(&R, usize) -> Option<String>) -> Result<Rows, sqlx::Error>
where
    R: Row,
    S: futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
{
    let mut columns: Option<Vec<String>> = None;
    let mut masked: Vec<bool> = Vec::new();
    let mut rows = Vec::new();
    let mut truncated = false;
    while let Some(row) = stream.try_next().await? {
        let names = columns.get_or_insert_with(|| {
            let names: Vec<String> = row.columns().iter().map(|c| c.name().to_string()).collect();
            masked = names.iter().map(|n| is_masked(n, &limits.masks)).collect();
            names
        });
        if rows.len() == limits.row_cap {
            // One row past the cap tells us there was more; stop reading the rest.
            truncated = true;
            break;
        }
        rows.push(
            (0..names.len())
                .map(|i| {
                    let value = cell(&row, i);
                    if masked[i] { value.map(|_| MASK.to_string()) } else { value }
                })
                .collect(),
        );
    }
    Ok((columns.unwrap_or_default(), rows, truncated))
}

macro_rules! try_decode {
    ($row:expr, $i:expr, $($ty:ty),+) => {{
        $(
            if let Ok(v) = $row.try_get::<Option<$ty>, _>($i) {
                return v.map(|v| v.to_string());
            }
        )+
    }};
}

fn pg_cell(row: &sqlx::postgres::PgRow, i: usize) -> Option<String> {
    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(false) {
        return None;
    }
    // The common types straight away; a failed decode costs an error allocation per cell.
    let decoded = match row.column(i).type_info().name() {
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => row.try_get::<String, _>(i).ok(),
        "INT4" => row.try_get::<i32, _>(i).ok().map(|v| v.to_string()),
        "INT8" => row.try_get::<i64, _>(i).ok().map(|v| v.to_string()),
        "INT2" => row.try_get::<i16, _>(i).ok().map(|v| v.to_string()),
        "FLOAT8" => row.try_get::<f64, _>(i).ok().map(|v| v.to_string()),
        "BOOL" => row.try_get::<bool, _>(i).ok().map(|v| v.to_string()),
        _ => None,
    };
    if decoded.is_some() {
        return decoded;
    }
    try_decode!(row, i, String, i64, i32, i16, f64, f32, bool);
    let type_name = row.column(i).type_info().name().to_string();
    Some(format!("<{type_name}>"))
}

fn mysql_cell(row: &sqlx::mysql::MySqlRow, i: usize) -> Option<String> {
    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(false) {
        return None;
    }
    try_decode!(row, i, String, i64, u64, i32, f64, f32, bool);
    if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return Some(String::from_utf8_lossy(&bytes).into_owned());
    }
    Some(format!("<{}>", row.column(i).type_info().name()))
}

fn sqlite_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Option<String> {
    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(false) {
        return None;
    }
    try_decode!(row, i, String, i64, f64);
    if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return Some(format!("<{} bytes>", bytes.len()));
    }
    Some(format!("<{}>", row.column(i).type_info().name()))
}

async fn postgres(url: &str, sql: &str, limits: &Limits) -> Result<Rows, RunError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| RunError::Unreachable(e.to_string()))?;
    let mut conn = tokio::time::timeout(limits.connect_timeout, options.connect())
        .await
        .map_err(|_| RunError::Unreachable(format!("no answer within {:.1} s", limits.connect_timeout.as_secs_f64())))?
        .map_err(|e| RunError::Unreachable(e.to_string()))?;
    let result = async {
        sqlx::query("BEGIN TRANSACTION READ ONLY").execute(&mut conn).await?;
        sqlx::query(&format!("SET LOCAL statement_timeout = {}", limits.statement_timeout.as_millis()))
            .execute(&mut conn)
            .await?;
        if !limits.allowed_schemas.is_empty() {
            // Unqualified names resolve only inside the allowed schemas.
            let path: Vec<String> = limits.allowed_schemas.iter().map(|s| format!("\"{}\"", s.replace('"', "\"\""))).collect();
            sqlx::query(&format!("SET LOCAL search_path = {}", path.join(", "))).execute(&mut conn).await?;
        }
        // A prepared statement: the server itself refuses more than one command.
        collect(sqlx::query(sql).fetch(&mut conn), limits, pg_cell).await
    }
    .await;
    finish!(conn, &result);
    result.map_err(|e| database_error(e, limits))
}


async fn mysql(url: &str, sql: &str, limits: &Limits) -> Result<Rows, RunError> {
    let options = sqlx::mysql::MySqlConnectOptions::from_str(url).map_err(|e| RunError::Unreachable(e.to_string()))?;
    let mut conn = tokio::time::timeout(limits.connect_timeout, options.connect())
        .await
        .map_err(|_| RunError::Unreachable(format!("no answer within {:.1} s", limits.connect_timeout.as_secs_f64())))?
        .map_err(|e| RunError::Unreachable(e.to_string()))?;
    let result = async {
        let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(&mut conn).await?;
        let timeout = if version.contains("MariaDB") {
            format!("SET SESSION max_statement_time = {:.3}", limits.statement_timeout.as_secs_f64())
        } else {
            format!("SET SESSION max_execution_time = {}", limits.statement_timeout.as_millis())
        };
        sqlx::query(&timeout).execute(&mut conn).await?;
        sqlx::query("START TRANSACTION READ ONLY").execute(&mut conn).await?;
        collect(sqlx::query(sql).fetch(&mut conn), limits, mysql_cell).await
    }
    .await;
    finish!(conn, &result);
    result.map_err(|e| database_error(e, limits))
}

async fn sqlite(url: &str, sql: &str, limits: &Limits, cancel: &Cancel) -> Result<Rows, RunError> {
    // Read-only at open, and query_only in the session: SQLite has no READ ONLY transactions.
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| RunError::Unreachable(e.to_string()))?
        .read_only(true)
        .pragma("query_only", "ON");
    let mut conn = options.connect().await.map_err(|e| RunError::Unreachable(e.to_string()))?;
    // SQLite has no statement timeout: a progress handler interrupts the statement from inside
    // the worker thread when the deadline passes or the user cancels.
    let deadline = Instant::now() + limits.statement_timeout;
    let stop = cancel.clone();
    conn.lock_handle()
        .await
        .map_err(|e| RunError::Database(e.to_string()))?
        .set_progress_handler(10_000, move || !stop.is_cancelled() && Instant::now() < deadline);
    let result = async {
        sqlx::query("BEGIN").execute(&mut conn).await?;
        collect(sqlx::query(sql).fetch(&mut conn), limits, sqlite_cell).await
    }
    .await;
    if let Err(e) = &result {
        if e.to_string().contains("interrupted") {
            drop(conn);
            return Err(if cancel.is_cancelled() { RunError::Cancelled } else { RunError::Timeout(limits.statement_timeout.as_secs_f64()) });
        }
    }
    let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
    let _ = conn.close().await;
    result.map_err(|e| database_error(e, limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_names_by_pattern() {
        let masks: Vec<String> = ["*password*", "email", "phone*"].map(String::from).to_vec();
        for masked in ["password", "PASSWORD_HASH", "old_password", "email", "Email", "phone", "phone_number"] {
            assert!(is_masked(masked, &masks), "{masked}");
        }
        for open in ["emails", "user_email", "name", "iphone", "pass"] {
            assert!(!is_masked(open, &masks), "{open}");
        }
    }
}
