//! The safe-query REPL's guards. Layer 1 (this crate, `guard`): parse the SQL in the replica's
//! dialect and refuse anything that is not one read-only statement. Later layers (read-only
//! transaction, row cap, masks, one query per user) run against the replica itself.

#[cfg(feature = "server")]
pub mod guard;
#[cfg(feature = "server")]
pub mod run;
#[cfg(feature = "server")]
pub mod replicas;

use serde::{Deserialize, Serialize};

/// The database engine of a replica, which decides the SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Mysql,
    Sqlite,
}
