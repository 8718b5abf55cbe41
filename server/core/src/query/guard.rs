//! Layer 1 of the query guard: one statement, of a read-only kind, with no locking clause, no
//! `SELECT INTO`, no data-modifying part, and no function from the engine's deny list. Anything
//! the parser cannot read is refused too. Every refusal names its reason.
//!
//! This layer is not trusted alone: the replica also runs each query in a READ ONLY transaction
//! that is always rolled back (layer 2), so a writing user-defined function still fails there.

use super::Engine;
use sqlparser::ast::{Expr, ObjectName, Query, Select, Statement, Visit, Visitor};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// Longest SQL text accepted, in bytes.
pub const MAX_SQL_BYTES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refusal(pub String);

/// What kind of read the statement is, for the audit record and the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    Select,
    Explain,
    Show,
    Describe,
}

/// Function name prefixes no query may call, per engine (compared lower-case, on the last part
/// of a qualified name).
fn denied_functions(engine: Engine) -> &'static [&'static str] {
    match engine {
        Engine::Postgres => &[
            "dblink", "lo_", "pg_read_file", "pg_read_binary_file", "pg_ls_", "pg_stat_file", "pg_file_",
            "set_config", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_advisory",
            "pg_try_advisory", "nextval", "setval", "pg_sleep", "pg_logical_", "pg_replication_",
            "pg_create_", "pg_drop_", "pg_switch_wal", "pg_rotate_logfile", "pg_promote", "pg_import_system",
            "query_to_xml", "cursor_to_xml", "pg_stat_reset", "pg_notify", "txid_current", "pg_current_xact_id",
        ],
        Engine::Mysql => &[
            "load_file", "sleep", "benchmark", "get_lock", "release_lock", "release_all_locks", "is_free_lock",
            "is_used_lock", "master_pos_wait", "source_pos_wait", "sys_exec", "sys_eval", "uuid_short",
        ],
        Engine::Sqlite => &["load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"],
    }
}

fn dialect(engine: Engine) -> Box<dyn Dialect> {
    match engine {
        Engine::Postgres => Box::new(PostgreSqlDialect {}),
        Engine::Mysql => Box::new(MySqlDialect {}),
        Engine::Sqlite => Box::new(SQLiteDialect {}),
    }
}

/// Checks `sql` for `engine`; on success says what kind of read it is.
pub fn check(sql: &str, engine: Engine) -> Result<ReadKind, Refusal> {
    check_schemas(sql, engine, &[])
}

/// [`check`], also refusing tables qualified with a schema outside `allowed` (empty: any).
pub fn check_schemas(sql: &str, engine: Engine, allowed: &[String]) -> Result<ReadKind, Refusal> {
    let refuse = |why: String| Err(Refusal(why));
    if sql.trim().is_empty() {
        return refuse("the query is empty".into());
    }
    if sql.len() > MAX_SQL_BYTES {
        return refuse(format!("the query is longer than {MAX_SQL_BYTES} bytes"));
    }
    // MySQL runs the text of /*! … */ comments; the parser would skip it as a comment.
    if engine == Engine::Mysql && (sql.contains("/*!") || sql.contains("/*M!")) {
        return refuse("MySQL executable comments (/*! … */) are not allowed".into());
    }
    let statements = match Parser::parse_sql(dialect(engine).as_ref(), sql) {
        Ok(s) => s,
        Err(e) => return refuse(format!("the query could not be parsed, so it cannot be checked: {e}")),
    };
    let statement = match statements.as_slice() {
        [one] => one,
        [] => return refuse("the query is empty".into()),
        _ => return refuse(format!("exactly one statement may run, not {}", statements.len())),
    };
    let kind = match statement {
        Statement::Query(_) => ReadKind::Select,
        Statement::Explain { analyze: true, .. } => {
            return refuse("EXPLAIN ANALYZE executes the statement; run EXPLAIN without ANALYZE".into())
        }
        Statement::Explain { statement, .. } if matches!(**statement, Statement::Query(_)) => ReadKind::Explain,
        Statement::Explain { .. } => return refuse("only queries can be explained".into()),
        Statement::ExplainTable { .. } => ReadKind::Describe,
        Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowVariable { .. } => ReadKind::Show,
        other => return refuse(format!("only read-only statements (SELECT, WITH, VALUES, EXPLAIN, SHOW, DESCRIBE) may run, not {}", kind_of(other))),
    };
    let mut inspector = Inspector { denied: denied_functions(engine), allowed_schemas: allowed };
    if let ControlFlow::Break(why) = statement.visit(&mut inspector) {
        return refuse(why);
    }
    Ok(kind)
}

/// The statement's leading keywords, for the refusal message.
fn kind_of(statement: &Statement) -> String {
    let text = statement.to_string();
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ").to_uppercase()
}

/// Walks the whole statement: nested statements, queries, selects, expressions, relations.
struct Inspector<'a> {
    denied: &'static [&'static str],
    allowed_schemas: &'a [String],
}

