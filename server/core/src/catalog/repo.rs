//! Catalog reads and writes against the store.

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

/// The org-wide readiness report: by tier, the checks most often missing, per squad.
pub async fn readiness_report(store: &Store) -> Result<ReadinessReport, StoreError> {
    let checks = checks(store).await?;
    let squads_by_name = all_squads(store).await?;
    let rows: Vec<(String, String, i64, String, String, String, String)> =
        sqlx::query_as("SELECT name, COALESCE(squad, ''), tier, runbook, slo, owner_person, component_type FROM services").fetch_all(store.pool()).await?;
    let mut attested: HashMap<String, Vec<Attestation>> = HashMap::new();
    let all: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT service, check_id, attested_by, attested_at FROM attestations WHERE attested_by <> ''").fetch_all(store.pool()).await?;
    for (service, check, by, at) in all {
        attested.entry(service).or_default().push(Attestation { check, by, at });
    }
    let mut tiers: Vec<(Tier, u32, u32)> = Tier::ALL.iter().map(|t| (*t, 0, 0)).collect();
    let mut missing: HashMap<String, u32> = HashMap::new();
    let mut per_squad: HashMap<String, SquadReadiness> = HashMap::new();
    let no_squad = Squad::none();
    for (name, squad_name, tier, runbook, slo, owner_person, component_type) in rows {
        // A service a person owns counts in its tier, under no squad.
        let squad = if squad_name.is_empty() {
            &no_squad
        } else if let Some(s) = squads_by_name.get(&squad_name) {
            s
        } else {
            continue;
        };
        let tier = Tier::new(tier).unwrap_or(Tier::ALL[3]);
        let service = Service {
            attestations: attested.remove(&name).unwrap_or_default(),
            squad: squad_name.clone(),
            owner_person,
            component_type,
            source: String::new(),
            tier,
            lifecycle: Lifecycle::Production,
            lifecycle_label: String::new(),
            dangling_owner: String::new(),
            description: String::new(),
            system: String::new(),
            repository: String::new(),
            runbook,
            slo,
            tags: vec![],
            links: vec![],
            workloads: Workloads::default_for(&name),
            name,
        };
        let r = evaluate(&service, squad, &checks);
        let ready = r.score.is_ready();
        let row = &mut tiers[tier.number() as usize - 1];
        row.1 += 1;
        row.2 += ready as u32;
        for c in r.missing() {
            *missing.entry(c.check.id.clone()).or_default() += 1;
        }
        if squad_name.is_empty() {
            continue;
        }
        let sq = per_squad.entry(squad_name.clone()).or_insert_with(|| SquadReadiness {
            name: squad_name.clone(),
            display_name: squad.display_name.clone(),
            services: 0,
            ready: 0,
            score: Score::default(),
        });
        sq.services += 1;
        sq.ready += ready as u32;
        sq.score = sq.score.plus(r.score);
    }
    let mut most_missing: Vec<(String, String, u32)> = missing
        .into_iter()
        .map(|(id, n)| {
            let title =
                checks.iter().find(|c| c.id == id).map(|c| c.title.clone()).unwrap_or_default();
            (id, title, n)
        })
        .collect();
    most_missing.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    let mut squads: Vec<SquadReadiness> = per_squad.into_values().collect();
    squads.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ReadinessReport { tiers, most_missing, squads })
}

/// The readiness requirements in force (platform defaults).
pub async fn checks(store: &Store) -> Result<Vec<Check>, StoreError> {
    Ok(crate::defaults::repo::current(store).await?.1.readiness)
}

/// Every service's readiness score under `checks` (requirements about to change), with its
/// search text: read here, written by [`write_scores`] in the caller's transaction.
pub async fn scores_under(
    store: &Store,
    checks: &[Check],
) -> Result<Vec<(String, Score, String)>, StoreError> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM services").fetch_all(store.pool()).await?;
    let mut scores = Vec::with_capacity(names.len());
    for name in names {
        let Some(service) = service(store, &name).await? else { continue };
        let Some(squad) = owning_squad(store, &service).await? else { continue };
        let score = evaluate(&service, &squad, checks).score;
        scores.push((name, score, search_text(&service)));
    }
    Ok(scores)
}

