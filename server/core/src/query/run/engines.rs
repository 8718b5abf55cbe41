//! Each engine's session: read-only, bounded, cancellable; rows collected as text cell by cell.

use super::*;

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

/// The result's column names, from preparing the statement on `$conn` (nothing runs; unlike
/// `describe`, no extra queries to infer nullability).
macro_rules! described_columns {
    ($conn:expr, $sql:expr) => {
        sqlx::Executor::prepare(&mut *$conn, $sql).await.map(|statement| {
            sqlx::Statement::columns(&statement)
                .iter()
                .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
                .collect::<Vec<(String, String)>>()
        })
    };
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

pub(super) async fn collect<R, S>(
    mut stream: S,
    limits: &Limits,
    lineage: Expected<'_>,
    cell: fn(&R, usize) -> Option<String>,
) -> Result<Rows, CollectError>
where
    R: Row,
    S: futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
{
    let mut columns: Option<Vec<String>> = None;
    let mut masked: Vec<bool> = Vec::new();
    let mut rows = Vec::new();
    let mut truncated = false;
    let mut bytes = 0usize;
    while let Some(row) = stream.try_next().await.map_err(CollectError::Driver)? {
        if columns.is_none() {
            let names: Vec<String> = row.columns().iter().map(|c| c.name().to_string()).collect();
            // A column the engine names otherwise than the guard: they disagree about which is which.
            let misnamed = lineage.names.iter().zip(&names).any(|(expected, got)| {
                expected.as_ref().is_some_and(|e| !e.eq_ignore_ascii_case(got))
            });
            if !lineage.masked.is_empty() && (lineage.masked.len() != names.len() || misnamed) {
                // The guard counted other columns than the replica returned: mask nothing blind.
                return Err(CollectError::SchemaChanged);
            }
            // By lineage, and by name as a second belt.
            masked = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    lineage.masked.get(i).copied().unwrap_or(false) || is_masked(n, &limits.masks)
                })
                .collect();
            columns = Some(names);
        }
        let names = columns.as_ref().expect("set above");
        if rows.len() == limits.row_cap || bytes > RESULT_BYTES {
            // One row past the cap tells us there was more; stop reading the rest.
            truncated = true;
            break;
        }
        let values: Vec<Option<String>> = (0..names.len())
            .map(|i| {
                let value = cell(&row, i).map(|mut v| {
                    // A second belt for what the replica did not cut (SQLite, SHOW, EXPLAIN).
                    if v.len() > CELL_CHARS * 4 {
                        let mut end = CELL_CHARS * 4;
                        while !v.is_char_boundary(end) {
                            end -= 1;
                        }
                        v.truncate(end);
                    }
                    v
                });
                if masked[i] {
                    value.map(|_| MASK.to_string())
                } else {
                    value
                }
            })
            .collect();
        bytes += values.iter().flatten().map(String::len).sum::<usize>();
        rows.push(values);
    }
    Ok((columns.unwrap_or_default(), rows, truncated))
}

