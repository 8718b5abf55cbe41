//! The demo replica for `make run`: a small SQLite shop database, designated as the read
//! replica of the demo service `payments-api`, so the REPL works with nothing else installed.

use console_core::query::replicas::{self, ReplicaError};
use console_core::query::Engine;
use console_core::query::Replica;
use console_core::store::Store;
use sqlx::{Connection, Executor};
use std::path::Path;

pub const SERVICE: &str = "payments-api";
pub const REPLICA_ID: &str = "payments-demo";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, password_hash TEXT, country TEXT);
CREATE TABLE IF NOT EXISTS payments (id INTEGER PRIMARY KEY, customer_id INTEGER, amount_cents INTEGER, currency TEXT, status TEXT, created_at TEXT);
";

/// Creates the database file (once) and designates it (once).
pub async fn ensure(store: &Store, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.map_err(|e| e.to_string())?;
    conn.execute(SCHEMA).await.map_err(|e| e.to_string())?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    if count == 0 {
        let names = ["Ana", "Bruno", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jun"];
        let countries = ["PT", "BR", "CN", "US", "IL", "MA", "AR", "JP", "HR", "KR"];
        let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
        for i in 0..200i64 {
            let name = format!("{} {}", names[(i % 10) as usize], i);
            sqlx::query("INSERT INTO customers (id, name, email, password_hash, country) VALUES ($1, $2, $3, $4, $5)")
                .bind(i + 1)
                .bind(&name)
                .bind(format!("customer{}@example.com", i + 1))
                .bind(format!("$argon2id$v=19$demo{i}"))
                .bind(countries[(i % 10) as usize])
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        for i in 0..2000i64 {
            sqlx::query("INSERT INTO payments (id, customer_id, amount_cents, currency, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(i + 1)
                .bind(i % 200 + 1)
                .bind((i * 7919) % 50_000 + 100)
                .bind(if i % 3 == 0 { "EUR" } else { "USD" })
                .bind(["captured", "authorized", "refunded", "failed"][(i % 4) as usize])
                .bind(format!("2026-11-{:02}T{:02}:00:00Z", i % 21 + 1, i % 24))
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    let _ = conn.close().await;
    if console_core::catalog::repo::service(store, SERVICE)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Ok(()); // The catalog in use has no such service.
    }
    let replica = Replica::new(
        REPLICA_ID,
        SERVICE,
        "demo shop",
        Engine::Sqlite,
        &format!("sqlite://{}", path.display()),
    );
    match replicas::register(store, &replica, "console").await {
        Ok(()) | Err(ReplicaError::Invalid(_)) => Ok(()), // already designated
        Err(ReplicaError::Store(e)) => Err(e.to_string()),
    }
}
