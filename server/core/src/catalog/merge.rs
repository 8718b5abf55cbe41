//! Importing descriptors is a merge, not a replacement: Git owns the descriptor fields, the
//! console owns what squads enter (attestations made in the console, edits of descriptor
//! fields, kept as overrides). An import adds, updates and removes what the descriptors own and
//! keeps what the console owns:
//! - an override stays while Git still holds the value it overrode; when Git changes that field
//!   the override is dropped and Git's new value counts;
//! - an attestation made in the console lives as long as its service; one written in Git and
//!   one made in the console for the same check: the later one counts;
//! - an import that would remove every service, or more than the allowed share, is refused
//!   unless pruning is asked for; a dry run says what would change and writes nothing.

mod outcome;
mod write;
pub use outcome::*;

use super::import::Batch;
use super::model::*;
use super::overrides::{field_of, set_field};
use super::readiness::{evaluate, Check};
use crate::store::{Store, StoreError};
use std::collections::{HashMap, HashSet};

/// A squad as stored, comparable between the batch and the store (members in any order).
fn squad_fingerprint(squad: &Squad) -> String {
    let mut members = squad.members.clone();
    members.sort();
    members.dedup();
    super::repo::to_json(&(
        &squad.display_name,
        &squad.description,
        &squad.chat_channel,
        &squad.oncall,
        &squad.links,
        &squad.parent,
        &squad.group_type,
        members,
    ))
}

struct Override {
    field: String,
    value: String,
    git_value: String,
}

/// Merges `batch` into the stored catalog (see the module comment). All or nothing: one
/// transaction for the catalog, then the people.
pub async fn merge(
    store: &Store,
    batch: &Batch,
    checks: &[Check],
    options: ImportOptions,
) -> Result<ImportSummary, MergeError> {
    let stored_owners: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT name, COALESCE(squad, ''), owner_person FROM services ORDER BY name",
    )
    .fetch_all(store.pool())
    .await?;
    let stored_squads: Vec<String> =
        sqlx::query_scalar("SELECT name FROM squads ORDER BY name").fetch_all(store.pool()).await?;
    let mut summary = plan(batch, &stored_owners, &stored_squads, &options);
    refuse_mass_removal(&summary, stored_owners.len(), batch, &options)?;
    let (effective, dropped) = effective_services(store, batch, &summary.services_moved).await?;
    summary.overrides_dropped = dropped.len();
    let rows = score_rows(store, batch, &effective, checks, &mut summary).await?;
    if options.dry_run {
        return Ok(summary);
    }
    write::write(store, batch, &mut summary, rows, &dropped).await?;
    crate::auth::people::replace_people(store, &batch.people).await?;
    // Fresh statistics after a bulk change, so PostgreSQL's planner picks the indexes.
    let bulk = (summary.services_added.len()
        + summary.services_removed.len()
        + summary.services_changed.len())
        * 10
        >= batch.services.len();
    if store.backend() == crate::store::Backend::Postgres && bulk {
        sqlx::query("ANALYZE services").execute(store.pool()).await?;
    }
    Ok(summary)
}

