//! What the pages show of a service's workloads. Times are RFC 3339 strings; ages are computed
//! when the view is built.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    pub name: String,
    /// Every cache has completed its first list.
    pub synced: bool,
    /// Set while the cluster is unreachable: the cached state is as of this time.
    pub stale_since: Option<String>,
    /// The page's namespaces the console may not watch in this cluster (outside its configured
    /// namespaces, or refused by the cluster's RBAC): their workloads cannot show.
    #[serde(default)]
    pub unwatched: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutState {
    Progressing,
    Complete,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub state: RolloutState,
    /// The condition's reason, e.g. `ProgressDeadlineExceeded`.
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionView {
    pub revision: u64,
    pub replica_set: String,
    pub images: Vec<String>,
    pub desired: i32,
    pub ready: i32,
    pub age: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodView {
    pub name: String,
    pub phase: String,
    /// "ready/total" containers.
    pub ready: String,
    pub all_ready: bool,
    pub restarts: i32,
    pub node: String,
    pub age: String,
    /// Why a container waits (CrashLoopBackOff, ImagePullBackOff…), or empty.
    pub waiting: String,
    /// The last termination's reason and exit code, e.g. "OOMKilled (137)", or empty.
    pub last_termination: String,
    pub containers: Vec<String>,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub time: String,
    pub age: String,
    pub warning: bool,
    pub reason: String,
    /// "Pod/name".
    pub object: String,
    pub message: String,
    pub count: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub rollout: Rollout,
    pub desired: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub images: Vec<String>,
    pub revision: u64,
    /// Newest first.
    pub revisions: Vec<RevisionView>,
    pub pods: Vec<PodView>,
    /// Newest first.
    pub events: Vec<EventView>,
}

/// A service's workloads on every cluster it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceWorkloads {
    pub service: String,
    pub namespace: String,
    pub selector: String,
    pub clusters: Vec<ClusterState>,
    pub deployments: Vec<DeploymentView>,
}

/// "42s", "5m", "3h", "2d": how long ago, as kubectl prints it.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7_199 => format!("{}m", s / 60),
        7_200..=172_799 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

/// What a log view asks for; every field comes from the browser and is checked on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogOptions {
    /// One cluster, or empty for all the service's clusters.
    pub cluster: String,
    /// One deployment, or empty for all of the service's.
    pub deployment: String,
    /// One container, or empty for every container of every pod.
    pub container: String,
    /// How far back, e.g. "5m", "1h", "2d"; empty for the platform's longest window.
    pub since: String,
    /// Lines per container from the end; 0 for the platform's most lines.
    pub tail: u64,
    /// The previous (terminated) container's log.
    pub previous: bool,
    /// Only lines containing this (or matching it, with `regex`).
    pub filter: String,
    pub regex: bool,
}

impl LogOptions {
    /// The query string the log routes read, `?` included.
    pub fn query_string(&self) -> String {
        let mut pairs = Vec::new();
        let mut add = |key: &str, value: &str| {
            if !value.is_empty() {
                pairs.push(format!("{key}={}", encode(value)));
            }
        };
        add("cluster", &self.cluster);
        add("deployment", &self.deployment);
        add("container", &self.container);
        add("since", &self.since);
        add("tail", &if self.tail > 0 { self.tail.to_string() } else { String::new() });
        add("previous", if self.previous { "true" } else { "" });
        add("filter", &self.filter);
        add("regex", if self.regex { "true" } else { "" });
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }
}

/// Percent-encodes everything but unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One line of a merged log timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// RFC 3339 with nanoseconds, as the API server stamps it.
    pub time: String,
    pub pod: String,
    pub container: String,
    pub text: String,
}

impl LogLine {
    /// `pod/container time text`, the download format.
    pub fn to_text(&self) -> String {
        format!("{}/{} {} {}", self.pod, self.container, self.time, self.text)
    }
}
