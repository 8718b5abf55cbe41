//! API discovery, as real clients read it before anything else (`kubectl get`, `api-resources`,
//! `describe`): the legacy documents `/api`, `/apis`, `/api/v1`, `/apis/apps`, `/apis/apps/v1`.
//! The sandbox serves the kinds it simulates and nothing more.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/api", get(|| async { Json(core_versions()) }))
        .route("/apis", get(|| async { Json(groups()) }))
        .route("/api/v1", get(|| async { Json(core_v1()) }))
        .route("/apis/apps", get(|| async { Json(apps_group()) }))
        .route("/apis/apps/v1", get(|| async { Json(apps_v1()) }))
}

fn core_versions() -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    })
}

fn apps_group() -> Value {
    json!({
        "kind": "APIGroup", "apiVersion": "v1", "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    })
}

fn groups() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [apps_group()]})
}

/// One resource of an APIResourceList.
fn resource(name: &str, kind: &str, verbs: &[&str], short: &[&str]) -> Value {
    let mut r = json!({
        "name": name, "singularName": "", "namespaced": true, "kind": kind, "verbs": verbs,
    });
    if !short.is_empty() {
        r["shortNames"] = json!(short);
    }
    r
}

const READ: &[&str] = &["get", "list", "watch"];

fn core_v1() -> Value {
    json!({
        "kind": "APIResourceList", "groupVersion": "v1",
        "resources": [
            resource("pods", "Pod", READ, &["po"]),
            resource("pods/log", "Pod", &["get"], &[]),
            resource("events", "Event", READ, &["ev"]),
        ],
    })
}

fn apps_v1() -> Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
        "resources": [
            resource("deployments", "Deployment", READ, &["deploy"]),
            resource("replicasets", "ReplicaSet", READ, &["rs"]),
        ],
    })
}
