//! The platform defaults as a file: `GET /admin/defaults.toml` (SREs only), the same document
//! the admin page's editor imports.

use crate::AppState;
use app::error::AppError;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use console_core::auth::CurrentUser;

pub const EXPORT: &str = "/admin/defaults.toml";

pub const AUDIT_CSV: &str = "/admin/audit.csv";
/// Every audit event of a date range, for archiving: `?from=YYYY-MM-DD&to=YYYY-MM-DD` (to excluded).
pub const AUDIT_ARCHIVE: &str = "/admin/audit-events.csv";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(EXPORT, get(export))
        .route(AUDIT_CSV, get(audit_csv))
        .route(AUDIT_ARCHIVE, get(audit_archive))
}

#[derive(serde::Deserialize)]
struct DateRange {
    from: String,
    to: String,
}

/// The raw event log of a date range as CSV (SREs only); the export is recorded as an event.
async fn audit_archive(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    axum::extract::Query(range): axum::extract::Query<DateRange>,
) -> Result<Response, AppError> {
    let ctx = state.ctx(user.0);
    let events = console_core::audit::actions::archive(&ctx, &range.from, &range.to).await?;
    let mut body = String::from(
        "id,at,kind,attempt,actor,token,entity,target,outcome,detail,rows,bytes,duration_ms,sql\n",
    );
    for e in events {
        body.push_str(&csv_line([
            e.id.to_string(),
            console_core::dates::date_time(e.at),
            e.kind,
            e.attempt,
            e.actor,
            e.token,
            e.entity,
            e.target,
            e.outcome,
            e.detail,
            e.row_count.to_string(),
            e.byte_count.to_string(),
            e.duration_ms.to_string(),
            e.sql_text,
        ]));
    }
    let name = format!("attachment; filename=\"audit-events-{}-to-{}.csv\"", range.from, range.to);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response())
}

/// One CSV field, always quoted (so an empty field is NULL and `""` the empty string), with
/// formula-starting characters neutralised for spreadsheets and line breaks written as `\n` and
/// `\r`, so every row stays on one line.
pub fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    format!("\"{}\"", value.replace('"', "\"\"").replace('\n', "\\n").replace('\r', "\\r"))
}

/// One CSV row of quoted fields, with its line break.
pub fn csv_line<S: AsRef<str>>(fields: impl IntoIterator<Item = S>) -> String {
    let mut line = fields.into_iter().map(|f| csv_field(f.as_ref())).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

/// The query audit as CSV (SREs only), newest first.
async fn audit_csv(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, AppError> {
    let ctx = state.ctx(user.0);
    let entries = console_core::audit::actions::export_query_audit(&ctx).await?;
    let mut body =
        String::from("id,at,login,service,replica,outcome,reason,rows,duration_ms,sql\n");
    for e in entries {
        body.push_str(&csv_line([
            e.id.to_string(),
            console_core::dates::date_time(e.at),
            e.login,
            e.service,
            e.replica,
            e.outcome,
            e.reason,
            e.rows.to_string(),
            e.duration_ms.to_string(),
            e.sql,
        ]));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"query-audit.csv\""),
        ],
        body,
    )
        .into_response())
}

async fn export(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, AppError> {
    let (version, document) = console_core::defaults::actions::export(&state.ctx(user.0)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/toml; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"platform-defaults-v{version}.toml\""),
            ),
        ],
        format!("# Platform defaults, version {version}\n{document}"),
    )
        .into_response())
}
