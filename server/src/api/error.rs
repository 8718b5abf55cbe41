//! How the API fails: JSON `{"error": …}`, with the statuses of every other route.

use app::error::AppError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The API's error: the one web error (same statuses as every other route), sent as JSON
/// `{"error": …}` for machines.
#[derive(Debug)]
pub struct ApiError(AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match self.0 {
            AppError::Unauthorized => "sign in or send an API token".to_string(),
            AppError::Internal => "internal error; it has been logged".to_string(),
            other => other.to_string(),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
