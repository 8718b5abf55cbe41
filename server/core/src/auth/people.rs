//! People and the identities that sign in as them.
//!
//! A person is the catalog's User (`people`, written by the import). An identity is one
//! provider's account, keyed on the provider and its stable subject; it links to a person only
//! by an id annotation (`console.dev/github-id`, `console.dev/oidc-subject`) or by an e-mail the
//! provider vouches for (verified, and the provider configured to be trusted for it). Plain names
//! link only under dev sign-in. An identity that links to no person gets no squad from the catalog.
//!
//! Sessions and tokens hold the identity's id; every request reads the identity's roles as
//! sign-in or the last re-check wrote them, so a change at the provider reaches every session
//! and token at the next re-check.

use super::{Identity, IdentitySummary, SessionInfo, User};
use crate::dates::now;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the provider said the identity may do, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub squads: Vec<String>,
    pub sre: bool,
}

/// An identity row as a request needs it.
#[derive(Debug, Clone)]
pub struct StoredIdentity {
    pub id: String,
    pub provider: String,
    pub subject: String,
    pub person: Option<String>,
    pub actor: String,
    pub display_name: String,
    pub roles: Roles,
    pub checked_at: i64,
    pub check_failed_at: Option<i64>,
    /// Sealed provider credential ('' when the provider gave none).
    pub credential: String,
}

/// A person as the catalog describes them (a Backstage `User`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub display_name: String,
    pub email: String,
    pub github_id: String,
    pub oidc_subject: String,
}