/// Stores scores from [`scores_under`] inside `tx`.
pub async fn write_scores(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    scores: &[(String, Score, String)],
) -> Result<(), StoreError> {
    for (name, score, search) in scores {
        sqlx::query("UPDATE services SET readiness_met = $1, readiness_required = $2, search_text = $3 WHERE name = $4")
            .bind(score.met as i64)
            .bind(score.required as i64)
            .bind(search)
            .bind(name)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
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

/// Escapes LIKE wildcards so user text only ever matches itself.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

const SUMMARY_COLUMNS: &str =
    "s.name, COALESCE(s.squad, ''), s.tier, s.lifecycle, s.description, s.runbook, s.readiness_met, s.readiness_required";

type SummaryRow = (String, String, i64, String, String, String, i64, i64);

fn summary(
    (name, squad, tier, lifecycle, description, runbook, met, required): SummaryRow,
) -> ServiceSummary {
    ServiceSummary {
        name,
        squad,
        tier: Tier::new(tier).unwrap_or(Tier::ALL[3]),
        lifecycle: Lifecycle::parse(&lifecycle).unwrap_or(Lifecycle::Experimental),
        description,
        runbook,
        readiness: Score { met: met as u32, required: required as u32 },
    }
}

/// A bind value of the search: text or number.
enum Param {
    Text(String),
    Int(i64),
}

/// The WHERE clause for the filters that are set (only those, so the planner can use indexes),
/// with its parameters in order.
fn filters(query: &CatalogQuery) -> (String, Vec<Param>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let mut add = |clause: &str, param: Param| {
        params.push(param);
        clauses.push(clause.replace('?', &format!("${}", params.len())));
    };
    let text: String =
        query.text.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string();
    if !text.is_empty() {
        add("s.search_text LIKE ? ESCAPE '\\'", Param::Text(like_pattern(&text)));
    }
    if let Some(squad) = &query.squad {
        add("s.squad = ?", Param::Text(squad.clone()));
    }
    if let Some(tier) = query.tier {
        add("s.tier = ?", Param::Int(tier.number() as i64));
    }
    if let Some(lifecycle) = query.lifecycle {
        add("s.lifecycle = ?", Param::Text(lifecycle.as_str().to_string()));
    }
    match query.readiness {
        Some(ReadinessFilter::Ready) => {
            clauses.push("s.readiness_met >= s.readiness_required".into())
        }
        Some(ReadinessFilter::NotReady) => {
            clauses.push("s.readiness_met < s.readiness_required".into())
        }
        None => {}
    }
    let clause =
        if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    (clause, params)
}

fn bind_all<'q, O>(
    mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    params: &[Param],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    for p in params {
        query = match p {
            Param::Text(t) => query.bind(t.clone()),
            Param::Int(i) => query.bind(*i),
        };
    }
    query
}

/// One page of a catalog search, sorted by name.
pub async fn search(store: &Store, query: &CatalogQuery) -> Result<CatalogPage, StoreError> {
    let page_size = CatalogQuery::PAGE_SIZE;
    let offset = (query.page.max(1) as i64 - 1) * page_size as i64;
    let (clause, params) = filters(query);
    let n = params.len();
    // Two statements on purpose: ORDER BY name LIMIT walks the primary key and stops early,
    // which a COUNT(*) OVER () in the same statement would prevent.
    let page_sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM services s {clause} ORDER BY s.name LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let rows: Vec<SummaryRow> = bind_all(sqlx::query_as(&page_sql), &params)
        .bind(page_size as i64)
        .bind(offset)
        .fetch_all(store.pool())
        .await?;
    let count_sql = format!("SELECT COUNT(*) FROM services s {clause}");
    let (total,): (i64,) =
        bind_all(sqlx::query_as(&count_sql), &params).fetch_one(store.pool()).await?;
    Ok(CatalogPage {
        query: query.clone(),
        services: rows.into_iter().map(summary).collect(),
        total: total as u64,
        page_size,
    })
}

const SQUAD_COLUMNS: &str = "name, display_name, description, chat_channel, oncall_rotation, oncall_url, links, parent, group_type";

fn squad_from_row(row: &sqlx::any::AnyRow, members: Vec<String>) -> Result<Squad, StoreError> {
    Ok(Squad {
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        description: row.try_get("description")?,
        chat_channel: row.try_get("chat_channel")?,
        oncall: OnCall {
            rotation: row.try_get("oncall_rotation")?,
            url: row.try_get("oncall_url")?,
        },
        members,
        links: from_json(&row.try_get::<String, _>("links")?),
        parent: row.try_get("parent")?,
        group_type: row.try_get("group_type")?,
    })
}

pub async fn squad(store: &Store, name: &str) -> Result<Option<Squad>, StoreError> {
    let row = sqlx::query(&format!("SELECT {SQUAD_COLUMNS} FROM squads WHERE name = $1"))
        .bind(name)
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let members: Vec<String> =
        sqlx::query_scalar("SELECT member FROM squad_members WHERE squad = $1 ORDER BY member")
            .bind(name)
            .fetch_all(store.pool())
            .await?;
    Ok(Some(squad_from_row(&row, members)?))
}

/// Every squad with its members, by name, in two queries (not two per squad).
pub async fn all_squads(store: &Store) -> Result<HashMap<String, Squad>, StoreError> {
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT squad, member FROM squad_members ORDER BY squad, member")
            .fetch_all(store.pool())
            .await?;
    for (squad, member) in rows {
        members.entry(squad).or_default().push(member);
    }
    let rows =
        sqlx::query(&format!("SELECT {SQUAD_COLUMNS} FROM squads")).fetch_all(store.pool()).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("name")?;
        let squad = squad_from_row(&row, members.remove(&name).unwrap_or_default())?;
        out.insert(name, squad);
    }
    Ok(out)
}

