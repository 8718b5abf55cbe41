//! Server functions of the admin area. Every one is SRE-only (`Action::AdminDefaults`).

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

#[cfg(feature = "ssr")]
impl From<console_core::defaults::repo::DefaultsError> for AppError {
    fn from(e: console_core::defaults::repo::DefaultsError) -> Self {
        use console_core::defaults::repo::DefaultsError;
        match e {
            DefaultsError::Store(e) => e.into(),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

#[server(endpoint = "admin/defaults", input = Json)]
pub async fn load_defaults() -> Result<DefaultsView, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, defaults::repo, store::Store};
    authorize_user(Action::AdminDefaults, None)?;
    let store = expect_context::<Store>();
    let (version, defaults) = repo::current(&store).await?;
    let mut history = repo::history(&store).await?;
    // Version 0, the built-in defaults, can always be rolled back to.
    history.push(console_core::defaults::Version {
        version: 0,
        author: "console".into(),
        created_at: 0,
        note: "built-in defaults".into(),
    });
    Ok(DefaultsView { version, document: defaults.to_toml(), links: defaults.links, history })
}

/// Saves a whole document (the editor, or an imported file) as the next version.
#[server(endpoint = "admin/save-document", input = Json)]
pub async fn save_document(based_on: i64, document: String, note: String) -> Result<i64, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, defaults::repo, store::Store};
    let user = authorize_user(Action::AdminDefaults, None)?;
    if document.len() > 512 * 1024 {
        return Err(AppError::BadRequest("the document is larger than 512 KB".into()));
    }
    let version =
        repo::save(&expect_context::<Store>(), based_on, &document, &user.login, note.trim())
            .await?;
    tracing::info!(login = %user.login, version, "platform defaults saved");
    Ok(version)
}

/// Saves new link templates, keeping the rest of the document.
#[server(endpoint = "admin/save-links", input = Json)]
pub async fn save_links(based_on: i64, links: Vec<LinkTemplate>) -> Result<i64, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, defaults::repo, store::Store};
    let user = authorize_user(Action::AdminDefaults, None)?;
    let store = expect_context::<Store>();
    let (_, mut defaults) = repo::current(&store).await?;
    defaults.links = links;
    let version =
        repo::save(&store, based_on, &defaults.to_toml(), &user.login, "link templates").await?;
    tracing::info!(login = %user.login, version, "link templates saved");
    Ok(version)
}

/// What `version` changed compared with the one before it.
#[server(endpoint = "admin/diff", input = Json)]
pub async fn defaults_diff(version: i64) -> Result<Vec<DiffLine>, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, defaults::repo, store::Store};
    authorize_user(Action::AdminDefaults, None)?;
    let store = expect_context::<Store>();
    let new = repo::document(&store, version).await?;
    let old = repo::document(&store, (version - 1).max(0)).await?;
    Ok(console_core::defaults::diff(&old, &new))
}

#[server(endpoint = "admin/rollback", input = Json)]
pub async fn rollback_defaults(version: i64) -> Result<i64, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::{auth::policy::Action, defaults::repo, store::Store};
    let user = authorize_user(Action::AdminDefaults, None)?;
    let new = repo::rollback(&expect_context::<Store>(), version, &user.login).await?;
    tracing::info!(login = %user.login, to = version, new, "platform defaults rolled back");
    Ok(new)
}
