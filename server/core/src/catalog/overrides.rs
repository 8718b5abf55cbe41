//! The console's edits of descriptor fields, kept as overrides of Git's values (see
//! [`super::merge`] for how an import treats them).

use super::model::*;
use crate::store::{Store, StoreError};

/// Descriptor fields a console edit may override (the tier only by SREs).
pub const OVERRIDABLE: [&str; 5] = ["description", "lifecycle", "runbook", "slo", "tier"];

/// A field's value as stored text.
pub(super) fn field_of(s: &Service, field: &str) -> String {
    match field {
        "description" => s.description.clone(),
        "lifecycle" => s.lifecycle.as_str().to_string(),
        "runbook" => s.runbook.clone(),
        "slo" => s.slo.clone(),
        "tier" => s.tier.number().to_string(),
        _ => String::new(),
    }
}

pub(super) fn set_field(s: &mut Service, field: &str, value: &str) {
    match field {
        "description" => s.description = value.to_string(),
        "lifecycle" => {
            if let Some(l) = Lifecycle::parse(value) {
                s.lifecycle = l;
            }
        }
        "runbook" => s.runbook = value.to_string(),
        "slo" => s.slo = value.to_string(),
        "tier" => {
            if let Some(t) = value.parse::<u8>().ok().and_then(|n| Tier::new(n as i64).ok()) {
                s.tier = t;
            }
        }
        _ => {}
    }
}

/// A console edit of a descriptor field: recorded as an override of Git's value, cleared when
/// set back to it. `git_now` is the service as stored before the edit.
pub async fn record_edit(
    store: &Store,
    before: &Service,
    after: &Service,
    by: &str,
) -> Result<(), StoreError> {
    for field in OVERRIDABLE {
        let (old, new) = (field_of(before, field), field_of(after, field));
        if old == new {
            continue;
        }
        // Git's value: the one an earlier override kept, else the stored one (no override yet).
        let git_value: Option<String> = sqlx::query_scalar(
            "SELECT git_value FROM service_overrides WHERE service = $1 AND field = $2",
        )
        .bind(&before.name)
        .bind(field)
        .fetch_optional(store.pool())
        .await?;
        let git_value = git_value.unwrap_or(old);
        if new == git_value {
            sqlx::query("DELETE FROM service_overrides WHERE service = $1 AND field = $2")
                .bind(&before.name)
                .bind(field)
                .execute(store.pool())
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO service_overrides (service, field, value, git_value, set_by, set_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (service, field) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, set_at = excluded.set_at",
            )
            .bind(&before.name)
            .bind(field)
            .bind(&new)
            .bind(&git_value)
            .bind(by)
            .bind(crate::dates::now())
            .execute(store.pool())
            .await?;
        }
    }
    Ok(())
}

/// The console's overrides of `service`'s descriptor fields: (field, value, Git's value, by).
pub async fn overrides_of(
    store: &Store,
    service: &str,
) -> Result<Vec<(String, String, String, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT field, value, git_value, set_by FROM service_overrides WHERE service = $1 ORDER BY field")
        .bind(service)
        .fetch_all(store.pool())
        .await?)
}
