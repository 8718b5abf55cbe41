//! What the replica's refusals and failures become: a clear text for the user, nothing internal.

use super::*;

/// Why reading the rows stopped.
#[derive(Debug)]
pub(super) enum CollectError {
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
    pub(super) fn into_run_error(self, limits: &Limits) -> RunError {
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
pub(super) fn database_error(e: sqlx::Error, limits: &Limits) -> RunError {
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

pub(super) enum ErrorText {
    Timeout,
    Fixed(&'static str),
    Coded,
}

pub(super) const READ_ONLY: &str = "the replica refused to write: queries run read-only";

/// PostgreSQL SQLSTATEs and MySQL/MariaDB error numbers.
pub(super) fn server_error_text(sqlstate: &str, number: u16) -> ErrorText {
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
pub(super) fn sqlite_error_text(code: &str, message: &str) -> ErrorText {
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
