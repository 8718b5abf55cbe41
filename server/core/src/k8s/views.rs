//! From cached objects to what the deployment page shows. Reads the caches only: a page view
//! makes no API-server request.

use super::model::*;
use super::selector::Selector;
use super::{Cluster, Clusters, K8sError};
use crate::catalog::model::Workloads;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The most events a deployment view lists.
const EVENTS_SHOWN: usize = 50;

fn seconds_since(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>, now: Timestamp) -> i64 {
    t.map_or(0, |t| now.as_second() - t.0.as_second())
}

fn revision_of<K: ResourceExt>(object: &K) -> u64 {
    object.annotations().get("deployment.kubernetes.io/revision").and_then(|r| r.parse().ok()).unwrap_or(0)
}

fn owned_by<K: ResourceExt>(object: &K, kind: &str, name: &str) -> bool {
    object.owner_references().iter().any(|o| o.kind == kind && o.name == name)
}

/// The service's workloads on each cluster it maps to.
pub fn service_workloads(clusters: &Clusters, service: &str, workloads: &Workloads) -> Result<ServiceWorkloads, K8sError> {
    let selector = Selector::parse(&workloads.label_selector)?;
    if selector.is_empty() {
        return Err(K8sError::BadRequest(format!("service {service:?} has an empty label selector: it would match every workload")));
    }
    let picked = clusters.pick(&workloads.cluster)?;
    let now = Timestamp::now();
    let mut deployments = Vec::new();
    for cluster in &picked {
        deployments.extend(cluster_deployments(cluster, &workloads.namespace, &selector, now));
    }
    Ok(ServiceWorkloads {
        service: service.to_string(),
        namespace: workloads.namespace.clone(),
        selector: selector.to_string(),
        clusters: picked.iter().map(|c| c.state()).collect(),
        deployments,
    })
}

/// Deployments in `namespace` ("" for all) whose labels match `selector`.
pub fn matching_deployments(cluster: &Cluster, namespace: &str, selector: &Selector) -> Vec<Arc<Deployment>> {
    let mut found = cluster.deployments.state_filter(|d| {
        (namespace.is_empty() || d.namespace().as_deref() == Some(namespace)) && selector.matches(d.labels())
    });
    found.sort_by(|a, b| (a.namespace(), a.name_any()).cmp(&(b.namespace(), b.name_any())));
    found
}

/// The pods a deployment runs now (through its replica sets).
pub fn deployment_pods(cluster: &Cluster, deployment: &Deployment) -> Vec<Arc<Pod>> {
    let namespace = deployment.namespace().unwrap_or_default();
    let sets: HashSet<String> = cluster
        .replica_sets
        .state_filter(|rs| rs.namespace().as_deref() == Some(&namespace) && owned_by(rs, "Deployment", &deployment.name_any()))
        .iter()
        .map(|rs| rs.name_any())
        .collect();
    let mut pods = cluster.pods.state_filter(|p| {
        p.namespace().as_deref() == Some(&namespace) && p.owner_references().iter().any(|o| o.kind == "ReplicaSet" && sets.contains(&o.name))
    });
    pods.sort_by_key(|p| p.name_any());
    pods
}

fn cluster_deployments(cluster: &Cluster, namespace: &str, selector: &Selector, now: Timestamp) -> Vec<DeploymentView> {
    matching_deployments(cluster, namespace, selector)
        .iter()
        .map(|deployment| {
            let ns = deployment.namespace().unwrap_or_default();
            let name = deployment.name_any();
            let sets: Vec<Arc<ReplicaSet>> = cluster
                .replica_sets
                .state_filter(|rs| rs.namespace().as_deref() == Some(&ns) && owned_by(rs, "Deployment", &name));
            let set_names: HashSet<String> = sets.iter().map(|rs| rs.name_any()).collect();
            let pods: Vec<Arc<Pod>> = cluster.pods.state_filter(|p| {
                p.namespace().as_deref() == Some(&ns)
                    && p.owner_references().iter().any(|o| o.kind == "ReplicaSet" && set_names.contains(&o.name))
            });
            let pod_names: HashSet<String> = pods.iter().map(|p| p.name_any()).collect();
            let events = cluster.events.state_filter(|e| {
                e.namespace().as_deref() == Some(&ns) && {
                    let object = e.involved_object.name.as_deref().unwrap_or_default();
                    match e.involved_object.kind.as_deref() {
                        Some("Deployment") => object == name,
                        Some("ReplicaSet") => set_names.contains(object),
                        Some("Pod") => pod_names.contains(object),
                        _ => false,
                    }
                }
            });
            deployment_view(&cluster.name, deployment, &sets, &pods, &events, now)
        })
        .collect()
}

