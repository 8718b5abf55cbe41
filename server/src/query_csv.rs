//! `POST /services/{name}/query.csv` (form fields `replica`, `sql`): a query's result as CSV,
//! through the same flow as the REPL page (policy, limiter, guard, masks, cap, audit). A POST,
//! not a GET: a link (a cross-site one included) must never run SQL under the clicker's name,
//! and POSTs pass the Origin check.

use crate::defaults::{csv_field, csv_line};
use crate::entity_path::EntityKey;
use crate::AppState;
use app::error::AppError;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use console_core::auth::CurrentUser;

pub const ROUTE: &str = "/services/{name}/query.csv";

pub fn router() -> Router<AppState> {
    crate::entity_path::route_both(Router::new(), ROUTE, post(download))
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
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
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

/// The form's `replica` and `sql`, as raw bytes: the SQL may not even be UTF-8, which is refused and audited.
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
    EntityKey(name): EntityKey,
    form: Bytes,
) -> Result<Response, AppError> {
    let (replica, sql) = params(&String::from_utf8_lossy(&form));
    let result =
        console_core::query::actions::run(&state.ctx(user.0), &name, &replica, &sql).await?;
    let mut body = csv_line(&result.columns);
    // NULL is the one unquoted (empty) field; every value, even "", is quoted.
    for row in result.rows {
        body.push_str(
            &row.iter()
                .map(|c| c.as_deref().map(csv_field).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(","),
        );
        body.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}-query.csv\"")),
        ],
        body,
    )
        .into_response())
}
