//! Kubernetes: each service's deployments, pods and events across clusters, and their logs.
//!
//! `selector` and `model` are plain data (they compile to wasm for the pages). The rest runs on
//! the server: `clusters` keeps a watch cache per cluster (page views never call the API server),
//! `views` turns cached objects into what the pages show, `logs` reads pod logs through the API.

#[cfg(feature = "server")]
pub mod actions;
pub mod model;
pub mod selector;

#[cfg(feature = "server")]
pub mod cache;
#[cfg(feature = "server")]
pub mod clusters;
#[cfg(feature = "server")]
pub mod kinds;
#[cfg(feature = "server")]
pub mod logs;
#[cfg(feature = "server")]
pub mod views;

#[cfg(feature = "server")]
pub use clusters::{Cluster, Clusters, Scope};

/// What went wrong, in words fit for the person who asked. API-server details are logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum K8sError {
    #[error("no cluster named {0:?} is configured")]
    UnknownCluster(String),
    #[error(transparent)]
    Selector(#[from] selector::SelectorError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("you already follow {0} log streams: close one first")]
    TooManyFollows(u64),
    #[error("cluster {0:?} is not reachable right now")]
    Unavailable(String),
    /// The console may not watch the service's namespace there (its configuration or the
    /// cluster's RBAC): not the user's fault, and not a service without pods.
    #[error("the console may not watch namespace {0}: the platform team grants it in the console's RBAC")]
    NotWatched(String),
    #[error("cluster configuration: {0}")]
    Config(String),
}