/// Rollout status from the Deployment's conditions, as `kubectl rollout status` reads them.
pub fn rollout(deployment: &Deployment) -> Rollout {
    let status = deployment.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    let progressing = conditions.iter().find(|c| c.type_.as_deref() == Some("Progressing"));
    let text = |c: Option<&k8s_openapi::api::apps::v1::DeploymentCondition>| {
        (c.and_then(|c| c.reason.clone()).unwrap_or_default(), c.and_then(|c| c.message.clone()).unwrap_or_default())
    };
    if let Some(c) = progressing.filter(|c| c.status.as_deref() == Some("False")) {
        let (reason, message) = text(Some(c));
        return Rollout { state: RolloutState::Failed, reason, message };
    }
    let desired = deployment.spec.replicas.unwrap_or(1);
    let generation_seen = status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let (reason, message) = text(progressing);
    let complete = generation_seen && updated >= desired && total <= updated && available >= updated;
    if complete {
        Rollout { state: RolloutState::Complete, reason, message }
    } else {
        let message = if updated < desired {
            format!("{updated} of {desired} updated replicas are available")
        } else if total > updated {
            format!("{} old replicas are pending termination", total - updated)
        } else {
            format!("{available} of {updated} updated replicas are available")
        };
        Rollout { state: RolloutState::Progressing, reason, message }
    }
}

fn images(spec: Option<&k8s_openapi::api::core::v1::PodSpec>) -> Vec<String> {
    spec.map(|s| s.containers.iter().filter_map(|c| c.image.clone()).collect()).unwrap_or_default()
}