/// What the import adds, removes, keeps and moves, from names and owners alone.
fn plan(
    batch: &Batch,
    stored_owners: &[(String, String, String)],
    stored_squads: &[String],
    options: &ImportOptions,
) -> ImportSummary {
    let stored_services: Vec<String> =
        stored_owners.iter().map(|(name, _, _)| name.clone()).collect();
    let batch_services: HashSet<&str> = batch.services.iter().map(|s| s.name.as_str()).collect();
    let batch_squads: HashSet<&str> = batch.squads.iter().map(|s| s.name.as_str()).collect();
    let stored_service_set: HashSet<&str> = stored_services.iter().map(String::as_str).collect();
    let stored_squad_set: HashSet<&str> = stored_squads.iter().map(String::as_str).collect();

    let mut summary = ImportSummary {
        // A service whose descriptor is present but invalid (with --skip-invalid) is kept as it
        // is, not removed with what the console holds for it.
        services_removed: stored_services
            .iter()
            .filter(|n| {
                !batch_services.contains(n.as_str())
                    && !batch.invalid_services.iter().any(|i| i == *n)
            })
            .cloned()
            .collect(),
        services_added: batch
            .services
            .iter()
            .filter(|s| !stored_service_set.contains(s.name.as_str()))
            .map(|s| s.name.clone())
            .collect(),
        squads_removed: stored_squads
            .iter()
            .filter(|n| !batch_squads.contains(n.as_str()))
            .cloned()
            .collect(),
        squads_added: batch
            .squads
            .iter()
            .filter(|s| !stored_squad_set.contains(s.name.as_str()))
            .map(|s| s.name.clone())
            .collect(),
        people: batch.people.len(),
        skipped: batch.skipped,
        warnings: batch.warnings.iter().map(|w| w.to_string()).collect(),
        dry_run: options.dry_run,
        relations: batch.relations.len(),
        locations_followed: batch.locations_followed,
        locations_skipped: batch.locations_skipped,
        ..Default::default()
    };
    let mut per_kind: std::collections::BTreeMap<&str, usize> = Default::default();
    for entity in &batch.entities {
        *per_kind.entry(entity.kind.as_str()).or_default() += 1;
    }
    summary.entities = per_kind.into_iter().map(|(kind, n)| (kind.to_string(), n)).collect();
    // A service that moved to another namespace with the same owner (or one whose descriptor
    // named a namespace the importer once ignored) is the same service: what the console holds
    // for it moves with it rather than being removed.
    // Added services by bare name and owner, so each removed one is matched by a lookup.
    let mut added: HashMap<(&str, &str, &str), Vec<&str>> = HashMap::new();
    for s in batch.services.iter().filter(|s| !stored_service_set.contains(s.name.as_str())) {
        added
            .entry((split_key(&s.name).1, s.squad.as_str(), s.owner_person.as_str()))
            .or_default()
            .push(s.name.as_str());
    }
    let removed: HashSet<&str> = summary.services_removed.iter().map(String::as_str).collect();
    let moves: Vec<(String, String)> = stored_owners
        .iter()
        .filter(|(name, _, _)| removed.contains(name.as_str()))
        .filter_map(|(old, squad, person)| {
            match added.get(&(split_key(old).1, squad.as_str(), person.as_str())).map(Vec::as_slice)
            {
                Some([new]) => Some((old.clone(), new.to_string())),
                _ => None,
            }
        })
        .collect();
    let (moved_from, moved_to): (HashSet<&str>, HashSet<&str>) =
        moves.iter().map(|(old, new)| (old.as_str(), new.as_str())).unzip();
    summary.services_removed.retain(|n| !moved_from.contains(n.as_str()));
    summary.services_added.retain(|n| !moved_to.contains(n.as_str()));
    summary.services_moved = moves;
    summary.services_kept =
        batch.services.len() - summary.services_added.len() - summary.services_moved.len();
    summary.squads_kept = batch.squads.len() - summary.squads_added.len();
    summary
}

/// Refuses an import that would empty the catalog or remove more than the allowed share,
/// unless pruning is asked for.
fn refuse_mass_removal(
    summary: &ImportSummary,
    stored: usize,
    batch: &Batch,
    options: &ImportOptions,
) -> Result<(), MergeError> {
    if options.prune || stored == 0 {
        return Ok(());
    }
    if batch.services.is_empty() && batch.squads.is_empty() {
        return Err(MergeError::Empty { stored });
    }
    let removed = summary.services_removed.len();
    // The share, but one removal is always allowed (a catalog of five would else refuse any).
    if removed > 1 && removed * 100 > options.max_removed_percent as usize * stored {
        let mut names: Vec<String> = summary.services_removed.iter().take(10).cloned().collect();
        if removed > 10 {
            names.push(format!("… ({} more)", removed - 10));
        }
        return Err(MergeError::TooManyRemoved {
            removed,
            stored,
            percent: options.max_removed_percent,
            names: names.join(", "),
        });
    }
    Ok(())
}

/// A service as it will be stored, with the Git attestations written for it.
type Effective = (Service, Vec<Attestation>);