/// The squad owning `service`, or [`Squad::none`] when a person owns it; None when the squad
/// it names is gone.
async fn owning_squad(store: &Store, service: &Service) -> Result<Option<Squad>, StoreError> {
    if service.squad.is_empty() {
        return Ok(Some(Squad::none()));
    }
    squad(store, &service.squad).await
}

/// The squad ownership page: the squad, what it owns, and how ready that is.
pub async fn squad_page(store: &Store, name: &str) -> Result<Option<SquadPage>, StoreError> {
    let Some(squad) = squad(store, name).await? else { return Ok(None) };
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM services s WHERE s.squad = $1 ORDER BY s.tier, s.name"
    ))
    .bind(name)
    .fetch_all(store.pool())
    .await?;
    let services: Vec<ServiceSummary> = rows.into_iter().map(summary).collect();
    let readiness = services.iter().fold(Score::default(), |acc, s| acc.plus(s.readiness));
    let templates = crate::defaults::repo::current(store).await?.1.links;
    let links = services
        .iter()
        .map(|s| links_of(&templates, &s.name, &squad.name, "", "", s.tier))
        .collect();
    // The hierarchy is for display and roll-up: every group below this one, breadth first. A
    // team with no group under it (most squads) costs one small query more.
    let parents: Vec<(String, String)> =
        sqlx::query_as("SELECT name, parent FROM squads WHERE parent <> ''")
            .fetch_all(store.pool())
            .await?;
    let mut below: Vec<&str> = vec![squad.name.as_str()];
    let mut i = 0;
    while i < below.len() {
        let current = below[i];
        let next: Vec<&str> = parents
            .iter()
            .filter(|(n, p)| p == current && !below.contains(&n.as_str()))
            .map(|(n, _)| n.as_str())
            .collect();
        below.extend(next);
        i += 1;
    }
    let (mut children, mut subtree, mut subtree_services) =
        (Vec::new(), readiness, services.len() as u32);
    if below.len() > 1 {
        let groups = squad_summaries(store, &below).await?;
        children = groups
            .iter()
            .filter(|g| parents.iter().any(|(n, p)| n == &g.name && p == &squad.name))
            .cloned()
            .collect();
        (subtree, subtree_services) = groups
            .iter()
            .fold((Score::default(), 0), |(score, n), g| (score.plus(g.readiness), n + g.services));
    }
    Ok(Some(SquadPage { squad, services, readiness, links, children, subtree, subtree_services }))
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

