//! What bounds one query: the limits in force (from the tier, the platform defaults and the
//! replica's overrides) and the mask patterns. Plain data, read by the guard, the schema
//! snapshot and the runner alike.

use std::time::Duration;

/// What a masked cell shows instead of its value.
pub const MASK: &str = "••••";

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
    /// Functions allowed beyond the engine's allow-list (an SRE's choice per replica).
    pub extra_functions: Vec<String>,
}

pub use super::editor::is_masked;
