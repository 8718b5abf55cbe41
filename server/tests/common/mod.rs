//! Shared set-up for route tests: the real router over a fresh store holding the demo catalog.
#![allow(dead_code)] // each test binary uses a part

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use console::{router, AppState};
use console_core::catalog::repo;
use console_core::store::{testing, Store};
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub store: Store,
}

impl TestApp {
    /// The demo organisation from `demo/catalog`, on in-memory SQLite.
    pub async fn demo() -> TestApp {
        let store = testing::sqlite().await;
        Self::with_store(store).await
    }

    pub async fn with_store(store: Store) -> TestApp {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/catalog");
        repo::import_dir(&store, &dir).await.expect("demo catalog imports");
        let state = AppState::new(store.clone(), "target/site", "127.0.0.1:0".parse().unwrap());
        TestApp { router: router(state), store }
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, String) {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    pub async fn json(&self, uri: &str) -> (StatusCode, serde_json::Value) {
        let (status, body) = self.get(uri).await;
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri}: {e}: {body}")))
    }
}
