//! Squads: one squad, all of them, their summaries and the ownership page.

use super::*;

pub(super) const SQUAD_COLUMNS: &str = "name, display_name, description, chat_channel, oncall_rotation, oncall_url, links, parent, group_type";

pub(super) fn squad_from_row(
    row: &sqlx::any::AnyRow,
    members: Vec<String>,
) -> Result<Squad, StoreError> {
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
pub(super) async fn owning_squad(
    store: &Store,
    service: &Service,
) -> Result<Option<Squad>, StoreError> {
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

/// Every squad with its service count and readiness roll-up, by name.
pub async fn squads(store: &Store) -> Result<Vec<SquadSummary>, StoreError> {
    squad_summaries_where(store, "", &[]).await
}

/// [`squads`] of the named squads only.
pub(super) async fn squad_summaries(
    store: &Store,
    names: &[&str],
) -> Result<Vec<SquadSummary>, StoreError> {
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    squad_summaries_where(store, &format!("WHERE q.name IN ({})", placeholders.join(", ")), names)
        .await
}

pub(super) async fn squad_summaries_where(
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
