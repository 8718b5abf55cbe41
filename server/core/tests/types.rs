//! Every common column type comes back readable, by one rule per engine (docs/repl-types.md):
//! one row holding each type, on real PostgreSQL, MariaDB and SQLite.

use console_core::query::limits::Limits;
use console_core::query::run::run;
use console_core::query::Engine;
use console_core::store::testing::ScratchDb;
use sqlx::{Connection, Executor};
use std::time::Duration;

fn limits() -> Limits {
    Limits {
        statement_timeout: Duration::from_secs(5),
        row_cap: 10,
        masks: vec![],
        allowed_schemas: vec![],
        connect_timeout: Duration::from_secs(3),
        extra_functions: vec![],
    }
}

/// Runs `SELECT * FROM t` and pairs each column with its cell.
async fn cells(engine: Engine, url: &str) -> Vec<(String, Option<String>)> {
    let result = run(engine, url, "SELECT * FROM t", &limits()).await.unwrap();
    result.columns.into_iter().zip(result.rows.into_iter().next().unwrap()).collect()
}

fn expect(cells: &[(String, Option<String>)], wanted: &[(&str, Option<&str>)]) {
    for (column, value) in wanted {
        let got = cells
            .iter()
            .find(|(c, _)| c == column)
            .unwrap_or_else(|| panic!("no column {column}"))
            .1
            .as_deref();
        assert_eq!(got, *value, "column {column}");
    }
}

#[tokio::test]
async fn postgres_types_render_by_the_rule() {
    let db = ScratchDb::postgres("types").await;
    let (name, url) = (&db.name, &db.url);
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    // A replica whose server speaks another time zone: the run pins UTC.
    conn.execute(format!("ALTER DATABASE {name} SET timezone = 'America/Sao_Paulo'").as_str())
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TYPE mood AS ENUM ('ok', 'sad');
         CREATE TYPE pair AS (a int, b text);
         CREATE TABLE t (jb jsonb, js json, tz timestamptz, ts timestamp, d date, tm time, iv interval, amount numeric(30, 10),
                         id uuid, tags text[], ip inet, net cidr, raw bytea, m mood, p pair, big float8, small real, n int8, txt text, nothing text);
         INSERT INTO t VALUES ('{\"b\": [1, 2], \"a\": \"x\"}', '{\"k\": 1}', '2026-12-02 10:30:00+01', '2026-12-02 10:30:00', '2026-12-02',
                               '10:30:05', '1 day 02:03:04', 12345678901234567890.0123456789, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                               ARRAY['a', 'b c'], '10.1.2.3', '10.1.0.0/16', '\\x0102ff', 'sad', ROW(1, 'x'), 1e300, 0.1, 9007199254740993,
                               'NULL', NULL)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let got = cells(Engine::Postgres, url).await;
    expect(
        &got,
        &[
            ("jb", Some(r#"{"a": "x", "b": [1, 2]}"#)),
            ("js", Some(r#"{"k": 1}"#)),
            ("tz", Some("2026-12-02T09:30:00Z")),
            ("ts", Some("2026-12-02 10:30:00")),
            ("d", Some("2026-12-02")),
            ("tm", Some("10:30:05")),
            ("iv", Some("1 day 02:03:04")),
            ("amount", Some("12345678901234567890.0123456789")),
            ("id", Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
            ("tags", Some(r#"{a,"b c"}"#)),
            ("ip", Some("10.1.2.3")),
            ("net", Some("10.1.0.0/16")),
            ("raw", Some("\\x0102ff")),
            ("m", Some("sad")),
            ("p", Some("(1,x)")),
            ("big", Some("1e+300")),
            ("small", Some("0.1")),
            ("n", Some("9007199254740993")),
            ("txt", Some("NULL")),
            ("nothing", None),
        ],
    );
}

#[tokio::test]
async fn mariadb_types_render_by_the_rule() {
    let db = ScratchDb::mariadb("types").await;
    let url = &db.url;
    let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
    conn.execute("SET time_zone = '+05:00'").await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (dt DATETIME, ts TIMESTAMP NULL, d DATE, tm TIME, amount DECIMAL(30, 10), flags BIT(8), doc JSON,
                         raw BLOB, bin VARBINARY(8), u BIGINT UNSIGNED, big DOUBLE, small FLOAT, txt VARCHAR(10), nothing TEXT);
         INSERT INTO t VALUES ('2026-12-02 10:30:00', '2026-12-02 10:30:00', '2026-12-02', '10:30:05', 12345678901234567890.0123456789,
                               b'00000101', '{\"a\": 1}', x'0102FF', x'00FF', 18446744073709551615, 1e300, 0.5, 'NULL', NULL)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let got = cells(Engine::Mysql, url).await;
    expect(
        &got,
        &[
            ("dt", Some("2026-12-02 10:30:00")),
            // Stored from +05:00: 05:30 UTC.
            ("ts", Some("2026-12-02T05:30:00Z")),
            ("d", Some("2026-12-02")),
            ("tm", Some("10:30:05")),
            ("amount", Some("12345678901234567890.0123456789")),
            ("flags", Some("5")),
            ("doc", Some(r#"{"a": 1}"#)),
            ("raw", Some("0102FF")),
            ("bin", Some("00FF")),
            ("u", Some("18446744073709551615")),
            ("big", Some("1e300")),
            ("small", Some("0.5")),
            ("txt", Some("NULL")),
            ("nothing", None),
        ],
    );
}

#[tokio::test]
async fn sqlite_storage_classes_render_by_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("types.db");
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (i INTEGER, r REAL, big REAL, s TEXT, b BLOB, txt TEXT, empty TEXT);
         INSERT INTO t VALUES (9007199254740993, 0.1, 1e300, 'é', x'0102ff', 'NULL', NULL)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let got = cells(Engine::Sqlite, &format!("sqlite://{}", path.display())).await;
    expect(
        &got,
        &[
            ("i", Some("9007199254740993")),
            ("r", Some("0.1")),
            ("big", Some("1e300")),
            ("s", Some("é")),
            ("b", Some("\\x0102ff")),
            ("txt", Some("NULL")),
            ("empty", None),
        ],
    );
}
