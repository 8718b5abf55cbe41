//! Kubernetes pages: a service's deployments (live) and its pod logs.

mod deployments;
mod live;
mod logs;
mod server_fns;

pub use deployments::DeploymentsPage;
pub use logs::LogsPage;
pub use server_fns::*;
