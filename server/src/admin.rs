//! The platform defaults as a file: `GET /admin/defaults.toml` (SREs only), the same document
//! the admin page's editor imports.

use crate::AppState;
use axum::extract::{Extension, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use console_core::auth::policy::{allows, Action};
use console_core::auth::CurrentUser;
use console_core::defaults::repo;

pub const EXPORT: &str = "/admin/defaults.toml";

pub fn router() -> Router<AppState> {
    Router::new().route(EXPORT, get(export))
}

async fn export(State(state): State<AppState>, Extension(user): Extension<CurrentUser>) -> Response {
    if !allows(user.0.as_ref(), Action::AdminDefaults, None) {
        let status = if user.0.is_none() { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
        return (status, "only SREs may export the platform defaults").into_response();
    }
    match repo::current(&state.store).await {
        Ok((version, defaults)) => (
            [
                (header::CONTENT_TYPE, "application/toml; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"platform-defaults-v{version}.toml\"")),
            ],
            format!("# Platform defaults, version {version}\n{}", defaults.to_toml()),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "store error exporting defaults");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
