//! The console server: configuration, state, and the HTTP routes (pages, JSON API, health,
//! metrics). `main.rs` only parses the command line and calls in here.

pub mod api;
pub mod auth;
pub mod config;
pub mod defaults;
pub mod demo;
pub mod drain;
pub mod entity_path;
pub mod kubernetes;
pub mod logging;
pub mod metrics;
pub mod query_csv;
pub mod start;
pub mod store_retry;

use app::app::{shell, App};
use app::auth::SignInSettings;
use app::catalog::CatalogSource;
use auth::Auth;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use console_core::store::Store;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use metrics::Metrics;

/// Everything a request handler may need.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub metrics: Metrics,
    pub auth: Auth,
    /// Where `catalog/import` re-reads descriptors from, and how much it may remove.
    pub catalog_dir: Option<std::path::PathBuf>,
    pub import_options: console_core::catalog::ingest::ImportOptions,
    /// Per-user rates and running slots, counted in the store (they hold across console replicas).
    pub limiter: console_core::limiter::Limiter,
    /// The clusters' watch caches.
    pub clusters: console_core::k8s::Clusters,
    /// How often an open stream (a log follow, a live view) checks its viewer's access again.
    pub access_check: std::time::Duration,
    /// Set on SIGTERM: readiness false, then open streams end.
    pub drain: drain::Drain,
    /// Readiness waits for every cluster's first sync until this instant, not longer: one
    /// cluster down at start must not keep every pod unready (its pages say it is stale).
    pub sync_deadline: std::time::Instant,
}

impl AppState {
    pub fn new(
        store: Store,
        auth: Auth,
        site_root: &str,
        listen: std::net::SocketAddr,
    ) -> AppState {
        let leptos_options = LeptosOptions::builder()
            .output_name(std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "console".into()))
            .site_root(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| site_root.to_string()))
            .site_pkg_dir("pkg")
            .site_addr(listen)
            .build();
        AppState {
            leptos_options,
            limiter: console_core::limiter::Limiter::new(store.clone()),
            store,
            metrics: Metrics::default(),
            auth,
            catalog_dir: None,
            import_options: Default::default(),
            clusters: Default::default(),
            access_check: std::time::Duration::from_secs(30),
            drain: Default::default(),
            sync_deadline: std::time::Instant::now() + SYNC_DEADLINE,
        }
    }

    /// The context of one request acting as `user`: what every `console_core` action takes.
    pub fn ctx(&self, user: Option<console_core::auth::User>) -> console_core::ctx::Ctx {
        console_core::ctx::Ctx::new(
            self.store.clone(),
            self.limiter.clone(),
            self.clusters.clone(),
            user,
        )
    }

    /// Readiness stops waiting for the clusters' first sync `after` from now.
    pub fn with_sync_deadline(mut self, after: std::time::Duration) -> AppState {
        self.sync_deadline = std::time::Instant::now() + after;
        self
    }

    /// A shorter access check for streams (tests).
    pub fn with_access_check(mut self, every: std::time::Duration) -> AppState {
        self.access_check = every;
        self
    }

    pub fn with_clusters(mut self, clusters: console_core::k8s::Clusters) -> AppState {
        self.clusters = clusters;
        self
    }

    pub fn with_catalog_dir(mut self, dir: Option<std::path::PathBuf>) -> AppState {
        self.catalog_dir = dir;
        self
    }

    pub fn with_import_options(
        mut self,
        options: console_core::catalog::ingest::ImportOptions,
    ) -> AppState {
        self.import_options = options;
        self
    }
}

/// The whole application: pages (server-rendered, hydrated), server functions, JSON API,
/// health and metrics.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let store = state.store.clone();
        let sign_in = SignInSettings {
            oidc: state.auth.oidc.as_ref().map(|(name, _)| name.clone()),
            github: state.auth.github.is_some(),
            dev_sign_in: state.auth.dev_sign_in,
        };
        let source = CatalogSource(state.catalog_dir.clone(), state.import_options.clone());
        let limiter = state.limiter.clone();
        let clusters = state.clusters.clone();
        move || {
            // Each response's own nonce, for its hydration scripts and its CSP header.
            leptos::nonce::provide_nonce();
            provide_context(clusters.clone());
            provide_context(store.clone());
            provide_context(limiter.clone());
            provide_context(sign_in.clone());
            provide_context(source.clone());
        }
    };
    // Layers run outside-in: metrics, read retry, session, CSRF check, authentication, then the handler.
    let session_layer = state.auth.session_layer(state.store.clone());
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .nest("/api/v1", api::router())
        .merge(auth::router())
        .merge(defaults::router())
        .merge(query_csv::router())
        .merge(kubernetes::router())
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(axum::middleware::from_fn(server_fn_status))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::check_origin))
        .layer(session_layer)
        // Outside the session layer, so a session read that a lost connection failed is retried.
        .layer(axum::middleware::from_fn(store_retry::retry_reads))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        // Outermost, so redirects and refusals from the layers above carry the headers too.
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn_with_state(state.drain.clone(), drain::close_connections))
        .layer(axum::middleware::from_fn(api::error::json_errors))
        .with_state(state)
}

/// Server functions answer every error as 500; this gives each its own status, from the one
/// place that decides it ([`app::error::AppError::status`]), so the browser and scripts see 400,
/// 403, 404, 429 or 503 with the reason in the body.
async fn server_fn_status(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    if !response.headers().contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Error bodies are a serialized AppError: small.
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Headers on every response: no framing by other sites (clickjacking), no content sniffing, no
/// plugins, no `<base>` from elsewhere, and no full URLs in the Referer to other sites. Pages
/// carry their own stricter policy with a nonce (`app::app::content_security_policy`); every
/// other response gets one that allows nothing to run.
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
            ),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// How long readiness waits for every cluster's first sync after start.
pub const SYNC_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Ready: not draining, the store answers, and every cluster has synced once (or the sync
/// deadline has passed: then a cluster still down is stale on its pages and in `/metrics`).
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.drain.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    let synced = state.clusters.all().iter().all(|c| c.state().synced);
    if !synced && std::time::Instant::now() < state.sync_deadline {
        return (StatusCode::SERVICE_UNAVAILABLE, "clusters syncing");
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "store not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store not reachable")
        }
    }
}

/// `/metrics`, served only on `metrics_listen` (never the public listener: it names clusters,
/// namespaces and routes).
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics::exposition)).with_state(state)
}
