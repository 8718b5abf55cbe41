//! Pod logs through the API (`pods/log`): every pod of a service's deployments merged into one
//! timeline with pod/container labels, since/tail/previous, a server-side filter, and a live
//! follow that new pods of a rollout join and gone pods leave. Limits come from the platform
//! defaults so a browser tab cannot pull gigabytes.

use super::model::{LogLine, LogOptions};
use super::selector::Selector;
use super::views::{deployment_pods, matching_deployments};
use super::{Cluster, Clusters, K8sError};
use crate::catalog::model::Workloads;
use crate::defaults::LogLimits;
use futures_util::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::LogParams;
use kube::Api;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// "90s", "5m", "1h", "2d" → seconds. Refuses negative, zero, unknown units and windows longer
/// than the platform allows.
pub fn parse_since(text: &str, max_window_minutes: u64) -> Result<i64, K8sError> {
    let text = text.trim();
    let bad = |why: &str| K8sError::BadRequest(format!("since {text:?}: {why}"));
    if text.starts_with('-') {
        return Err(bad("must be a positive duration such as 5m or 1h"));
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 =
        number.parse().map_err(|_| bad("must be a number and a unit (s, m, h, d), e.g. 15m"))?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad("the unit must be s, m, h or d")),
    };
    let seconds = number
        .checked_mul(unit_seconds)
        .filter(|s| *s > 0)
        .ok_or_else(|| bad("must be more than zero"))?;
    let max = max_window_minutes as i64 * 60;
    if seconds > max {
        return Err(bad(&format!(
            "the platform keeps log views to the last {}",
            super::model::age(max)
        )));
    }
    Ok(seconds)
}

/// The server-side filter: a substring or a regular expression.
#[derive(Debug, Clone)]
pub enum LogFilter {
    All,
    Contains(String),
    Matches(regex::Regex),
}

impl LogFilter {
    pub fn new(text: &str, regex: bool) -> Result<LogFilter, K8sError> {
        if text.is_empty() {
            return Ok(LogFilter::All);
        }
        if !regex {
            return Ok(LogFilter::Contains(text.to_string()));
        }
        // Bounded: a pattern cannot make the server build a huge automaton.
        regex::RegexBuilder::new(text).size_limit(1 << 20).build().map(LogFilter::Matches).map_err(
            |e| {
                K8sError::BadRequest(format!(
                    "filter {text:?} is not a valid regular expression: {}",
                    last_line(&e.to_string())
                ))
            },
        )
    }

    pub fn keeps(&self, line: &str) -> bool {
        match self {
            LogFilter::All => true,
            LogFilter::Contains(s) => line.contains(s.as_str()),
            LogFilter::Matches(r) => r.is_match(line),
        }
    }
}

/// The regex crate puts the pattern and a caret first; its last line says what is wrong.
fn last_line(text: &str) -> String {
    text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(text).trim().to_string()
}

/// One container to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Target {
    cluster: String,
    namespace: String,
    pod: String,
    container: String,
}

/// A checked log request: which containers, and how.
pub struct LogPlan {
    clusters: Vec<Arc<Cluster>>,
    namespace: String,
    selector: Selector,
    deployment: String,
    container: String,
    since_seconds: i64,
    tail: i64,
    previous: bool,
    filter: LogFilter,
    max_lines: usize,
}

