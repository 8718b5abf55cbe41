//! Server functions of the Kubernetes pages: adapters over `console_core::k8s::actions`.

use crate::error::AppError;
use console_core::k8s::model::ServiceWorkloads;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// A service's deployments, pods and events on every cluster it maps to (from the caches: no
/// API-server request). `cluster` narrows to one cluster; empty: all.
#[server(endpoint = "k8s/workloads", input = Json)]
pub async fn workloads_of(service: String, cluster: String) -> Result<ServiceWorkloads, AppError> {
    use console_core::k8s::actions;
    Ok(actions::workloads(&crate::ssr::ctx(), &service, &cluster).await?)
}
