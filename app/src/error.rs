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
    /// Someone else changed it meanwhile, or it already exists.
    #[error("{0}")]
    Conflict(String),
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
            AppError::Conflict(_) => 409,
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

/// The only conversion from the domain: each class of [`console_core::error::Error`] is one
/// kind here, so one status. Internal causes are logged and never sent.
impl From<console_core::error::Error> for AppError {
    fn from(error: console_core::error::Error) -> Self {
        use console_core::error::Error;
        match error {
            Error::NotFound(what) => AppError::NotFound(what),
            Error::Invalid(why) => AppError::BadRequest(why),
            Error::Unauthorized => AppError::Unauthorized,
            Error::Forbidden(why) => AppError::Forbidden(why),
            Error::Conflict(why) => AppError::Conflict(why),
            Error::Throttled(why) => AppError::Throttled(why),
            Error::Unavailable(why) => AppError::Unavailable(why),
            Error::Internal(cause) => {
                #[cfg(feature = "ssr")]
                tracing::error!(%cause, "internal error");
                let _ = cause;
                AppError::Internal
            }
        }
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

/// Plain routes answer the same status as server functions, with the reason as text (the JSON
/// API wraps it as `{"error": …}`: `server/src/api_v1.rs`).
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = http::StatusCode::from_u16(self.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, self.to_string()).into_response()
    }
}