impl LogPlan {
    pub fn new(
        clusters: &Clusters,
        workloads: &Workloads,
        options: &LogOptions,
        limits: &LogLimits,
    ) -> Result<LogPlan, K8sError> {
        let selector = Selector::parse(&workloads.label_selector)?;
        if selector.is_empty() {
            return Err(K8sError::BadRequest(
                "the service's label selector is empty: it would match every pod".into(),
            ));
        }
        let cluster = if options.cluster.is_empty() {
            workloads.cluster.as_str()
        } else {
            options.cluster.as_str()
        };
        if !workloads.cluster.is_empty() && cluster != workloads.cluster {
            return Err(K8sError::BadRequest(format!(
                "the service runs on cluster {:?} only",
                workloads.cluster
            )));
        }
        let since_seconds = if options.since.is_empty() {
            limits.max_window_minutes as i64 * 60
        } else {
            parse_since(&options.since, limits.max_window_minutes)?
        };
        let max_lines = limits.max_lines.max(1);
        if options.tail > max_lines {
            return Err(K8sError::BadRequest(format!(
                "tail {}: the platform allows at most {max_lines} lines",
                options.tail
            )));
        }
        let tail = if options.tail == 0 { max_lines } else { options.tail };
        Ok(LogPlan {
            clusters: clusters.pick(cluster)?,
            namespace: workloads.namespace.clone(),
            selector,
            deployment: options.deployment.clone(),
            container: options.container.clone(),
            since_seconds,
            tail: tail as i64,
            previous: options.previous,
            filter: LogFilter::new(&options.filter, options.regex)?,
            max_lines: max_lines as usize,
        })
    }

    /// The containers to read now, from the caches.
    fn targets(&self) -> Result<Vec<Target>, K8sError> {
        let mut targets = Vec::new();
        let mut any_deployment = false;
        let mut containers_seen = HashSet::new();
        for cluster in &self.clusters {
            for deployment in matching_deployments(cluster, &self.namespace, &self.selector) {
                if !self.deployment.is_empty() && deployment.name != self.deployment {
                    continue;
                }
                any_deployment = true;
                for pod in deployment_pods(cluster, &deployment) {
                    for container in pod.containers.iter().cloned() {
                        containers_seen.insert(container.clone());
                        if self.container.is_empty() || self.container == container {
                            targets.push(Target {
                                cluster: cluster.name.clone(),
                                namespace: pod.namespace.clone(),
                                pod: pod.name.clone(),
                                container,
                            });
                        }
                    }
                }
            }
        }
        if !self.deployment.is_empty() && !any_deployment {
            return Err(K8sError::NotFound(format!(
                "the service has no deployment named {:?}",
                self.deployment
            )));
        }
        if targets.is_empty() {
            // No pods because the console may not look, not because there are none: say so.
            let namespaces: Vec<&str> =
                self.namespace.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
            let unwatched: Vec<String> = self
                .clusters
                .iter()
                .flat_map(|c| c.state_for(&namespaces).unwatched)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if !unwatched.is_empty() {
                return Err(K8sError::NotWatched(unwatched.join(", ")));
            }
        }
        if !self.container.is_empty()
            && !containers_seen.is_empty()
            && !containers_seen.contains(&self.container)
        {
            let mut names: Vec<_> = containers_seen.into_iter().collect();
            names.sort();
            return Err(K8sError::BadRequest(format!(
                "no pod has a container named {:?}; choose one of: {}",
                self.container,
                names.join(", ")
            )));
        }
        Ok(targets)
    }

    fn client(&self, cluster: &str) -> Option<kube::Client> {
        self.clusters.iter().find(|c| c.name == cluster).map(|c| c.client.clone())
    }

    fn params(&self, follow: bool, since_time: Option<Timestamp>) -> LogParams {
        LogParams {
            // The client reads a whole answer into memory: the cluster cuts a read at this size.
            limit_bytes: (!follow).then_some(READ_BYTES_PER_CONTAINER as i64),
            container: None,
            follow,
            previous: self.previous && !follow,
            since_seconds: since_time.is_none().then_some(self.since_seconds),
            // The API rounds to whole seconds: ask a second earlier, drop what was already seen.
            since_time: since_time.map(|t| t - SignedDuration::from_secs(1)),
            tail_lines: since_time.is_none().then_some(self.tail),
            timestamps: true,
            ..Default::default()
        }
    }
}

