//! The one web error type: every server function and every plain route answers with it, and
//! [`AppError::status`] is the one place that gives each kind its HTTP status. Domain errors
//! become an `AppError` through the `From` impls below.
//!
//! Internal failures are logged on the server and reach the browser only as `Internal`.

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first")]
    Unauthorized,
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// A rate or concurrency limit is spent for now.
    #[error("{0}")]
    Throttled(String),
    /// Something the console depends on (a replica, a cluster) cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    #[error("something went wrong on our side; it has been logged")]
    Internal,
    /// The call itself failed (network, encoding).
    #[error("the server could not be reached: {0}")]
    Call(String),
}

impl AppError {
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound(_) => 404,
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::Throttled(_) => 429,
            AppError::Unavailable(_) => 503,
            AppError::Internal | AppError::Call(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server: the request's arguments did not decode. The caller's mistake.
            ServerFnErrorErr::Args(why) | ServerFnErrorErr::Deserialization(why) => {
                AppError::BadRequest(format!("the request could not be read: {why}"))
            }
            other => AppError::Call(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<console_core::store::StoreError> for AppError {
    fn from(error: console_core::store::StoreError) -> Self {
        tracing::error!(%error, "store error");
        AppError::Internal
    }
}

/// Sets the HTTP status of the page being rendered on the server (no-op in the browser).
pub fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) =
        (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(code))
    {
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}

#[cfg(feature = "ssr")]
impl From<console_core::k8s::K8sError> for AppError {
    fn from(error: console_core::k8s::K8sError) -> Self {
        use console_core::k8s::K8sError;
        match error {
            K8sError::UnknownCluster(_) | K8sError::NotFound(_) => {
                AppError::BadRequest(error.to_string())
            }
            K8sError::Config(_) => {
                tracing::error!(%error, "cluster configuration");
                AppError::Internal
            }
            _ => AppError::BadRequest(error.to_string()),
        }
    }
}

/// Plain routes answer the same status as server functions, with the reason as text.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = http::StatusCode::from_u16(self.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, self.to_string()).into_response()
    }
}

#[cfg(feature = "ssr")]
impl From<console_core::query::run::RunError> for AppError {
    fn from(error: console_core::query::run::RunError) -> Self {
        use console_core::query::run::RunError;
        match error {
            RunError::Unreachable(why) => {
                tracing::warn!(%why, "replica unreachable");
                AppError::Unavailable(
                    "the replica cannot be reached right now (see the audit log)".into(),
                )
            }
            // Refusals, timeouts, the database's own (fixed-text) errors and cancels are the
            // query's outcome: the request was understood and answered.
            other => AppError::BadRequest(other.to_string()),
        }
    }
}
