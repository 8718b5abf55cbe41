//! The query guard against real replicas (PostgreSQL and MariaDB on 127.0.0.1, SQLite files),
//! each reached with a role that CAN write, so every layer is proven by itself: what the parser
//! lets through, the database still refuses; and the data never changes.

use console_core::catalog::Tier;
use console_core::query::replicas;
use console_core::query::run::{run, run_checked, Limits, RunError, MASK};
use console_core::query::{Engine, Replica};
use console_core::store::testing;
use sqlx::{Connection, Executor};
use std::time::Duration;

fn limits() -> Limits {
    Limits {
        statement_timeout: Duration::from_millis(1500),
        row_cap: 100,
        masks: vec!["*password*".into(), "email".into()],
        allowed_schemas: vec![],
        connect_timeout: Duration::from_secs(3),
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

const SETUP_ROWS: &str = "INSERT INTO users (id, name, email, password_hash) VALUES
    (1, 'maria', 'maria@example.com', 'x1'), (2, 'joao', 'joao@example.com', 'x2'), (3, 'lena', NULL, 'x3')";

/// A replica with a users table and a function that writes; returns its URL.
async fn postgres_replica() -> String {
    let admin_url = std::env::var("CONSOLE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = unique("replica");
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    conn.execute("CREATE TABLE users (id int PRIMARY KEY, name text, email text, password_hash text)").await.unwrap();
    conn.execute(SETUP_ROWS).await.unwrap();
    conn.execute("CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql VOLATILE AS $$ DELETE FROM users RETURNING 1 $$").await.unwrap();
    conn.execute("CREATE SEQUENCE counter").await.unwrap();
    url
}

async fn mariadb_replica() -> String {
    let name = unique("replica");
    let mut admin = sqlx::MySqlConnection::connect("mysql://root@127.0.0.1:3306/test").await.unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let url = format!("mysql://root@127.0.0.1:3306/{name}");
    let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
    conn.execute("CREATE TABLE users (id int PRIMARY KEY, name text, email text, password_hash text)").await.unwrap();
    conn.execute(SETUP_ROWS).await.unwrap();
    sqlx::raw_sql("CREATE FUNCTION sneaky() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM users; RETURN 1; END")
        .execute(&mut conn)
        .await
        .unwrap();
    url
}

async fn sqlite_replica(dir: &std::path::Path) -> String {
    let path = dir.join("replica.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    conn.execute("CREATE TABLE users (id int PRIMARY KEY, name text, email text, password_hash text)").await.unwrap();
    conn.execute(SETUP_ROWS).await.unwrap();
    conn.close().await.unwrap();
    format!("sqlite://{}", path.display())
}

/// The whole users table as text: the checksum that must never change.
async fn snapshot(engine: Engine, url: &str) -> String {
    let generous = Limits { row_cap: 10_000, masks: vec![], ..limits() };
    let result = run_checked(engine, url, "SELECT id, name, email, password_hash FROM users ORDER BY id", &generous).await.unwrap();
    format!("{:?}", result.rows)
}

/// Attempts to write, lock, leak or exhaust; each must be refused by some layer.
const ATTEMPTS: &[&str] = &[
    // Writes in every spelling.
    "delete from users",
    "DELETE FROM users WHERE id = 1 RETURNING *",
    "DeLeTe FrOm users",
    "  DELETE\n\tFROM users",
    "UPDATE users SET email = NULL WHERE true",
    "INSERT INTO users SELECT * FROM users",
    "INSERT INTO users (id, name) VALUES (10, 'x') ON CONFLICT DO NOTHING",
    "REPLACE INTO users (id) VALUES (1)",
    "MERGE INTO users u USING users v ON u.id = v.id WHEN MATCHED THEN DELETE",
    "UPSERT INTO users (id) VALUES (1)",
    "ALTER TABLE users ADD COLUMN pwned int",
    "ALTER TABLE users RENAME TO gone",
    "DROP TABLE IF EXISTS users",
    "DROP DATABASE test",
    "CREATE INDEX i ON users (name)",
    "CREATE VIEW v AS SELECT * FROM users",
    "CREATE TEMP TABLE t AS SELECT * FROM users",
    "CREATE TABLE copy AS SELECT * FROM users",
    "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql",
    "CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION f()",
    "CREATE ROLE attacker",
    "CREATE EXTENSION dblink",
    "COMMENT ON TABLE users IS 'owned'",
    "GRANT SELECT ON users TO PUBLIC",
    "REVOKE ALL ON users FROM PUBLIC",
    "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
    "LOCK TABLES users WRITE",
    "REINDEX TABLE users",
    "CLUSTER users",
    "ANALYZE users",
    "VACUUM FULL users",
    "REFRESH MATERIALIZED VIEW v",
    "DISCARD ALL",
    "RESET ALL",
    "LISTEN channel",
    "NOTIFY channel, 'x'",
    "LOAD 'plpgsql'",
    "CHECKPOINT",
    "SELECT 1 FROM users FOR NO KEY UPDATE",
    "SELECT 1 FROM users FOR KEY SHARE",
    "SELECT * FROM users LOCK IN SHARE MODE",
    // Several statements and transaction tricks.
    "SELECT 1;SELECT 2",
    "SELECT 1; COMMIT; DELETE FROM users",
    "ROLLBACK; DELETE FROM users",
    "END; DELETE FROM users",
    "BEGIN READ WRITE",
    "START TRANSACTION READ WRITE",
    "SAVEPOINT s",
    "RELEASE SAVEPOINT s",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET default_transaction_read_only = off",
    "SET statement_timeout = 0",
    "SET SESSION max_statement_time = 0",
    "SET GLOBAL read_only = 0",
    "SET @x = 1",
    "SELECT 1 -- ; DELETE FROM users\n; DELETE FROM users",
    "/* hi */ DELETE FROM users",
    "SELECT 1 /* ; */ ; DELETE FROM users",
    // Data-modifying parts hidden inside a read.
    "WITH a AS (SELECT 1), b AS (DELETE FROM users RETURNING id) SELECT * FROM a",
    "WITH RECURSIVE x AS (UPDATE users SET name = 'y' RETURNING id) SELECT count(*) FROM x",
    "SELECT * FROM (DELETE FROM users RETURNING *) AS t",
    "EXPLAIN ANALYZE DELETE FROM users",
    "EXPLAIN (ANALYZE) SELECT sneaky()",
    "EXPLAIN UPDATE users SET name = 'x'",
    "CREATE TABLE stolen AS SELECT password_hash FROM users",
    "SELECT password_hash INTO TEMP stolen FROM users",
    "SELECT * INTO OUTFILE '/tmp/out' FROM users",
    "SELECT * FROM users INTO DUMPFILE '/tmp/out'",
    "SELECT 1 INTO @leak",
    "TABLE users; DELETE FROM users",
    // Prepared statements, procedures and blocks.
    "PREPARE p AS DELETE FROM users",
    "PREPARE p FROM 'DELETE FROM users'",
    "EXECUTE p",
    "DEALLOCATE p",
    "DO $$ BEGIN DELETE FROM users; END $$",
    "DO 'BEGIN DELETE FROM users; END'",
    "CALL sneaky()",
    "HANDLER users OPEN",
    // Files, network and side channels.
    "COPY users TO STDOUT",
    "COPY users FROM '/etc/passwd'",
    "COPY (SELECT * FROM users) TO PROGRAM 'cat > /tmp/x'",
    "LOAD DATA INFILE '/etc/passwd' INTO TABLE users",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT * FROM pg_stat_file('/etc/passwd')",
    "SELECT lo_export(1, '/tmp/x')",
    "SELECT dblink_exec('dbname=test', 'DELETE FROM users')",
    "SELECT pg_catalog.pg_sleep(30)",
    "SELECT pg_sleep_for('30 seconds')",
    "SELECT pg_advisory_xact_lock(42)",
    "SELECT pg_try_advisory_lock(42)",
    "SELECT pg_notify('c', 'x')",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT pg_cancel_backend(1)",
    "SELECT pg_reload_conf()",
    "SELECT pg_rotate_logfile()",
    "SELECT txid_current()",
    "SELECT set_config('role', 'postgres', false)",
    "SELECT setval('counter', 100)",
    "SELECT * FROM users WHERE id = (SELECT nextval('counter'))",
    "SELECT query_to_xml('select 1', true, false, '')",
    "SELECT LOAD_FILE('/etc/hosts')",
    "SELECT BENCHMARK(1000000000, SHA1('x'))",
    "SELECT RELEASE_ALL_LOCKS()",
    "SELECT IS_FREE_LOCK('x')",
    "SELECT MASTER_POS_WAIT('log', 4)",
    "SELECT 1 /*!99999 , SLEEP(30) */",
    "SELECT 1 /*M!100000 , SLEEP(30) */",
    "SELECT load_extension('x')",
    "SELECT readfile('/etc/passwd')",
    "VACUUM INTO '/tmp/copy.db'",
    "DETACH DATABASE main",
    "REINDEX",
    "DELETE FROM users",
    "UPDATE users SET name = 'x'",
    "INSERT INTO users (id) VALUES (9)",
    "DROP TABLE users",
    "TRUNCATE users",
    "SELECT 1; DELETE FROM users",
    "WITH gone AS (DELETE FROM users RETURNING *) SELECT * FROM gone",
    "SELECT * INTO stolen FROM users",
    "SELECT * FROM users FOR UPDATE",
    "COMMIT",
    "SET TRANSACTION READ WRITE",
    "CREATE TABLE t (a int)",
    "SELECT 1 /*! ; DELETE FROM users */",
    "SELECT * FROM users INTO OUTFILE '/tmp/leak'",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT nextval('counter')",
    "SELECT pg_sleep(30)",
    "SELECT SLEEP(30)",
    "ATTACH DATABASE '/tmp/x.db' AS x",
    "PRAGMA query_only = OFF",
];

async fn prove(engine: Engine, url: &str) {
    let before = snapshot(engine, url).await;

    // Reads work, masked and capped.
    let read = run(engine, url, "SELECT id, name, email, password_hash FROM users ORDER BY id", &limits()).await.unwrap();
    assert_eq!(read.columns, ["id", "name", "email", "password_hash"]);
    assert_eq!(read.rows[0][1].as_deref(), Some("maria"));
    assert_eq!(read.rows[0][2].as_deref(), Some(MASK), "email must be masked");
    assert_eq!(read.rows[2][2], None, "a NULL stays NULL, masked or not");
    assert_eq!(read.rows[1][3].as_deref(), Some(MASK));

    // Through the console's own path: guarded, run, and audited in a console store.
    let store = testing::sqlite().await;
    let replica = Replica {
        id: "target".into(),
        service: "svc".into(),
        name: "target".into(),
        engine,
        url: url.to_string(),
        credential_env: String::new(),
        credential_file: String::new(),
        statement_timeout_ms: Some(1_500),
        row_cap: Some(100),
        masks: None,
        allowed_schemas: vec![],
    };
    let mut refused = 0;
    for attempt in ATTEMPTS {
        // Only MySQL and MariaDB execute /*! … */; elsewhere it is an inert comment on a read.
        if (attempt.contains("/*!") || attempt.contains("/*M!")) && engine != Engine::Mysql {
            continue;
        }
        let outcome = replicas::query(&store, "attacker", &replica, Tier::new(1).unwrap(), attempt).await.unwrap();
        assert!(outcome.is_err(), "{engine:?}: {attempt:?} was allowed: {outcome:?}");
        assert_eq!(snapshot(engine, url).await, before, "{engine:?}: {attempt:?} changed the data");
        refused += 1;
    }
    assert!(refused >= 100, "{engine:?}: only {refused} attempts");
    let audit = replicas::audit_log(&store, Some("attacker"), 1_000).await.unwrap();
    assert_eq!(audit.len(), refused, "every attempt is audited");
    assert!(audit.iter().all(|e| e.outcome != "allowed" && !e.reason.is_empty()));
    // Layer 2 alone: the parser lets a writing function through; the database refuses it.
    let sneaky = if engine == Engine::Sqlite { "DELETE FROM users" } else { "SELECT sneaky()" };
    match run_checked(engine, url, sneaky, &limits()).await {
        Err(RunError::Database(message)) => assert!(
            message.contains("read-only") || message.contains("READ ONLY") || message.contains("readonly") || message.contains("query_only"),
            "{engine:?}: {message}"
        ),
        other => panic!("{engine:?}: a writing statement got past the read-only transaction: {other:?}"),
    }
    assert_eq!(snapshot(engine, url).await, before, "{engine:?}: the replica's data changed");
}

#[tokio::test]
async fn postgres_replica_is_never_written() {
    let url = postgres_replica().await;
    prove(Engine::Postgres, &url).await;
    // Layer 3: a huge series stops at the cap.
    let big = run(Engine::Postgres, &url, "SELECT g FROM generate_series(1, 1000000) g", &limits()).await.unwrap();
    assert_eq!(big.rows.len(), 100);
    assert!(big.truncated);
    // The statement timeout cancels a long query, with the time in the message.
    let slow = run(Engine::Postgres, &url, "SELECT count(*) FROM generate_series(1, 2000000000)", &limits()).await;
    match slow {
        Err(e @ RunError::Timeout(_)) => assert_eq!(e.to_string(), "cancelled after 1.5 s (statement timeout)"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn mariadb_replica_is_never_written() {
    let url = mariadb_replica().await;
    prove(Engine::Mysql, &url).await;
    let big = run(
        Engine::Mysql,
        &url,
        "WITH RECURSIVE n AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM n WHERE i < 5000) SELECT i FROM n",
        &limits(),
    )
    .await
    .unwrap();
    assert_eq!((big.rows.len(), big.truncated), (100, true));
}

#[tokio::test]
async fn sqlite_replica_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_replica(dir.path()).await;
    prove(Engine::Sqlite, &url).await;
    // SQLite has no statement timeout of its own: the progress handler stops an endless query.
    let started = std::time::Instant::now();
    let endless = run(Engine::Sqlite, &url, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", &limits()).await;
    assert_eq!(endless.unwrap_err().to_string(), "cancelled after 1.5 s (statement timeout)");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_replica_that_is_down_is_a_clear_error_within_the_connect_timeout() {
    let started = std::time::Instant::now();
    let down = run(Engine::Postgres, "postgres://postgres@127.0.0.1:9/none", "SELECT 1", &limits()).await;
    assert!(matches!(down, Err(RunError::Unreachable(_))), "{down:?}");
    let down = run(Engine::Mysql, "mysql://root@127.0.0.1:9/none", "SELECT 1", &limits()).await;
    assert!(matches!(down, Err(RunError::Unreachable(_))), "{down:?}");
    assert!(started.elapsed() < Duration::from_secs(7));
}

#[tokio::test]
async fn registration_warns_when_the_credential_can_write() {
    let replica = |engine, url: String| Replica {
        id: "r".into(), service: "s".into(), name: "r".into(), engine, url,
        credential_env: String::new(), credential_file: String::new(), statement_timeout_ms: None, row_cap: None, masks: None, allowed_schemas: vec![],
    };
    let pg = replicas::check_credential(&replica(Engine::Postgres, postgres_replica().await)).await.unwrap();
    assert!(pg.unwrap().contains("can write"));
    let my = replicas::check_credential(&replica(Engine::Mysql, mariadb_replica().await)).await.unwrap();
    assert!(my.unwrap().contains("allow writes"));
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(replicas::check_credential(&replica(Engine::Sqlite, sqlite_replica(dir.path()).await)).await.unwrap(), None);
}
