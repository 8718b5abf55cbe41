//! One watch cache per cluster: the kinds of `kinds::WATCHED`, kept by kube watchers as small
//! summaries (see `cache`). Page views read the caches only; when a cluster goes away the caches
//! keep serving and the cluster is marked stale since the first failure. A cluster is watched
//! whole (a ClusterRole) or in a list of namespaces (a Role in each); a namespace the console is
//! refused is remembered and reported, never a crash.

use super::cache::{DeploymentInfo, EventInfo, PodInfo, ReplicaSetInfo, Summary, Table};
use super::kinds::{self, WATCHED};
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
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const KINDS: usize = WATCHED.len();

/// What the console watches in a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every namespace (needs a ClusterRole).
    #[default]
    Cluster,
    /// Only these namespaces (a Role in each is enough).
    Namespaces(Vec<String>),
}

impl Scope {
    /// Whether `namespace` is one the console watches.
    pub fn covers(&self, namespace: &str) -> bool {
        match self {
            Scope::Cluster => true,
            Scope::Namespaces(list) => list.iter().any(|n| n == namespace),
        }
    }
}

#[derive(Debug, Default)]
struct Health {
    /// Per kind: its first list has completed (in every watched namespace).
    synced: [usize; KINDS],
    /// Per kind: its watch is failing.
    failing: [bool; KINDS],
    stale_since: Option<Timestamp>,
    /// Namespaces (empty string: the whole cluster) whose watch the API server refused (403).
    forbidden: BTreeSet<String>,
    /// Watch errors since start, for `/metrics`.
    errors: u64,
}

/// One cluster: its client (for logs) and its caches.
pub struct Cluster {
    pub name: String,
    pub client: Client,
    pub deployments: Arc<Table<DeploymentInfo>>,
    pub replica_sets: Arc<Table<ReplicaSetInfo>>,
    pub pods: Arc<Table<PodInfo>>,
    pub events: Arc<Table<EventInfo>>,
    pub scope: Scope,
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
    pub fn start(name: &str, client: Client, scope: Scope) -> Arc<Cluster> {
        let health = Arc::new(Mutex::new(Health::default()));
        let (changed, changes) = watch::channel(0u64);
        let watchers = Watchers {
            client: &client,
            scope: &scope,
            health: &health,
            changed: &Arc::new(changed),
        };
        let mut tasks = Vec::new();
        let deployments = watchers.cache::<Deployment, DeploymentInfo>(&mut tasks);
        let replica_sets = watchers.cache::<ReplicaSet, ReplicaSetInfo>(&mut tasks);
        let pods = watchers.cache::<Pod, PodInfo>(&mut tasks);
        let events = watchers.cache::<Event, EventInfo>(&mut tasks);
        tasks.push(tokio::spawn(probe(
            name.to_string(),
            client.clone(),
            health.clone(),
            watchers.changed.clone(),
        )));
        Arc::new(Cluster {
            name: name.to_string(),
            client,
            deployments,
            replica_sets,
            pods,
            events,
            scope,
            health,
            changes,
            tasks,
        })
    }

    pub fn state(&self) -> ClusterState {
        let health = self.health.lock().expect("health");
        let lists = match &self.scope {
            Scope::Cluster => 1,
            Scope::Namespaces(list) => list.len(),
        };
        ClusterState {
            name: self.name.clone(),
            // A refused namespace will never list: it counts as done (and is reported).
            synced: health.synced.iter().all(|s| *s + health.forbidden.len() >= lists),
            stale_since: health.stale_since.map(|t| t.to_string()),
            unwatched: Vec::new(),
        }
    }

    /// The state as a page about `namespaces` needs it: with those the console cannot watch
    /// (outside its scope, or refused by the cluster's RBAC).
    pub fn state_for(&self, namespaces: &[&str]) -> ClusterState {
        let mut state = self.state();
        let forbidden = self.forbidden();
        state.unwatched = namespaces
            .iter()
            .filter(|n| !self.scope.covers(n) || forbidden.contains(**n) || forbidden.contains(""))
            .map(|n| n.to_string())
            .collect();
        state
    }

    /// Namespaces whose watch the cluster refused ("" for the whole cluster).
    pub fn forbidden(&self) -> BTreeSet<String> {
        self.health.lock().expect("health").forbidden.clone()
    }

