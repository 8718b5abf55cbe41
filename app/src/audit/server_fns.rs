//! Server functions for a service's read record.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// One read of a service's data, as its owners see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRead {
    pub at: i64,
    /// `logs.read`, `logs.followed`, `logs.follow-ended`, `logs.downloaded`, `query.finished`.
    pub kind: String,
    pub actor: String,
    /// Window and filter of a log read; the SQL of a query.
    pub detail: String,
    pub rows: i64,
}

/// The newest 500 reads of `service`: its owning squad and SREs only.
#[server(endpoint = "audit/service-reads", input = Json)]
pub async fn service_reads(service: String) -> Result<Vec<ServiceRead>, AppError> {
    use console_core::audit::actions;
    let reads = actions::service_reads(&crate::ssr::ctx(), &service).await?;
    Ok(reads
        .into_iter()
        .map(|r| ServiceRead {
            at: r.at,
            kind: r.kind,
            actor: r.actor,
            detail: r.detail,
            rows: r.rows,
        })
        .collect())
}

/// The filters of `/audit`, as typed; every field may be empty (or left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventFilter {
    pub actor: String,
    pub service: String,
    /// A kind (`query.finished`) or a family (`query`).
    pub kind: String,
    pub outcome: String,
    /// `YYYY-MM-DD`.
    pub from: String,
    /// `YYYY-MM-DD`, inclusive.
    pub to: String,
    /// Found in the detail, the target or the SQL.
    pub text: String,
}

impl EventFilter {
    pub const FIELDS: [&'static str; 7] =
        ["actor", "service", "kind", "outcome", "from", "to", "text"];

    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let field = |k: &str| get(k).unwrap_or_default();
        EventFilter {
            actor: field("actor"),
            service: field("service"),
            kind: field("kind"),
            outcome: field("outcome"),
            from: field("from"),
            to: field("to"),
            text: field("text"),
        }
    }

    /// The filter as a query string (non-empty fields only), for links that keep it.
    pub fn to_query_string(&self) -> String {
        let values = [
            &self.actor,
            &self.service,
            &self.kind,
            &self.outcome,
            &self.from,
            &self.to,
            &self.text,
        ];
        Self::FIELDS
            .iter()
            .zip(values)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", console_core::catalog::encode_component(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// One event of the log, as `/audit` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    /// The API token the person acted through, if any.
    pub token: String,
    pub service: String,
    pub target: String,
    pub outcome: String,
    pub detail: String,
    pub sql: String,
    pub rows: i64,
    pub duration_ms: i64,
}

/// One page of `/audit`: the events, and the id to ask for the older ones with, if any match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    pub older: Option<i64>,
}

/// One page of the event log, every kind, filtered, newest first (SREs).
#[server(endpoint = "audit/events", input = Json)]
pub async fn audit_events(
    filter: EventFilter,
    #[server(default)] before: Option<i64>,
) -> Result<EventPage, AppError> {
    use console_core::audit::actions::{self, FilterForm};
    let form = FilterForm {
        actor: filter.actor,
        service: filter.service,
        kind: filter.kind,
        outcome: filter.outcome,
        from: filter.from,
        to: filter.to,
        text: filter.text,
    };
    let (events, more) = actions::browse(&crate::ssr::ctx(), &form, before).await?;
    let older = if more { events.last().map(|e| e.id) } else { None };
    let events = events
        .into_iter()
        .map(|e| AuditEvent {
            id: e.id,
            at: e.at,
            kind: e.kind,
            actor: e.actor,
            token: e.token,
            service: e.entity,
            target: e.target,
            outcome: e.outcome,
            detail: e.detail,
            sql: e.sql_text,
            rows: e.row_count,
            duration_ms: e.duration_ms,
        })
        .collect();
    Ok(EventPage { events, older })
}
