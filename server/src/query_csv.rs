//! `GET /services/{name}/query.csv?replica=…&sql=…`: a query's result as CSV, with the same
//! policy, guards, cap, masks and audit as the REPL page.

use crate::AppState;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use console_core::auth::policy::{allows, Action};
use console_core::auth::CurrentUser;
use console_core::catalog::repo;
use console_core::query::replicas;
use serde::Deserialize;

pub const ROUTE: &str = "/services/{name}/query.csv";

pub fn router() -> Router<AppState> {
    Router::new().route(ROUTE, get(download))
}

#[derive(Deserialize)]
struct Params {
    replica: String,
    sql: String,
}

fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_string() };
    format!("\"{}\"", value.replace('"', "\"\""))
}

async fn download(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> Response {
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
    let replica = match replicas::get(&state.store, &params.replica).await {
        Ok(Some(r)) if r.service == name => r,
        Ok(_) => return fail(StatusCode::NOT_FOUND, format!("replica {:?} of {name} not found", params.replica)),
        Err(e) => {
            tracing::error!(error = %e, "store error");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let _slot = match state.throttle.acquire(&login, &replica.id, app::query::QUERIES_PER_MINUTE) {
        Ok(slot) => slot,
        Err(why) => return fail(StatusCode::TOO_MANY_REQUESTS, why),
    };
    match replicas::query(&state.store, &login, &replica, service.tier, &params.sql).await {
        Ok(Ok(result)) => {
            let mut body = result.columns.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
            body.push('\n');
            for row in result.rows {
                body.push_str(&row.iter().map(|c| c.as_deref().map(field).unwrap_or_default()).collect::<Vec<_>>().join(","));
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