    /// Seconds since the cluster became unreachable; 0 while it is reachable.
    pub fn stale_seconds(&self) -> i64 {
        let since = self.health.lock().expect("health").stale_since;
        since.map_or(0, |t| Timestamp::now().as_second() - t.as_second())
    }

    /// Watch errors since start.
    pub fn watch_errors(&self) -> u64 {
        self.health.lock().expect("health").errors
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

/// What every watcher of one cluster shares.
struct Watchers<'a> {
    client: &'a Client,
    scope: &'a Scope,
    health: &'a Arc<Mutex<Health>>,
    changed: &'a Arc<watch::Sender<u64>>,
}

impl Watchers<'_> {
    /// A table of summaries `S` of `K`, kept by one watcher per namespace in scope (or one for
    /// the whole cluster). `K` must be a row of `kinds::WATCHED`: its slot comes from there.
    fn cache<K, S>(&self, tasks: &mut Vec<JoinHandle<()>>) -> Arc<Table<S>>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + k8s_openapi::Resource
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
        S: Summary + for<'a> From<&'a K>,
    {
        let table = Arc::new(Table::<S>::default());
        let slot = kinds::slot(<K as k8s_openapi::Resource>::KIND);
        let namespaces: Vec<Option<String>> = match self.scope {
            Scope::Cluster => vec![None],
            Scope::Namespaces(list) => list.iter().cloned().map(Some).collect(),
        };
        for namespace in namespaces {
            let api: Api<K> = match &namespace {
                None => Api::all(self.client.clone()),
                Some(ns) => Api::namespaced(self.client.clone(), ns),
            };
            tasks.push(tokio::spawn(watch_into(
                api,
                namespace,
                slot,
                table.clone(),
                self.health.clone(),
                self.changed.clone(),
            )));
        }
        table
    }
}

/// Whether the API server refused the watch (RBAC).
fn is_forbidden(error: &watcher::Error) -> bool {
    let code = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => 0,
    };
    code == 403
}

/// Keeps `table` in step with `api` (one namespace, or all when `namespace` is None).
async fn watch_into<K, S>(
    api: Api<K>,
    namespace: Option<String>,
    slot: usize,
    rows: Arc<Table<S>>,
    health: Arc<Mutex<Health>>,
    changed: Arc<watch::Sender<u64>>,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    S: Summary + for<'a> From<&'a K>,
{
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let scope = namespace.clone().unwrap_or_default();
    // A relist is applied whole when it completes, so a page never sees half of one.
    let mut relist: Option<Vec<S>> = None;
    let mut listed = false;
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
                rows.replace_in(namespace.as_deref(), relist.take().unwrap_or_default());
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
                h.errors += 1;
                if is_forbidden(&error) {
                    // Not an outage: the cluster is up and said no. Reported, not retried loudly.
                    if h.forbidden.insert(scope.clone()) {
                        tracing::warn!(%error, kind = %K::kind(&()), namespace = %scope, "watch forbidden by the cluster's RBAC");
                    }
                    false
                } else {
                    if !h.failing[slot] {
                        tracing::warn!(%error, kind = %K::kind(&()), "cluster watch failing");
                    }
                    h.failing[slot] = true;
                    h.stale_since.get_or_insert_with(Timestamp::now);
                    false
                }
            }
        };
        if applied {
            let mut h = health.lock().expect("health");
            if !listed {
                listed = true;
                h.synced[slot] += 1;
            }
            h.forbidden.remove(&scope);
            h.failing[slot] = false;
            if !h.failing.iter().any(|f| *f) {
                h.stale_since = None;
            }
        }
        changed.send_modify(|n| *n += 1);
    }
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
    pub async fn from_kubeconfig(
        path: &Path,
        contexts: &[String],
        scope: &Scope,
    ) -> Result<Clusters, K8sError> {
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
            clusters.push(Cluster::start(&name, client, scope.clone()));
        }
        Ok(Clusters::new(clusters))
    }

    /// The cluster the console runs in, from its service account.
    pub async fn in_cluster(name: &str, scope: &Scope) -> Result<Clusters, K8sError> {
        let config =
            kube::Config::incluster().map_err(|e| K8sError::Config(format!("in-cluster: {e}")))?;
        let client =
            Client::try_from(config).map_err(|e| K8sError::Config(format!("in-cluster: {e}")))?;
        Ok(Clusters::new(vec![Cluster::start(name, client, scope.clone())]))
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
