//! Layers 2 to 4 of the query guard, on the replica itself:
//! 2. each query runs on a connection of its own, in a READ ONLY transaction that is always
//!    rolled back, with the statement timeout set in that same session;
//! 3. rows stream from the driver and stop at the row cap, so memory stays bounded;
//! 4. masked columns are replaced before anything leaves the server.

use super::guard::{self, functions::Allowed, Policy, Refusal};
use super::limits::{is_masked, Limits, MASK};
use super::schema;
use super::{Engine, QueryResult, RunError};
use crate::limiter::Cancel;
use futures_util::TryStreamExt;
use sqlx::{Column, ConnectOptions, Connection, Row, TypeInfo, ValueRef};
use std::str::FromStr;
use std::time::{Duration, Instant};

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

/// Longest text a cell may bring back, in characters: PostgreSQL and MariaDB cut it on the
/// replica; SQLite (in process) refuses to build a value longer than [`SQLITE_MAX_VALUE`] bytes.
pub const CELL_CHARS: usize = 64 * 1024;
/// Most bytes of cells one answer may hold; reading stops there, as at the row cap.
pub const RESULT_BYTES: usize = 16 << 20;
/// SQLite replicas: the longest string or blob a statement may build, and the most columns.
pub const SQLITE_MAX_VALUE: i32 = 256 * 1024;
pub const SQLITE_MAX_COLUMNS: i32 = 256;

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

/// `sql` wrapped so the replica itself cuts every cell to [`CELL_CHARS`] (as text) before
/// sending it: the driver reads a whole row before our caps run, so only the replica can bound
/// it. Column names and order are kept; MariaDB keeps a derived table's ORDER BY only with a
/// LIMIT, so `limit` adds one where the query has none (nothing past the row cap is read anyway).
///
/// The cut is also where each type gets its text form (docs/repl-types.md): the engine's own
/// text, except zoned timestamps as ISO 8601 with `Z` (the session is in UTC), MariaDB BIT as a
/// number and binary strings as hex.
fn bounded(
    engine: Engine,
    sql: &str,
    columns: &[(String, String)],
    limit: Option<usize>,
) -> Result<String, CollectError> {
    if columns.is_empty() {
        return Ok(sql.to_string());
    }
    // A newline ends any trailing line comment; a trailing `;` would end the subquery.
    // ASCII only: the guard refused every other space, so the replica reads the tokens it checked.
    let body = sql.trim_end_matches(|c: char| c.is_ascii_whitespace() || c == ';');
    let limit = limit.map(|n| format!("\nLIMIT {n}")).unwrap_or_default();
    // Wide rows get shorter cells, so one row stays within the result cap (4 bytes a character).
    let cut = (RESULT_BYTES / 4 / columns.len()).clamp(256, CELL_CHARS);
    Ok(match engine {
        Engine::Postgres => {
            let quote = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
            let cells: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, (n, ty))| {
                    let c = format!("q.c{}", i + 1);
                    let text = match ty.as_str() {
                        "TIMESTAMPTZ" => {
                            format!("regexp_replace(to_json({c}) #>> '{{}}', '\\+00:00$', 'Z')")
                        }
                        // inet's text cast adds /32 to a host; its output function does not.
                        "INET" => format!("to_json({c}) #>> '{{}}'"),
                        _ => format!("{c}::text"),
                    };
                    format!("left({text}, {cut}) AS {}", quote(n))
                })
                .collect();
            let aliases: Vec<String> = (1..=columns.len()).map(|i| format!("c{i}")).collect();
            format!(
                "SELECT {} FROM (\n{body}\n{limit}) AS q({})",
                cells.join(", "),
                aliases.join(", ")
            )
        }
        _ => {
            let mut seen = std::collections::HashSet::new();
            if let Some((twice, _)) = columns.iter().find(|(c, _)| !seen.insert(c.to_lowercase())) {
                return Err(CollectError::DuplicateColumn(twice.clone()));
            }
            let quote = |n: &str| format!("`{}`", n.replace('`', "``"));
            let cells: Vec<String> = columns
                .iter()
                .map(|(n, ty)| {
                    let c = format!("q.{}", quote(n));
                    let text = match ty.as_str() {
                        "TIMESTAMP" => format!("CONCAT(REPLACE(CAST({c} AS CHAR), ' ', 'T'), 'Z')"),
                        "BIT" => format!("CAST({c} + 0 AS CHAR)"),
                        // MariaDB's JSON is a text blob: hex only for binary strings.
                        "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BINARY"
                        | "VARBINARY" | "GEOMETRY" => {
                            format!("IF(CHARSET({c}) = 'binary', HEX({c}), CAST({c} AS CHAR))")
                        }
                        _ => format!("CAST({c} AS CHAR)"),
                    };
                    format!("LEFT({text}, {cut}) AS {}", quote(n))
                })
                .collect();
            format!("SELECT {} FROM (\n{body}\n{limit}) AS q", cells.join(", "))
        }
    })
}

