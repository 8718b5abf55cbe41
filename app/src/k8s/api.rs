//! Server functions of the Kubernetes pages: authorize, then read the watch caches.

use crate::error::AppError;
use console_core::k8s::model::ServiceWorkloads;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// A service's deployments, pods and events on every cluster it maps to (from the caches: no
/// API-server request). `cluster` narrows to one cluster; empty: all.
#[server(endpoint = "k8s/workloads", input = Json)]
pub async fn workloads_of(service: String, cluster: String) -> Result<ServiceWorkloads, AppError> {
    use crate::auth::guard::authorize_user;
    use console_core::k8s::{views, Clusters};
    use console_core::{auth::policy::Action, catalog::repo, store::Store};
    let store = expect_context::<Store>();
    let svc = repo::service(&store, &service)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("service {service:?}")))?;
    authorize_user(Action::ViewWorkloads, Some(&svc.squad))?;
    let mut workloads = svc.workloads.clone();
    if !cluster.is_empty() {
        if !workloads.cluster.is_empty() && workloads.cluster != cluster {
            return Err(AppError::BadRequest(format!(
                "{service} runs on cluster {:?} only",
                workloads.cluster
            )));
        }
        workloads.cluster = cluster;
    }
    Ok(views::service_workloads(&expect_context::<Clusters>(), &svc.name, &workloads)?)
}
