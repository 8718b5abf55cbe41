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

/// Every error under `/api/v1` is JSON, whichever layer answered it (an unknown route, a wrong
/// method, the sign-in and origin checks, an extractor's rejection): a script reads `{"error"}`
/// and never an HTML page. Applied outside every other layer of the router.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let api = path == "/api/v1" || path.starts_with("/api/v1/");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The layers' own answers are short texts; a page (the HTML 404) says nothing a script needs.
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = if text.trim().is_empty() || text.trim_start().starts_with('<') {
        match status {
            StatusCode::NOT_FOUND => {
                "no such API route (the routes are in docs/openapi.yaml)".to_string()
            }
            StatusCode::METHOD_NOT_ALLOWED => "this route does not take that method".to_string(),
            other => other.canonical_reason().unwrap_or("error").to_lowercase(),
        }
    } else {
        text.trim().to_string()
    };
    let mut reply = (status, Json(serde_json::json!({ "error": message }))).into_response();
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            reply.headers_mut().append(name.clone(), value.clone());
        }
    }
    reply
}
