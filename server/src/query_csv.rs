//! `GET /services/{name}/query.csv?replica=…&sql=…`: a query's result as CSV, with the same
//! policy, guards, cap, masks and audit as the REPL page.

use crate::admin::csv_field;
use crate::AppState;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use console_core::auth::policy::{allows, Action};
use console_core::auth::CurrentUser;
use console_core::catalog::repo;
use console_core::query::replicas;

pub const ROUTE: &str = "/services/{name}/query.csv";

pub fn router() -> Router<AppState> {
    Router::new().route(ROUTE, get(download))
}

/// Percent-decodes a query-string value to bytes (`+` is a space).
fn decode(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// `replica` and `sql` as raw bytes: the SQL may not even be UTF-8, which is refused and audited.
fn params(query: &str) -> (String, Vec<u8>) {
    let (mut replica, mut sql) = (String::new(), Vec::new());
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "replica" => replica = String::from_utf8_lossy(&decode(value)).into_owned(),
            "sql" => sql = decode(value),
            _ => {}
        }
    }
    (replica, sql)
}


async fn download(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (replica_id, sql_bytes) = params(query.as_deref().unwrap_or_default());
    let fail = |status: StatusCode, message: String| (status, message).into_response();
    let service = match repo::service(&state.store, &name).await {
        Ok(Some(s)) => s,
        Ok(None) => return fail(StatusCode::NOT_FOUND, format!("service {name:?} not found")),
        Err(e) => {
            tracing::error!(error = %e, "store error");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(login) = user.0.as_ref().map(|u| u.login.clone()) else {
        return fail(StatusCode::UNAUTHORIZED, "sign in first".into());
    };
    if !allows(user.0.as_ref(), Action::QueryReplica, Some(&service.squad)) {
        return fail(StatusCode::FORBIDDEN, format!("only members of {} (or SREs) may query it", service.squad));
    }
    let replica = match replicas::get(&state.store, &replica_id).await {
        Ok(Some(r)) if r.service == name => r,
        Ok(_) => return fail(StatusCode::NOT_FOUND, format!("replica {replica_id:?} of {name} not found")),
        Err(e) => {
            tracing::error!(error = %e, "store error");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let _slot = match state.throttle.acquire(&login, &replica.id, app::query::QUERIES_PER_MINUTE) {
        Ok(slot) => slot,
        Err(why) => return fail(StatusCode::TOO_MANY_REQUESTS, why),
    };
    let sql = match String::from_utf8(sql_bytes) {
        Ok(sql) => sql,
        Err(e) => {
            let refusal = console_core::query::run::RunError::Refused(console_core::query::guard::Refusal::new("the query is not valid UTF-8"));
            let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
            if let Err(e) = replicas::audit(&state.store, &login, &replica, &shown, &Err(refusal.clone()), 0).await {
                tracing::error!(error = %e, "store error");
            }
            return fail(StatusCode::BAD_REQUEST, refusal.to_string());
        }
    };
    match replicas::query(&state.store, &login, &replica, service.tier, &sql).await {
        Ok(Ok(result)) => {
            let mut body = result.columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",");
            body.push('\n');
            for row in result.rows {
                body.push_str(&row.iter().map(|c| c.as_deref().map(csv_field).unwrap_or_default()).collect::<Vec<_>>().join(","));
                body.push('\n');
            }
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}-query.csv\"")),
                ],
                body,
            )
                .into_response()
        }
        Ok(Err(e)) => fail(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "store error");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
