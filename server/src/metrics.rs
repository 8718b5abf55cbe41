//! Prometheus text metrics for the console itself, at `/metrics` on the metrics listener: HTTP
//! requests, each cluster's sync state, staleness, watch errors and refused namespaces, limiter
//! slots in use, audit events written (query outcomes among them) and audit writes that failed.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request counts and latencies by method, route pattern and status.
#[derive(Clone, Default)]
pub struct Metrics {
    requests: Arc<Mutex<BTreeMap<(String, String, u16), Series>>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap();
        let series = requests.entry((method.to_string(), route.to_string(), status)).or_default();
        series.count += 1;
        series.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                series.buckets[i] += 1;
            }
        }
    }

    /// The HTTP families' exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP console_http_requests_total HTTP requests served.\n# TYPE console_http_requests_total counter\n");
        let requests = self.requests.lock().unwrap();
        for ((method, route, status), s) in requests.iter() {
            let _ = writeln!(out, "console_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}", escape(route), s.count);
        }
        out.push_str("# HELP console_http_request_duration_seconds Time to the response head.\n# TYPE console_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in requests.iter() {
            let labels =
                format!("method=\"{method}\",route=\"{}\",status=\"{status}\"", escape(route));
            for (le, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "console_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "console_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ =
                writeln!(out, "console_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(
                out,
                "console_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Middleware: times every request under its route pattern (never the raw path, which would
/// let clients create unbounded series).
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    metrics.observe(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// One metric family in the exposition format: `samples` are (labels, value).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        match labels.is_empty() {
            true => _ = writeln!(out, "{name} {value}"),
            false => _ = writeln!(out, "{name}{{{labels}}} {value}"),
        }
    }
}

/// `/metrics`: everything above, read when scraped. A part that cannot be read (the store
/// down) is NaN, never a failed scrape.
pub async fn exposition(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
) -> impl axum::response::IntoResponse {
    use console_core::audit::telemetry;
    let mut out = state.metrics.render();
    let services = console_core::catalog::repo::service_count(&state.store)
        .await
        .map(|n| n as f64)
        .unwrap_or(f64::NAN);
    family(
        &mut out,
        "console_catalog_services",
        "gauge",
        "Services in the catalog.",
        &[(String::new(), services)],
    );

    let (mut synced, mut stale, mut errors, mut refused) = (vec![], vec![], vec![], vec![]);
    for cluster in state.clusters.all() {
        let label = format!("cluster=\"{}\"", escape(&cluster.name));
        let s = cluster.state();
        synced.push((label.clone(), if s.synced { 1.0 } else { 0.0 }));
        stale.push((label.clone(), cluster.stale_seconds() as f64));
        errors.push((label.clone(), cluster.watch_errors() as f64));
        for namespace in cluster.forbidden() {
            let ns = if namespace.is_empty() { "*".to_string() } else { namespace };
            refused.push((format!("{label},namespace=\"{}\"", escape(&ns)), 1.0));
        }
    }
    family(
        &mut out,
        "console_cluster_synced",
        "gauge",
        "1 when every watch cache of the cluster has listed.",
        &synced,
    );
    family(
        &mut out,
        "console_cluster_stale_seconds",
        "gauge",
        "Seconds since the cluster became unreachable (0: reachable).",
        &stale,
    );
    family(
        &mut out,
        "console_cluster_watch_errors_total",
        "counter",
        "Watch errors since start.",
        &errors,
    );
    family(
        &mut out,
        "console_cluster_namespace_forbidden",
        "gauge",
        "A namespace (\"*\": the whole cluster) whose watch the cluster's RBAC refuses.",
        &refused,
    );

    let slots: Vec<(String, f64)> = match state.limiter.in_use().await {
        Ok(rows) => rows
            .into_iter()
            .map(|(kind, n)| (format!("kind=\"{}\"", escape(&kind)), n as f64))
            .collect(),
        Err(_) => vec![(String::new(), f64::NAN)],
    };
    family(
        &mut out,
        "console_limiter_slots_in_use",
        "gauge",
        "Query and log-follow slots held now, across replicas.",
        &slots,
    );

    let written = telemetry::written();
    let events: Vec<(String, f64)> = written
        .iter()
        .map(|(kind, outcome, n)| {
            (format!("kind=\"{}\",outcome=\"{}\"", escape(kind), escape(outcome)), *n as f64)
        })
        .collect();
    family(
        &mut out,
        "console_audit_events_total",
        "counter",
        "Audit events this process wrote, by kind and outcome.",
        &events,
    );
    let queries: Vec<(String, f64)> = written
        .iter()
        .filter(|(kind, _, _)| kind.starts_with("query."))
        .map(|(kind, outcome, n)| {
            (format!("event=\"{}\",outcome=\"{}\"", escape(kind), escape(outcome)), *n as f64)
        })
        .collect();
    family(
        &mut out,
        "console_query_outcomes_total",
        "counter",
        "REPL queries by event and outcome.",
        &queries,
    );
    family(
        &mut out,
        "console_audit_write_failures_total",
        "counter",
        "Audit writes that failed (their requests failed too).",
        &[(String::new(), telemetry::failed() as f64)],
    );
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