/// The service page: the service, its squad and its full readiness report.
pub async fn service_page(store: &Store, name: &str) -> Result<Option<ServicePage>, StoreError> {
    let Some(service) = service(store, name).await? else { return Ok(None) };
    let Some(squad) = owning_squad(store, &service).await? else { return Ok(None) };
    let defaults = crate::defaults::repo::current(store).await?.1;
    let readiness = evaluate(&service, &squad, &defaults.readiness);
    let w = &service.workloads;
    let links = links_of(
        &defaults.links,
        &service.name,
        &squad.name,
        &w.cluster,
        &w.namespace,
        service.tier,
    );
    let overrides = super::overrides::overrides_of(store, &service.name)
        .await?
        .into_iter()
        .map(|(field, value, git_value, by)| FieldOverride { field, value, git_value, by })
        .collect();
    let related = related(store, EntityKind::Component, &service.name, Some(service.tier)).await?;
    Ok(Some(ServicePage { service, squad, readiness, links, overrides, related }))
}

/// The page of a System, Domain, API or Resource.
pub async fn entity_page(
    store: &Store,
    kind: EntityKind,
    key: &str,
) -> Result<Option<EntityPage>, StoreError> {
    let row: Option<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT title, description, owner, entity_type, lifecycle, source FROM catalog_entities WHERE kind = $1 AND key = $2",
    )
    .bind(kind.as_str())
    .bind(key)
    .fetch_optional(store.pool())
    .await?;
    let Some((title, description, owner, entity_type, lifecycle, source)) = row else {
        return Ok(None);
    };
    let entity = Entity {
        kind,
        key: key.to_string(),
        title,
        description,
        owner,
        entity_type,
        lifecycle,
        source,
    };
    Ok(Some(EntityPage { entity, related: related(store, kind, key, None).await? }))
}

/// Everything linked to an entity, both ways, read from its point of view; services with
/// their tier and readiness. `tier` is the entity's own, to flag a weak dependency.
pub async fn related(
    store: &Store,
    kind: EntityKind,
    key: &str,
    tier: Option<Tier>,
) -> Result<Vec<Linked>, StoreError> {
    // Both directions in one statement each, the other end's tier, readiness and existence
    // joined in: a page costs two queries however connected the entity is.
    type Row = (String, String, String, Option<i64>, Option<i64>, Option<i64>, i64);
    let edges = |forward: bool| {
        let (this, other) = if forward { ("from", "to") } else { ("to", "from") };
        format!(
            "SELECT r.relation, r.{other}_kind, r.{other}_key, s.tier, s.readiness_met, s.readiness_required,
                    CASE WHEN s.name IS NOT NULL OR e.key IS NOT NULL THEN 1 ELSE 0 END
             FROM catalog_relations r
             LEFT JOIN services s ON r.{other}_kind = 'component' AND s.name = r.{other}_key
             LEFT JOIN catalog_entities e ON e.kind = r.{other}_kind AND e.key = r.{other}_key
             WHERE r.{this}_kind = $1 AND r.{this}_key = $2
             ORDER BY r.relation, r.{other}_kind, r.{other}_key LIMIT {RELATED_LIMIT}"
        )
    };
    let mut out = Vec::new();
    for forward in [true, false] {
        let rows: Vec<Row> = sqlx::query_as(&edges(forward))
            .bind(kind.as_str())
            .bind(key)
            .fetch_all(store.pool())
            .await?;
        for (relation, other_kind, other, other_tier, met, required, known) in rows {
            let Some(other_kind) = EntityKind::parse(&other_kind) else { continue };
            let Some(shown) = relation_as_read(&relation, forward) else { continue };
            let other_tier = other_tier.and_then(|t| Tier::new(t).ok());
            let readiness = met
                .zip(required)
                .map(|(met, required)| Score { met: met as u32, required: required as u32 });
            let weak = shown == "depends on"
                && tier.map(|t| t.number() == 1).unwrap_or(false)
                && other_tier.map(|t| t.number() >= 3).unwrap_or(false);
            out.push(Linked {
                relation: shown.to_string(),
                kind: other_kind,
                key: other,
                tier: other_tier,
                readiness,
                known: known == 1,
                weak,
            });
        }
    }
    out.sort_by(|a, b| (&a.relation, a.kind, &a.key).cmp(&(&b.relation, b.kind, &b.key)));
    Ok(out)
}

