//! What the guard knows of a replica: its tables and views (in the allowed schemas only), their
//! columns, view definitions, and on PostgreSQL the functions and operators defined outside
//! `pg_catalog` (which could shadow an allowed built-in). Read over a trusted connection, cached
//! for a short while, and read again when a query names something the snapshot does not know.

use super::limits::Limits;
use super::Engine;
use super::RunError;
use sqlx::{ConnectOptions, Connection};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A table or view: its columns in order, and a view's defining query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relation {
    pub columns: Vec<String>,
    pub view_definition: Option<String>,
    /// Columns a query may name but `*` leaves out (MariaDB INVISIBLE, SQLite hidden columns).
    pub hidden: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Keyed on (schema, name), both lower-case; only the allowed schemas are here.
    pub relations: HashMap<(String, String), Relation>,
    /// Where an unqualified name is looked up, in order.
    pub search_path: Vec<String>,
    /// PostgreSQL: names of functions and operators defined outside `pg_catalog`.
    pub shadowing_functions: HashSet<String>,
    pub shadowing_operators: HashSet<String>,
}

impl Schema {
    pub fn find(&self, schema: Option<&str>, name: &str) -> Option<&Relation> {
        self.locate(schema, name).map(|(_, relation)| relation)
    }

    /// [`Schema::find`], with the schema the relation was found in.
    pub fn locate(&self, schema: Option<&str>, name: &str) -> Option<(&str, &Relation)> {
        let key = |s: &str| (s.to_string(), name.to_string());
        match schema {
            Some(s) => self.relations.get_key_value(&key(s)).map(|((s, _), r)| (s.as_str(), r)),
            None => self
                .search_path
                .iter()
                .find_map(|s| self.relations.get(&key(s)).map(|r| (s.as_str(), r))),
        }
    }

    /// A schema from literal tables, for tests: `[("public", "users", &["id", "email"])]`.
    pub fn of(tables: &[(&str, &str, &[&str])]) -> Schema {
        let mut schema = Schema::default();
        for (s, t, cols) in tables {
            schema.relations.insert(
                (s.to_string(), t.to_string()),
                Relation {
                    columns: cols.iter().map(|c| c.to_string()).collect(),
                    view_definition: None,
                    hidden: vec![],
                },
            );
            if !schema.search_path.contains(&s.to_string()) {
                schema.search_path.push(s.to_string());
            }
        }
        schema
    }

    /// Tables and their columns, sorted, for the editor's side panel.
    pub fn tables(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = self
            .relations
            .iter()
            .map(|((s, t), r)| (format!("{s}.{t}"), r.columns.clone()))
            .collect();
        out.sort();
        out
    }

    fn add(&mut self, schema: &str, table: &str, column: &str, view: Option<String>) {
        self.add_column(schema, table, column, view, false);
    }

    fn add_column(
        &mut self,
        schema: &str,
        table: &str,
        column: &str,
        view: Option<String>,
        hidden: bool,
    ) {
        let entry =
            self.relations.entry((schema.to_lowercase(), table.to_lowercase())).or_default();
        // As the replica spells it: PostgreSQL compares quoted names by case (the guard folds per engine).
        entry.columns.push(column.to_string());
        if hidden {
            entry.hidden.push(column.to_string());
        }
        if view.is_some() {
            entry.view_definition = view;
        }
    }
}

/// How long a snapshot is trusted before it is read again.
const FRESH_FOR: Duration = Duration::from_secs(30);

type Key = (Engine, String, Vec<String>);
fn cache() -> &'static Mutex<HashMap<Key, (Instant, Arc<Schema>)>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, (Instant, Arc<Schema>)>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The replica's schema, from the cache unless it is older than a few seconds or `refresh`.
pub async fn snapshot(
    engine: Engine,
    url: &str,
    limits: &Limits,
    refresh: bool,
) -> Result<Arc<Schema>, RunError> {
    let key = (engine, url.to_string(), limits.allowed_schemas.clone());
    if !refresh {
        if let Some((at, schema)) = cache().lock().unwrap().get(&key) {
            if at.elapsed() < FRESH_FOR {
                return Ok(schema.clone());
            }
        }
    }
    let schema = Arc::new(load(engine, url, limits).await?);
    cache().lock().unwrap().insert(key, (Instant::now(), schema.clone()));
    Ok(schema)
}

fn unreachable(e: impl std::fmt::Display) -> RunError {
    RunError::Unreachable(e.to_string())
}

