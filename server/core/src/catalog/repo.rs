//! Catalog reads and writes against the store.

mod scores;
pub use scores::*;
mod search;
pub use search::*;
mod squads;
pub use squads::*;
mod service_pages;
pub use service_pages::*;

use super::model::*;
use super::pages::*;
use super::readiness::{evaluate, Check};
use crate::store::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;

fn links_of(
    templates: &[crate::defaults::links::LinkTemplate],
    service: &str,
    squad: &str,
    cluster: &str,
    namespace: &str,
    tier: Tier,
) -> Vec<crate::defaults::links::RenderedLink> {
    use crate::defaults::links::{links_for, LinkContext};
    links_for(templates, &LinkContext { service, squad, cluster, namespace, tier })
}

/// Writes the service's row, new or not (its attestations are the caller's).
pub(super) async fn upsert_service(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    s: &Service,
    score: Score,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO services (name, squad, tier, lifecycle, description, system, repository, runbook, slo,
                               tags, links, k8s_cluster, k8s_namespace, k8s_selector,
                               readiness_met, readiness_required, search_text, owner_person, component_type, source, uid,
                               dangling_owner, lifecycle_label)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
         ON CONFLICT (name) DO UPDATE SET squad = excluded.squad, tier = excluded.tier, lifecycle = excluded.lifecycle,
             dangling_owner = excluded.dangling_owner, lifecycle_label = excluded.lifecycle_label,
             owner_person = excluded.owner_person, component_type = excluded.component_type, source = excluded.source,
             description = excluded.description, system = excluded.system, repository = excluded.repository,
             runbook = excluded.runbook, slo = excluded.slo, tags = excluded.tags, links = excluded.links,
             k8s_cluster = excluded.k8s_cluster, k8s_namespace = excluded.k8s_namespace, k8s_selector = excluded.k8s_selector,
             readiness_met = excluded.readiness_met, readiness_required = excluded.readiness_required,
             search_text = excluded.search_text",
    )
    .bind(&s.name)
    // NULL for a service a person owns: the squad reference stays checked for the others.
    .bind((!s.squad.is_empty()).then_some(&s.squad))
    .bind(s.tier.number() as i64)
    .bind(s.lifecycle.as_str())
    .bind(&s.description)
    .bind(&s.system)
    .bind(&s.repository)
    .bind(&s.runbook)
    .bind(&s.slo)
    .bind(to_json(&s.tags))
    .bind(to_json(&s.links))
    .bind(&s.workloads.cluster)
    .bind(&s.workloads.namespace)
    .bind(&s.workloads.label_selector)
    .bind(score.met as i64)
    .bind(score.required as i64)
    .bind(search_text(s))
    .bind(&s.owner_person)
    .bind(&s.component_type)
    .bind(&s.source)
    // A new service's uid; an update keeps the one it has (its audit is keyed on it).
    .bind(format!("{:032x}", rand::random::<u128>()))
    .bind(&s.dangling_owner)
    .bind(&s.lifecycle_label)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What [`upsert_service`] would write for a service, comparable with [`stored_rows`]: an
/// import rewrites only the services whose row changes (20,000 upserts cost seconds).
pub(super) fn row_fingerprint(s: &Service, score: Score) -> String {
    let squad = if s.squad.is_empty() { None } else { Some(s.squad.as_str()) };
    to_json(&(
        (
            squad,
            s.tier.number() as i64,
            s.lifecycle.as_str(),
            &s.description,
            &s.system,
            &s.repository,
            &s.runbook,
            &s.slo,
        ),
        (
            to_json(&s.tags),
            to_json(&s.links),
            &s.workloads.cluster,
            &s.workloads.namespace,
            &s.workloads.label_selector,
        ),
        (
            score.met as i64,
            score.required as i64,
            search_text(s),
            &s.owner_person,
            &s.component_type,
            &s.source,
        ),
        (&s.dangling_owner, &s.lifecycle_label),
    ))
}

