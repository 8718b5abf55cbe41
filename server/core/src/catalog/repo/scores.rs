//! Readiness scores: the org-wide report, and each service's score under the platform's checks.

use super::*;

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

/// Recomputes and stores one service's readiness score.
pub(super) async fn refresh_score(store: &Store, name: &str) -> Result<(), StoreError> {
    refresh_score_with(store, name, &checks(store).await?).await
}

pub(super) async fn refresh_score_with(
    store: &Store,
    name: &str,
    checks: &[Check],
) -> Result<(), StoreError> {
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
