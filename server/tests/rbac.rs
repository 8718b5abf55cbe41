//! The console run against the sandbox under exactly the RBAC its manifests grant (the sandbox
//! answers 403 for anything else): cluster-wide with deploy/base's ClusterRole, namespaced with
//! the namespaced overlay's Roles. What it may not watch is said on the page and in /metrics,
//! never a crash, a hang or an empty page without a reason.

mod common;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, PUBLIC_URL};
use console::auth::Auth;
use console_core::k8s::Scope;
use console_sandbox::{Rbac, RbacRule};
use serde::Deserialize;
use serde_yaml::Value;
use std::path::Path;
use std::time::Duration;
use tower::ServiceExt;

/// The grant of a rendered manifest file: its ClusterRole, or its Roles with their namespaces.
fn grant_of(file: &str) -> Rbac {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy").join(file);
    let text = std::fs::read_to_string(path).unwrap();
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    };
    let mut rules = Vec::new();
    let mut namespaces = Vec::new();
    let mut cluster_wide = false;
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc = Value::deserialize(doc).unwrap();
        match doc["kind"].as_str() {
            Some("ClusterRole") => cluster_wide = true,
            Some("Role") => {
                namespaces.push(doc["metadata"]["namespace"].as_str().unwrap().to_string())
            }
            _ => continue,
        }
        // Every Role of the file grants the same rules (rendered from one table).
        rules = doc["rules"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|r| RbacRule {
                api_groups: strings(&r["apiGroups"]),
                resources: strings(&r["resources"]),
                verbs: strings(&r["verbs"]),
            })
            .collect();
    }
    Rbac { rules, namespaces: (!cluster_wide).then_some(namespaces) }
}

async fn console_under(rbac: Rbac, scope: Scope) -> (TestApp, console_sandbox::Sandbox) {
    let options = console_sandbox::Options {
        tick: Duration::from_millis(100),
        rbac: Some(rbac),
        ..Default::default()
    };
    TestApp::with_sandbox_scope(vec![], options, Auth::dev(PUBLIC_URL), scope).await
}

async fn metrics(app: &TestApp) -> String {
    let reply = app
        .metrics
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(reply.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

/// Polls the log download until it has a line (the sandbox writes one per tick).
async fn some_log_lines(app: &TestApp, cookie: &str, service: &str) -> (StatusCode, String) {
    let mut last = (StatusCode::OK, String::new());
    for _ in 0..50 {
        let reply =
            app.get_as(&format!("/services/{service}/logs.txt?since=5m"), Some(cookie)).await;
        last = (reply.status, reply.body);
        if last.0 != StatusCode::OK || !last.1.trim().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_works_under_exactly_the_cluster_role_it_ships() {
    let (app, _sandbox) =
        console_under(grant_of("base/rbac/clusterrole.yaml"), Scope::Cluster).await;
    let maria = app.sign_in("maria").await;
    let page = app.get_as("/services/ledger/deployments", Some(&maria)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ledger-"), "{}", page.body);
    assert!(!page.body.contains("unwatched-banner"), "{}", page.body);
    let (status, logs) = some_log_lines(&app, &maria, "ledger").await;
    assert_eq!(status, StatusCode::OK, "pods/log is granted: {logs}");
    assert!(!logs.trim().is_empty());
    let text = metrics(&app).await;
    assert!(text.contains("console_cluster_synced{cluster=\"sandbox\"} 1"), "{text}");
    assert!(!text.contains("console_cluster_namespace_forbidden{"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_namespaced_roles_watch_their_namespaces_and_say_what_they_do_not() {
    let grant = grant_of("overlays/namespaced/roles.yaml");
    let namespaces = grant.namespaces.clone().unwrap();
    assert!(namespaces.contains(&"payments".to_string()), "{namespaces:?}");
    let (app, _sandbox) = console_under(grant, Scope::Namespaces(namespaces)).await;
    let maria = app.sign_in("maria").await;

    let ledger = app.get_as("/services/ledger/deployments", Some(&maria)).await;
    assert!(ledger.body.contains("ledger-"), "payments is watched: {}", ledger.body);
    let (status, _) = some_log_lines(&app, &maria, "ledger").await;
    assert_eq!(status, StatusCode::OK);

    // checkout is outside the configured namespaces: the page says so.
    let cart = app.get_as("/services/cart/deployments", Some(&maria)).await;
    assert_eq!(cart.status, StatusCode::OK);
    assert!(
        cart.body.contains("unwatched-banner") && cart.body.contains("checkout"),
        "{}",
        cart.body
    );
    // Its logs: not an empty download, the reason.
    let sre = app.sign_in("sre").await;
    let logs = app.get_as("/services/cart/logs.txt", Some(&sre)).await;
    assert_eq!(logs.status, StatusCode::SERVICE_UNAVAILABLE, "{}", logs.body);
    assert!(logs.body.contains("may not watch namespace checkout"), "{}", logs.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_the_cluster_refuses_is_reported_not_fatal() {
    // Configured to watch checkout too, but the cluster grants only payments.
    let mut grant = grant_of("overlays/namespaced/roles.yaml");
    grant.namespaces = Some(vec!["payments".into()]);
    let scope = Scope::Namespaces(vec!["payments".into(), "checkout".into()]);
    let (app, _sandbox) = console_under(grant, scope).await;
    let maria = app.sign_in("maria").await;
    let cart = app.get_as("/services/cart/deployments", Some(&maria)).await;
    assert_eq!(cart.status, StatusCode::OK);
    assert!(
        cart.body.contains("unwatched-banner") && cart.body.contains("checkout"),
        "{}",
        cart.body
    );
    let ledger = app.get_as("/services/ledger/deployments", Some(&maria)).await;
    assert!(ledger.body.contains("ledger-"), "{}", ledger.body);
    let sre = app.sign_in("sre").await;
    let logs = app.get_as("/services/cart/logs.txt", Some(&sre)).await;
    assert!(logs.body.contains("may not watch namespace checkout"), "{}", logs.body);
    let text = metrics(&app).await;
    assert!(
        text.contains(
            "console_cluster_namespace_forbidden{cluster=\"sandbox\",namespace=\"checkout\"} 1"
        ),
        "{text}"
    );
}