async fn load(engine: Engine, url: &str, limits: &Limits) -> Result<Schema, RunError> {
    let within = limits.connect_timeout + limits.statement_timeout;
    let loaded = match engine {
        Engine::Postgres => {
            tokio::time::timeout(within, load_postgres(url, &limits.allowed_schemas)).await
        }
        Engine::Mysql => {
            tokio::time::timeout(within, load_mysql(url, &limits.allowed_schemas)).await
        }
        Engine::Sqlite => tokio::time::timeout(within, load_sqlite(url)).await,
    };
    loaded.map_err(|_| unreachable("the schema could not be read in time"))?
}

async fn load_postgres(url: &str, allowed: &[String]) -> Result<Schema, RunError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url).map_err(unreachable)?;
    let mut conn = options.connect().await.map_err(unreachable)?;
    let mut schema = Schema::default();
    let system =
        "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text,
                CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
           AND (CASE WHEN cardinality($1::text[]) = 0 THEN {system} ELSE n.nspname = ANY($1) END)
         ORDER BY 1, 2, a.attnum"
    ))
    .bind(allowed)
    .fetch_all(&mut conn)
    .await
    .map_err(unreachable)?;
    for (s, t, c, view) in rows {
        schema.add(&s, &t, &c, view);
    }
    schema.search_path = if allowed.is_empty() {
        sqlx::query_scalar::<_, String>("SELECT unnest(current_schemas(false))::text")
            .fetch_all(&mut conn)
            .await
            .map_err(unreachable)?
    } else {
        allowed.iter().map(|s| s.to_lowercase()).collect()
    };
    let outside = "n.nspname NOT IN ('pg_catalog', 'information_schema')";
    schema.shadowing_functions = sqlx::query_scalar::<_, String>(&format!(
        "SELECT DISTINCT lower(p.proname::text) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {outside}"
    ))
    .fetch_all(&mut conn)
    .await
    .map_err(unreachable)?
    .into_iter()
    .collect();
    schema.shadowing_operators = sqlx::query_scalar::<_, String>(&format!(
        "SELECT DISTINCT o.oprname::text FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE {outside}"
    ))
    .fetch_all(&mut conn)
    .await
    .map_err(unreachable)?
    .into_iter()
    .collect();
    let _ = conn.close().await;
    Ok(schema)
}

async fn load_mysql(url: &str, allowed: &[String]) -> Result<Schema, RunError> {
    let options = sqlx::mysql::MySqlConnectOptions::from_str(url).map_err(unreachable)?;
    let mut conn = options.connect().await.map_err(unreachable)?;
    let current: Option<String> =
        sqlx::query_scalar("SELECT DATABASE()").fetch_one(&mut conn).await.map_err(unreachable)?;
    // With no list, only the connection's own database.
    let schemas: Vec<String> =
        if allowed.is_empty() { current.iter().cloned().collect() } else { allowed.to_vec() };
    let mut schema = Schema::default();
    for db in &schemas {
        // INVISIBLE columns can be named but `SELECT *` leaves them out: the guard must count alike.
        let rows: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT CAST(c.TABLE_SCHEMA AS CHAR), CAST(c.TABLE_NAME AS CHAR), CAST(c.COLUMN_NAME AS CHAR), CAST(v.VIEW_DEFINITION AS CHAR),
                    CAST(c.EXTRA LIKE '%INVISIBLE%' AS SIGNED)
             FROM information_schema.COLUMNS c
             LEFT JOIN information_schema.VIEWS v ON v.TABLE_SCHEMA = c.TABLE_SCHEMA AND v.TABLE_NAME = c.TABLE_NAME
             WHERE c.TABLE_SCHEMA = ? ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        )
        .bind(db)
        .fetch_all(&mut conn)
        .await
        .map_err(unreachable)?;
        for (s, t, c, view, invisible) in rows {
            schema.add_column(&s, &t, &c, view, invisible != 0);
        }
    }
    schema.search_path = current
        .filter(|c| schemas.iter().any(|s| s.eq_ignore_ascii_case(c)))
        .map(|c| c.to_lowercase())
        .into_iter()
        .collect();
    let _ = conn.close().await;
    Ok(schema)
}

async fn load_sqlite(url: &str) -> Result<Schema, RunError> {
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(unreachable)?.read_only(true);
    let mut conn = options.connect().await.map_err(unreachable)?;
    // table_xinfo lists generated columns (part of `*`) and hidden ones (hidden = 1: nameable,
    // not part of `*`), which table_info leaves out.
    let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT m.name, p.name, CASE WHEN m.type = 'view' THEN m.sql END, p.hidden
         FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p
         WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(unreachable)?;
    let mut schema = Schema { search_path: vec!["main".into()], ..Schema::default() };
    for (t, c, view, hidden) in rows {
        schema.add_column("main", &t, &c, view, hidden == 1);
    }
    let _ = conn.close().await;
    Ok(schema)
}
