//! One watch cache per cluster: Deployments, ReplicaSets, Pods and Events, kept by kube watchers
//! as small summaries (see `cache`). Page views read the caches only; when a cluster goes away
//! the caches keep serving and the cluster is marked stale since the first failure.

use super::cache::{DeploymentInfo, EventInfo, PodInfo, ReplicaSetInfo, Summary, Table};
use super::model::ClusterState;
use super::K8sError;
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const KINDS: usize = 4;

#[derive(Debug, Default)]
struct Health {
    /// Per kind: its first list has completed.
    synced: [bool; KINDS],
    /// Per kind: its watch is failing.
    failing: [bool; KINDS],
    stale_since: Option<Timestamp>,
}

/// One cluster: its client (for logs) and its caches.
pub struct Cluster {
    pub name: String,
    pub client: Client,
    pub deployments: Arc<Table<DeploymentInfo>>,
    pub replica_sets: Arc<Table<ReplicaSetInfo>>,
    pub pods: Arc<Table<PodInfo>>,
    pub events: Arc<Table<EventInfo>>,
    health: Arc<Mutex<Health>>,
    /// Bumped on every change a cache applies: live views wait on it.
    changes: watch::Receiver<u64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Cluster {
    /// Connects and starts the caches; returns at once (the caches fill in the background).
    pub fn start(name: &str, client: Client) -> Arc<Cluster> {
        let health = Arc::new(Mutex::new(Health::default()));
        let (changed, changes) = watch::channel(0u64);
        let changed = Arc::new(changed);
        let (deployments, t0) = cache::<Deployment, DeploymentInfo>(&client, 0, &health, &changed);
        let (replica_sets, t1) = cache::<ReplicaSet, ReplicaSetInfo>(&client, 1, &health, &changed);
        let (pods, t2) = cache::<Pod, PodInfo>(&client, 2, &health, &changed);
        let (events, t3) = cache::<Event, EventInfo>(&client, 3, &health, &changed);
        let probe =
            tokio::spawn(probe(name.to_string(), client.clone(), health.clone(), changed.clone()));
        Arc::new(Cluster {
            name: name.to_string(),
            client,
            deployments,
            replica_sets,
            pods,
            events,
            health,
            changes,
            tasks: vec![t0, t1, t2, t3, probe],
        })
    }

    pub fn state(&self) -> ClusterState {
        let health = self.health.lock().expect("health");
        ClusterState {
            name: self.name.clone(),
            synced: health.synced.iter().all(|s| *s),
            stale_since: health.stale_since.map(|t| t.to_string()),
        }
    }

    /// A receiver that changes whenever a cache does.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Waits until every cache has completed its first list.
    pub async fn ready(&self) {
        let mut changes = self.changes();
        while !self.state().synced {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Starts a watcher for `K` across all namespaces that keeps summaries `S` of its objects.
fn cache<K, S>(
    client: &Client,
    index: usize,
    health: &Arc<Mutex<Health>>,
    changed: &Arc<watch::Sender<u64>>,
) -> (Arc<Table<S>>, JoinHandle<()>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    S: Summary + for<'a> From<&'a K>,
{
    let table = Arc::new(Table::<S>::default());
    let api: Api<K> = Api::all(client.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let (health, changed, rows) = (health.clone(), changed.clone(), table.clone());
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        // A relist is applied whole when it completes, so a page never sees half of one.
        let mut relist: Option<Vec<S>> = None;
        while let Some(event) = stream.next().await {
            let applied = match event {
                // A relist in progress changes nothing a page shows: no one is woken for it.
                Ok(watcher::Event::Init) => {
                    relist = Some(Vec::new());
                    continue;
                }
                Ok(watcher::Event::InitApply(object)) => {
                    relist.get_or_insert_with(Vec::new).push(S::from(&object));
                    continue;
                }
                Ok(watcher::Event::InitDone) => {
                    rows.replace(relist.take().unwrap_or_default());
                    true
                }
                Ok(watcher::Event::Apply(object)) => {
                    rows.upsert(S::from(&object));
                    true
                }
                Ok(watcher::Event::Delete(object)) => {
                    rows.remove(&S::from(&object).key());
                    true
                }
                Err(error) => {
                    let mut h = health.lock().expect("health");
                    if !h.failing[index] {
                        tracing::warn!(%error, kind = %K::kind(&()), "cluster watch failing");
                    }
                    h.failing[index] = true;
                    h.stale_since.get_or_insert_with(Timestamp::now);
                    false
                }
            };
            if applied {
                let mut h = health.lock().expect("health");
                h.synced[index] = true;
                h.failing[index] = false;
                if !h.failing.iter().any(|f| *f) {
                    h.stale_since = None;
                }
            }
            changed.send_modify(|n| *n += 1);
        }
    });
    (table, task)
}

/// While a watch is failing, asks the API server for its version every second: a quiet cluster
/// that comes back sends no watch event, and its banner must still clear.
async fn probe(
    name: String,
    client: Client,
    health: Arc<Mutex<Health>>,
    changed: Arc<watch::Sender<u64>>,
) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        interval.tick().await;
        let failing = health.lock().expect("health").stale_since.is_some();
        if failing && client.apiserver_version().await.is_ok() {
            let mut h = health.lock().expect("health");
            h.failing = [false; KINDS];
            h.stale_since = None;
            drop(h);
            tracing::info!(cluster = %name, "cluster reachable again");
            changed.send_modify(|n| *n += 1);
        }
    }
}

/// Every configured cluster, by name.
#[derive(Clone, Default)]
pub struct Clusters {
    clusters: Arc<Vec<Arc<Cluster>>>,
}

impl Clusters {
    pub fn new(clusters: Vec<Arc<Cluster>>) -> Clusters {
        Clusters { clusters: Arc::new(clusters) }
    }

    /// One cluster per context of the kubeconfig at `path` (`contexts` empty: all of them).
    pub async fn from_kubeconfig(path: &Path, contexts: &[String]) -> Result<Clusters, K8sError> {
        let config = Kubeconfig::read_from(path)
            .map_err(|e| K8sError::Config(format!("{}: {e}", path.display())))?;
        let names: Vec<String> = if contexts.is_empty() {
            config.contexts.iter().map(|c| c.name.clone()).collect()
        } else {
            contexts.to_vec()
        };
        let mut clusters = Vec::new();
        for name in names {
            let options = KubeConfigOptions { context: Some(name.clone()), ..Default::default() };
            let client_config =
                kube::Config::from_custom_kubeconfig(config.clone(), &options).await.map_err(
                    |e| K8sError::Config(format!("context {name:?} in {}: {e}", path.display())),
                )?;
            let client = Client::try_from(client_config)
                .map_err(|e| K8sError::Config(format!("context {name:?}: {e}")))?;
            clusters.push(Cluster::start(&name, client));
        }
        Ok(Clusters::new(clusters))
    }

    /// The cluster the console runs in, from its service account.
    pub async fn in_cluster(name: &str) -> Result<Clusters, K8sError> {
        let config =
            kube::Config::incluster().map_err(|e| K8sError::Config(format!("in-cluster: {e}")))?;
        let client =
            Client::try_from(config).map_err(|e| K8sError::Config(format!("in-cluster: {e}")))?;
        Ok(Clusters::new(vec![Cluster::start(name, client)]))
    }

    pub fn all(&self) -> &[Arc<Cluster>] {
        &self.clusters
    }

    pub fn get(&self, name: &str) -> Result<&Arc<Cluster>, K8sError> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| K8sError::UnknownCluster(name.to_string()))
    }

    /// `name` if given (it must exist), else every cluster.
    pub fn pick(&self, name: &str) -> Result<Vec<Arc<Cluster>>, K8sError> {
        if name.is_empty() {
            Ok(self.clusters.to_vec())
        } else {
            Ok(vec![self.get(name)?.clone()])
        }
    }

    pub async fn ready(&self) {
        for cluster in self.clusters.iter() {
            cluster.ready().await;
        }
    }
}
