//! The service and entity pages, with what each is related to.

use super::*;

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
    let overrides = crate::catalog::overrides::overrides_of(store, &service.name)
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
pub(super) fn relation_as_read(relation: &str, forward: bool) -> Option<&'static str> {
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