/// Checks `sql` with layer 1, then runs it under layers 2–4.
pub async fn run(
    engine: Engine,
    url: &str,
    sql: &str,
    limits: &Limits,
) -> Result<QueryResult, RunError> {
    run_cancellable(engine, url, sql, limits, &Cancel::default()).await
}

/// Layer 1 alone, against the replica's schema (read again once when the query names something
/// the cached snapshot does not know).
pub async fn check(
    engine: Engine,
    url: &str,
    sql: &str,
    limits: &Limits,
) -> Result<guard::Checked, RunError> {
    let allowed = std::sync::Arc::new(Allowed::new(engine, &limits.extra_functions));
    let (sql, masks): (std::sync::Arc<str>, std::sync::Arc<[String]>) =
        (sql.into(), limits.masks.as_slice().into());
    let mut refreshed = false;
    loop {
        let schema = schema::snapshot(engine, url, limits, refreshed).await?;
        let (sql, masks, allowed) = (sql.clone(), masks.clone(), allowed.clone());
        let verdict = on_guard_pool(move || {
            guard::check(&sql, &Policy { schema: &schema, masks: &masks, allowed: &allowed })
        })
        .await?;
        match verdict {
            Err(refusal) if refusal.unknown_name && !refreshed => refreshed = true,
            other => return Ok(other?),
        }
    }
}

/// The guard's analysis is CPU work bounded by its step budget. It runs on threads of its own,
/// [`GUARD_THREADS`] of them, never on the async workers that serve pages; a statement waits for
/// its turn in a queue, holding no thread. Each has a large stack ([`GUARD_STACK_BYTES`],
/// reserved, not used): a deep expression tree is refused by depth, but dropping the parsed tree
/// of a 100 KB statement still recurses once per level.
pub const GUARD_THREADS: usize = 1;
pub const GUARD_STACK_BYTES: usize = 256 << 20;

type GuardJob = Box<dyn FnOnce() + Send>;

async fn on_guard_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RunError> {
    static QUEUE: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<GuardJob>>> =
        std::sync::OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (send, receive) = std::sync::mpsc::channel::<GuardJob>();
        let receive = std::sync::Arc::new(std::sync::Mutex::new(receive));
        for i in 0..GUARD_THREADS {
            let receive = receive.clone();
            std::thread::Builder::new()
                .name(format!("query-guard-{i}"))
                .stack_size(GUARD_STACK_BYTES)
                .spawn(move || loop {
                    let job = match receive.lock() {
                        Ok(receive) => receive.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panic ends that job (its caller is told), not the thread.
                        Ok(job) => {
                            drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)))
                        }
                        Err(_) => return,
                    }
                })
                .expect("the query guard's thread starts");
        }
        std::sync::Mutex::new(send)
    });
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: GuardJob = Box::new(move || {
        let _ = reply.send(work());
    });
    let sent = queue.lock().map_err(|_| ()).and_then(|q| q.send(job).map_err(|_| ()));
    if sent.is_err() {
        return Err(RunError::Unreachable("the query guard is not running".into()));
    }
    answer.await.map_err(|_| {
        tracing::error!("the query guard failed on a statement");
        RunError::Refused(Refusal::new("the guard failed on this query; it was not run"))
    })
}