/// The effective services: Git's, with the console's overrides (where Git still holds the
/// overridden value) and its later attestations; and the overrides Git's changes drop.
async fn effective_services(
    store: &Store,
    batch: &Batch,
    moved: &[(String, String)],
) -> Result<(Vec<Effective>, Vec<(String, String)>), StoreError> {
    // What the console owns, read once.
    let mut overrides: HashMap<String, Vec<Override>> = HashMap::new();
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT service, field, value, git_value FROM service_overrides")
            .fetch_all(store.pool())
            .await?;
    for (service, field, value, git_value) in rows {
        overrides.entry(service).or_default().push(Override { field, value, git_value });
    }
    let mut console_attested: HashMap<String, Vec<Attestation>> = HashMap::new();
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT service, check_id, attested_by, attested_at FROM attestations WHERE source = 'console'")
            .fetch_all(store.pool())
            .await?;
    for (service, check, by, at) in rows {
        console_attested.entry(service).or_default().push(Attestation { check, by, at });
    }

    for (old, new) in moved {
        if let Some(list) = overrides.remove(old) {
            overrides.insert(new.clone(), list);
        }
        if let Some(list) = console_attested.remove(old) {
            console_attested.insert(new.clone(), list);
        }
    }

    let mut dropped: Vec<(String, String)> = Vec::new();
    let effective: Vec<(Service, Vec<Attestation>)> = batch
        .services
        .iter()
        .map(|git| {
            let mut s = git.clone();
            for o in overrides.get(&git.name).into_iter().flatten() {
                let git_now = field_of(git, &o.field);
                // An SRE's tier is not undone by Git making the service less critical (the
                // owners write the descriptor): it stays until Git is at least as critical.
                let tier_kept = o.field == "tier" && git_now > o.value;
                if git_now == o.git_value || tier_kept {
                    set_field(&mut s, &o.field, &o.value);
                } else {
                    dropped.push((git.name.clone(), o.field.clone()));
                }
            }
            let console = console_attested.get(&git.name).cloned().unwrap_or_default();
            let git_attestations: Vec<Attestation> = git
                .attestations
                .iter()
                .filter(|a| !console.iter().any(|c| c.check == a.check && c.at > a.at))
                .cloned()
                .collect();
            // Console rows with nobody attesting are withdrawals: they beat older Git ones, and
            // count as nothing themselves.
            s.attestations = console
                .iter()
                .filter(|c| {
                    !c.by.is_empty() && !git_attestations.iter().any(|g| g.check == c.check)
                })
                .cloned()
                .collect();
            s.attestations.extend(git_attestations.iter().cloned());
            (s, git_attestations)
        })
        .collect();
    Ok((effective, dropped))
}

/// A service's row to write: the service, its Git attestations, its score, and whether the
/// stored row differs.
type Row<'a> = (&'a Service, &'a Vec<Attestation>, Score, bool);

/// Scores each effective service and marks the rows that differ from the stored ones (only
/// those are written: 20,000 upserts cost seconds); they are what a dry run lists as changed.
async fn score_rows<'a>(
    store: &Store,
    batch: &Batch,
    effective: &'a [Effective],
    checks: &[Check],
    summary: &mut ImportSummary,
) -> Result<Vec<Row<'a>>, StoreError> {
    let squads: HashMap<&str, &Squad> = batch.squads.iter().map(|s| (s.name.as_str(), s)).collect();
    let no_squad = Squad::none();
    let stored_rows = super::repo::stored_rows(store).await?;
    let mut rows: Vec<Row<'a>> = Vec::with_capacity(effective.len());
    for (service, git_attestations) in effective {
        let squad = if service.squad.is_empty() {
            &no_squad
        } else {
            squads.get(service.squad.as_str()).copied().ok_or_else(|| {
                // parse() guarantees owners exist; a caller that built a batch by hand may not.
                StoreError::Sql(sqlx::Error::Protocol(format!(
                    "service {} has unknown squad {}",
                    service.name, service.squad
                )))
            })?
        };
        let score = evaluate(service, squad, checks).score;
        let stored = stored_rows.get(&service.name);
        let changed = stored != Some(&super::repo::row_fingerprint(service, score));
        if changed && stored.is_some() {
            summary.services_changed.push(service.name.clone());
        }
        rows.push((service, git_attestations, score, changed));
    }
    summary.services_kept -= summary.services_changed.len();
    Ok(rows)
}
