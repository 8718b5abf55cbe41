//! The sandbox's API-server state: objects by kind, one resourceVersion counter, a bounded
//! history of changes for `watch` to replay, and the containers' log buffers.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// The resources the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Deployment,
    ReplicaSet,
    Pod,
    Event,
}

impl Kind {
    /// From a URL's group path and plural, e.g. ("apps/v1", "deployments").
    pub fn from_path(group: &str, plural: &str) -> Option<Kind> {
        match (group, plural) {
            ("apps/v1", "deployments") => Some(Kind::Deployment),
            ("apps/v1", "replicasets") => Some(Kind::ReplicaSet),
            ("v1", "pods") => Some(Kind::Pod),
            ("v1", "events") => Some(Kind::Event),
            _ => None,
        }
    }

    pub fn list_kind(self) -> (&'static str, &'static str) {
        match self {
            Kind::Deployment => ("apps/v1", "DeploymentList"),
            Kind::ReplicaSet => ("apps/v1", "ReplicaSetList"),
            Kind::Pod => ("v1", "PodList"),
            Kind::Event => ("v1", "EventList"),
        }
    }
}

pub type Key = (String, String);

/// One stored object: its wire JSON (with metadata.resourceVersion set) and labels for selectors.
#[derive(Debug, Clone)]
pub struct Stored {
    pub json: Arc<Value>,
    pub labels: BTreeMap<String, String>,
}

/// A change, as a watch stream delivers it.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: Kind,
    pub rv: u64,
    pub namespace: String,
    /// ADDED, MODIFIED or DELETED.
    pub verb: &'static str,
    pub object: Stored,
}

/// One log line of one container.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub time: Timestamp,
    pub text: String,
    /// The container's run ended (restart or pod gone): a follow of it ends here.
    pub end: bool,
}

#[derive(Debug, Default)]
pub struct ContainerLogs {
    pub current: VecDeque<(Timestamp, String)>,
    pub previous: Option<Vec<(Timestamp, String)>>,
}

pub const LOG_LINES_KEPT: usize = 5_000;

pub struct World {
    pub rv: u64,
    objects: HashMap<Kind, BTreeMap<Key, Stored>>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    pub logs: HashMap<(String, String, String), ContainerLogs>,
    pub changes: broadcast::Sender<Arc<Change>>,
    pub log_lines: broadcast::Sender<Arc<LogLine>>,
    /// See `Options::lingering_follows`: a deleted pod's follows are not ended.
    pub lingering_follows: bool,
}

impl World {
    pub fn new(history_limit: usize) -> World {
        World {
            rv: 1,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_limit,
            logs: HashMap::new(),
            changes: broadcast::channel(65_536).0,
            log_lines: broadcast::channel(65_536).0,
            lingering_follows: false,
        }
    }

    /// Creates or replaces an object; it gets the next resourceVersion.
    pub fn put<T: serde::Serialize>(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        object: &T,
    ) {
        let mut json = serde_json::to_value(object).expect("k8s objects serialize");
        self.rv += 1;
        json["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        let labels = json["metadata"]["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let stored = Stored { json: Arc::new(json), labels };
        let key = (namespace.to_string(), name.to_string());
        let previous = self.objects.entry(kind).or_default().insert(key, stored.clone());
        let verb = if previous.is_some() { "MODIFIED" } else { "ADDED" };
        self.record(kind, namespace, verb, stored);
    }

    pub fn delete(&mut self, kind: Kind, namespace: &str, name: &str) {
        let key = (namespace.to_string(), name.to_string());
        if let Some(gone) = self.objects.entry(kind).or_default().remove(&key) {
            self.rv += 1;
            let mut json = (*gone.json).clone();
            json["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
            let stored = Stored { json: Arc::new(json), labels: gone.labels };
            self.record(kind, namespace, "DELETED", stored);
        }
    }

    fn record(&mut self, kind: Kind, namespace: &str, verb: &'static str, object: Stored) {
        let change =
            Arc::new(Change { kind, rv: self.rv, namespace: namespace.to_string(), verb, object });
        if self.history.len() == self.history_limit {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
        let _ = self.changes.send(change);
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Stored> {
        self.objects.get(&kind)?.get(&(namespace.to_string(), name.to_string()))
    }

    /// Objects of `kind` after `after` (exclusive), in key order, in `namespace` if given.
    pub fn list<'a>(
        &'a self,
        kind: Kind,
        namespace: Option<&'a str>,
        after: Option<Key>,
    ) -> impl Iterator<Item = (&'a Key, &'a Stored)> + 'a {
        use std::ops::Bound;
        let lower = match after {
            Some(key) => Bound::Excluded(key),
            None => Bound::Unbounded,
        };
        self.objects
            .get(&kind)
            .into_iter()
            .flat_map(move |m| m.range((lower.clone(), Bound::Unbounded)))
            .filter(move |((ns, _), _)| namespace.is_none_or(|n| n == ns))
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.objects.get(&kind).map_or(0, |m| m.len())
    }

    /// Changes after `rv`, or None when the history no longer reaches back that far (410 Gone).
    pub fn changes_since(&self, rv: u64) -> Option<Vec<Arc<Change>>> {
        match self.history.front() {
            Some(first) if first.rv > rv + 1 => None,
            _ => Some(self.history.iter().filter(|c| c.rv > rv).cloned().collect()),
        }
    }

    pub fn write_log(&mut self, namespace: &str, pod: &str, container: &str, text: String) {
        let time = Timestamp::now();
        let logs = self.logs.entry((namespace.into(), pod.into(), container.into())).or_default();
        if logs.current.len() == LOG_LINES_KEPT {
            logs.current.pop_front();
        }
        logs.current.push_back((time, text.clone()));
        let line = LogLine {
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
            time,
            text,
            end: false,
        };
        let _ = self.log_lines.send(Arc::new(line));
    }

    /// The container restarted: its current log becomes the previous one.
    pub fn restart_log(&mut self, namespace: &str, pod: &str, container: &str) {
        let logs = self.logs.entry((namespace.into(), pod.into(), container.into())).or_default();
        logs.previous = Some(std::mem::take(&mut logs.current).into());
        self.end_follows(namespace, pod, container);
    }

    fn end_follows(&self, namespace: &str, pod: &str, container: &str) {
        let end = LogLine {
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
            time: Timestamp::now(),
            text: String::new(),
            end: true,
        };
        let _ = self.log_lines.send(Arc::new(end));
    }

    /// The pod is gone: its logs go, and its follows end (unless they linger).
    pub fn drop_logs(&mut self, namespace: &str, pod: &str) {
        let containers: Vec<String> = self
            .logs
            .keys()
            .filter(|(ns, p, _)| ns == namespace && p == pod)
            .map(|(_, _, c)| c.clone())
            .collect();
        for container in containers {
            self.logs.remove(&(namespace.to_string(), pod.to_string(), container.clone()));
            if !self.lingering_follows {
                self.end_follows(namespace, pod, &container);
            }
        }
    }
}