/// The id of the identity `provider` + `subject`: the same on every replica, never reused.
pub fn identity_id(provider: &str, subject: &str) -> String {
    let digest = Sha256::digest(format!("{provider}\n{subject}").as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// The person this identity is, by the rules in the module comment.
pub async fn link(store: &Store, identity: &Identity) -> Result<Option<String>, StoreError> {
    let by = |column: &'static str, value: String| async move {
        let names: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT name FROM people WHERE {column} = $1 AND {column} <> '' LIMIT 2"
        ))
        .bind(value)
        .fetch_all(store.pool())
        .await?;
        // Two people claiming one e-mail or id link neither.
        Ok::<_, StoreError>(if names.len() == 1 { names.into_iter().next() } else { None })
    };
    let annotated = match identity.provider.as_str() {
        "dev" => {
            // Plain names: only the dev sign-in, where anyone picks any user anyway.
            return by("name", identity.login.clone()).await;
        }
        "github" => by("github_id", identity.subject.clone()).await?,
        _ => by("oidc_subject", identity.subject.clone()).await?,
    };
    if annotated.is_some() {
        return Ok(annotated);
    }
    for email in &identity.verified_emails {
        if let Some(name) = by("email", normal_email(email)).await? {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// E-mail addresses compare trimmed and ASCII-lower-cased: Unicode case folding would make the
/// Kelvin sign a `k`.
fn normal_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// Records a successful sign-in: the identity's row is created or rewritten with what the
/// provider said now, linked anew, and any failed re-check forgotten. Returns the row's id.
/// What a sign-in became: the stored identity's id, or nothing for an offboarded person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Recorded(String),
    /// The person, the name the identity would act under or its `provider:subject` was
    /// offboarded and not restored: nothing is written.
    Blocked,
}

pub async fn record_sign_in(
    store: &Store,
    identity: &Identity,
    sealed_credential: Option<&str>,
) -> Result<SignIn, StoreError> {
    let id = identity_id(&identity.provider, &identity.subject);
    let person = link(store, identity).await?;
    let actor = actor_of(identity, person.as_deref());
    if is_blocked(store, identity, &actor, person.as_deref()).await? {
        return Ok(SignIn::Blocked);
    }
    let roles =
        serde_json::to_string(&Roles { squads: identity.squads.clone(), sre: identity.sre })
            .expect("roles serialise");
    sqlx::query(
        "INSERT INTO identities (id, provider, subject, person, login, actor, display_name, email, roles, checked_at, check_failed_at, checking_until, credential)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, $11)
         ON CONFLICT (id) DO UPDATE SET person = excluded.person, login = excluded.login, actor = excluded.actor,
             display_name = excluded.display_name, email = excluded.email, roles = excluded.roles,
             checked_at = excluded.checked_at, check_failed_at = NULL, checking_until = NULL,
             credential = CASE WHEN excluded.credential = '' THEN identities.credential ELSE excluded.credential END",
    )
    .bind(&id)
    .bind(&identity.provider)
    .bind(&identity.subject)
    .bind(&person)
    .bind(&identity.login)
    .bind(&actor)
    .bind(&identity.name)
    // Every verified address (space-separated): a later relink needs the one the catalog knows.
    .bind(identity.verified_emails.iter().map(|e| normal_email(e)).collect::<Vec<_>>().join(" "))
    .bind(roles)
    .bind(now())
    .bind(sealed_credential.unwrap_or_default())
    .execute(store.pool())
    .await?;
    remember_link(store, &id, person.as_deref()).await?;
    Ok(SignIn::Recorded(id))
}

/// Records that identity `id` was linked to `person`, for offboarding later.
async fn remember_link(store: &Store, id: &str, person: Option<&str>) -> Result<(), StoreError> {
    if let Some(person) = person {
        sqlx::query("INSERT INTO identity_links (identity_id, person) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(person)
            .execute(store.pool())
            .await?;
    }
    Ok(())
}

/// The identities that act as `actor`, are linked to the person `actor`, or ever were.
pub const IDENTITIES_OF: &str =
    "SELECT id FROM identities WHERE actor = $1 OR person = $1 UNION SELECT identity_id FROM identity_links WHERE person = $1";

/// The name an identity acts under (audits, tokens, grants, history): its person, else (dev)
/// its login, else `provider:subject`: unique and stable, where a login can be renamed and
/// claimed by someone else, and is never mistaken for the person of that name.
fn actor_of(identity: &Identity, person: Option<&str>) -> String {
    match person {
        Some(person) => person.to_string(),
        None if identity.provider == "dev" => identity.login.clone(),
        None => format!("{}:{}", identity.provider, identity.subject),
    }
}

type IdentityRow =
    (String, String, String, Option<String>, String, String, String, i64, Option<i64>, String);

pub async fn find(store: &Store, id: &str) -> Result<Option<StoredIdentity>, StoreError> {
    let row: Option<IdentityRow> = sqlx::query_as(
        "SELECT id, provider, subject, person, actor, display_name, roles, checked_at, check_failed_at, credential
         FROM identities WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(
        |(
            id,
            provider,
            subject,
            person,
            actor,
            display_name,
            roles,
            checked_at,
            check_failed_at,
            credential,
        )| {
            StoredIdentity {
                id,
                provider,
                subject,
                person,
                actor,
                display_name,
                roles: serde_json::from_str(&roles).unwrap_or_default(),
                checked_at,
                check_failed_at,
                credential,
            }
        },
    ))
}

impl StoredIdentity {
    /// The user every request sees: the provider's squads, plus the catalog's squads of the
    /// linked person (none when unlinked).
    pub async fn user(&self, store: &Store) -> Result<User, StoreError> {
        let catalog = match &self.person {
            Some(person) => squads_of(store, person).await?,
            None => vec![],
        };
        let mut squads: Vec<String> = self.roles.squads.iter().chain(&catalog).cloned().collect();
        squads.sort();
        squads.dedup();
        Ok(User {
            login: self.actor.clone(),
            name: if self.display_name.is_empty() {
                self.actor.clone()
            } else {
                self.display_name.clone()
            },
            squads,
            sre: self.roles.sre,
            provider: self.provider.clone(),
            identity: self.id.clone(),
            grants: super::grants::active_for(store, &self.actor).await?,
        })
    }
}

/// Takes the right to re-check `id` for `lease_secs` (one replica, one request at a time);
/// false when another holds it.
pub async fn claim_recheck(store: &Store, id: &str, lease_secs: i64) -> Result<bool, StoreError> {
    let now = now();
    let done = sqlx::query(
        "UPDATE identities SET checking_until = $1 WHERE id = $2 AND (checking_until IS NULL OR checking_until < $3)",
    )
    .bind(now + lease_secs)
    .bind(id)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A re-check succeeded: what the provider says now replaces what was stored, and the identity
/// is linked again (the catalog or the verified e-mail may have changed since sign-in).
pub async fn recheck_passed(
    store: &Store,
    fresh: &Identity,
    sealed_credential: Option<&str>,
) -> Result<(), StoreError> {
    record_sign_in(store, fresh, sealed_credential).await.map(|_| ())
}

/// A re-check failed: roles stay as they were until the grace period runs out.
pub async fn recheck_failed(store: &Store, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE identities SET check_failed_at = COALESCE(check_failed_at, $1), checking_until = NULL WHERE id = $2")
        .bind(now())
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// The provider no longer vouches for the identity (membership gone, refresh refused): its
/// roles are removed, its sessions ended and its tokens revoked, so none comes back when it
/// signs in again.
pub async fn disown(store: &Store, id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE identities SET roles = $1, checked_at = 0, check_failed_at = $2, checking_until = NULL, credential = '' WHERE id = $3",
    )
    .bind(serde_json::to_string(&Roles::default()).expect("roles serialise"))
    .bind(now())
    .bind(id)
    .execute(store.pool())
    .await?;
    sqlx::query("DELETE FROM sessions WHERE identity_id = $1")
        .bind(id)
        .execute(store.pool())
        .await?;
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE identity_id = $2 AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(id)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Replaces the people with the catalog's (the import calls this in its transaction's wake).
pub async fn replace_people(store: &Store, people: &[Person]) -> Result<(), StoreError> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("DELETE FROM people").execute(&mut *tx).await?;
    // Many rows per statement: a large organisation has tens of thousands of people.
    for chunk in people.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 5;
                format!("(${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5)
            })
            .collect();
        let sql = format!("INSERT INTO people (name, display_name, email, github_id, oidc_subject) VALUES {} ON CONFLICT (name) DO NOTHING", values.join(", "));
        let mut query = sqlx::query(&sql);
        for p in chunk {
            query = query
                .bind(p.name.clone())
                .bind(p.display_name.clone())
                .bind(normal_email(&p.email))
                .bind(p.github_id.clone())
                .bind(p.oidc_subject.clone());
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    relink_all(store).await
}

/// Links every identity again by the rules of [`link`], from what the provider last said (its
/// subject and verified e-mail): a corrected annotation or a reassigned e-mail takes effect at
/// once, not at the identity's next sign-in.
pub async fn relink_all(store: &Store) -> Result<(), StoreError> {
    let rows: Vec<(String, String, String, String, String)> =
        sqlx::query_as("SELECT id, provider, subject, login, email FROM identities")
            .fetch_all(store.pool())
            .await?;
    for (id, provider, subject, login, email) in rows {
        let identity = Identity {
            verified_emails: email.split_whitespace().map(str::to_string).collect(),
            provider,
            subject,
            login,
            name: String::new(),
            squads: vec![],
            sre: false,
        };
        let person = link(store, &identity).await?;
        sqlx::query("UPDATE identities SET person = $1, actor = $2 WHERE id = $3")
            .bind(&person)
            .bind(actor_of(&identity, person.as_deref()))
            .bind(&id)
            .execute(store.pool())
            .await?;
        remember_link(store, &id, person.as_deref()).await?;
    }
    Ok(())
}

/// Sessions of every identity that acts as `actor`.
/// `current` is the asking session's id, marked in the list.
pub async fn sessions_of(
    store: &Store,
    actor: &str,
    current: Option<&str>,
) -> Result<Vec<SessionInfo>, StoreError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT s.id, i.provider, s.expires_at FROM sessions s JOIN identities i ON i.id = s.identity_id
         WHERE i.actor = $1 AND s.expires_at > $2 ORDER BY s.expires_at DESC",
    )
    .bind(actor)
    .bind(now())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, provider, expires_at)| SessionInfo {
            current: current == Some(id.as_str()),
            handle: session_handle(&id),
            provider,
            expires_at,
        })
        .collect())
}

