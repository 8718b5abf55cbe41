//! Layers 2 to 4 of the query guard, on the replica itself:
//! 2. each query runs on a connection of its own, in a READ ONLY transaction that is always
//!    rolled back, with the statement timeout set in that same session;
//! 3. rows stream from the driver and stop at the row cap, so memory stays bounded;
//! 4. masked columns are replaced before anything leaves the server.

mod engines;
mod errors;

use engines::*;
use errors::*;

use super::guard::{self, functions::Allowed, Policy, Refusal};
use super::limits::{is_masked, Limits, MASK};
use super::schema;
use super::{Engine, QueryResult, RunError};
use crate::limiter::Cancel;
use futures_util::TryStreamExt;
use sqlx::{Column, ConnectOptions, Connection, Row, TypeInfo, ValueRef};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Longest text a cell may bring back, in characters: PostgreSQL and MariaDB cut it on the
/// replica; SQLite (in process) refuses to build a value longer than [`SQLITE_MAX_VALUE`] bytes.
pub const CELL_CHARS: usize = 64 * 1024;
/// Most bytes of cells one answer may hold; reading stops there, as at the row cap.
pub const RESULT_BYTES: usize = 16 << 20;
/// SQLite replicas: the longest string or blob a statement may build, and the most columns.
pub const SQLITE_MAX_VALUE: i32 = 256 * 1024;
pub const SQLITE_MAX_COLUMNS: i32 = 256;

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

/// Stops, on the replica, a statement whose console died (see `audit::running`): `Cancelled`
/// when it is gone (stopped now, or ended before), `CancelUnconfirmed` when that is not known.
pub async fn stop_orphan(engine: Engine, url: &str, backend: &str, limits: &Limits) -> RunError {
    engines::stop_orphan(engine, url, backend, limits).await
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

/// Collects at most `row_cap` rows from a stream of rows, turning each cell into text.
/// What the guard expects of a SELECT's answer: per output column, whether it carries a masked
/// column, and its name where known (empty: nothing known, mask by name only).
#[derive(Clone, Copy, Default)]
pub(crate) struct Expected<'a> {
    masked: &'a [bool],
    names: &'a [Option<String>],
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