/// Every stored service's row as [`row_fingerprint`] renders it, by name.
pub(super) async fn stored_rows(store: &Store) -> Result<HashMap<String, String>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, squad, tier, lifecycle, description, system, repository, runbook, slo, tags, links,
                k8s_cluster, k8s_namespace, k8s_selector, readiness_met, readiness_required, search_text,
                owner_person, component_type, source, dangling_owner, lifecycle_label FROM services",
    )
    .fetch_all(store.pool())
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let text = |column: &str| row.try_get::<String, _>(column);
        let number = |column: &str| row.try_get::<i64, _>(column);
        let squad: Option<String> = row.try_get("squad")?;
        let fingerprint = to_json(&(
            (
                squad,
                number("tier")?,
                text("lifecycle")?,
                text("description")?,
                text("system")?,
                text("repository")?,
                text("runbook")?,
                text("slo")?,
            ),
            (
                text("tags")?,
                text("links")?,
                text("k8s_cluster")?,
                text("k8s_namespace")?,
                text("k8s_selector")?,
            ),
            (
                number("readiness_met")?,
                number("readiness_required")?,
                text("search_text")?,
                text("owner_person")?,
                text("component_type")?,
                text("source")?,
            ),
            (text("dangling_owner")?, text("lifecycle_label")?),
        ));
        out.insert(text("name")?, fingerprint);
    }
    Ok(out)
}

fn search_text(s: &Service) -> String {
    format!(
        "{} {} {} {}{} {} {}",
        s.name,
        s.description,
        s.tags.join(" "),
        s.squad,
        s.owner_person,
        s.dangling_owner,
        s.lifecycle_label
    )
    .to_lowercase()
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

fn from_json<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

pub async fn service(store: &Store, name: &str) -> Result<Option<Service>, StoreError> {
    let row = sqlx::query(
        "SELECT name, COALESCE(squad, '') AS squad, tier, lifecycle, description, system, repository, runbook, slo, tags, links,
                k8s_cluster, k8s_namespace, k8s_selector, owner_person, component_type, source, dangling_owner, lifecycle_label
         FROM services WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let attestations: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT check_id, attested_by, attested_at FROM attestations WHERE service = $1 AND attested_by <> '' ORDER BY check_id",
    )
    .bind(name)
    .fetch_all(store.pool())
    .await?;
    Ok(Some(Service {
        name: row.try_get("name")?,
        squad: row.try_get("squad")?,
        owner_person: row.try_get("owner_person")?,
        component_type: row.try_get("component_type")?,
        source: row.try_get("source")?,
        tier: Tier::new(row.try_get("tier")?).unwrap_or(Tier::ALL[3]),
        lifecycle: Lifecycle::parse(&row.try_get::<String, _>("lifecycle")?)
            .unwrap_or(Lifecycle::Experimental),
        lifecycle_label: row.try_get("lifecycle_label")?,
        dangling_owner: row.try_get("dangling_owner")?,
        description: row.try_get("description")?,
        system: row.try_get("system")?,
        repository: row.try_get("repository")?,
        runbook: row.try_get("runbook")?,
        slo: row.try_get("slo")?,
        tags: from_json(&row.try_get::<String, _>("tags")?),
        links: from_json(&row.try_get::<String, _>("links")?),
        workloads: Workloads {
            cluster: row.try_get("k8s_cluster")?,
            namespace: row.try_get("k8s_namespace")?,
            label_selector: row.try_get("k8s_selector")?,
        },
        attestations: attestations
            .into_iter()
            .map(|(check, by, at)| Attestation { check, by, at })
            .collect(),
    }))
}

/// Number of services, for metrics and the home page.
pub async fn service_count(store: &Store) -> Result<u64, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM services").fetch_one(store.pool()).await?;
    Ok(n as u64)
}

/// What a squad may change about its service in the UI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceEdit {
    pub description: String,
    pub tier: Tier,
    pub lifecycle: Lifecycle,
    pub runbook: String,
    pub slo: String,
}