/// Most bytes one container's read may bring (the cluster cuts it there: a window of long lines
/// keeps its oldest part), and most bytes of text a whole read keeps (the newest lines).
pub const READ_BYTES_PER_CONTAINER: usize = 2 << 20;
pub const READ_BYTES: usize = 8 << 20;

/// What a fetch returns: the merged lines and, per container that could not be read, why.
#[derive(Debug, Default)]
pub struct LogResult {
    pub lines: Vec<LogLine>,
    pub notes: Vec<String>,
}

/// `2026-11-22T06:40:00.123456789Z text` → (time, text).
fn split_timestamp(line: &str) -> (Option<Timestamp>, &str) {
    match line.split_once(' ') {
        Some((time, text)) => match time.parse::<Timestamp>() {
            Ok(t) => (Some(t), text),
            Err(_) => (None, line),
        },
        None => (line.parse::<Timestamp>().ok(), ""),
    }
}

async fn read_one(
    client: kube::Client,
    target: &Target,
    params: LogParams,
) -> Result<Vec<(Timestamp, LogLine)>, kube::Error> {
    let api: Api<Pod> = Api::namespaced(client, &target.namespace);
    let params = LogParams { container: Some(target.container.clone()), ..params };
    let text = api.logs(&target.pod, &params).await?;
    Ok(text
        .lines()
        .map(|raw| {
            let (time, text) = split_timestamp(raw);
            let time = time.unwrap_or(Timestamp::UNIX_EPOCH);
            (
                time,
                LogLine {
                    time: time.to_string(),
                    pod: target.pod.clone(),
                    container: target.container.clone(),
                    text: text.to_string(),
                },
            )
        })
        .collect())
}

/// Why the API refused one container, for the person reading: a fixed text chosen by the HTTP
/// status. The API's own message names nodes, service accounts and internal addresses; it goes
/// to the server log only.
fn describe(error: &kube::Error) -> String {
    let kube::Error::Api(status) = error else {
        return "the cluster did not answer".to_string();
    };
    tracing::info!(code = status.code, reason = %status.reason, message = %status.message, "the cluster refused a log read");
    match status.code {
        400 => "the container has no log to read (it has not started, or has no previous run)"
            .to_string(),
        401 => "the cluster refused the console's credential".to_string(),
        403 => "the console may not read this container's log".to_string(),
        404 => "the pod or container is gone".to_string(),
        429 | 500..=599 => "the cluster is busy or failing; try again".to_string(),
        code => format!("the cluster refused the read (HTTP {code})"),
    }
}

