//! Server functions of the platform defaults page: adapters over
//! `console_core::defaults::actions` (SREs only).

use crate::error::AppError;
use console_core::defaults::links::LinkTemplate;
use console_core::defaults::DiffLine;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultsView {
    pub version: i64,
    pub document: String,
    pub links: Vec<LinkTemplate>,
    pub history: Vec<console_core::defaults::Version>,
}

#[server(endpoint = "admin/defaults", input = Json)]
pub async fn load_defaults() -> Result<DefaultsView, AppError> {
    use console_core::defaults::actions;
    let (version, defaults, history) = actions::load(&crate::ssr::ctx()).await?;
    Ok(DefaultsView { version, document: defaults.to_toml(), links: defaults.links, history })
}

/// Saves a whole document (the editor, or an imported file) as the next version.
#[server(endpoint = "admin/save-document", input = Json)]
pub async fn save_document(based_on: i64, document: String, note: String) -> Result<i64, AppError> {
    use console_core::defaults::actions;
    Ok(actions::save(&crate::ssr::ctx(), based_on, &document, &note).await?)
}

/// Saves new link templates, keeping the rest of the document.
#[server(endpoint = "admin/save-links", input = Json)]
pub async fn save_links(based_on: i64, links: Vec<LinkTemplate>) -> Result<i64, AppError> {
    use console_core::defaults::actions;
    Ok(actions::save_links(&crate::ssr::ctx(), based_on, links).await?)
}

/// What `version` changed compared with the one before it.
#[server(endpoint = "admin/diff", input = Json)]
pub async fn defaults_diff(version: i64) -> Result<Vec<DiffLine>, AppError> {
    use console_core::defaults::actions;
    Ok(actions::diff(&crate::ssr::ctx(), version).await?)
}

#[server(endpoint = "admin/rollback", input = Json)]
pub async fn rollback_defaults(version: i64) -> Result<i64, AppError> {
    use console_core::defaults::actions;
    Ok(actions::rollback(&crate::ssr::ctx(), version).await?)
}