pub fn session_handle(session_id: &str) -> String {
    Sha256::digest(session_id.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Ends every session of `actor`'s identities; returns how many.
pub async fn end_sessions(store: &Store, actor: &str) -> Result<u64, StoreError> {
    let done = sqlx::query(&format!("DELETE FROM sessions WHERE identity_id IN ({IDENTITIES_OF})"))
        .bind(actor)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected())
}

/// Offboarding: every session ended, every token revoked and every grant ended, for all the
/// identities that act as `actor` or are linked to the person `actor`; and sticky: `actor`, the
/// names those identities act under, their people and their `provider:subject` are blocked, so
/// no sign-in (by any provider, linked to the person by annotation or e-mail, or not) acts as
/// them again until an SRE lifts it ([`restore`]). Open streams notice at their next access
/// check. Returns (sessions ended, tokens revoked).
pub async fn offboard(store: &Store, actor: &str, by: &str) -> Result<(u64, u64), StoreError> {
    // Every name those identities act or acted under holds grants too.
    let names: Vec<(String, Option<String>, String)> =
        sqlx::query_as(&format!("SELECT actor, person, provider || ':' || subject FROM identities WHERE id IN ({IDENTITIES_OF})"))
            .bind(actor)
            .fetch_all(store.pool())
            .await?;
    let actors: Vec<String> = names.iter().map(|(a, _, _)| a.clone()).collect();
    let mut blocked: Vec<&str> = vec![actor];
    for (a, person, key) in &names {
        blocked.extend([a.as_str(), key.as_str()]);
        blocked.extend(person.as_deref());
    }
    blocked.sort();
    blocked.dedup();
    for name in blocked {
        sqlx::query("INSERT INTO blocked_actors (actor, blocked_by, blocked_at) VALUES ($1, $2, $3) ON CONFLICT (actor) DO NOTHING")
            .bind(name)
            .bind(by)
            .bind(now())
            .execute(store.pool())
            .await?;
    }
    let sessions = end_sessions(store, actor).await?;
    let tokens = super::tokens::revoke_all_of(store, actor).await?;
    super::grants::revoke_all_of(store, actor).await?;
    for other in actors.iter().filter(|a| a.as_str() != actor) {
        super::tokens::revoke_all_of(store, other).await?;
        super::grants::revoke_all_of(store, other).await?;
    }
    Ok((sessions, tokens))
}

/// Whether `identity` (acting as `actor`, linked to `person`) may not sign in: one of those names
/// or its `provider:subject` was offboarded and not restored.
async fn is_blocked(
    store: &Store,
    identity: &Identity,
    actor: &str,
    person: Option<&str>,
) -> Result<bool, StoreError> {
    let mut names = vec![actor.to_string(), format!("{}:{}", identity.provider, identity.subject)];
    names.extend(person.map(String::from));
    for name in names {
        let found: Option<String> =
            sqlx::query_scalar("SELECT actor FROM blocked_actors WHERE actor = $1")
                .bind(&name)
                .fetch_optional(store.pool())
                .await?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Lifts an offboarding: `actor` and every name blocked with it (its identities' actors and
/// keys, its people) may sign in again. Returns how many names were lifted.
pub async fn restore(store: &Store, actor: &str) -> Result<u64, StoreError> {
    let mut names: Vec<String> = vec![actor.to_string()];
    let linked: Vec<(String, Option<String>, String)> =
        sqlx::query_as(&format!("SELECT actor, person, provider || ':' || subject FROM identities WHERE id IN ({IDENTITIES_OF})"))
            .bind(actor)
            .fetch_all(store.pool())
            .await?;
    for (a, person, key) in linked {
        names.extend([a, key]);
        names.extend(person);
    }
    let mut lifted = 0;
    for name in names {
        lifted += sqlx::query("DELETE FROM blocked_actors WHERE actor = $1")
            .bind(&name)
            .execute(store.pool())
            .await?
            .rows_affected();
    }
    Ok(lifted)
}

/// Names whose sign-in is blocked, with who blocked them and when, for the SREs' access page.
pub async fn blocked(store: &Store) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(sqlx::query_as("SELECT actor, blocked_by, blocked_at FROM blocked_actors ORDER BY actor")
        .fetch_all(store.pool())
        .await?)
}

/// Every identity of people who may sign in, for the SREs' access page (the offboarded are
/// listed apart, as blocked).
pub async fn identities(store: &Store) -> Result<Vec<IdentitySummary>, StoreError> {
    let rows: Vec<(String, String, String, Option<String>, i64, Option<i64>)> = sqlx::query_as(
        "SELECT actor, provider, login, person, checked_at, check_failed_at FROM identities
         WHERE actor NOT IN (SELECT actor FROM blocked_actors) ORDER BY actor, provider",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(actor, provider, login, person, checked_at, check_failed_at)| IdentitySummary {
            actor,
            provider,
            login,
            person,
            checked_at,
            check_failed_at,
        })
        .collect())
}

/// Names of the squads `member` belongs to.
pub async fn squads_of(store: &Store, member: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT squad FROM squad_members WHERE member = $1 ORDER BY squad")
        .bind(member)
        .fetch_all(store.pool())
        .await?)
}