impl Inspector<'_> {
    fn check_name(&self, name: &ObjectName, what: &str) -> ControlFlow<String> {
        let last = name.0.last().map(|p| p.to_string()).unwrap_or_default();
        let last = last.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']').to_lowercase();
        match self.denied.iter().find(|d| last.starts_with(**d)) {
            Some(_) => ControlFlow::Break(format!("the {what} {last} is not allowed here")),
            None => ControlFlow::Continue(()),
        }
    }
}

impl Visitor for Inspector<'_> {
    type Break = String;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        match statement {
            Statement::Query(_)
            | Statement::Explain { .. }
            | Statement::ExplainTable { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowVariable { .. } => ControlFlow::Continue(()),
            other => ControlFlow::Break(format!("a data-modifying part ({}) is not allowed, even inside WITH", kind_of(other))),
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<String> {
        if !query.locks.is_empty() {
            return ControlFlow::Break("locking clauses (FOR UPDATE / FOR SHARE) are not allowed".into());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<String> {
        if select.into.is_some() {
            return ControlFlow::Break("SELECT INTO creates a table and is not allowed".into());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<String> {
        match expr {
            Expr::Function(f) => self.check_name(&f.name, "function"),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<String> {
        // Table functions in FROM (`FROM dblink(…)`) arrive as relations.
        self.check_name(relation, "function")?;
        if relation.0.len() >= 2 && !self.allowed_schemas.is_empty() {
            let schema = relation.0[relation.0.len() - 2].to_string();
            let schema = schema.trim_matches(|c| c == '"' || c == '`').to_lowercase();
            if !self.allowed_schemas.iter().any(|a| a.to_lowercase() == schema) {
                return ControlFlow::Break(format!("schema {schema} is not among this replica's allowed schemas ({})", self.allowed_schemas.join(", ")));
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Engine::*;

    #[test]
    fn reads_pass() {
        for (sql, engine) in [
            ("SELECT id, name FROM users WHERE id = 1", Postgres),
            ("select 1", Sqlite),
            ("WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') SELECT count(*) FROM recent", Postgres),
            ("VALUES (1, 'a'), (2, 'b')", Postgres),
            ("EXPLAIN SELECT * FROM orders", Postgres),
            ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1 LIMIT 10", Mysql),
            ("SHOW TABLES", Mysql),
            ("DESCRIBE orders", Mysql),
            ("SELECT lower(email) AS e, count(*) FROM users GROUP BY 1 HAVING count(*) > 1", Sqlite),
            ("SELECT 'DROP TABLE users; --' AS text", Postgres),
            ("SELECT \"delete\" FROM \"update\"", Postgres),
        ] {
            assert!(check(sql, engine).is_ok(), "{sql}: {:?}", check(sql, engine));
        }
    }

    #[test]
    fn writes_locks_and_tricks_are_refused_with_a_reason() {
        let cases: &[(&str, Engine, &str)] = &[
            ("", Postgres, "empty"),
            ("   \n ", Sqlite, "empty"),
            ("DELETE FROM users", Postgres, "not DELETE FROM"),
            ("UPDATE users SET admin = true", Postgres, "not UPDATE"),
            ("INSERT INTO t VALUES (1)", Sqlite, "not INSERT INTO"),
            ("DROP TABLE users", Mysql, "not DROP TABLE"),
            ("TRUNCATE users", Postgres, "not TRUNCATE"),
            ("SELECT 1; DELETE FROM users", Postgres, "exactly one statement"),
            ("SELECT 1; SELECT 2", Sqlite, "exactly one statement"),
            ("WITH gone AS (DELETE FROM users RETURNING *) SELECT * FROM gone", Postgres, "data-modifying"),
            ("WITH x AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM x", Postgres, "data-modifying"),
            ("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x", Postgres, "data-modifying"),
            ("SELECT * INTO copy FROM users", Postgres, "SELECT INTO"),
            ("SELECT * FROM users FOR UPDATE", Postgres, "locking"),
            ("SELECT * FROM users FOR SHARE", Postgres, "locking"),
            ("SELECT * FROM users FOR UPDATE NOWAIT", Mysql, "locking"),
            ("COPY users TO '/tmp/x'", Postgres, "not COPY"),
            ("DO $$ BEGIN DELETE FROM users; END $$", Postgres, ""),
            ("PREPARE p AS DELETE FROM users", Postgres, "not PREPARE"),
            ("EXECUTE p", Postgres, "not EXECUTE"),
            ("SET TRANSACTION READ WRITE", Postgres, "not SET"),
            ("SET search_path = evil", Postgres, "not SET"),
            ("COMMIT", Postgres, "not COMMIT"),
            ("BEGIN", Postgres, "not BEGIN"),
            ("ROLLBACK", Mysql, "not ROLLBACK"),
            ("GRANT ALL ON users TO public", Postgres, "not GRANT"),
            ("CREATE TABLE t (a int)", Sqlite, "not CREATE TABLE"),
            ("ALTER TABLE t ADD COLUMN b int", Postgres, "not ALTER TABLE"),
            ("VACUUM", Postgres, ""),
            ("CALL do_things()", Postgres, "not CALL"),
            ("ATTACH DATABASE '/tmp/x.db' AS x", Sqlite, ""),
            ("PRAGMA writable_schema = 1", Sqlite, ""),
            ("EXPLAIN ANALYZE SELECT * FROM users", Postgres, "EXPLAIN ANALYZE"),
            ("EXPLAIN DELETE FROM users", Postgres, "only queries"),
            ("SELECT set_config('transaction_read_only', 'off', true)", Postgres, "set_config"),
            ("SELECT pg_catalog.set_config('a', 'b', false)", Postgres, "set_config"),
            ("SELECT pg_read_file('/etc/passwd')", Postgres, "pg_read_file"),
            ("SELECT * FROM pg_ls_dir('.')", Postgres, "pg_ls_dir"),
            ("SELECT * FROM dblink('host=x', 'DELETE FROM users') AS t(a int)", Postgres, "dblink"),
            ("SELECT lo_import('/etc/passwd')", Postgres, "lo_import"),
            ("SELECT pg_terminate_backend(123)", Postgres, "pg_terminate_backend"),
            ("SELECT pg_cancel_backend(123)", Postgres, "pg_cancel_backend"),
            ("SELECT pg_reload_conf()", Postgres, "pg_reload_conf"),
            ("SELECT pg_advisory_lock(1)", Postgres, "pg_advisory_lock"),
            ("SELECT nextval('users_id_seq')", Postgres, "nextval"),
            ("SELECT setval('users_id_seq', 1)", Postgres, "setval"),
            ("SELECT pg_sleep(600)", Postgres, "pg_sleep"),
            ("SELECT \"PG_SLEEP\"(600)", Postgres, "pg_sleep"),
            ("SELECT query_to_xml('DELETE FROM users RETURNING 1', true, true, '')", Postgres, "query_to_xml"),
            ("SELECT (SELECT pg_sleep(10))", Postgres, "pg_sleep"),
            ("SELECT * FROM users WHERE id IN (SELECT nextval('s'))", Postgres, "nextval"),
            ("SELECT LOAD_FILE('/etc/passwd')", Mysql, "load_file"),
            ("SELECT SLEEP(100)", Mysql, "sleep"),
            ("SELECT BENCHMARK(100000000, MD5('a'))", Mysql, "benchmark"),
            ("SELECT GET_LOCK('a', 10)", Mysql, "get_lock"),
            ("SELECT 1 /*! ; DROP TABLE users */", Mysql, "executable comments"),
            ("SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */", Mysql, "executable comments"),
            ("SELECT * FROM users INTO OUTFILE '/tmp/x'", Mysql, ""),
            ("SELECT load_extension('/tmp/evil.so')", Sqlite, "load_extension"),
            ("SELECT writefile('/tmp/x', 'data')", Sqlite, "writefile"),
            ("SELECT * FROM users WHERE", Postgres, "could not be parsed"),
            ("SELEC 1", Postgres, "could not be parsed"),
        ];
        for (sql, engine, reason) in cases {
            match check(sql, *engine) {
                Ok(kind) => panic!("{sql:?} ({engine:?}) passed as {kind:?}"),
                Err(Refusal(why)) => assert!(why.contains(reason), "{sql:?}: {why}"),
            }
        }
        let huge = format!("SELECT 1 {}", " ".repeat(MAX_SQL_BYTES));
        assert!(check(&huge, Postgres).unwrap_err().0.contains("longer than"));
    }

    #[test]
    fn schemas_outside_the_allowed_list_are_refused() {
        let allowed = vec!["public".to_string()];
        assert!(check_schemas("SELECT * FROM public.orders", Postgres, &allowed).is_ok());
        assert!(check_schemas("SELECT * FROM orders", Postgres, &allowed).is_ok());
        let refused = check_schemas("SELECT * FROM billing.cards", Postgres, &allowed).unwrap_err();
        assert!(refused.0.contains("schema billing is not among"), "{}", refused.0);
        assert!(check_schemas("SELECT * FROM \"Billing\".cards", Postgres, &allowed).is_err());
        assert!(check_schemas("SELECT * FROM other_db.users", Mysql, &["shop".to_string()]).is_err());
        assert!(check_schemas("SELECT * FROM billing.cards", Postgres, &[]).is_ok());
    }

    proptest::proptest! {
        /// Any text at all gets a verdict, never a panic.
        #[test]
        fn never_panics(sql in "\\PC{0,200}") {
            for engine in [Postgres, Mysql, Sqlite] {
                let _ = check(&sql, engine);
            }
        }

        /// SQL-looking noise built from keywords and symbols gets a verdict, never a panic.
        #[test]
        fn never_panics_on_sql_noise(parts in proptest::collection::vec(proptest::sample::select(vec![
            "SELECT", "FROM", "WHERE", "WITH", "AS", "(", ")", ",", ";", "*", "1", "'x'", "t", "DELETE", "INTO",
            "FOR", "UPDATE", "UNION", "VALUES", "EXPLAIN", "/*", "*/", "--", "$$", "\"", "`", "pg_sleep(1)",
        ]), 0..30)) {
            let sql = parts.join(" ");
            for engine in [Postgres, Mysql, Sqlite] {
                let _ = check(&sql, engine);
            }
        }
    }
}

