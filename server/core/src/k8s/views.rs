//! From cached summaries to what the deployment page shows. Reads the caches only: a page view
//! makes no API-server request, and finds a deployment's children through the caches' indexes.

use super::cache::{DeploymentInfo, EventInfo, PodInfo, ReplicaSetInfo};
use super::model::*;
use super::selector::Selector;
use super::{Cluster, Clusters, K8sError};
use crate::catalog::model::Workloads;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most events a deployment view lists.
const EVENTS_SHOWN: usize = 50;

fn seconds_since(t: Option<Timestamp>, now: Timestamp) -> i64 {
    t.map_or(0, |t| now.as_second() - t.as_second())
}

/// The service's workloads on each cluster it maps to.
pub fn service_workloads(
    clusters: &Clusters,
    service: &str,
    workloads: &Workloads,
) -> Result<ServiceWorkloads, K8sError> {
    let selector = Selector::parse(&workloads.label_selector)?;
    if selector.is_empty() {
        return Err(K8sError::BadRequest(format!(
            "service {service:?} has an empty label selector: it would match every workload"
        )));
    }
    let picked = clusters.pick(&workloads.cluster)?;
    let now = Timestamp::now();
    let mut deployments = Vec::new();
    for cluster in &picked {
        for deployment in matching_deployments(cluster, &workloads.namespace, &selector) {
            deployments.push(deployment_view(cluster, &deployment, now));
        }
    }
    let namespaces: Vec<&str> =
        workloads.namespace.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    Ok(ServiceWorkloads {
        service: service.to_string(),
        namespace: workloads.namespace.clone(),
        selector: selector.to_string(),
        clusters: picked.iter().map(|c| c.state_for(&namespaces)).collect(),
        deployments,
    })
}

/// Deployments in one of `namespaces` (comma-separated; none: no deployment) whose labels match
/// `selector`, by namespace and name. Never every namespace: anyone who can deploy anywhere
/// could otherwise put pods and log lines into another squad's views.
pub fn matching_deployments(
    cluster: &Cluster,
    namespaces: &str,
    selector: &Selector,
) -> Vec<Arc<DeploymentInfo>> {
    let allowed: Vec<&str> =
        namespaces.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    let mut found = cluster
        .deployments
        .filter(|d| allowed.contains(&d.namespace.as_str()) && selector.matches(&d.labels));
    found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    found
}

fn replica_sets(cluster: &Cluster, deployment: &DeploymentInfo) -> Vec<Arc<ReplicaSetInfo>> {
    cluster.replica_sets.children_of(&(deployment.namespace.clone(), deployment.name.clone()))
}

/// The pods a deployment runs now (through its replica sets).
pub fn deployment_pods(cluster: &Cluster, deployment: &DeploymentInfo) -> Vec<Arc<PodInfo>> {
    let mut pods: Vec<Arc<PodInfo>> = replica_sets(cluster, deployment)
        .iter()
        .flat_map(|rs| cluster.pods.children_of(&(rs.namespace.clone(), rs.name.clone())))
        .collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    pods
}

/// Rollout status from the Deployment's conditions, as `kubectl rollout status` reads them.
pub fn rollout(d: &DeploymentInfo) -> Rollout {
    let progressing = d.progressing.clone().unwrap_or_default();
    if d.progressing.is_some() && progressing.status == "False" {
        return Rollout {
            state: RolloutState::Failed,
            reason: progressing.reason,
            message: progressing.message,
        };
    }
    let complete = d.observed_generation >= d.generation
        && d.updated >= d.desired
        && d.replicas <= d.updated
        && d.available >= d.updated;
    if complete {
        Rollout {
            state: RolloutState::Complete,
            reason: progressing.reason,
            message: progressing.message,
        }
    } else {
        let message = if d.updated < d.desired {
            format!("{} of {} updated replicas are available", d.updated, d.desired)
        } else if d.replicas > d.updated {
            format!("{} old replicas are pending termination", d.replicas - d.updated)
        } else {
            format!("{} of {} updated replicas are available", d.available, d.updated)
        };
        Rollout { state: RolloutState::Progressing, reason: progressing.reason, message }
    }
}

pub fn pod_view(pod: &PodInfo, now: Timestamp) -> PodView {
    PodView {
        name: pod.name.clone(),
        phase: pod.phase.clone(),
        ready: format!("{}/{}", pod.ready, pod.total),
        all_ready: pod.total > 0 && pod.ready == pod.total,
        restarts: pod.restarts,
        node: pod.node.clone(),
        age: age(seconds_since(pod.created, now)),
        waiting: pod.waiting.clone(),
        last_termination: pod.last_termination.clone(),
        containers: pod.containers.clone(),
        revision: 0,
    }
}

