//! The read-only JSON API for machines: `/api/v1/services`, `/api/v1/squads`.

use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use console_core::catalog::{repo, CatalogQuery};
use console_core::store::StoreError;
use std::collections::HashMap;

/// The API layer's error: client mistakes are explained, internals are logged and hidden.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::Store(error) => {
                tracing::error!(%error, "store error in API");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; it has been logged".to_string())
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/services", get(list_services))
        .route("/services/{name}", get(show_service))
        .route("/squads", get(list_squads))
        .route("/squads/{name}", get(show_squad))
}

/// Same parameters as the catalog page: q, squad, tier, lifecycle, readiness, page.
async fn list_services(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<console_core::catalog::CatalogPage> {
    let query = CatalogQuery::from_params(|k| params.get(k).map(String::as_str)).map_err(ApiError::BadRequest)?;
    Ok(Json(repo::search(&state.store, &query).await?))
}

async fn show_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<console_core::catalog::ServicePage> {
    repo::service_page(&state.store, &name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("service {name:?}")))
}

async fn list_squads(State(state): State<AppState>) -> ApiResult<Vec<console_core::catalog::SquadSummary>> {
    Ok(Json(repo::squads(&state.store).await?))
}

async fn show_squad(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<console_core::catalog::SquadPage> {
    repo::squad_page(&state.store, &name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("squad {name:?}")))
}