pub(super) fn pg_cell(row: &sqlx::postgres::PgRow, i: usize) -> Option<String> {
    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(false) {
        return None;
    }
    // The common types straight away; a failed decode costs an error allocation per cell.
    let decoded = match row.column(i).type_info().name() {
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => row.try_get::<String, _>(i).ok(),
        "INT4" => row.try_get::<i32, _>(i).ok().map(|v| v.to_string()),
        "INT8" => row.try_get::<i64, _>(i).ok().map(|v| v.to_string()),
        "INT2" => row.try_get::<i16, _>(i).ok().map(|v| v.to_string()),
        "FLOAT8" => row.try_get::<f64, _>(i).ok().map(float_text),
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

pub(super) fn mysql_cell(row: &sqlx::mysql::MySqlRow, i: usize) -> Option<String> {
    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(false) {
        return None;
    }
    try_decode!(row, i, String, i64, u64, i32, f64, f32, bool);
    if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return Some(String::from_utf8_lossy(&bytes).into_owned());
    }
    Some(format!("<{}>", row.column(i).type_info().name()))
}

/// SQLite's storage classes: INTEGER and TEXT as they are, REAL in shortest round-trip form,
/// BLOB as `\x` and hex (as PostgreSQL shows bytea).
pub(super) fn sqlite_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Option<String> {
    let raw = row.try_get_raw(i).ok()?;
    if raw.is_null() {
        return None;
    }
    let class = raw.type_info().name().to_string();
    match class.as_str() {
        "INTEGER" => row.try_get::<i64, _>(i).ok().map(|v| v.to_string()),
        "REAL" => row.try_get::<f64, _>(i).ok().map(float_text),
        "BLOB" => row
            .try_get::<Vec<u8>, _>(i)
            .ok()
            .map(|b| format!("\\x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())),
        _ => row.try_get::<String, _>(i).ok().or_else(|| Some(format!("<{class}>"))),
    }
}

/// A float in the shortest form that reads back as the same value (`1e300`, not 301 digits).
pub(super) fn float_text(v: f64) -> String {
    let debug = format!("{v:?}");
    // Debug writes `1.0`; the engines write `1`.
    debug.strip_suffix(".0").map(str::to_string).unwrap_or(debug)
}

pub(super) async fn postgres(
    url: &str,
    sql: &str,
    limits: &Limits,
    cancel: &Cancel,
    lineage: Expected<'_>,
    bound: Option<bool>,
) -> Result<Rows, RunError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| RunError::Unreachable(e.to_string()))?;
    let mut conn = tokio::time::timeout(limits.connect_timeout, options.connect())
        .await
        .map_err(|_| {
            RunError::Unreachable(format!(
                "no answer within {:.1} s",
                limits.connect_timeout.as_secs_f64()
            ))
        })?
        .map_err(|e| RunError::Unreachable(e.to_string()))?;
    // The session's pid and start (a pid alone may be reused once the session ends).
    let (backend, since): (i32, i64) = sqlx::query_as(
        "SELECT pid, (extract(epoch FROM backend_start) * 1000000)::bigint FROM pg_stat_activity WHERE pid = pg_backend_pid()",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|e| database_error(e, limits))?;
    cancel.report_backend(format!("{backend}@{since}"));
    let work = async {
        sqlx::query("BEGIN TRANSACTION READ ONLY").execute(&mut conn).await?;
        // The guard reads strings as standard SQL; a replica configured otherwise would read
        // `'x\' …` differently. Pinned for this transaction.
        sqlx::query("SET LOCAL standard_conforming_strings = on").execute(&mut conn).await?;
        // Zoned values render in UTC, whatever the replica's default.
        sqlx::query("SET LOCAL TimeZone = 'UTC'").execute(&mut conn).await?;
        sqlx::query(&format!(
            "SET LOCAL statement_timeout = {}",
            limits.statement_timeout.as_millis()
        ))
        .execute(&mut conn)
        .await?;
        if !limits.allowed_schemas.is_empty() {
            // Unqualified names resolve only inside the allowed schemas.
            let path: Vec<String> = limits
                .allowed_schemas
                .iter()
                .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
                .collect();
            sqlx::query(&format!("SET LOCAL search_path = {}", path.join(", ")))
                .execute(&mut conn)
                .await?;
        }
        // A prepared statement: the server itself refuses more than one command.
        let sql = match bound {
            Some(_) => bounded(Engine::Postgres, sql, &described_columns!(&mut conn, sql)?, None)?,
            None => sql.to_string(),
        };
        collect(sqlx::query(&sql).fetch(&mut conn), limits, lineage, pg_cell).await
    };
    let result = tokio::select! {
        r = work => r,
        _ = cancel.cancelled() => Err(CollectError::Cancelled),
    };
    if let Err(CollectError::Cancelled) = result {
        drop(conn);
        return Err(stop_on_replica(Engine::Postgres, url, i64::from(backend), limits).await);
    }
    finish!(conn, &result);
    result.map_err(|e| e.into_run_error(limits))
}

pub(super) async fn mysql(
    url: &str,
    sql: &str,
    limits: &Limits,
    cancel: &Cancel,
    lineage: Expected<'_>,
    bound: Option<bool>,
) -> Result<Rows, RunError> {
    let options = sqlx::mysql::MySqlConnectOptions::from_str(url)
        .map_err(|e| RunError::Unreachable(e.to_string()))?;
    let mut conn = tokio::time::timeout(limits.connect_timeout, options.connect())
        .await
        .map_err(|_| {
            RunError::Unreachable(format!(
                "no answer within {:.1} s",
                limits.connect_timeout.as_secs_f64()
            ))
        })?
        .map_err(|e| RunError::Unreachable(e.to_string()))?;
    let backend: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| database_error(e, limits))?;
    // MariaDB and MySQL count connection ids up: one is not reused while the server runs.
    cancel.report_backend(backend.to_string());
    let work = async {
        let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(&mut conn).await?;
        let timeout = if version.contains("MariaDB") {
            format!(
                "SET SESSION max_statement_time = {:.3}",
                limits.statement_timeout.as_secs_f64()
            )
        } else {
            format!("SET SESSION max_execution_time = {}", limits.statement_timeout.as_millis())
        };
        sqlx::query(&timeout).execute(&mut conn).await?;
        // The guard reads backslash escapes in strings and `"…"` as a string, MariaDB's default;
        // a replica configured with NO_BACKSLASH_ESCAPES or ANSI_QUOTES would read them otherwise.
        sqlx::query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'").execute(&mut conn).await?;
        sqlx::query("SET SESSION time_zone = '+00:00'").execute(&mut conn).await?;
        sqlx::query("START TRANSACTION READ ONLY").execute(&mut conn).await?;
        let sql = match bound {
            Some(limited) => bounded(
                Engine::Mysql,
                sql,
                &described_columns!(&mut conn, sql)?,
                (!limited).then_some(limits.row_cap + 1),
            )?,
            None => sql.to_string(),
        };
        collect(sqlx::query(&sql).fetch(&mut conn), limits, lineage, mysql_cell).await
    };
    let result = tokio::select! {
        r = work => r,
        _ = cancel.cancelled() => Err(CollectError::Cancelled),
    };
    if let Err(CollectError::Cancelled) = result {
        drop(conn);
        return Err(stop_on_replica(Engine::Mysql, url, backend as i64, limits).await);
    }
    finish!(conn, &result);
    result.map_err(|e| e.into_run_error(limits))
}

