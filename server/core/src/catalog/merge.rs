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
    let stored_services: Vec<String> =
        stored_owners.iter().map(|(name, _, _)| name.clone()).collect();
    let stored_squads: Vec<String> =
        sqlx::query_scalar("SELECT name FROM squads ORDER BY name").fetch_all(store.pool()).await?;
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

    if !options.prune && !stored_services.is_empty() {
        if batch.services.is_empty() && batch.squads.is_empty() {
            return Err(MergeError::Empty { stored: stored_services.len() });
        }
        let removed = summary.services_removed.len();
        // The share, but one removal is always allowed (a catalog of five would else refuse any).
        if removed > 1
            && removed * 100 > options.max_removed_percent as usize * stored_services.len()
        {
            let mut names: Vec<String> =
                summary.services_removed.iter().take(10).cloned().collect();
            if removed > 10 {
                names.push(format!("… ({} more)", removed - 10));
            }
            return Err(MergeError::TooManyRemoved {
                removed,
                stored: stored_services.len(),
                percent: options.max_removed_percent,
                names: names.join(", "),
            });
        }
    }

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

    for (old, new) in &summary.services_moved {
        if let Some(list) = overrides.remove(old) {
            overrides.insert(new.clone(), list);
        }
        if let Some(list) = console_attested.remove(old) {
            console_attested.insert(new.clone(), list);
        }
    }

    // The effective services: Git's, with the console's overrides (where Git still holds the
    // overridden value) and its later attestations.
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
    summary.overrides_dropped = dropped.len();

    // Each service's row as it would be written: only rows that differ are (20,000 upserts
    // cost seconds), and they are what a dry run lists as changed.
    let squads: HashMap<&str, &Squad> = batch.squads.iter().map(|s| (s.name.as_str(), s)).collect();
    let no_squad = Squad::none();
    let stored_rows = super::repo::stored_rows(store).await?;
    let mut rows: Vec<(&Service, &Vec<Attestation>, Score, bool)> =
        Vec::with_capacity(effective.len());
    for (service, git_attestations) in &effective {
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
    if options.dry_run {
        return Ok(summary);
    }

    // Squads are rewritten only when they change (members included).
    let stored_squads_rows: HashMap<String, String> = super::repo::all_squads(store)
        .await?
        .iter()
        .map(|(name, squad)| (name.clone(), squad_fingerprint(squad)))
        .collect();
    let mut tx = store.pool().begin().await?;
    // Every Git attestation is written again below: cleared in one statement, not one per
    // service (20,000 statements on a large catalog).
    // A service present but invalid (left out with --skip-invalid) keeps everything it had.
    let kept = &batch.invalid_services;
    let placeholders: Vec<String> = (1..=kept.len()).map(|i| format!("${i}")).collect();
    let clear_git = match kept.is_empty() {
        true => "DELETE FROM attestations WHERE source = 'git'".to_string(),
        false => format!(
            "DELETE FROM attestations WHERE source = 'git' AND service NOT IN ({})",
            placeholders.join(", ")
        ),
    };
    let mut clear = sqlx::query(&clear_git);
    for name in kept {
        clear = clear.bind(name);
    }
    clear.execute(&mut *tx).await?;
    for name in &summary.services_removed {
        // What SREs set up for it ends with it: a new service reusing the name starts bare.
        summary.replicas_removed += sqlx::query("DELETE FROM replicas WHERE service = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        summary.grants_ended += sqlx::query(
            "UPDATE access_grants SET revoked_at = $2 WHERE service = $1 AND revoked_at IS NULL",
        )
        .bind(name)
        .bind(crate::dates::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Attestations and overrides go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM service_overrides WHERE service = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM attestations WHERE service = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM services WHERE name = $1").bind(name).execute(&mut *tx).await?;
    }
    for squad in batch
        .squads
        .iter()
        .filter(|s| stored_squads_rows.get(&s.name) != Some(&squad_fingerprint(s)))
    {
        sqlx::query("DELETE FROM squad_members WHERE squad = $1")
            .bind(&squad.name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO squads (name, display_name, description, chat_channel, oncall_rotation, oncall_url, links, parent, group_type)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name, description = excluded.description,
                 chat_channel = excluded.chat_channel, oncall_rotation = excluded.oncall_rotation,
                 oncall_url = excluded.oncall_url, links = excluded.links, parent = excluded.parent,
                 group_type = excluded.group_type",
        )
        .bind(&squad.name)
        .bind(&squad.display_name)
        .bind(&squad.description)
        .bind(&squad.chat_channel)
        .bind(&squad.oncall.rotation)
        .bind(&squad.oncall.url)
        .bind(super::repo::to_json(&squad.links))
        .bind(&squad.parent)
        .bind(&squad.group_type)
        .execute(&mut *tx)
        .await?;
        for member in &squad.members {
            sqlx::query(
                "INSERT INTO squad_members (squad, member) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&squad.name)
            .bind(member)
            .execute(&mut *tx)
            .await?;
        }
    }
    for (service, git_attestations, score, changed) in rows {
        if changed {
            super::repo::upsert_service(&mut tx, service, score).await?;
        }
        for a in git_attestations {
            sqlx::query(
                "INSERT INTO attestations (service, check_id, attested_by, attested_at, source) VALUES ($1, $2, $3, $4, 'git')
                 ON CONFLICT (service, check_id) DO UPDATE SET attested_by = excluded.attested_by,
                     attested_at = excluded.attested_at, source = 'git'
                 WHERE attestations.source = 'git' OR attestations.attested_at <= excluded.attested_at",
            )
            .bind(&service.name)
            .bind(&a.check)
            .bind(&a.by)
            .bind(&a.at)
            .execute(&mut *tx)
            .await?;
        }
    }
    for (old, new) in &summary.services_moved {
        // The new row exists (written above): children move to it, then it takes the old uid.
        sqlx::query(
            "UPDATE attestations SET service = $2 WHERE service = $1 AND source = 'console'
                 AND check_id NOT IN (SELECT check_id FROM attestations WHERE service = $2)",
        )
        .bind(old)
        .bind(new)
        .execute(&mut *tx)
        .await?;
        for table in ["service_overrides", "replicas", "access_grants"] {
            sqlx::query(&format!("UPDATE {table} SET service = $2 WHERE service = $1"))
                .bind(old)
                .bind(new)
                .execute(&mut *tx)
                .await?;
        }
        let uid: String = sqlx::query_scalar("SELECT uid FROM services WHERE name = $1")
            .bind(old)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM attestations WHERE service = $1")
            .bind(old)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM services WHERE name = $1").bind(old).execute(&mut *tx).await?;
        sqlx::query("UPDATE services SET uid = $2 WHERE name = $1")
            .bind(new)
            .bind(uid)
            .execute(&mut *tx)
            .await?;
    }
    for (service, field) in &dropped {
        sqlx::query("DELETE FROM service_overrides WHERE service = $1 AND field = $2")
            .bind(service)
            .bind(field)
            .execute(&mut *tx)
            .await?;
    }
    for name in &summary.squads_removed {
        sqlx::query("DELETE FROM squad_members WHERE squad = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM squads WHERE name = $1").bind(name).execute(&mut *tx).await?;
    }
    // Systems, Domains, APIs, Resources and every edge are Git's alone: written as they are.
    sqlx::query("DELETE FROM catalog_entities").execute(&mut *tx).await?;
    sqlx::query("DELETE FROM catalog_relations").execute(&mut *tx).await?;
    for e in &batch.entities {
        sqlx::query(
            "INSERT INTO catalog_entities (kind, key, title, description, owner, entity_type, lifecycle, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.kind.as_str())
        .bind(&e.key)
        .bind(&e.title)
        .bind(&e.description)
        .bind(&e.owner)
        .bind(&e.entity_type)
        .bind(&e.lifecycle)
        .bind(&e.source)
        .execute(&mut *tx)
        .await?;
    }
    for r in &batch.relations {
        sqlx::query("INSERT INTO catalog_relations (from_kind, from_key, relation, to_kind, to_key) VALUES ($1, $2, $3, $4, $5)")
            .bind(r.from_kind.as_str())
            .bind(&r.from)
            .bind(&r.relation)
            .bind(r.to_kind.as_str())
            .bind(&r.to)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
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
