//! Kubernetes pages: a service's deployments (live) and its pod logs.

mod api;
mod deployments;
mod live;
mod logs;

pub use api::*;
pub use deployments::DeploymentsPage;
pub use logs::LogsPage;