pub(super) async fn sqlite(
    url: &str,
    sql: &str,
    limits: &Limits,
    cancel: &Cancel,
    lineage: Expected<'_>,
) -> Result<Rows, RunError> {
    // Read-only at open, and query_only in the session: SQLite has no READ ONLY transactions.
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| RunError::Unreachable(e.to_string()))?
        .read_only(true)
        .pragma("query_only", "ON");
    let mut conn = options.connect().await.map_err(|e| RunError::Unreachable(e.to_string()))?;
    // SQLite runs inside the console: bound what one statement may build, on this connection only
    // (a process-wide heap limit would starve the console's own store).
    {
        let mut handle = conn.lock_handle().await.map_err(|e| RunError::Database(e.to_string()))?;
        let db = handle.as_raw_handle().as_ptr();
        // SAFETY: `db` is this connection's open handle, held locked for the calls; sqlite3_limit
        // only lowers a per-connection limit.
        #[allow(unsafe_code)]
        unsafe {
            libsqlite3_sys::sqlite3_limit(
                db,
                libsqlite3_sys::SQLITE_LIMIT_LENGTH,
                SQLITE_MAX_VALUE,
            );
            libsqlite3_sys::sqlite3_limit(
                db,
                libsqlite3_sys::SQLITE_LIMIT_COLUMN,
                SQLITE_MAX_COLUMNS,
            );
        }
    }
    // Page cache and temporary tables: small, and on disk rather than in the console's memory.
    for pragma in ["PRAGMA cache_size = -2000", "PRAGMA temp_store = FILE"] {
        sqlx::query(pragma)
            .execute(&mut conn)
            .await
            .map_err(|e| RunError::Database(e.to_string()))?;
    }
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
        collect(sqlx::query(sql).fetch(&mut conn), limits, lineage, sqlite_cell).await
    }
    .await;
    if let Err(CollectError::Driver(e)) = &result {
        if e.to_string().contains("interrupted") {
            drop(conn);
            return Err(if cancel.is_cancelled() {
                RunError::Cancelled
            } else {
                RunError::Timeout(limits.statement_timeout.as_secs_f64())
            });
        }
    }
    let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
    let _ = conn.close().await;
    result.map_err(|e| e.into_run_error(limits))
}

