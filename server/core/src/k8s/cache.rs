//! What the console keeps of each cluster object: a small summary, not the object. A Pod as
//! k8s-openapi decodes it is kilobytes; the few fields the pages show are a few hundred bytes,
//! which is what lets one console watch 50,000 pods. Tables index children by their owner so a
//! page view looks up a deployment's replica sets, pods and events without scanning.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, PodSpec};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// (namespace, name).
pub type Key = (String, String);

fn revision_of<K: ResourceExt>(object: &K) -> u64 {
    object
        .annotations()
        .get("deployment.kubernetes.io/revision")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn controller<K: ResourceExt>(object: &K, kind: &str) -> String {
    object
        .owner_references()
        .iter()
        .find(|o| o.kind == kind)
        .map(|o| o.name.clone())
        .unwrap_or_default()
}

fn images(spec: Option<&PodSpec>) -> Vec<String> {
    spec.map(|s| s.containers.iter().filter_map(|c| c.image.clone()).collect()).unwrap_or_default()
}

fn created<K: ResourceExt>(object: &K) -> Option<Timestamp> {
    object.meta().creation_timestamp.as_ref().map(|t| t.0)
}

/// The Progressing condition: (status, reason, message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub status: String,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentInfo {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub revision: u64,
    pub generation: i64,
    pub observed_generation: i64,
    pub desired: i32,
    pub replicas: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub progressing: Option<Condition>,
    pub images: Vec<String>,
}

