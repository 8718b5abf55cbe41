//! The merge's one transaction: what the plan decided, written.

use super::{squad_fingerprint, ImportSummary, Row};
use crate::catalog::import::Batch;
use crate::store::{Store, StoreError};
use sqlx::{Any, Transaction};
use std::collections::HashMap;

type Tx<'t> = Transaction<'t, Any>;

/// Writes the merge in one transaction; counts the replicas removed and grants ended with
/// their services into `summary`.
pub(super) async fn write(
    store: &Store,
    batch: &Batch,
    summary: &mut ImportSummary,
    rows: Vec<Row<'_>>,
    dropped: &[(String, String)],
) -> Result<(), StoreError> {
    // Squads are rewritten only when they change (members included).
    let stored_squads_rows: HashMap<String, String> = crate::catalog::repo::all_squads(store)
        .await?
        .iter()
        .map(|(name, squad)| (name.clone(), squad_fingerprint(squad)))
        .collect();
    let mut tx = store.pool().begin().await?;
    clear_git_attestations(&mut tx, &batch.invalid_services).await?;
    remove_services(&mut tx, summary).await?;
    write_squads(&mut tx, batch, &stored_squads_rows).await?;
    write_services(&mut tx, rows).await?;
    move_services(&mut tx, &summary.services_moved).await?;
    for (service, field) in dropped {
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
    write_entities(&mut tx, batch).await?;
    tx.commit().await?;
    Ok(())
}

/// Every Git attestation is written again: cleared in one statement, not one per service
/// (20,000 statements on a large catalog). A service present but invalid (left out with
/// --skip-invalid) keeps everything it had.
async fn clear_git_attestations(tx: &mut Tx<'_>, kept: &[String]) -> Result<(), StoreError> {
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
    clear.execute(&mut **tx).await?;
    Ok(())
}

/// Removes the services Git no longer has, with what SREs set up for them.
async fn remove_services(tx: &mut Tx<'_>, summary: &mut ImportSummary) -> Result<(), StoreError> {
    for name in &summary.services_removed {
        // What SREs set up for it ends with it: a new service reusing the name starts bare.
        summary.replicas_removed += sqlx::query("DELETE FROM replicas WHERE service = $1")
            .bind(name)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        summary.grants_ended += sqlx::query(
            "UPDATE access_grants SET revoked_at = $2 WHERE service = $1 AND revoked_at IS NULL",
        )
        .bind(name)
        .bind(crate::dates::now())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        // Attestations and overrides go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM service_overrides WHERE service = $1")
            .bind(name)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM attestations WHERE service = $1")
            .bind(name)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM services WHERE name = $1").bind(name).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Squads are rewritten only when they change (members included).
async fn write_squads(
    tx: &mut Tx<'_>,
    batch: &Batch,
    stored: &HashMap<String, String>,
) -> Result<(), StoreError> {
    for squad in batch.squads.iter().filter(|s| stored.get(&s.name) != Some(&squad_fingerprint(s)))
    {
        sqlx::query("DELETE FROM squad_members WHERE squad = $1")
            .bind(&squad.name)
            .execute(&mut **tx)
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
        .bind(crate::catalog::repo::to_json(&squad.links))
        .bind(&squad.parent)
        .bind(&squad.group_type)
        .execute(&mut **tx)
        .await?;
        for member in &squad.members {
            sqlx::query(
                "INSERT INTO squad_members (squad, member) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&squad.name)
            .bind(member)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Upserts the rows that changed and writes every Git attestation.
async fn write_services(tx: &mut Tx<'_>, rows: Vec<Row<'_>>) -> Result<(), StoreError> {
    for (service, git_attestations, score, changed) in rows {
        if changed {
            crate::catalog::repo::upsert_service(tx, service, score).await?;
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
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// A service that moved keeps its children and its uid.
async fn move_services(tx: &mut Tx<'_>, moved: &[(String, String)]) -> Result<(), StoreError> {
    for (old, new) in moved {
        // The new row exists (written above): children move to it, then it takes the old uid.
        sqlx::query(
            "UPDATE attestations SET service = $2 WHERE service = $1 AND source = 'console'
                 AND check_id NOT IN (SELECT check_id FROM attestations WHERE service = $2)",
        )
        .bind(old)
        .bind(new)
        .execute(&mut **tx)
        .await?;
        for table in ["service_overrides", "replicas", "access_grants"] {
            sqlx::query(&format!("UPDATE {table} SET service = $2 WHERE service = $1"))
                .bind(old)
                .bind(new)
                .execute(&mut **tx)
                .await?;
        }
        let uid: String = sqlx::query_scalar("SELECT uid FROM services WHERE name = $1")
            .bind(old)
            .fetch_one(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM attestations WHERE service = $1")
            .bind(old)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM services WHERE name = $1").bind(old).execute(&mut **tx).await?;
        sqlx::query("UPDATE services SET uid = $2 WHERE name = $1")
            .bind(new)
            .bind(uid)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Systems, Domains, APIs, Resources and every edge are Git's alone: written as they are.
async fn write_entities(tx: &mut Tx<'_>, batch: &Batch) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM catalog_entities").execute(&mut **tx).await?;
    sqlx::query("DELETE FROM catalog_relations").execute(&mut **tx).await?;
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
        .execute(&mut **tx)
        .await?;
    }
    for r in &batch.relations {
        sqlx::query("INSERT INTO catalog_relations (from_kind, from_key, relation, to_kind, to_key) VALUES ($1, $2, $3, $4, $5)")
            .bind(r.from_kind.as_str())
            .bind(&r.from)
            .bind(&r.relation)
            .bind(r.to_kind.as_str())
            .bind(&r.to)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