/// Stops statement `backend` on the replica from a second connection, then waits (up to the
/// statement timeout and a few seconds) until the replica shows it no longer running.
pub(super) async fn stop_on_replica(
    engine: Engine,
    url: &str,
    backend: i64,
    limits: &Limits,
) -> RunError {
    let deadline = Instant::now() + limits.statement_timeout + Duration::from_secs(3);
    let attempt = async {
        match engine {
            Engine::Postgres => {
                let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
                let mut conn = options.connect().await?;
                loop {
                    let running: Option<String> =
                        sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
                            .bind(backend as i32)
                            .fetch_optional(&mut conn)
                            .await?;
                    if running.as_deref() != Some("active")
                        && running.as_deref() != Some("idle in transaction")
                    {
                        return Ok::<bool, sqlx::Error>(true);
                    }
                    // Cancel the statement, then end the session it belonged to (ours, same role).
                    let _: bool = sqlx::query_scalar("SELECT pg_cancel_backend($1)")
                        .bind(backend as i32)
                        .fetch_one(&mut conn)
                        .await?;
                    let _: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                        .bind(backend as i32)
                        .fetch_one(&mut conn)
                        .await?;
                    if Instant::now() > deadline {
                        return Ok(false);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            _ => {
                let options = sqlx::mysql::MySqlConnectOptions::from_str(url)?;
                let mut conn = options.connect().await?;
                loop {
                    let running: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?",
                    )
                    .bind(backend)
                    .fetch_one(&mut conn)
                    .await?;
                    if running == 0 {
                        return Ok(true);
                    }
                    sqlx::query(&format!("KILL {backend}")).execute(&mut conn).await.ok();
                    if Instant::now() > deadline {
                        return Ok(false);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    match tokio::time::timeout_at(deadline.into(), attempt).await {
        Ok(Ok(true)) => RunError::Cancelled,
        Ok(Ok(false)) | Err(_) => RunError::CancelUnconfirmed,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, backend, "could not stop a cancelled statement on the replica");
            RunError::CancelUnconfirmed
        }
    }
}

/// Stops the statement a console that died left running as `backend` (what the engine reported
/// at connect). `Cancelled`: stopped, or it had already ended; `CancelUnconfirmed` otherwise.
pub(super) async fn stop_orphan(
    engine: Engine,
    url: &str,
    backend: &str,
    limits: &Limits,
) -> RunError {
    match engine {
        Engine::Postgres => {
            let Some((pid, since)) = backend.split_once('@') else {
                return RunError::CancelUnconfirmed;
            };
            let (Ok(pid), Ok(since)) = (pid.parse::<i32>(), since.parse::<i64>()) else {
                return RunError::CancelUnconfirmed;
            };
            // The same pid of a later session is somebody else's: touch it only if it is ours.
            let same = async {
                let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
                let mut conn = options.connect().await?;
                sqlx::query_scalar::<_, i32>(
                    "SELECT pid FROM pg_stat_activity WHERE pid = $1 AND (extract(epoch FROM backend_start) * 1000000)::bigint = $2",
                )
                .bind(pid)
                .bind(since)
                .fetch_optional(&mut conn)
                .await
            };
            match tokio::time::timeout(limits.connect_timeout, same).await {
                Ok(Ok(None)) => RunError::Cancelled,
                Ok(Ok(Some(_))) => {
                    stop_on_replica(Engine::Postgres, url, i64::from(pid), limits).await
                }
                _ => RunError::CancelUnconfirmed,
            }
        }
        Engine::Mysql => match backend.parse::<i64>() {
            Ok(id) => stop_on_replica(Engine::Mysql, url, id, limits).await,
            Err(_) => RunError::CancelUnconfirmed,
        },
        // An SQLite replica is read inside the console's own process: it died with it.
        Engine::Sqlite => RunError::Cancelled,
    }
}
