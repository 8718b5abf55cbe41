//! The Kubernetes REST API over HTTP, as much of it as the console reads: list (paginated, with
//! label selectors), watch (from a resourceVersion, 410 when too old), get, and `pods/log`.

// Handlers return the finished error `Response` as their `Err`: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use crate::world::{Change, Kind, LogLine};
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use console_core::k8s::selector::Selector;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async {
                axum::Json(json!({"major": "1", "minor": "37", "gitVersion": "v1.37.0-sandbox"}))
            }),
        )
        .merge(crate::discovery::router())
        .route("/api/v1/{*path}", get(|s, p, q| resource(s, p, q, "v1")))
        .route("/apis/apps/v1/{*path}", get(|s, p, q| resource(s, p, q, "apps/v1")))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), count_and_gate))
        .with_state(shared)
}

/// Counts every request (the benchmark's "API requests per page view") and refuses them all
/// while the cluster is down, even on kept-alive connections.
async fn count_and_gate(
    State(shared): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if !*shared.up.borrow() {
        return (
            [(header::CONNECTION, "close")],
            status(503, "ServiceUnavailable", "the sandbox cluster is down"),
        )
            .into_response();
    }
    next.run(request).await
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    (StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST), axum::Json(body))
        .into_response()
}

type Params = Query<HashMap<String, String>>;

async fn resource(
    State(shared): State<Shared>,
    Path(path): Path<String>,
    Query(params): Params,
    group: &'static str,
) -> Response {
    let parts: Vec<&str> = path.split('/').collect();
    let (namespace, plural, name, sub) = match parts.as_slice() {
        [plural] => (None, *plural, None, None),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
        ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
        _ => {
            return status(
                404,
                "NotFound",
                &format!("the server could not find the requested resource: {path}"),
            )
        }
    };
    let Some(kind) = Kind::from_path(group, plural) else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource: {plural}"),
        );
    };
    if let Some(rbac) = &shared.rbac {
        let verb = match (name, flag(&params, "watch")) {
            (Some(_), _) => "get",
            (None, true) => "watch",
            (None, false) => "list",
        };
        let resource = match sub {
            Some(sub) => format!("{plural}/{sub}"),
            None => plural.to_string(),
        };
        let api_group = group.strip_suffix("/v1").unwrap_or("");
        if !rbac.allows(verb, api_group, &resource, namespace) {
            let scope = match namespace {
                Some(ns) => format!("in the namespace \"{ns}\""),
                None => "at the cluster scope".to_string(),
            };
            let group_label = if api_group.is_empty() { "\"\"" } else { api_group };
            return status(
                403,
                "Forbidden",
                &format!("{resource} is forbidden: User \"system:serviceaccount:console:console\" cannot {verb} resource \"{resource}\" in API group {group_label} {scope}"),
            );
        }
    }
    match (name, sub) {
        (Some(name), Some("log")) if kind == Kind::Pod => {
            logs(shared, namespace.unwrap_or_default(), name, &params).await
        }
        (Some(name), None) => get_one(&shared, kind, namespace.unwrap_or_default(), name, plural),
        (None, None) if flag(&params, "watch") => watch(shared, kind, namespace, &params),
        (None, None) => list(&shared, kind, namespace, &params),
        _ => status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource: {path}"),
        ),
    }
}

fn flag(params: &HashMap<String, String>, key: &str) -> bool {
    params.get(key).is_some_and(|v| v == "true" || v == "1")
}

