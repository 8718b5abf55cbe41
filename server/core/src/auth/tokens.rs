//! Personal API tokens for machine access to `/api/v1/*`.
//!
//! A token is shown once at creation (`cst_<id>_<secret>`); only the SHA-256 of its secret is
//! stored. It belongs to an identity, not to roles: every use reads the identity's current roles.
//! It has a scope (`read`, or `query` where SREs allow it) and an expiry. Revocation takes effect
//! on the next request: every use reads the row.

use crate::store::{Store, StoreError};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use super::TokenInfo;

use crate::dates::now;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The read-only JSON API.
    Read,
    /// Also `POST /api/v1/services/{name}/query`, through the REPL's guard, limits and audit.
    Query,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Query => "query",
        }
    }
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "query" => Some(Scope::Query),
            _ => None,
        }
    }
}

/// A token presented with a request, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    pub id: String,
    pub identity_id: String,
    pub scope: Scope,
    /// When the token stops working (unix seconds).
    pub expires_at: i64,
}

fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a new token is for.
pub struct NewToken<'a> {
    pub identity_id: &'a str,
    /// The actor it acts as (the person, else `provider:login`).
    pub owner: &'a str,
    pub name: &'a str,
    pub scope: Scope,
    pub expires_at: i64,
}

/// Creates a token; returns the token text, which is never stored.
pub async fn create(store: &Store, new: NewToken<'_>) -> Result<(TokenInfo, String), StoreError> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let mut id_bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut id_bytes);
    let id = hex(&id_bytes);
    let created_at = now();
    sqlx::query(
        "INSERT INTO api_tokens (id, login, name, identity, secret_hash, created_at, identity_id, scope, expires_at)
         VALUES ($1, $2, $3, '', $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(new.owner)
    .bind(new.name)
    .bind(hash(&secret))
    .bind(created_at)
    .bind(new.identity_id)
    .bind(new.scope.as_str())
    .bind(new.expires_at)
    .execute(store.pool())
    .await?;
    let info = TokenInfo {
        id: id.clone(),
        name: new.name.to_string(),
        owner: new.owner.to_string(),
        scope: new.scope.as_str().to_string(),
        created_at,
        expires_at: new.expires_at,
        last_used_at: None,
        revoked: false,
    };
    Ok((info, format!("cst_{id}_{secret}")))
}

/// The token's identity and scope, if the token is well-formed, known, matches, is not revoked
/// and has not expired. Records the use.
pub async fn verify(store: &Store, token: &str) -> Result<Option<TokenUse>, StoreError> {
    let Some((id, secret)) = token.strip_prefix("cst_").and_then(|t| t.split_once('_')) else {
        return Ok(None);
    };
    let row: Option<(String, String, String, i64)> = sqlx::query_as(
        "SELECT identity_id, secret_hash, scope, expires_at FROM api_tokens WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now())
    .fetch_optional(store.pool())
    .await?;
    let Some((identity_id, stored_hash, scope, expires_at)) = row else { return Ok(None) };
    if !constant_time_eq(hash(secret).as_bytes(), stored_hash.as_bytes()) || identity_id.is_empty()
    {
        return Ok(None);
    }
    let Some(scope) = Scope::parse(&scope) else { return Ok(None) };
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now())
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(Some(TokenUse { id: id.to_string(), identity_id, scope, expires_at }))
}

type TokenRow = (String, String, String, String, i64, i64, Option<i64>, Option<i64>);

fn info(
    (id, name, owner, scope, created_at, expires_at, last_used_at, revoked_at): TokenRow,
) -> TokenInfo {
    TokenInfo {
        id,
        name,
        owner,
        scope,
        created_at,
        expires_at,
        last_used_at,
        revoked: revoked_at.is_some(),
    }
}

const COLUMNS: &str = "id, name, login, scope, created_at, expires_at, last_used_at, revoked_at";

/// Tokens of `owner` (made as that actor, or by an identity that acts as it now).
const OWNED_BY: &str = "(login = $1 OR identity_id IN (SELECT id FROM identities WHERE actor = $1 OR person = $1 UNION SELECT identity_id FROM identity_links WHERE person = $1))";

/// `owner`'s tokens, newest first.
pub async fn list(store: &Store, owner: &str) -> Result<Vec<TokenInfo>, StoreError> {
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE {OWNED_BY} ORDER BY created_at DESC, id"
    ))
    .bind(owner)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(info).collect())
}

/// Everyone's live tokens, for SREs.
pub async fn list_all(store: &Store) -> Result<Vec<TokenInfo>, StoreError> {
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE revoked_at IS NULL AND expires_at > $1 ORDER BY login, created_at DESC, id"
    ))
    .bind(now())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(info).collect())
}

/// Revokes one of `owner`'s tokens; false if there is no such live token of theirs.
pub async fn revoke(store: &Store, owner: &str, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(&format!(
        "UPDATE api_tokens SET revoked_at = $2 WHERE {OWNED_BY} AND id = $3 AND revoked_at IS NULL"
    ))
    .bind(owner)
    .bind(now())
    .bind(id)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes anyone's token (SREs); false if there is no such live token.
pub async fn revoke_any(store: &Store, id: &str) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(store.pool())
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live token acting as `actor` or made by one of its identities.
pub async fn revoke_all_of(store: &Store, actor: &str) -> Result<u64, StoreError> {
    let done = sqlx::query(&format!(
        "UPDATE api_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND {OWNED_BY}"
    ))
    .bind(actor)
    .bind(now())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Equal bytes, compared in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