impl From<&Deployment> for DeploymentInfo {
    fn from(d: &Deployment) -> Self {
        let status = d.status.clone().unwrap_or_default();
        let progressing = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_.as_deref() == Some("Progressing"))
            .map(|c| Condition {
                status: c.status.unwrap_or_default(),
                reason: c.reason.unwrap_or_default(),
                message: c.message.unwrap_or_default(),
            });
        DeploymentInfo {
            namespace: d.namespace().unwrap_or_default(),
            name: d.name_any(),
            labels: d.labels().clone(),
            revision: revision_of(d),
            generation: d.metadata.generation.unwrap_or(0),
            observed_generation: status.observed_generation.unwrap_or(0),
            desired: d.spec.replicas.unwrap_or(1),
            replicas: status.replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            progressing,
            images: images(d.spec.template.spec.as_ref()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSetInfo {
    pub namespace: String,
    pub name: String,
    /// The owning Deployment's name.
    pub deployment: String,
    pub revision: u64,
    pub images: Vec<String>,
    pub desired: i32,
    pub ready: i32,
    pub created: Option<Timestamp>,
}

impl From<&ReplicaSet> for ReplicaSetInfo {
    fn from(rs: &ReplicaSet) -> Self {
        ReplicaSetInfo {
            namespace: rs.namespace().unwrap_or_default(),
            name: rs.name_any(),
            deployment: controller(rs, "Deployment"),
            revision: revision_of(rs),
            images: images(rs.spec.template.as_ref().and_then(|t| t.spec.as_ref())),
            desired: rs.spec.replicas.unwrap_or(0),
            ready: rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
            created: created(rs),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    /// The owning ReplicaSet's name.
    pub replica_set: String,
    pub phase: String,
    pub node: String,
    pub created: Option<Timestamp>,
    pub containers: Vec<String>,
    pub ready: usize,
    pub total: usize,
    pub restarts: i32,
    /// Why a container waits (CrashLoopBackOff, ImagePullBackOff…), or empty.
    pub waiting: String,
    /// The last termination's reason and exit code, e.g. "OOMKilled (137)", or empty.
    pub last_termination: String,
}

impl From<&Pod> for PodInfo {
    fn from(pod: &Pod) -> Self {
        let status = pod.status.as_ref();
        let statuses = status.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
        let containers: Vec<String> = pod
            .spec
            .as_ref()
            .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        PodInfo {
            namespace: pod.namespace().unwrap_or_default(),
            name: pod.name_any(),
            replica_set: controller(pod, "ReplicaSet"),
            phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
            created: created(pod),
            ready: statuses.iter().filter(|c| c.ready).count(),
            total: statuses.len().max(containers.len()),
            containers,
            restarts: statuses.iter().map(|c| c.restart_count).sum(),
            waiting: statuses
                .iter()
                .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
                .unwrap_or_default(),
            last_termination: statuses
                .iter()
                .find_map(|c| c.last_state.as_ref()?.terminated.as_ref())
                .map(|t| {
                    format!(
                        "{} ({})",
                        t.reason.clone().unwrap_or_else(|| "Terminated".into()),
                        t.exit_code
                    )
                })
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    pub namespace: String,
    pub name: String,
    /// The object it is about: kind and name.
    pub kind: String,
    pub object: String,
    pub time: Option<Timestamp>,
    pub warning: bool,
    pub reason: String,
    pub message: String,
    pub count: i32,
}

impl From<&Event> for EventInfo {
    fn from(e: &Event) -> Self {
        let time = e
            .last_timestamp
            .as_ref()
            .or(e.first_timestamp.as_ref())
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| created(e));
        EventInfo {
            namespace: e.namespace().unwrap_or_default(),
            name: e.name_any(),
            kind: e.involved_object.kind.clone().unwrap_or_default(),
            object: e.involved_object.name.clone().unwrap_or_default(),
            time,
            warning: e.type_.as_deref() == Some("Warning"),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
        }
    }
}

/// A summary that knows its key and, for children, the (namespace, name) it belongs to.
pub trait Summary: Send + Sync + 'static {
    fn key(&self) -> Key;
    /// The owner this summary is indexed under: a deployment for replica sets, a replica set for
    /// pods, the involved object for events.
    fn parent(&self) -> Option<Key>;
}

impl Summary for DeploymentInfo {
    fn key(&self) -> Key {
        (self.namespace.clone(), self.name.clone())
    }
    fn parent(&self) -> Option<Key> {
        None
    }
}

impl Summary for ReplicaSetInfo {
    fn key(&self) -> Key {
        (self.namespace.clone(), self.name.clone())
    }
    fn parent(&self) -> Option<Key> {
        Some((self.namespace.clone(), self.deployment.clone())).filter(|(_, d)| !d.is_empty())
    }
}

impl Summary for PodInfo {
    fn key(&self) -> Key {
        (self.namespace.clone(), self.name.clone())
    }
    fn parent(&self) -> Option<Key> {
        Some((self.namespace.clone(), self.replica_set.clone())).filter(|(_, r)| !r.is_empty())
    }
}

impl Summary for EventInfo {
    fn key(&self) -> Key {
        (self.namespace.clone(), self.name.clone())
    }
    fn parent(&self) -> Option<Key> {
        Some((self.namespace.clone(), self.object.clone()))
    }
}

#[derive(Default)]
struct Rows<S> {
    items: HashMap<Key, Arc<S>>,
    children: HashMap<Key, BTreeSet<String>>,
}

impl<S: Summary> Rows<S> {
    fn insert(&mut self, summary: S) {
        let key = summary.key();
        self.remove(&key);
        if let Some(parent) = summary.parent() {
            self.children.entry(parent).or_default().insert(key.1.clone());
        }
        self.items.insert(key, Arc::new(summary));
    }

    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.items.remove(key) {
            if let Some(parent) = old.parent() {
                if let Some(set) = self.children.get_mut(&parent) {
                    set.remove(&key.1);
                    if set.is_empty() {
                        self.children.remove(&parent);
                    }
                }
            }
        }
    }
}

/// One kind's summaries, indexed by key and by parent.
pub struct Table<S> {
    rows: RwLock<Rows<S>>,
}

impl<S: Summary> Default for Table<S> {
    fn default() -> Self {
        Table { rows: RwLock::new(Rows { items: HashMap::new(), children: HashMap::new() }) }
    }
}

impl<S: Summary> Table<S> {
    pub fn upsert(&self, summary: S) {
        self.rows.write().expect("table").insert(summary);
    }

    pub fn remove(&self, key: &Key) {
        self.rows.write().expect("table").remove(key);
    }

    /// Replaces everything (a completed relist).
    pub fn replace(&self, all: Vec<S>) {
        let mut rows = Rows { items: HashMap::with_capacity(all.len()), children: HashMap::new() };
        for summary in all {
            rows.insert(summary);
        }
        *self.rows.write().expect("table") = rows;
    }

    /// Replaces what one namespace's watcher lists (`None`: the whole table).
    pub fn replace_in(&self, namespace: Option<&str>, listed: Vec<S>) {
        let Some(namespace) = namespace else { return self.replace(listed) };
        let mut rows = self.rows.write().expect("table");
        let stale: Vec<Key> = rows.items.keys().filter(|k| k.0 == namespace).cloned().collect();
        for key in stale {
            rows.remove(&key);
        }
        for summary in listed {
            rows.insert(summary);
        }
    }

    pub fn get(&self, key: &Key) -> Option<Arc<S>> {
        self.rows.read().expect("table").items.get(key).cloned()
    }

    /// The children of `parent`, in name order.
    pub fn children_of(&self, parent: &Key) -> Vec<Arc<S>> {
        let rows = self.rows.read().expect("table");
        let Some(names) = rows.children.get(parent) else { return vec![] };
        names
            .iter()
            .filter_map(|name| rows.items.get(&(parent.0.clone(), name.clone())).cloned())
            .collect()
    }

    pub fn filter(&self, keep: impl Fn(&S) -> bool) -> Vec<Arc<S>> {
        self.rows.read().expect("table").items.values().filter(|s| keep(s)).cloned().collect()
    }
}