fn selector(params: &HashMap<String, String>) -> Result<Selector, Response> {
    Selector::parse(params.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(|e| status(400, "BadRequest", &e.to_string()))
}

fn get_one(shared: &Shared, kind: Kind, namespace: &str, name: &str, plural: &str) -> Response {
    let state = shared.state.lock().expect("sandbox state");
    match state.world.get(kind, namespace, name) {
        Some(stored) => axum::Json(stored.json.as_ref().clone()).into_response(),
        None => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
    }
}

fn list(
    shared: &Shared,
    kind: Kind,
    namespace: Option<&str>,
    params: &HashMap<String, String>,
) -> Response {
    let selector = match selector(params) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    // A continue token is "<resourceVersion of the first page>:<namespace>/<name of the last item>".
    let (base_rv, after) = match params.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => match token
            .split_once(':')
            .and_then(|(rv, key)| Some((rv.parse::<u64>().ok()?, key.split_once('/')?)))
        {
            Some((rv, (ns, name))) => (Some(rv), Some((ns.to_string(), name.to_string()))),
            None => return status(400, "BadRequest", "invalid continue token"),
        },
        None => (None, None),
    };
    let (items, rv, next) = {
        let state = shared.state.lock().expect("sandbox state");
        let mut items = Vec::new();
        let mut next = None;
        for (key, stored) in
            state.world.list(kind, namespace, after).filter(|(_, s)| selector.matches(&s.labels))
        {
            if items.len() == limit {
                next = Some(key.clone());
                break;
            }
            items.push(stored.json.clone());
        }
        // The next page continues after the last item returned.
        let rv = base_rv.unwrap_or(state.world.rv);
        let next = next.map(|_| {
            let last = items.last().map(|i| {
                (
                    i["metadata"]["namespace"].as_str().unwrap_or(""),
                    i["metadata"]["name"].as_str().unwrap_or(""),
                )
            });
            let (ns, name) = last.unwrap_or(("", ""));
            format!("{rv}:{ns}/{name}")
        });
        (items, rv, next)
    };
    let (api_version, list_kind) = kind.list_kind();
    let mut body = String::with_capacity(items.len() * 1024 + 128);
    let metadata = json!({"resourceVersion": rv.to_string(), "continue": next.unwrap_or_default()});
    body.push_str(&format!("{{\"apiVersion\":\"{api_version}\",\"kind\":\"{list_kind}\",\"metadata\":{metadata},\"items\":["));
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&serde_json::to_string(item.as_ref()).expect("json"));
    }
    body.push_str("]}");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A streamed body fed by a task: the task ends when the client goes away.
fn streamed(content_type: &'static str, rx: mpsc::Receiver<Bytes>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    ([(header::CONTENT_TYPE, content_type)], Body::from_stream(stream)).into_response()
}

fn watch_line(change: &Change) -> Bytes {
    let mut line = format!("{{\"type\":\"{}\",\"object\":", change.verb);
    line.push_str(&serde_json::to_string(change.object.json.as_ref()).expect("json"));
    line.push_str("}\n");
    Bytes::from(line)
}

fn watch(
    shared: Shared,
    kind: Kind,
    namespace: Option<&str>,
    params: &HashMap<String, String>,
) -> Response {
    let selector = match selector(params) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let timeout =
        params.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).unwrap_or(300).min(1800);
    let namespace = namespace.map(str::to_string);
    let wanted = move |c: &Change| {
        c.kind == kind
            && namespace.as_ref().is_none_or(|n| *n == c.namespace)
            && selector.matches(&c.object.labels)
    };
    let (backlog, mut live, mut last) = {
        let state = shared.state.lock().expect("sandbox state");
        let live = state.world.changes.subscribe();
        let from = match params.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => state.world.rv,
            Some(rv) => match rv.parse::<u64>() {
                Ok(rv) => rv,
                Err(_) => {
                    return status(400, "BadRequest", &format!("invalid resourceVersion {rv:?}"))
                }
            },
        };
        (state.world.changes_since(from), live, from)
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut up = shared.up.clone();
    tokio::spawn(async move {
        let Some(backlog) = backlog else {
            let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "too old resource version", "reason": "Expired", "code": 410}});
            let _ = tx.send(Bytes::from(format!("{gone}\n"))).await;
            return;
        };
        for change in backlog.iter().filter(|c| wanted(c)) {
            last = change.rv;
            if tx.send(watch_line(change)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = up.changed() => if !*up.borrow() { return },
                change = live.recv() => match change {
                    Ok(change) if change.rv > last && wanted(&change) => {
                        last = change.rv;
                        if tx.send(watch_line(&change)).await.is_err() { return }
                    }
                    Ok(_) => {}
                    // Fell behind or closed: end the watch; the client resumes from its last version.
                    Err(_) => return,
                },
            }
        }
    });
    streamed("application/json", rx)
}

fn format_line(line: &(Timestamp, String), timestamps: bool) -> String {
    if timestamps {
        format!("{} {}\n", line.0, line.1)
    } else {
        format!("{}\n", line.1)
    }
}