/// [`run`], stoppable through `cancel`.
pub async fn run_cancellable(
    engine: Engine,
    url: &str,
    sql: &str,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<QueryResult, RunError> {
    let checked = check(engine, url, sql, limits).await?;
    // A SELECT's cells are cut on the replica; `limited`: it has a LIMIT of its own.
    let bound = (checked.kind == guard::ReadKind::Select).then_some(checked.limited);
    // The replica runs the guard's canonical statement, never the text as typed.
    let expected = Expected { masked: &checked.masked, names: &checked.names };
    let result =
        run_with_lineage(engine, url, &checked.sql, limits, cancel, expected, bound).await?;
    Ok(QueryResult { probed: checked.probed, ..result })
}

/// Layers 2–4 alone, masking by column name only (tests use it to prove the database refuses
/// what the parser let through; the schema panel reads the catalog with it).
pub async fn run_checked(
    engine: Engine,
    url: &str,
    sql: &str,
    limits: &Limits,
) -> Result<QueryResult, RunError> {
    run_with_lineage(engine, url, sql, limits, &Cancel::default(), Expected::default(), None).await
}

/// `lineage`: per output column, whether it carries a masked column (empty: names only).
/// `bound`: for a SELECT, wrap it so the replica cuts every cell (the flag: it has its own LIMIT).
async fn run_with_lineage(
    engine: Engine,
    url: &str,
    sql: &str,
    limits: &Limits,
    cancel: &Cancel,
    lineage: Expected<'_>,
    bound: Option<bool>,
) -> Result<QueryResult, RunError> {
    let started = Instant::now();
    // Cancelling stops the statement on the replica itself (by its backend id, from a second
    // connection) and waits for the replica to confirm; dropping our end alone would leave it running.
    let result = match engine {
        Engine::Postgres => postgres(url, sql, limits, cancel, lineage, bound).await,
        Engine::Mysql => mysql(url, sql, limits, cancel, lineage, bound).await,
        // SQLite runs in a worker thread: its progress handler stops it from inside.
        Engine::Sqlite => sqlite(url, sql, limits, cancel, lineage).await,
    };
    result.map(|(columns, rows, truncated)| QueryResult {
        columns,
        rows,
        truncated,
        elapsed_ms: started.elapsed().as_millis() as u64,
        probed: Vec::new(),
    })
}

type Rows = (Vec<String>, Vec<Vec<Option<String>>>, bool);

/// Why reading the rows stopped.
#[derive(Debug)]
enum CollectError {
    Driver(sqlx::Error),
    SchemaChanged,
    Cancelled,
    DuplicateColumn(String),
}

impl From<sqlx::Error> for CollectError {
    fn from(e: sqlx::Error) -> Self {
        CollectError::Driver(e)
    }
}

impl CollectError {
    fn into_run_error(self, limits: &Limits) -> RunError {
        match self {
            CollectError::Driver(e) => database_error(e, limits),
            CollectError::SchemaChanged => RunError::Database(
                "the replica's tables changed while the query was checked; run it again".into(),
            ),
            CollectError::Cancelled => RunError::Cancelled,
            CollectError::DuplicateColumn(name) => RunError::Database(format!(
                "two result columns are named {name}; give them distinct names with AS"
            )),
        }
    }
}

/// The replica's error as one of a fixed set of texts, chosen by SQLSTATE, error number or
/// result code. The driver's own text can echo data (a failed cast prints the value), so it goes
/// to the server log only.
fn database_error(e: sqlx::Error, limits: &Limits) -> RunError {
    let sqlx::Error::Database(db) = &e else {
        tracing::warn!(error = %e, "replica connection error");
        return RunError::Unreachable("the connection to the replica failed".into());
    };
    let code = db.code().map(|c| c.to_string()).unwrap_or_default();
    let number =
        db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|m| m.number()).unwrap_or(0);
    tracing::info!(code = %code, number, message = %db.message(), "the replica refused a query");
    let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
    let text = if sqlite {
        sqlite_error_text(&code, db.message())
    } else {
        server_error_text(&code, number)
    };
    match text {
        ErrorText::Timeout => RunError::Timeout(limits.statement_timeout.as_secs_f64()),
        ErrorText::Fixed(t) => RunError::Database(t.to_string()),
        ErrorText::Coded => RunError::Database(format!(
            "the replica refused the query (error {}{})",
            code,
            if number > 0 { format!(", {number}") } else { String::new() }
        )),
    }
}

