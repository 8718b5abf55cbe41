//! The two stores' migrations describe one schema: after migrating a fresh SQLite and a fresh
//! PostgreSQL store, their tables, columns, types, nullability and indexes agree. Migrations come
//! in pairs (`migrations/{sqlite,postgres}/NNNN_name.sql`); this is the test that keeps the pairs
//! honest, since every query is written once for both through sqlx's `Any` driver.

use console_core::store::testing;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// Indexes one engine has and the other does not, on purpose (each migration says why).
const ONLY_POSTGRES: &[&str] = &[
    // 0003: tier filters walk this in name order; SQLite scans fast enough (BENCHMARKS.md).
    "services_by_tier",
    // 0007: trigram index for substring search; SQLite has no trigram index.
    "services_search_trgm",
];
const ONLY_SQLITE: &[&str] = &[];

/// `table.column` → (type family, nullable).
type Columns = BTreeMap<String, (String, bool)>;
/// index name → (table, unique, columns in order).
type Indexes = BTreeMap<String, (String, bool, Vec<String>)>;

/// The type as sqlx's `Any` driver sees it: the families both stores share.
fn family(declared: &str) -> String {
    let t = declared.trim().to_ascii_lowercase();
    match t.as_str() {
        "integer" | "bigint" | "int8" => "bigint".into(),
        "text" | "character varying" | "varchar" => "text".into(),
        "double precision" | "real" | "float8" => "double".into(),
        "boolean" | "bool" => "boolean".into(),
        "blob" | "bytea" => "bytes".into(),
        other => other.into(),
    }
}

async fn sqlite_schema(pool: &sqlx::AnyPool) -> (Columns, Indexes) {
    let mut columns = Columns::new();
    let rows = sqlx::query(
        "SELECT m.name AS t, p.name AS c, p.type AS ty, p.\"notnull\" AS nn, p.pk AS pk \
         FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for row in rows {
        let (t, c, ty): (String, String, String) = (row.get("t"), row.get("c"), row.get("ty"));
        // A primary key column is NOT NULL on PostgreSQL whatever it declares.
        let nullable = row.get::<i64, _>("nn") == 0 && row.get::<i64, _>("pk") == 0;
        columns.insert(format!("{t}.{c}"), (family(&ty), nullable));
    }
    let mut indexes = Indexes::new();
    let rows = sqlx::query(
        "SELECT m.name AS i, m.tbl_name AS t, l.\"unique\" AS u \
         FROM sqlite_master m, pragma_index_list(m.tbl_name) l \
         WHERE m.type = 'index' AND m.sql IS NOT NULL AND l.name = m.name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for row in rows {
        let name: String = row.get("i");
        let cols = sqlx::query("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
            .bind(&name)
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>("name").unwrap_or_else(|_| "(expression)".into()))
            .collect();
        indexes.insert(name, (row.get("t"), row.get::<i64, _>("u") != 0, cols));
    }
    (columns, indexes)
}

async fn postgres_schema(pool: &sqlx::AnyPool) -> (Columns, Indexes) {
    let mut columns = Columns::new();
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, \
                is_nullable::text AS n \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for row in rows {
        let (t, c, ty, n): (String, String, String, String) =
            (row.get("t"), row.get("c"), row.get("ty"), row.get("n"));
        columns.insert(format!("{t}.{c}"), (family(&ty), n == "YES"));
    }
    let mut indexes = Indexes::new();
    // Explicit indexes only: those behind PRIMARY KEY and UNIQUE constraints are the tables'
    // own (SQLite's autoindexes, left out above).
    let rows = sqlx::query(
        "SELECT i.relname::text AS i, t.relname::text AS t, x.indisunique AS u, \
                COALESCE((SELECT string_agg(COALESCE(a.attname::text, '(expression)'), ',' \
                                            ORDER BY k.n) \
                          FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                          LEFT JOIN pg_attribute a \
                            ON a.attrelid = t.oid AND a.attnum = k.attnum), '') AS cols \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace s ON s.oid = t.relnamespace \
         WHERE s.nspname = current_schema() AND t.relname NOT LIKE '\\_sqlx%' \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for row in rows {
        let cols: String = row.get("cols");
        let unique: bool = row.get("u");
        indexes.insert(
            row.get("i"),
            (row.get("t"), unique, cols.split(',').map(str::to_string).collect()),
        );
    }
    (columns, indexes)
}

fn migration_names(engine: &str) -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/");
    std::fs::read_dir(format!("{dir}{engine}"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn migrations_come_in_pairs() {
    let (sqlite, postgres) = (migration_names("sqlite"), migration_names("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres, "every migration has a twin with the same number and name");
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_stay_in_step() {
    let sqlite = testing::sqlite().await;
    let postgres = testing::postgres().await;
    let (lite_columns, mut lite_indexes) = sqlite_schema(sqlite.pool()).await;
    let (pg_columns, mut pg_indexes) = postgres_schema(postgres.store.pool()).await;
    postgres.drop().await;

    assert!(lite_columns.contains_key("services.name"), "read the SQLite schema: {lite_columns:?}");
    let differ: Vec<String> = lite_columns
        .keys()
        .chain(pg_columns.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| lite_columns.get(*k) != pg_columns.get(*k))
        .map(|k| format!("{k}: sqlite {:?}, postgres {:?}", lite_columns.get(k), pg_columns.get(k)))
        .collect();
    assert!(differ.is_empty(), "columns differ:\n{}", differ.join("\n"));

    for name in ONLY_POSTGRES {
        assert!(pg_indexes.remove(*name).is_some(), "{name} is no longer on PostgreSQL");
    }
    for name in ONLY_SQLITE {
        assert!(lite_indexes.remove(*name).is_some(), "{name} is no longer on SQLite");
    }
    assert_eq!(lite_indexes, pg_indexes, "indexes differ (sqlite left, postgres right)");
}