/// Reads every container once and merges the lines by time; at most `max_lines`, the newest.
pub async fn fetch(plan: &LogPlan) -> Result<LogResult, K8sError> {
    let targets = plan.targets()?;
    let reads = futures_util::stream::iter(targets.iter().cloned())
        .map(|target| {
            let client = plan.client(&target.cluster);
            let params = plan.params(false, None);
            async move {
                let result = match client {
                    Some(client) => read_one(client, &target, params).await,
                    None => Ok(vec![]),
                };
                (target, result)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let mut result = LogResult::default();
    let mut merged = Vec::new();
    let mut failures = 0;
    for (target, read) in reads {
        match read {
            Ok(lines) => {
                let bytes: usize = lines.iter().map(|(_, l)| l.text.len() + 40).sum();
                if bytes >= READ_BYTES_PER_CONTAINER - READ_BYTES_PER_CONTAINER / 64 {
                    result.notes.push(format!(
                        "{}/{}: cut at {} MiB, so its newest lines are left out: narrow the window (since, tail)",
                        target.pod,
                        target.container,
                        READ_BYTES_PER_CONTAINER >> 20
                    ));
                }
                merged.extend(lines.into_iter().filter(|(_, l)| plan.filter.keeps(&l.text)))
            }
            Err(error) => {
                failures += 1;
                tracing::debug!(%error, pod = %target.pod, "log read failed");
                result.notes.push(format!(
                    "{}/{}: {}",
                    target.pod,
                    target.container,
                    describe(&error)
                ));
            }
        }
    }
    if failures > 0 && failures == targets.len() && !plan.previous {
        return Err(K8sError::Unavailable(targets[0].cluster.clone()));
    }
    // Stable: lines with the same time keep their per-container order.
    merged.sort_by_key(|a| a.0);
    let mut skip = merged.len().saturating_sub(plan.max_lines);
    // The newest lines that fit in READ_BYTES.
    let mut kept = 0usize;
    let within = merged[skip..].iter().rev().take_while(|(_, l)| {
        kept += l.text.len();
        kept <= READ_BYTES
    });
    let fit = within.count();
    if skip + fit < merged.len() {
        result.notes.push(format!(
            "older lines are left out: one read keeps at most {} MiB of text",
            READ_BYTES >> 20
        ));
        skip = merged.len() - fit;
    }
    result.lines = merged.into_iter().skip(skip).map(|(_, l)| l).collect();
    result.notes.sort();
    Ok(result)
}

/// Follows every container live until `tx` closes: first the merged recent lines, then new lines
/// as they are written. Pods that appear (a rollout) join; pods that go leave; a container that
/// restarts is picked up again.
pub async fn follow(plan: LogPlan, tx: mpsc::Sender<LogLine>) -> Result<(), K8sError> {
    let backlog = fetch(&plan).await?;
    // Per container: the newest time already sent, so a restarted stream sends nothing twice.
    let targets: HashMap<(String, String), Target> =
        plan.targets()?.into_iter().map(|t| ((t.pod.clone(), t.container.clone()), t)).collect();
    let mut seen: HashMap<Target, Timestamp> = HashMap::new();
    for line in &backlog.lines {
        let target = targets.get(&(line.pod.clone(), line.container.clone()));
        if let (Ok(t), Some(target)) = (line.time.parse::<Timestamp>(), target) {
            let entry = seen.entry(target.clone()).or_insert(t);
            *entry = (*entry).max(t);
        }
    }
    for line in backlog.lines {
        if tx.send(line).await.is_err() {
            return Ok(());
        }
    }
    let started = Timestamp::now();
    let plan = Arc::new(plan);
    let mut streams: HashMap<Target, tokio::task::JoinHandle<()>> = HashMap::new();
    let seen = Arc::new(Mutex::new(seen));
    let mut changes: Vec<_> = plan.clusters.iter().map(|c| c.changes()).collect();
    loop {
        let targets: HashSet<Target> = plan.targets().unwrap_or_default().into_iter().collect();
        streams.retain(|target, task| {
            let keep = targets.contains(target);
            if !keep {
                task.abort();
            }
            keep
        });
        for target in targets {
            let running = streams.get(&target).is_some_and(|t| !t.is_finished());
            if !running {
                let since = seen.lock().expect("seen").get(&target).copied().unwrap_or(started);
                let task = tokio::spawn(stream_one(
                    plan.clone(),
                    target.clone(),
                    since,
                    seen.clone(),
                    tx.clone(),
                ));
                streams.insert(target, task);
            }
        }
        // Re-plan when the caches change (a pod came or went) or every two seconds (a stream ended).
        let changed =
            futures_util::future::select_all(changes.iter_mut().map(|c| Box::pin(c.changed())));
        tokio::select! {
            _ = tx.closed() => break,
            _ = changed => tokio::time::sleep(Duration::from_millis(300)).await,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
    for task in streams.values() {
        task.abort();
    }
    Ok(())
}

async fn stream_one(
    plan: Arc<LogPlan>,
    target: Target,
    since: Timestamp,
    seen: Arc<Mutex<HashMap<Target, Timestamp>>>,
    tx: mpsc::Sender<LogLine>,
) {
    let Some(client) = plan.client(&target.cluster) else { return };
    let api: Api<Pod> = Api::namespaced(client, &target.namespace);
    let params =
        LogParams { container: Some(target.container.clone()), ..plan.params(true, Some(since)) };
    let reader = match api.log_stream(&target.pod, &params).await {
        Ok(reader) => reader,
        Err(error) => {
            tracing::debug!(%error, pod = %target.pod, "log follow could not start");
            // Not started yet (ContainerCreating) or gone: the next re-plan tries again.
            tokio::time::sleep(Duration::from_secs(1)).await;
            return;
        }
    };
    let mut lines = reader.lines();
    while let Ok(Some(raw)) = lines.try_next().await {
        let (time, text) = split_timestamp(&raw);
        let time = time.unwrap_or_else(Timestamp::now);
        {
            let mut seen = seen.lock().expect("seen");
            let last = seen.entry(target.clone()).or_insert(since);
            if time <= *last && time != since {
                continue;
            }
            *last = time;
        }
        if !plan.filter.keeps(text) {
            continue;
        }
        let line = LogLine {
            time: time.to_string(),
            pod: target.pod.clone(),
            container: target.container.clone(),
            text: text.to_string(),
        };
        if tx.send(line).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API's message never reaches a browser: it can name nodes, accounts and addresses.
    #[test]
    fn api_refusals_become_fixed_texts() {
        let status = |code: u16, message: &str| {
            kube::Error::Api(Box::new(
                serde_json::from_value(
                    serde_json::json!({"code": code, "message": message, "reason": "x"}),
                )
                .unwrap(),
            ))
        };
        let secret = "pods \"api-7f9\" is forbidden: User \"system:serviceaccount:console:reader\" cannot get resource on node ip-10-0-3-7";
        for (code, expected) in [
            (400, "no log to read"),
            (403, "may not read"),
            (404, "gone"),
            (503, "busy or failing"),
            (418, "HTTP 418"),
        ] {
            let text = describe(&status(code, secret));
            assert!(text.contains(expected), "{code}: {text}");
            assert!(
                !text.contains("serviceaccount")
                    && !text.contains("10-0-3-7")
                    && !text.contains("api-7f9"),
                "{text}"
            );
        }
    }

    #[test]
    fn since_takes_a_positive_duration_inside_the_window() {
        assert_eq!(parse_since("90s", 60).unwrap(), 90);
        assert_eq!(parse_since("5m", 60).unwrap(), 300);
        assert_eq!(parse_since("1h", 60).unwrap(), 3_600);
        assert_eq!(parse_since("1d", 24 * 60).unwrap(), 86_400);
        for (bad, why) in [
            ("-5m", "positive"),
            ("10y", "unit must be"),
            ("0m", "more than zero"),
            ("", "a number and a unit"),
            ("m", "a number and a unit"),
            ("2h", "last 60m"),
            ("99999999999999999999d", "a number and a unit"),
            ("9999999999999999d", "more than zero"),
        ] {
            let error = parse_since(bad, 60).unwrap_err().to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn filters_are_substrings_unless_asked_for_a_regex() {
        let plain = LogFilter::new("a.c", false).unwrap();
        assert!(plain.keeps("xa.cx") && !plain.keeps("abc"));
        let regex = LogFilter::new("a.c", true).unwrap();
        assert!(regex.keeps("abc"));
        assert!(LogFilter::new("", true).unwrap().keeps("anything"));
        let error = LogFilter::new("(unclosed", true).unwrap_err().to_string();
        assert!(error.contains("not a valid regular expression"), "{error}");
        // A pattern that would compile to a huge automaton is refused, not built.
        assert!(LogFilter::new("(a{1000}){1000}", true).is_err());
    }

    #[test]
    fn log_lines_keep_their_api_timestamp() {
        let (time, text) = split_timestamp("2026-11-22T06:40:00.123456789Z hello world");
        assert_eq!(time.unwrap().to_string(), "2026-11-22T06:40:00.123456789Z");
        assert_eq!(text, "hello world");
        assert_eq!(split_timestamp("no timestamp here"), (None, "no timestamp here"));
    }
}
