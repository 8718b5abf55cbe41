//! A dropped store connection costs no read. When PostgreSQL restarts, fails over, or a proxy
//! cuts its links, the statements in flight on those connections fail; the pool replaces the
//! connections (each is tested before it is lent). A read whose span saw such a loss
//! ([`console_core::store::connections`]) and failed is run once more, on fresh connections.
//!
//! Reads are: GET and HEAD (pages, `/api/v1`, exports), and the server functions listed in
//! [`READ_SERVER_FNS`]. Nothing else is retried: a write (running a query, saving the defaults,
//! an edit, a token) may have landed before the connection broke, and the person sees the error
//! and keeps what they typed. What a retried read writes is idempotent or an extra record: the
//! session written back (the same row, the same values) and a read's audit record (a read that
//! failed and was retried may be recorded twice, never not at all).

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use console_core::store::connections;

/// The server functions that only read (their endpoint under `/api/`). Every server function is
/// either here or in [`WRITE_SERVER_FNS`] (a test holds the two lists to the registered ones).
pub const READ_SERVER_FNS: &[&str] = &[
    "catalog/search",
    "catalog/squads",
    "catalog/service",
    "catalog/entity",
    "catalog/squad",
    "catalog/readiness",
    "catalog/service-for-edit",
    "k8s/workloads",
    "auth/session",
    "auth/options",
    "tokens/limits",
    "tokens/list",
    "sessions/mine",
    "access/tokens",
    "access/identities",
    "access/blocked",
    "access/service-grants",
    "access/grants",
    "audit/service-reads",
    "audit/events",
    "query/replicas",
    "query/managed",
    "catalog/service-access",
    "query/schema",
    "query/history",
    "query/audit",
    "query/saved",
    "admin/defaults",
    "admin/diff",
];

/// The server functions that change something: never retried.
pub const WRITE_SERVER_FNS: &[&str] = &[
    "catalog/update-service",
    "catalog/attest",
    "catalog/import",
    "tokens/create",
    "tokens/revoke",
    "sessions/end-all",
    "access/revoke-token",
    "access/offboard",
    "access/restore",
    "access/grant",
    "access/revoke-grant",
    "query/run",
    "query/cancel",
    "query/register",
    "query/update",
    "query/set-disabled",
    "query/remove",
    "query/check",
    "query/save",
    "query/delete-saved",
    "admin/save-document",
    "admin/save-links",
    "admin/rollback",
];

/// The largest request body kept to be sent again (server functions' arguments are small).
const MAX_REPLAYED_BODY: usize = 64 * 1024;

fn is_read(request: &Request) -> bool {
    match *request.method() {
        Method::GET | Method::HEAD => true,
        Method::POST => request
            .uri()
            .path()
            .strip_prefix("/api/")
            .is_some_and(|endpoint| READ_SERVER_FNS.contains(&endpoint)),
        _ => false,
    }
}

/// Whether the answer is one a lost connection may have spoilt: a 5xx, or a page (rendered whole
/// before it is sent, with an error where a section failed).
fn spoilt(response: &Response) -> bool {
    response.status().is_server_error()
        || response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
}

pub async fn retry_reads(request: Request, next: Next) -> Response {
    if !is_read(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let small = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n <= MAX_REPLAYED_BODY);
    if parts.method == Method::POST && !small {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let bytes = match axum::body::to_bytes(body, MAX_REPLAYED_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Response::builder()
                .status(axum::http::StatusCode::BAD_REQUEST)
                .body(Body::from("the request body could not be read"))
                .unwrap_or_default()
        }
    };
    let lost_before = connections::lost();
    let first =
        next.clone().run(Request::from_parts(parts.clone(), Body::from(bytes.clone()))).await;
    if connections::lost() == lost_before || !spoilt(&first) {
        return first;
    }
    tracing::info!(path = parts.uri.path(), "a store connection was lost under a read: retried");
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new server function must say whether it only reads: an unlisted one would be neither
    /// retried nor noticed.
    #[test]
    fn every_server_function_is_a_read_or_a_write() {
        let registered: std::collections::BTreeSet<String> =
            leptos::server_fn::axum::server_fn_paths()
                .map(|(path, _)| path.trim_start_matches("/api/").to_string())
                .collect();
        let listed: std::collections::BTreeSet<String> =
            READ_SERVER_FNS.iter().chain(WRITE_SERVER_FNS).map(|s| s.to_string()).collect();
        assert_eq!(registered, listed);
        assert!(READ_SERVER_FNS.iter().all(|r| !WRITE_SERVER_FNS.contains(r)));
    }

    #[test]
    fn reads_are_gets_and_listed_server_functions() {
        let request = |method: Method, path: &str| {
            Request::builder().method(method).uri(path).body(Body::empty()).unwrap()
        };
        assert!(is_read(&request(Method::GET, "/services/ledger")));
        assert!(is_read(&request(Method::POST, "/api/catalog/search")));
        assert!(!is_read(&request(Method::POST, "/api/query/run")));
        assert!(!is_read(&request(Method::POST, "/api/v1/services/ledger/query")));
        assert!(!is_read(&request(Method::POST, "/api/catalog/search/../../query/run")));
        assert!(!is_read(&request(Method::DELETE, "/api/catalog/search")));
    }
}
