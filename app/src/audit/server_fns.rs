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
