//! The console's own database: SQLite by default, PostgreSQL for HA (several console replicas).
//!
//! One pool through sqlx's `Any` driver, so every query is written once. Queries use `$1`-style
//! placeholders, which both SQLite and PostgreSQL accept, and only types both share
//! (BIGINT, TEXT). Each backend owns its migrations under `migrations/<backend>/`.

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::AnyPool;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite: or postgres://, not {0:?}")]
    UnsupportedUrl(String),
    #[error("cannot open the store: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        connections::note(&e);
        StoreError::Sql(e)
    }
}

/// Store connections lost under a request (a PostgreSQL restart or fail-over, a proxy cutting
/// idle links): every error that reaches [`StoreError`] or the session store is looked at here,
/// so the server can retry a read that such a loss failed (`server/src/store_retry.rs`).
pub mod connections {
    use std::sync::atomic::{AtomicU64, Ordering};

    static LOST: AtomicU64 = AtomicU64::new(0);

    /// How many store connections were lost so far: a read whose span saw this change may have
    /// failed for it, and is worth one more try on a fresh connection.
    pub fn lost() -> u64 {
        LOST.load(Ordering::SeqCst)
    }

    /// Counts `e` when it says the connection went away under the statement.
    pub fn note(e: &sqlx::Error) {
        if is_lost(e) {
            LOST.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The connection broke (I/O), or the server ended the session: connection exceptions
    /// (SQLSTATE class 08) and PostgreSQL's admin or crash shutdown and "cannot connect now"
    /// (57P01–57P03). Never a statement's own failure: that one would fail again.
    pub fn is_lost(e: &sqlx::Error) -> bool {
        match e {
            sqlx::Error::Io(_) => true,
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Where the store lives ([`database_location`]): a replica must never name it.
    location: Option<String>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

impl Store {
    /// Opens (and for SQLite files, creates) the store and applies pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            let in_memory = rest.contains(":memory:") || rest.contains("mode=memory");
            if !in_memory {
                let path = rest.trim_start_matches("//").split('?').next().unwrap_or_default();
                if let Some(dir) =
                    std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir)?;
                }
            }
            let sep = if rest.contains('?') { '&' } else { '?' };
            let url = if in_memory || rest.contains("mode=") {
                url.to_string()
            } else {
                format!("{url}{sep}mode=rwc")
            };
            (Backend::Sqlite, url)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let in_memory = url.contains(":memory:");
        let pool = AnyPoolOptions::new()
            // Each in-memory SQLite connection would be a database of its own.
            .max_connections(if in_memory { 1 } else { 10 })
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
            .map_err(StoreError::Connect)?;
        if backend == Backend::Sqlite && !in_memory {
            // Readers never wait for the writer.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        let store = Store { pool, backend, location: database_location(&url) };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// For `/readyz`: the store answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A database URL reduced to where the data lives, to compare two URLs: the engine family, the
/// host (every loopback name alike), the port (its default filled in) and the database; for
/// SQLite the file's real path. `None` for an in-memory database or a URL that does not parse.
pub fn database_location(url: &str) -> Option<String> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//").split('?').next().unwrap_or_default();
        if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        let path = std::path::Path::new(path);
        // The file's real path: `./`, `..` and symbolic links name the same file.
        let real = match (path.canonicalize(), path.parent().and_then(|d| d.canonicalize().ok())) {
            (Ok(file), _) => file,
            (Err(_), Some(dir)) => dir.join(path.file_name()?),
            (Err(_), None) => std::env::current_dir().ok()?.join(path),
        };
        return Some(format!("sqlite:{}", real.display()));
    }
    let parsed = url::Url::parse(url).ok()?;
    let (family, default_port) = match parsed.scheme() {
        "postgres" | "postgresql" => ("postgres", 5432),
        "mysql" | "mariadb" => ("mysql", 3306),
        _ => return None,
    };
    let host = match parsed.host_str().unwrap_or_default().trim_matches(['[', ']']).to_lowercase() {
        h if h.is_empty() || h == "localhost" || h == "::1" || h.starts_with("127.") => {
            "loopback".to_string()
        }
        h => h,
    };
    let database = parsed.path().trim_start_matches('/').to_string();
    Some(format!("{family}://{host}:{}/{database}", parsed.port().unwrap_or(default_port)))
}

/// Fresh, isolated stores for tests: in-memory SQLite, or a new PostgreSQL database.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// The PostgreSQL server used by tests (`TEST_POSTGRES_URL`: not a `CONSOLE_` variable,
    /// which would be a configuration key).
    pub fn postgres_admin_url() -> String {
        std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
    }

    pub async fn sqlite() -> Store {
        Store::open("sqlite::memory:").await.expect("in-memory SQLite store")
    }

    /// A migrated PostgreSQL store on a database of its own, dropped with it (see [`ScratchDb`]).
    pub struct TestDb {
        pub store: Store,
        pub url: String,
        _db: ScratchDb,
    }

    pub async fn postgres() -> TestDb {
        let db = ScratchDb::postgres("console_test").await;
        let store = Store::open(&db.url).await.expect("migrated PostgreSQL store");
        TestDb { store, url: db.url.clone(), _db: db }
    }

    impl TestDb {
        /// Closes the store's connections, then drops the database.
        pub async fn drop(self) {
            self.store.pool.close().await;
        }
    }

    /// The MariaDB server used by tests (`TEST_MARIADB_URL`).
    pub fn mariadb_admin_url() -> String {
        std::env::var("TEST_MARIADB_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string())
    }

    /// A database of its own for one test (a replica, say) on the shared PostgreSQL or MariaDB:
    /// dropped when this is dropped, whether the test passed or panicked, and with it what the
    /// test made around it ([`ScratchDb::drop_also`]: roles, users, other databases).
    pub struct ScratchDb {
        pub name: String,
        pub url: String,
        admin_url: String,
        drop_statement: String,
        also: Vec<String>,
    }

    impl ScratchDb {
        pub async fn postgres(prefix: &str) -> ScratchDb {
            Self::create(prefix, postgres_admin_url(), "DROP DATABASE IF EXISTS {} WITH (FORCE)")
                .await
        }

        pub async fn mariadb(prefix: &str) -> ScratchDb {
            Self::create(prefix, mariadb_admin_url(), "DROP DATABASE IF EXISTS {}").await
        }

        async fn create(prefix: &str, admin_url: String, drop_statement: &str) -> ScratchDb {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            install_default_drivers();
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let name = format!(
                "{prefix}_{}_{}_{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let admin = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&admin_url)
                .await
                .expect("the test database server");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
            admin.close().await;
            let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
            ScratchDb {
                drop_statement: drop_statement.replace("{}", &name),
                name,
                url,
                admin_url,
                also: vec![],
            }
        }

        /// Runs `statement` (as the server's admin) after the database is dropped.
        pub fn drop_also(&mut self, statement: String) {
            self.also.push(statement);
        }
    }

    impl Drop for ScratchDb {
        /// `Drop` cannot await and may run inside the test's runtime: a thread with a runtime of
        /// its own does the dropping.
        fn drop(&mut self) {
            let statements: Vec<String> =
                std::iter::once(self.drop_statement.clone()).chain(self.also.drain(..)).collect();
            let admin_url = self.admin_url.clone();
            let failed = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async {
                    let admin = AnyPoolOptions::new()
                        .max_connections(1)
                        .connect(&admin_url)
                        .await
                        .map_err(|e| vec![e.to_string()])?;
                    let mut failed = vec![];
                    for statement in statements {
                        if let Err(e) = sqlx::query(&statement).execute(&admin).await {
                            failed.push(format!("{statement}: {e}"));
                        }
                    }
                    admin.close().await;
                    if failed.is_empty() {
                        Ok(())
                    } else {
                        Err(failed)
                    }
                })
            })
            .join();
            match failed {
                Ok(Ok(())) => {}
                Ok(Err(failed)) => {
                    eprintln!("test database {} not fully dropped: {failed:?}", self.name)
                }
                Err(_) => eprintln!("test database {} not dropped", self.name),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_a_sqlite_file_creating_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/console.db", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        store.ping().await.unwrap();
        assert!(dir.path().join("nested/console.db").exists());
        // Opening again finds the migrations applied.
        Store::open(&url).await.unwrap().ping().await.unwrap();
    }

    async fn database_exists(url: &str) -> bool {
        let name = url.rsplit_once('/').unwrap().1.to_string();
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&testing::postgres_admin_url())
            .await
            .unwrap();
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&admin)
            .await
            .unwrap();
        found == 1
    }

    /// A test that panics still drops its database: the shared PostgreSQL does not fill up.
    #[tokio::test]
    async fn a_test_database_is_dropped_even_when_the_test_panics() {
        let db = testing::postgres().await;
        let url = db.url.clone();
        assert!(database_exists(&url).await);
        let panicked = tokio::spawn(async move {
            let _db = db;
            panic!("a failing test");
        })
        .await;
        assert!(panicked.unwrap_err().is_panic());
        assert!(!database_exists(&url).await, "dropped while unwinding");
    }

    #[tokio::test]
    async fn opens_postgres() {
        let db = testing::postgres().await;
        db.store.ping().await.unwrap();
        assert_eq!(db.store.backend(), Backend::Postgres);
        db.drop().await;
    }

    /// A SQLite database file migrated up to (not including) `version`, holding `rows`: what an
    /// older console left behind, for the next migration to upgrade.
    async fn sqlite_before(version: i64, rows: &[&str]) -> (tempfile::TempDir, String) {
        install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/console.db?mode=rwc", dir.path().display());
        let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        let older = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(
                SQLITE_MIGRATIONS
                    .migrations
                    .iter()
                    .filter(|m| m.version < version)
                    .cloned()
                    .collect(),
            ),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        older.run(&pool).await.unwrap();
        for row in rows {
            sqlx::query(row).execute(&pool).await.unwrap();
        }
        pool.close().await;
        (dir, url)
    }

    /// Migration 13 rebuilds SQLite's services table: what squads entered before it (an
    /// attestation, an override) must still be there after it.
    #[tokio::test]
    async fn the_sqlite_rebuild_of_services_keeps_what_squads_entered() {
        let (_dir, url) = sqlite_before(13, &[
            "INSERT INTO squads (name, display_name) VALUES ('payments', 'Payments')",
            "INSERT INTO services (name, squad, tier, lifecycle, k8s_selector, readiness_met, readiness_required, search_text) VALUES ('ledger', 'payments', 1, 'production', 'app=ledger', 0, 1, 'ledger')",
            "INSERT INTO attestations (service, check_id, attested_by, attested_at, source) VALUES ('ledger', 'backups', 'maria', '2026-12-01', 'console')",
            "INSERT INTO service_overrides (service, field, value, git_value, set_by, set_at) VALUES ('ledger', 'description', 'Edited', 'From Git', 'maria', 1)",
        ])
        .await;

        let store = Store::open(&url).await.unwrap();
        let kept: (String, String) = sqlx::query_as("SELECT a.attested_by, o.value FROM attestations a JOIN service_overrides o ON o.service = a.service WHERE a.service = 'ledger'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(kept, ("maria".to_string(), "Edited".to_string()));
        // And the references still hold: removing the service takes them with it.
        sqlx::query("DELETE FROM services WHERE name = 'ledger'")
            .execute(store.pool())
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attestations")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(left, 0);
    }

    /// Audit events from before uids (migration 14) count for the service that had the name
    /// then, and for no later service reusing it.
    #[tokio::test]
    async fn reads_from_before_uids_stay_with_the_service_of_their_time() {
        let (_dir, url) = sqlite_before(14, &[
            "INSERT INTO squads (name, display_name) VALUES ('payments', 'Payments')",
            "INSERT INTO services (name, squad, tier, lifecycle, k8s_selector, readiness_met, readiness_required, search_text) VALUES ('ledger', 'payments', 1, 'production', 'app=ledger', 0, 1, 'ledger')",
            "INSERT INTO audit_events (at, kind, actor, entity) VALUES (1, 'logs.read', 'maria', 'ledger')",
        ])
        .await;

        let store = Store::open(&url).await.unwrap();
        assert_eq!(
            crate::audit::reads_of(&store, "ledger", 10).await.unwrap().len(),
            1,
            "the service of its time"
        );
        sqlx::query("DELETE FROM services WHERE name = 'ledger'")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO services (name, squad, tier, lifecycle, k8s_selector, readiness_met, readiness_required, search_text, uid) VALUES ('ledger', 'payments', 1, 'production', 'app=ledger', 0, 1, 'ledger', 'a-new-uid')")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(
            crate::audit::reads_of(&store, "ledger", 10).await.unwrap().is_empty(),
            "a new ledger inherits nothing"
        );
    }

    #[tokio::test]
    async fn refuses_unknown_urls() {
        let err = Store::open("mysql://localhost/x").await.unwrap_err();
        assert!(err.to_string().contains("must start with sqlite: or postgres://"));
    }
}