fn event_view(e: &EventInfo, now: Timestamp) -> EventView {
    let when = e.time.unwrap_or(now);
    EventView {
        time: when.to_string(),
        age: age(now.as_second() - when.as_second()),
        warning: e.warning,
        reason: e.reason.clone(),
        object: format!("{}/{}", e.kind, e.object),
        message: e.message.clone(),
        count: e.count,
    }
}

pub fn deployment_view(cluster: &Cluster, d: &DeploymentInfo, now: Timestamp) -> DeploymentView {
    let sets = replica_sets(cluster, d);
    let mut revisions: Vec<RevisionView> = sets
        .iter()
        .map(|rs| RevisionView {
            revision: rs.revision,
            replica_set: rs.name.clone(),
            images: rs.images.clone(),
            desired: rs.desired,
            ready: rs.ready,
            age: age(seconds_since(rs.created, now)),
            current: rs.revision == d.revision,
        })
        .collect();
    revisions.sort_by_key(|r| std::cmp::Reverse(r.revision));
    let set_revision: BTreeMap<&str, u64> =
        sets.iter().map(|rs| (rs.name.as_str(), rs.revision)).collect();
    let pods = deployment_pods(cluster, d);
    let pod_views = pods
        .iter()
        .map(|p| PodView {
            revision: set_revision.get(p.replica_set.as_str()).copied().unwrap_or(0),
            ..pod_view(p, now)
        })
        .collect();
    // Events about the deployment, its replica sets and its pods.
    let about = |kind: &str, name: &str| -> Vec<Arc<EventInfo>> {
        cluster
            .events
            .children_of(&(d.namespace.clone(), name.to_string()))
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect()
    };
    let mut events: Vec<Arc<EventInfo>> = about("Deployment", &d.name);
    for rs in &sets {
        events.extend(about("ReplicaSet", &rs.name));
    }
    for pod in &pods {
        events.extend(about("Pod", &pod.name));
    }
    events.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.object.cmp(&b.object)));
    DeploymentView {
        cluster: cluster.name.clone(),
        namespace: d.namespace.clone(),
        name: d.name.clone(),
        rollout: rollout(d),
        desired: d.desired,
        updated: d.updated,
        ready: d.ready,
        available: d.available,
        images: d.images.clone(),
        revision: d.revision,
        revisions,
        pods: pod_views,
        events: events.iter().take(EVENTS_SHOWN).map(|e| event_view(e, now)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus,
    };

    fn deployment(
        generation: i64,
        observed: i64,
        desired: i32,
        total: i32,
        updated: i32,
        available: i32,
        progressing: (&str, &str),
    ) -> Deployment {
        let mut d = Deployment {
            spec: DeploymentSpec { replicas: Some(desired), ..Default::default() },
            status: Some(DeploymentStatus {
                observed_generation: Some(observed),
                replicas: Some(total),
                updated_replicas: Some(updated),
                available_replicas: Some(available),
                conditions: Some(vec![DeploymentCondition {
                    type_: Some("Progressing".into()),
                    status: Some(progressing.0.into()),
                    reason: Some(progressing.1.into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        d.metadata.generation = Some(generation);
        d
    }

    fn info(
        generation: i64,
        observed: i64,
        desired: i32,
        total: i32,
        updated: i32,
        available: i32,
        progressing: (&str, &str),
    ) -> DeploymentInfo {
        DeploymentInfo::from(&deployment(
            generation,
            observed,
            desired,
            total,
            updated,
            available,
            progressing,
        ))
    }

    #[test]
    fn rollout_status_reads_conditions_and_replica_counts_as_kubectl_does() {
        let complete = rollout(&info(2, 2, 3, 3, 3, 3, ("True", "NewReplicaSetAvailable")));
        assert_eq!(complete.state, RolloutState::Complete);
        let not_observed = rollout(&info(3, 2, 3, 3, 3, 3, ("True", "ReplicaSetUpdated")));
        assert_eq!(not_observed.state, RolloutState::Progressing);
        let updating = rollout(&info(2, 2, 3, 4, 1, 3, ("True", "ReplicaSetUpdated")));
        assert_eq!(
            (updating.state, updating.message.as_str()),
            (RolloutState::Progressing, "1 of 3 updated replicas are available")
        );
        let old_left = rollout(&info(2, 2, 3, 4, 3, 3, ("True", "ReplicaSetUpdated")));
        assert_eq!(old_left.message, "1 old replicas are pending termination");
        let stalled = rollout(&info(2, 2, 3, 4, 1, 3, ("False", "ProgressDeadlineExceeded")));
        assert_eq!(
            (stalled.state, stalled.reason.as_str()),
            (RolloutState::Failed, "ProgressDeadlineExceeded")
        );
    }
}
