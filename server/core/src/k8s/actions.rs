//! The Kubernetes pages' use cases: read the watch caches for a service its viewer may see.

use super::model::ServiceWorkloads;
use super::views;
use crate::auth::policy::Action;
use crate::ctx::Ctx;
use crate::error::{Error, Result};

/// A service's deployments, pods and events on every cluster it maps to (from the caches: no
/// API-server request). `cluster` narrows to one cluster; empty: all.
pub async fn workloads(ctx: &Ctx, service: &str, cluster: &str) -> Result<ServiceWorkloads> {
    let svc = ctx.service(service).await?;
    ctx.authorize_user(Action::ViewWorkloads, Some(&svc.squad))?;
    let mut workloads = svc.workloads.clone();
    if !cluster.is_empty() {
        if !workloads.cluster.is_empty() && workloads.cluster != cluster {
            return Err(Error::Invalid(format!(
                "{service} runs on cluster {:?} only",
                workloads.cluster
            )));
        }
        workloads.cluster = cluster.to_string();
    }
    Ok(views::service_workloads(&ctx.clusters, &svc.name, &workloads)?)
}