async fn logs(
    shared: Shared,
    namespace: &str,
    pod: &str,
    params: &HashMap<String, String>,
) -> Response {
    let bad = |message: String| status(400, "BadRequest", &message);
    let number = |key: &str| -> Result<Option<i64>, Response> {
        match params.get(key) {
            None => Ok(None),
            Some(v) => {
                v.parse::<i64>().map(Some).map_err(|_| bad(format!("{key}: invalid value {v:?}")))
            }
        }
    };
    let since_seconds = match number("sinceSeconds") {
        Ok(Some(s)) if s <= 0 => return bad("sinceSeconds: must be greater than 0".into()),
        Ok(s) => s,
        Err(r) => return r,
    };
    let tail_lines = match number("tailLines") {
        Ok(Some(t)) if t < 0 => return bad("tailLines: must be greater than or equal to 0".into()),
        Ok(t) => t,
        Err(r) => return r,
    };
    let since_time = match params.get("sinceTime") {
        Some(t) => match t.parse::<Timestamp>() {
            Ok(t) => Some(t),
            Err(_) => return bad(format!("sinceTime: invalid RFC3339 time {t:?}")),
        },
        None => None,
    };
    let (follow, previous, timestamps) =
        (flag(params, "follow"), flag(params, "previous"), flag(params, "timestamps"));
    let limit_bytes = match number("limitBytes") {
        Ok(l) => l.map(|l| l.max(0) as usize),
        Err(r) => return r,
    };

    let (lines, live) = {
        let state = shared.state.lock().expect("sandbox state");
        let Some(stored) = state.world.get(Kind::Pod, namespace, pod) else {
            return status(404, "NotFound", &format!("pods \"{pod}\" not found"));
        };
        let containers: Vec<String> = stored.json["spec"]["containers"]
            .as_array()
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let container = match params.get("container").filter(|c| !c.is_empty()) {
            Some(c) if containers.contains(c) => c.clone(),
            Some(c) => return bad(format!("container {c} is not valid for pod {pod}")),
            None if containers.len() == 1 => containers[0].clone(),
            None => {
                return bad(format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    containers.join(" ")
                ))
            }
        };
        let logs =
            state.world.logs.get(&(namespace.to_string(), pod.to_string(), container.clone()));
        let mut lines: Vec<(Timestamp, String)> = if previous {
            match logs.and_then(|l| l.previous.clone()) {
                Some(previous) => previous,
                None => {
                    return bad(format!(
                        "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                    ))
                }
            }
        } else {
            logs.map(|l| l.current.iter().cloned().collect()).unwrap_or_default()
        };
        let from = since_time
            .or_else(|| since_seconds.map(|s| Timestamp::now() - SignedDuration::from_secs(s)));
        if let Some(from) = from {
            lines.retain(|(t, _)| *t >= from);
        }
        if let Some(tail) = tail_lines {
            let skip = lines.len().saturating_sub(tail as usize);
            lines.drain(..skip);
        }
        let live = (follow && !previous).then(|| (state.world.log_lines.subscribe(), container));
        (lines, live)
    };

    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut up = shared.up.clone();
    let (namespace, pod) = (namespace.to_string(), pod.to_string());
    let counted = live.is_some().then(|| FollowCount::open(&shared, &namespace, &pod));
    tokio::spawn(async move {
        let _counted = counted;
        let mut budget = limit_bytes.unwrap_or(usize::MAX);
        let mut send = |text: String| {
            let mut bytes = text.into_bytes();
            bytes.truncate(budget);
            budget -= bytes.len();
            Bytes::from(bytes)
        };
        for line in &lines {
            let chunk = send(format_line(line, timestamps));
            if chunk.is_empty() || tx.send(chunk).await.is_err() {
                return;
            }
        }
        let Some((mut live, container)) = live else { return };
        let ours =
            |l: &LogLine| l.namespace == namespace && l.pod == pod && l.container == container;
        loop {
            tokio::select! {
                _ = up.changed() => if !*up.borrow() { return },
                // The client went away (a quiet container would not tell us by a failed send).
                _ = tx.closed() => return,
                line = live.recv() => match line {
                    Ok(line) if ours(&line) && line.end => return,
                    Ok(line) if ours(&line) => {
                        let chunk = send(format_line(&(line.time, line.text.clone()), timestamps));
                        if chunk.is_empty() || tx.send(chunk).await.is_err() { return }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    streamed("text/plain", rx)
}

/// One open follow of a pod, counted while it lasts (`Sandbox::follows_of`).
struct FollowCount {
    shared: Shared,
    key: (String, String),
}

impl FollowCount {
    fn open(shared: &Shared, namespace: &str, pod: &str) -> FollowCount {
        let key = (namespace.to_string(), pod.to_string());
        *shared.follows.lock().expect("follows").entry(key.clone()).or_default() += 1;
        FollowCount { shared: shared.clone(), key }
    }
}

impl Drop for FollowCount {
    fn drop(&mut self) {
        let mut follows = self.shared.follows.lock().expect("follows");
        if let Some(n) = follows.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                follows.remove(&self.key);
            }
        }
    }
}
