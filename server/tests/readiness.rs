//! `/readyz`: true once the store answers and every configured cluster has synced once, or once
//! the sync deadline has passed (a cluster down at start must not keep every pod unready); false
//! again while draining.

mod common;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use console::auth::Auth;
use console::AppState;
use console_sandbox::{Options, Sandbox};
use std::time::Duration;
use tower::ServiceExt;

async fn readyz(router: &axum::Router) -> (StatusCode, String) {
    let reply =
        router.clone().oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    let status = reply.status();
    let body = axum::body::to_bytes(reply.into_body(), 1024).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn readiness_waits_for_the_clusters_first_sync_until_its_deadline() {
    let store = console_core::store::testing::sqlite().await;
    // A cluster that is down from the start: its caches never sync.
    let sandbox =
        Sandbox::start("127.0.0.1:0".parse().unwrap(), vec![], Options::default()).await.unwrap();
    sandbox.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, sandbox.kubeconfig("down")).unwrap();
    let clusters = console_core::k8s::Clusters::from_kubeconfig(&path, &[], &Default::default())
        .await
        .unwrap();
    let state = AppState::new(
        store,
        Auth::dev(common::PUBLIC_URL),
        "target/site",
        "127.0.0.1:0".parse().unwrap(),
    )
    .with_clusters(clusters)
    .with_sync_deadline(Duration::from_millis(1_500));
    let router = console::router(state.clone());

    assert_eq!(readyz(&router).await, (StatusCode::SERVICE_UNAVAILABLE, "clusters syncing".into()));
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert_eq!(
        readyz(&router).await.0,
        StatusCode::OK,
        "the deadline passed: ready, the cluster stale"
    );

    state.drain.start();
    assert_eq!(readyz(&router).await, (StatusCode::SERVICE_UNAVAILABLE, "draining".into()));
}

#[tokio::test]
async fn a_synced_cluster_is_ready_at_once() {
    let (app, _sandbox) = common::TestApp::with_sandbox().await;
    assert_eq!(app.get_as("/readyz", None).await.status, StatusCode::OK);
}