impl ServiceEdit {
    pub fn validate(&self) -> Result<(), String> {
        if self.description.chars().count() > 2000 {
            return Err("description is longer than 2000 characters".into());
        }
        if !self.runbook.is_empty() && safe_href(&self.runbook).is_none() {
            return Err(format!("runbook must be an http(s) URL, not {:?}", self.runbook));
        }
        if self.slo.chars().count() > 300 {
            return Err("SLO is longer than 300 characters".into());
        }
        Ok(())
    }
}

/// Applies a UI edit; false if there is no such service. (A later import of the descriptors
/// replaces it: the descriptors stay the source of truth.)
/// Applies a console edit; each descriptor field it changes becomes an override of Git's value
/// (kept across imports while Git holds that value). `by` is who edits.
pub async fn update_service(
    store: &Store,
    name: &str,
    edit: &ServiceEdit,
    by: &str,
) -> Result<bool, StoreError> {
    let Some(before) = service(store, name).await? else { return Ok(false) };
    let mut after = before.clone();
    after.description = edit.description.clone();
    after.tier = edit.tier;
    after.lifecycle = edit.lifecycle;
    after.runbook = edit.runbook.clone();
    after.slo = edit.slo.clone();
    super::overrides::record_edit(store, &before, &after, by).await?;
    let done = sqlx::query(
        // A lifecycle chosen in the console replaces a free-form one from the descriptor.
        "UPDATE services SET description = $1, tier = $2, lifecycle_label = CASE WHEN lifecycle = $3 THEN lifecycle_label ELSE '' END,
             lifecycle = $3, runbook = $4, slo = $5 WHERE name = $6",
    )
    .bind(&edit.description)
    .bind(edit.tier.number() as i64)
    .bind(edit.lifecycle.as_str())
    .bind(&edit.runbook)
    .bind(&edit.slo)
    .bind(name)
    .execute(store.pool())
    .await?;
    refresh_score(store, name).await?;
    Ok(done.rows_affected() == 1)
}

/// Records (or withdraws, with `by = None`) a squad's attestation of a readiness check. A
/// withdrawal is kept as a dated console row with nobody attesting, so an older attestation in
/// Git does not come back at the next import.
pub async fn attest(
    store: &Store,
    service: &str,
    check: &str,
    by: Option<(&str, &str)>,
) -> Result<(), StoreError> {
    match by {
        Some((who, date)) => {
            sqlx::query(
                "INSERT INTO attestations (service, check_id, attested_by, attested_at, source) VALUES ($1, $2, $3, $4, 'console')
                 ON CONFLICT (service, check_id) DO UPDATE SET attested_by = excluded.attested_by, attested_at = excluded.attested_at, source = 'console'",
            )
            .bind(service)
            .bind(check)
            .bind(who)
            .bind(date)
            .execute(store.pool())
            .await?;
        }
        None => {
            let today = crate::dates::date(crate::dates::now());
            sqlx::query(
                "INSERT INTO attestations (service, check_id, attested_by, attested_at, source) VALUES ($1, $2, '', $3, 'console')
                 ON CONFLICT (service, check_id) DO UPDATE SET attested_by = '', attested_at = excluded.attested_at, source = 'console'",
            )
            .bind(service)
            .bind(check)
            .bind(today)
            .execute(store.pool())
            .await?;
        }
    }
    refresh_score(store, service).await
}

/// Every service's squad, tier and workload mapping, by name: what the sandbox cluster runs.
pub async fn workloads(
    store: &Store,
) -> Result<Vec<(String, String, Tier, Workloads)>, StoreError> {
    let rows: Vec<(String, String, i64, String, String, String)> =
        sqlx::query_as("SELECT name, COALESCE(squad, ''), tier, k8s_cluster, k8s_namespace, k8s_selector FROM services ORDER BY name")
            .fetch_all(store.pool())
            .await?;
    Ok(rows
        .into_iter()
        .map(|(name, squad, tier, cluster, namespace, label_selector)| {
            let tier = Tier::new(tier as _).unwrap_or(Tier::ALL[3]);
            (name, squad, tier, Workloads { cluster, namespace, label_selector })
        })
        .collect())
}