enum ErrorText {
    Timeout,
    Fixed(&'static str),
    Coded,
}

const READ_ONLY: &str = "the replica refused to write: queries run read-only";

/// PostgreSQL SQLSTATEs and MySQL/MariaDB error numbers.
fn server_error_text(sqlstate: &str, number: u16) -> ErrorText {
    use ErrorText::*;
    match (number, sqlstate) {
        (1969 | 3024 | 1317, _) | (_, "57014") => Timeout,
        (1792 | 1290 | 1836, _) | (_, "25006") => Fixed(READ_ONLY),
        (1142 | 1143 | 1227 | 1044 | 1370, _) | (_, "42501") => {
            Fixed("the replica's role lacks a privilege this query needs")
        }
        (1146 | 1051, _) | (_, "42P01") => {
            Fixed("a table in the query does not exist on the replica")
        }
        (1054, _) | (_, "42703") => Fixed("a column in the query does not exist on the replica"),
        (1305 | 1630 | 1582 | 1583, _) | (_, "42883") => {
            Fixed("a function or operator in the query does not exist for these argument types")
        }
        (1064 | 1149, _) | (_, "42601") => Fixed("the replica could not parse the query"),
        (1052, _) | (_, "42702") => {
            Fixed("a column name in the query is ambiguous; qualify it with its table")
        }
        (1248, _) => Fixed("every derived table needs an alias"),
        (1222, _) => Fixed("the parts of the set operation have different numbers of columns"),
        (1055 | 1140, _) | (_, "42803") => {
            Fixed("a selected column must appear in GROUP BY or be used in an aggregate")
        }
        (1365, _) | (_, "22012") => Fixed("division by zero"),
        (1292 | 1366 | 1265 | 1406 | 1264 | 3140 | 3141 | 3143 | 3146, _) => {
            Fixed("a value could not be converted to the type the query asks for")
        }
        (
            _,
            "22P02" | "22007" | "22008" | "22003" | "22004" | "22023" | "2201B" | "22001" | "22021"
            | "22P05" | "22025",
        ) => Fixed("a value could not be converted to the type the query asks for"),
        (_, "42804" | "42846" | "42P18" | "42725") => {
            Fixed("a value has the wrong type where the query uses it")
        }
        (_, s) if s.starts_with("53") || s.starts_with("54") => {
            Fixed("the replica ran out of a resource for this query")
        }
        (_, s) if s.starts_with("40") => Fixed(
            "the replica ended the transaction (a conflict with replication); run the query again",
        ),
        (_, s) if s.starts_with("22") => {
            Fixed("a value in the data or the query is out of range for the operation")
        }
        _ => Coded,
    }
}

/// SQLite's extended result codes, and its few generic messages that name only the query's text.
fn sqlite_error_text(code: &str, message: &str) -> ErrorText {
    use ErrorText::*;
    match code.parse::<i32>().unwrap_or(0) & 0xff {
        8 => Fixed(READ_ONLY),
        9 => Timeout,
        _ if message.starts_with("no such table") => {
            Fixed("a table in the query does not exist on the replica")
        }
        _ if message.starts_with("no such column") => {
            Fixed("a column in the query does not exist on the replica")
        }
        _ if message.starts_with("no such function")
            || message.starts_with("wrong number of arguments") =>
        {
            Fixed("a function or operator in the query does not exist for these argument types")
        }
        _ if message.contains("syntax error") => Fixed("the replica could not parse the query"),
        _ if message.contains("query_only") || message.contains("readonly") => Fixed(READ_ONLY),
        _ => Coded,
    }
}

/// Collects at most `row_cap` rows from a stream of rows, turning each cell into text.
/// What the guard expects of a SELECT's answer: per output column, whether it carries a masked
/// column, and its name where known (empty: nothing known, mask by name only).
#[derive(Clone, Copy, Default)]
pub(crate) struct Expected<'a> {
    masked: &'a [bool],
    names: &'a [Option<String>],
}

async fn collect<R, S>(
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

/// SQLite's storage classes: INTEGER and TEXT as they are, REAL in shortest round-trip form,
/// BLOB as `\x` and hex (as PostgreSQL shows bytea).
fn sqlite_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Option<String> {
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
fn float_text(v: f64) -> String {
    let debug = format!("{v:?}");
    // Debug writes `1.0`; the engines write `1`.
    debug.strip_suffix(".0").map(str::to_string).unwrap_or(debug)
}

async fn postgres(
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
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| database_error(e, limits))?;
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

async fn mysql(
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

async fn sqlite(
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
async fn stop_on_replica(engine: Engine, url: &str, backend: i64, limits: &Limits) -> RunError {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// On a one-thread runtime, a task that only waits 1 ms finishes while three statements that
    /// exhaust the guard's budget are being checked: the guard runs off the async workers. Had it
    /// run inline, all three checks would have finished before the waiting task ran again.
    #[tokio::test(flavor = "current_thread")]
    async fn the_guard_runs_off_the_async_workers() {
        use guard::samples::nested_recursive_ctes;
        use guard::tests::{masks, schema};
        let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut checks = Vec::new();
        for _ in 0..3 {
            let finished = finished.clone();
            checks.push(tokio::spawn(async move {
                let verdict = on_guard_pool(move || {
                    let (schema, masks, allowed) =
                        (schema(), masks(), Allowed::new(Engine::Postgres, &[]));
                    guard::check(
                        &nested_recursive_ctes(10),
                        &Policy { schema: &schema, masks: &masks, allowed: &allowed },
                    )
                })
                .await
                .unwrap();
                assert!(verdict.unwrap_err().reason.contains("budget"));
                finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            finished.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "the page's task waited for the guard"
        );
        for check in checks {
            check.await.unwrap();
        }
        assert_eq!(finished.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn masks_match_names_by_pattern() {
        let masks: Vec<String> = ["*password*", "email", "phone*"].map(String::from).to_vec();
        for masked in
            ["password", "PASSWORD_HASH", "old_password", "email", "Email", "phone", "phone_number"]
        {
            assert!(is_masked(masked, &masks), "{masked}");
        }
        for open in ["emails", "user_email", "name", "iphone", "pass"] {
            assert!(!is_masked(open, &masks), "{open}");
        }
    }
}