/// At most this many edges each way on a page (a system of thousands of services lists the
/// first ones).
pub const RELATED_LIMIT: usize = 500;

/// A relation as read from one of its ends.
fn relation_as_read(relation: &str, forward: bool) -> Option<&'static str> {
    Some(match (relation, forward) {
        ("dependsOn", true) => "depends on",
        ("dependsOn", false) => "depended on by",
        ("providesApi", true) => "provides API",
        ("providesApi", false) => "provided by",
        ("consumesApi", true) => "consumes API",
        ("consumesApi", false) => "consumed by",
        ("partOf", true) => "part of",
        ("partOf", false) => "has part",
        ("subcomponentOf", true) => "subcomponent of",
        ("subcomponentOf", false) => "has subcomponent",
        _ => return None,
    })
}

/// Every squad with its service count and readiness roll-up, by name.
pub async fn squads(store: &Store) -> Result<Vec<SquadSummary>, StoreError> {
    squad_summaries_where(store, "", &[]).await
}

/// [`squads`] of the named squads only.
async fn squad_summaries(store: &Store, names: &[&str]) -> Result<Vec<SquadSummary>, StoreError> {
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    squad_summaries_where(store, &format!("WHERE q.name IN ({})", placeholders.join(", ")), names)
        .await
}

async fn squad_summaries_where(
    store: &Store,
    clause: &str,
    names: &[&str],
) -> Result<Vec<SquadSummary>, StoreError> {
    let sql = format!(
        "SELECT q.name, q.display_name, q.description,
                CAST(COUNT(s.name) AS BIGINT),
                CAST(COALESCE(SUM(s.readiness_met), 0) AS BIGINT),
                CAST(COALESCE(SUM(s.readiness_required), 0) AS BIGINT)
         FROM squads q LEFT JOIN services s ON s.squad = q.name
         {clause}
         GROUP BY q.name, q.display_name, q.description
         ORDER BY q.name"
    );
    let mut query = sqlx::query_as(&sql);
    for name in names {
        query = query.bind(*name);
    }
    let rows: Vec<(String, String, String, i64, i64, i64)> = query.fetch_all(store.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|(name, display_name, description, services, met, required)| SquadSummary {
            name,
            display_name,
            description,
            services: services as u32,
            readiness: Score { met: met as u32, required: required as u32 },
        })
        .collect())
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

/// Recomputes and stores one service's readiness score.
async fn refresh_score(store: &Store, name: &str) -> Result<(), StoreError> {
    refresh_score_with(store, name, &checks(store).await?).await
}

async fn refresh_score_with(store: &Store, name: &str, checks: &[Check]) -> Result<(), StoreError> {
    let Some(service) = service(store, name).await? else { return Ok(()) };
    let Some(squad) = owning_squad(store, &service).await? else { return Ok(()) };
    let score = evaluate(&service, &squad, checks).score;
    sqlx::query("UPDATE services SET readiness_met = $1, readiness_required = $2, search_text = $3 WHERE name = $4")
        .bind(score.met as i64)
        .bind(score.required as i64)
        .bind(search_text(&service))
        .bind(name)
        .execute(store.pool())
        .await?;
    Ok(())
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
