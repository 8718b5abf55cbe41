//! Personal API tokens for machine access to the JSON API.
//!
//! A token is shown once at creation (`cst_<id>_<secret>`); only the SHA-256 of its secret is
//! stored. Revocation takes effect on the next request: every use reads the row.

use super::Identity;
use crate::store::{Store, StoreError};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use super::TokenInfo;

use crate::dates::now;

fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a token for `identity`; returns the token text, which is never stored.
pub async fn create(store: &Store, identity: &Identity, name: &str) -> Result<(TokenInfo, String), StoreError> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let mut id_bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut id_bytes);
    let id = hex(&id_bytes);
    let created_at = now();
    sqlx::query(
        "INSERT INTO api_tokens (id, login, name, identity, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&identity.login)
    .bind(name)
    .bind(serde_json::to_string(identity).expect("identity serialises"))
    .bind(hash(&secret))
    .bind(created_at)
    .execute(store.pool())
    .await?;
    let info = TokenInfo { id: id.clone(), name: name.to_string(), created_at, last_used_at: None, revoked: false };
    Ok((info, format!("cst_{id}_{secret}")))
}

/// The identity behind a token, if the token is well-formed, known, matches and is not revoked.
pub async fn verify(store: &Store, token: &str) -> Result<Option<Identity>, StoreError> {
    let Some((id, secret)) = token.strip_prefix("cst_").and_then(|t| t.split_once('_')) else { return Ok(None) };
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT identity, secret_hash FROM api_tokens WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .fetch_optional(store.pool())
            .await?;
    let Some((identity, stored_hash)) = row else { return Ok(None) };
    if !constant_time_eq(hash(secret).as_bytes(), stored_hash.as_bytes()) {
        return Ok(None);
    }
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(now()).bind(id).execute(store.pool()).await?;
    let mut identity: Identity = match serde_json::from_str(&identity) {
        Ok(identity) => identity,
        Err(_) => return Ok(None),
    };
    identity.provider = "token".into();
    Ok(Some(identity))
}

pub async fn list(store: &Store, login: &str) -> Result<Vec<TokenInfo>, StoreError> {
    let rows: Vec<(String, String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE login = $1 ORDER BY created_at DESC, id",
    )
    .bind(login)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, last_used_at, revoked_at)| TokenInfo {
            id,
            name,
            created_at,
            last_used_at,
            revoked: revoked_at.is_some(),
        })
        .collect())
}

/// Revokes one of `login`'s tokens; false if there is no such live token of theirs.
pub async fn revoke(store: &Store, login: &str, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND login = $3 AND revoked_at IS NULL")
        .bind(now())
        .bind(id)
        .bind(login)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