pub fn pod_view(pod: &Pod, now: Timestamp) -> PodView {
    let status = pod.status.clone().unwrap_or_default();
    let statuses = status.container_statuses.unwrap_or_default();
    let ready = statuses.iter().filter(|c| c.ready).count();
    let waiting = statuses
        .iter()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .next()
        .unwrap_or_default();
    let last_termination = statuses
        .iter()
        .filter_map(|c| c.last_state.as_ref()?.terminated.as_ref())
        .map(|t| format!("{} ({})", t.reason.clone().unwrap_or_else(|| "Terminated".into()), t.exit_code))
        .next()
        .unwrap_or_default();
    PodView {
        name: pod.name_any(),
        phase: status.phase.unwrap_or_default(),
        ready: format!("{ready}/{}", statuses.len().max(pod.spec.as_ref().map_or(0, |s| s.containers.len()))),
        all_ready: !statuses.is_empty() && ready == statuses.len(),
        restarts: statuses.iter().map(|c| c.restart_count).sum(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
        age: age(seconds_since(pod.metadata.creation_timestamp.as_ref(), now)),
        waiting,
        last_termination,
        containers: pod.spec.as_ref().map(|s| s.containers.iter().map(|c| c.name.clone()).collect()).unwrap_or_default(),
        revision: 0,
    }
}

pub fn deployment_view(
    cluster: &str,
    deployment: &Deployment,
    sets: &[Arc<ReplicaSet>],
    pods: &[Arc<Pod>],
    events: &[Arc<Event>],
    now: Timestamp,
) -> DeploymentView {
    let status = deployment.status.clone().unwrap_or_default();
    let revision = revision_of(deployment);
    let mut revisions: Vec<RevisionView> = sets
        .iter()
        .map(|rs| RevisionView {
            revision: revision_of(rs.as_ref()),
            replica_set: rs.name_any(),
            images: images(rs.spec.template.as_ref().and_then(|t| t.spec.as_ref())),
            desired: rs.spec.replicas.unwrap_or(0),
            ready: rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
            age: age(seconds_since(rs.metadata.creation_timestamp.as_ref(), now)),
            current: revision_of(rs.as_ref()) == revision,
        })
        .collect();
    revisions.sort_by(|a, b| b.revision.cmp(&a.revision));
    let set_revision: BTreeMap<String, u64> = revisions.iter().map(|r| (r.replica_set.clone(), r.revision)).collect();
    let mut pod_views: Vec<PodView> = pods
        .iter()
        .map(|p| {
            let mut view = pod_view(p, now);
            view.revision = p
                .owner_references()
                .iter()
                .find_map(|o| set_revision.get(&o.name).copied())
                .unwrap_or(0);
            view
        })
        .collect();
    pod_views.sort_by(|a, b| a.name.cmp(&b.name));
    let mut event_list: Vec<(Timestamp, EventView)> = events
        .iter()
        .map(|e| {
            let when = e
                .last_timestamp
                .as_ref()
                .or(e.first_timestamp.as_ref())
                .map(|t| t.0)
                .or_else(|| e.event_time.as_ref().map(|t| t.0))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
                .unwrap_or(now);
            let view = EventView {
                time: when.to_string(),
                age: age(now.as_second() - when.as_second()),
                warning: e.type_.as_deref() == Some("Warning"),
                reason: e.reason.clone().unwrap_or_default(),
                object: format!(
                    "{}/{}",
                    e.involved_object.kind.clone().unwrap_or_default(),
                    e.involved_object.name.clone().unwrap_or_default()
                ),
                message: e.message.clone().unwrap_or_default(),
                count: e.count.unwrap_or(1),
            };
            (when, view)
        })
        .collect();
    event_list.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.object.cmp(&b.1.object)));
    DeploymentView {
        cluster: cluster.to_string(),
        namespace: deployment.namespace().unwrap_or_default(),
        name: deployment.name_any(),
        rollout: rollout(deployment),
        desired: deployment.spec.replicas.unwrap_or(1),
        updated: status.updated_replicas.unwrap_or(0),
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        images: images(deployment.spec.template.spec.as_ref()),
        revision,
        revisions,
        pods: pod_views,
        events: event_list.into_iter().take(EVENTS_SHOWN).map(|(_, v)| v).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};

    fn deployment(generation: i64, observed: i64, desired: i32, total: i32, updated: i32, available: i32, progressing: (&str, &str)) -> Deployment {
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

    #[test]
    fn rollout_status_reads_conditions_and_replica_counts_as_kubectl_does() {
        let complete = rollout(&deployment(2, 2, 3, 3, 3, 3, ("True", "NewReplicaSetAvailable")));
        assert_eq!(complete.state, RolloutState::Complete);
        let not_observed = rollout(&deployment(3, 2, 3, 3, 3, 3, ("True", "ReplicaSetUpdated")));
        assert_eq!(not_observed.state, RolloutState::Progressing);
        let updating = rollout(&deployment(2, 2, 3, 4, 1, 3, ("True", "ReplicaSetUpdated")));
        assert_eq!((updating.state, updating.message.as_str()), (RolloutState::Progressing, "1 of 3 updated replicas are available"));
        let old_left = rollout(&deployment(2, 2, 3, 4, 3, 3, ("True", "ReplicaSetUpdated")));
        assert_eq!(old_left.message, "1 old replicas are pending termination");
        let stalled = rollout(&deployment(2, 2, 3, 4, 1, 3, ("False", "ProgressDeadlineExceeded")));
        assert_eq!((stalled.state, stalled.reason.as_str()), (RolloutState::Failed, "ProgressDeadlineExceeded"));
    }
}
