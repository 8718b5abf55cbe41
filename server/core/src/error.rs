//! The one error of the domain layer. Every module error becomes an [`Error`] through exactly one
//! `From` below: this file is the only place that classifies failures (not found, invalid,
//! conflict, …). The web layer maps each class to one HTTP status (`app::error::AppError`).
//!
//! `Internal` carries the cause for the log only; the browser sees a fixed sentence.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Error {
    /// The named thing does not exist (or the caller may not know that it does).
    #[error("{0} not found")]
    NotFound(String),
    /// The request itself is wrong: the text says how.
    #[error("{0}")]
    Invalid(String),
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
    /// Something the console depends on (a replica, a cluster, a provider) cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on our side; the text is for the log, never for the caller.
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(why: impl Into<String>) -> Error {
        Error::Invalid(why.into())
    }

    pub fn not_found(what: impl Into<String>) -> Error {
        Error::NotFound(what.into())
    }
}

#[cfg(feature = "server")]
mod from_modules {
    use super::Error;
    use crate::catalog::ingest::{ImportError, MergeError};
    use crate::defaults::repo::DefaultsError;
    use crate::k8s::K8sError;
    use crate::query::replicas::ReplicaError;
    use crate::query::RunError;
    use crate::store::StoreError;

    impl From<StoreError> for Error {
        fn from(e: StoreError) -> Self {
            Error::Internal(format!("store: {e}"))
        }
    }

    impl From<sqlx::Error> for Error {
        fn from(e: sqlx::Error) -> Self {
            StoreError::from(e).into()
        }
    }

    impl From<K8sError> for Error {
        fn from(e: K8sError) -> Self {
            match e {
                K8sError::UnknownCluster(_) | K8sError::NotFound(_) => Error::NotFound(match e {
                    K8sError::NotFound(what) => what,
                    other => other.to_string(),
                }),
                K8sError::Selector(_) | K8sError::BadRequest(_) => Error::Invalid(e.to_string()),
                K8sError::TooManyFollows(_) => Error::Throttled(e.to_string()),
                K8sError::Unavailable(_) | K8sError::NotWatched(_) => {
                    Error::Unavailable(e.to_string())
                }
                K8sError::Config(_) => Error::Internal(e.to_string()),
            }
        }
    }

    impl From<RunError> for Error {
        fn from(e: RunError) -> Self {
            match e {
                RunError::Unreachable(why) => {
                    tracing::warn!(%why, "replica unreachable");
                    Error::Unavailable(
                        "the replica cannot be reached right now (see the audit log)".into(),
                    )
                }
                // Refusals, timeouts, the database's own (fixed-text) errors and cancels are the
                // query's outcome: the request was understood and answered.
                other => Error::Invalid(other.to_string()),
            }
        }
    }

    impl From<DefaultsError> for Error {
        fn from(e: DefaultsError) -> Self {
            match e {
                DefaultsError::Store(e) => e.into(),
                DefaultsError::Conflict => Error::Conflict(e.to_string()),
                DefaultsError::NoSuchVersion(_) => Error::NotFound(format!("{e}")),
                DefaultsError::Invalid(_) | DefaultsError::Unchanged(_) => {
                    Error::Invalid(e.to_string())
                }
            }
        }
    }

    impl From<ReplicaError> for Error {
        fn from(e: ReplicaError) -> Self {
            match e {
                ReplicaError::Invalid(why) => Error::Invalid(why),
                ReplicaError::Store(e) => e.into(),
            }
        }
    }

    impl From<ImportError> for Error {
        fn from(e: ImportError) -> Self {
            match e {
                ImportError::Store(e) => e.into(),
                ImportError::Invalid(problems) => Error::Invalid(format!(
                    "nothing changed; {} problem(s): {}",
                    problems.len(),
                    problems.iter().take(20).map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
                )),
                ImportError::Refused(why) => Error::Invalid(format!("nothing changed: {why}")),
            }
        }
    }

    impl From<MergeError> for Error {
        fn from(e: MergeError) -> Self {
            match e {
                MergeError::Store(e) => e.into(),
                refused => Error::Invalid(format!("nothing changed: {refused}")),
            }
        }
    }
}
