//! The safe-query REPL's guards. Layer 1 (this crate, `guard`): parse the SQL in the replica's
//! dialect and refuse anything that is not one read-only statement. Later layers (read-only
//! transaction, row cap, masks, one query per user) run against the replica itself.

#[cfg(feature = "server")]
pub mod actions;
pub mod editor;
#[cfg(feature = "server")]
pub mod guard;
#[cfg(feature = "server")]
pub mod limits;
#[cfg(feature = "server")]
pub mod replicas;
#[cfg(feature = "server")]
pub mod run;
#[cfg(feature = "server")]
pub mod saved;
#[cfg(feature = "server")]
pub mod schema;

use serde::{Deserialize, Serialize};

/// The database engine of a replica, which decides the SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Mysql,
    Sqlite,
}

/// A replica as the REPL shows it, with the limits in force (never its URL or credential source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaView {
    pub replica: ReplicaSummary,
    pub statement_timeout_ms: u64,
    pub row_cap: u64,
    pub masks: Vec<String>,
}

/// What the replica answered, masked and capped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows existed than the cap allowed.
    pub truncated: bool,
    pub elapsed_ms: u64,
    /// Masked columns the query tested by an existence check (`= 'literal'`, `IN`, `IS NULL`); audited.
    #[serde(default)]
    pub probed: Vec<String>,
}

/// A replica as stored: where it is and where its credential is, never the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    pub id: String,
    pub service: String,
    pub name: String,
    pub engine: Engine,
    /// Connection URL without a password.
    pub url: String,
    pub credential_env: String,
    pub credential_file: String,
    /// Overrides of the tier's defaults.
    pub statement_timeout_ms: Option<u64>,
    pub row_cap: Option<u64>,
    pub masks: Option<Vec<String>>,
    /// Schemas queries may read; empty: all (MariaDB: the connection's database).
    #[serde(default)]
    pub allowed_schemas: Vec<String>,
    /// Functions an SRE allows on this replica beyond the built-in allow-list.
    #[serde(default)]
    pub extra_functions: Vec<String>,
    /// Why an SRE disabled it (it is then not offered and runs nothing); empty: in use.
    #[serde(default)]
    pub disabled: String,
}

impl Replica {
    /// `url` designated as replica `id` of `service`, with no credential source and no options
    /// of its own: the tier's defaults apply.
    pub fn new(id: &str, service: &str, name: &str, engine: Engine, url: &str) -> Replica {
        Replica {
            id: id.into(),
            service: service.into(),
            name: name.into(),
            engine,
            url: url.into(),
            credential_env: String::new(),
            credential_file: String::new(),
            statement_timeout_ms: None,
            row_cap: None,
            masks: None,
            allowed_schemas: vec![],
            extra_functions: vec![],
            disabled: String::new(),
        }
    }
}

/// What browsers learn of a replica: never its URL or where its credential lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaSummary {
    pub id: String,
    pub name: String,
    pub engine: Engine,
    pub extra_functions: Vec<String>,
}

/// A replica as the SREs' management list shows it: everything but the credential itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedReplica {
    pub replica: Replica,
    pub created_by: String,
    pub created_at: i64,
}

impl From<&Replica> for ReplicaSummary {
    fn from(r: &Replica) -> Self {
        ReplicaSummary {
            id: r.id.clone(),
            name: r.name.clone(),
            engine: r.engine,
            extra_functions: r.extra_functions.clone(),
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub login: String,
    pub service: String,
    pub replica: String,
    pub sql: String,
    pub outcome: String,
    pub reason: String,
    pub rows: i64,
    pub duration_ms: i64,
}

/// A query saved under a name for everyone who may query the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQuery {
    pub name: String,
    pub sql: String,
    pub saved_by: String,
    pub saved_at: i64,
}

/// What a query stopped by its own user answers (the page tells a cancel from a failure by it).
pub const CANCELLED_BY_USER: &str = "cancelled by the user";

/// How one query ended when it did not answer rows.
#[cfg(feature = "server")]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Refused(#[from] guard::Refusal),
    #[error("the replica cannot be reached: {0}")]
    Unreachable(String),
    #[error("cancelled after {0:.1} s (statement timeout)")]
    Timeout(f64),
    #[error("the replica refused the query: {0}")]
    Database(String),
    #[error("{CANCELLED_BY_USER}")]
    Cancelled,
    /// Cancelled, but the replica did not confirm the statement had stopped within the timeout.
    #[error(
        "cancel unconfirmed: the replica did not confirm the stop within the statement timeout"
    )]
    CancelUnconfirmed,
}
