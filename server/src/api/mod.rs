//! The read-only JSON API for machines: `/api/v1/services`, `/api/v1/squads`.

use crate::entity_path::EntityKey;
use crate::AppState;
use app::error::AppError;
use axum::extract::{Extension, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use console_core::auth::policy::{allows, Action};
use console_core::auth::CurrentUser;
use console_core::catalog::{actions, CatalogQuery};
use std::collections::HashMap;

pub mod error;
pub use error::ApiError;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Every route of the API with the action it performs: the router is built from this table's
/// paths, and the authorization matrix test walks it.
pub const ROUTES: &[(&str, Action)] = &[
    ("/me", Action::ViewCatalog),
    ("/services", Action::ViewCatalog),
    ("/services/{name}", Action::ViewCatalog),
    ("/squads", Action::ViewCatalog),
    ("/squads/{name}", Action::ViewCatalog),
    // POST: the REPL's flow (guard, limits, audit) for scripts, with a `query`-scoped token.
    ("/services/{name}/query", Action::QueryReplica),
];

pub fn router() -> Router<AppState> {
    let route = |router: Router<AppState>, path: &str, handler| {
        assert!(
            ROUTES.iter().any(|(p, _)| *p == path),
            "API route {path} has no policy entry in api::ROUTES"
        );
        crate::entity_path::route_both(router, path, handler)
    };
    let router = route(Router::new(), "/me", get(me));
    let router = route(router, "/services", get(list_services));
    let router = route(router, "/services/{name}", get(show_service));
    let router = route(router, "/squads", get(list_squads));
    let router = route(router, "/squads/{name}", get(show_squad));
    route(router, "/services/{name}/query", axum::routing::post(run_query))
}

#[derive(serde::Deserialize)]
struct QueryBody {
    replica: String,
    sql: String,
}

/// `POST /api/v1/services/{name}/query` `{"replica", "sql"}`: one read-only query through the
/// same flow as the REPL (policy and grants, guard, limits, audit). A token needs the `query`
/// scope, and SREs must allow that scope in the platform defaults (checked again at each use).
async fn run_query(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Extension(token): Extension<crate::auth::RequestToken>,
    EntityKey(name): EntityKey,
    body: Result<Json<QueryBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<console_core::query::QueryResult> {
    use console_core::auth::tokens::Scope;
    let ctx = state.ctx(user.0);
    if let Some(token) = &token.0 {
        let allowed = ctx.defaults().await?.1.tokens.allow_query_scope;
        if token.scope != Scope::Query || !allowed {
            let why = if allowed {
                "this token's scope is read: make one with the query scope"
            } else {
                "SREs have not allowed tokens to run queries"
            };
            return Err(AppError::Forbidden(why.into()).into());
        }
    }
    let Json(body) = body.map_err(|rejection| {
        AppError::BadRequest(format!(
            "send {{\"replica\": …, \"sql\": …}}: {}",
            rejection.body_text()
        ))
    })?;
    let token_id = token.0.as_ref().map(|t| t.id.clone()).unwrap_or_default();
    let run = console_core::query::actions::run(&ctx, &name, &body.replica, body.sql.as_bytes());
    Ok(Json(console_core::audit::through_token(token_id, run).await?))
}

/// Asks the policy for the route's action (all API resources are read-only, owned by nobody).
fn authorize(user: &CurrentUser, path: &str) -> Result<(), ApiError> {
    let action = ROUTES.iter().find(|(p, _)| *p == path).map(|(_, a)| *a).expect("route in ROUTES");
    if allows(user.0.as_ref(), action, None) {
        Ok(())
    } else {
        Err(AppError::Unauthorized.into())
    }
}

/// Who the session or token acts as, with the roles it has now.
async fn me(Extension(user): Extension<CurrentUser>) -> ApiResult<console_core::auth::User> {
    authorize(&user, "/me")?;
    user.0.map(Json).ok_or(AppError::Unauthorized.into())
}

/// Same parameters as the catalog page: q, squad, tier, lifecycle, readiness, page.
async fn list_services(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<console_core::catalog::CatalogPage> {
    authorize(&user, "/services")?;
    let query = CatalogQuery::from_params(|k| params.get(k).map(String::as_str))
        .map_err(AppError::BadRequest)?;
    Ok(Json(actions::search(&state.ctx(user.0), &query).await?))
}

async fn show_service(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    EntityKey(name): EntityKey,
) -> ApiResult<console_core::catalog::ServicePage> {
    authorize(&user, "/services/{name}")?;
    Ok(Json(actions::service_page(&state.ctx(user.0), &name).await?))
}

async fn list_squads(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> ApiResult<Vec<console_core::catalog::SquadSummary>> {
    authorize(&user, "/squads")?;
    Ok(Json(actions::squads(&state.ctx(user.0)).await?))
}

async fn show_squad(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    EntityKey(name): EntityKey,
) -> ApiResult<console_core::catalog::SquadPage> {
    authorize(&user, "/squads/{name}")?;
    Ok(Json(actions::squad_page(&state.ctx(user.0), &name).await?))
}
