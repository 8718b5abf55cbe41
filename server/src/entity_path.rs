//! Catalog URLs: `/services/{name}` in the default namespace, `/services/{namespace}/{name}` in
//! any other (the key `namespace/name`), the same for squads. Every route about one service or
//! squad is registered twice, and its handlers read the key with [`EntityKey`].

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use std::collections::HashMap;

/// The key of the service or squad a route is about.
pub struct EntityKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for EntityKey {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let name = params.get("name").cloned().unwrap_or_default();
        Ok(EntityKey(match params.get("namespace") {
            Some(namespace) => console_core::catalog::entity_key(namespace, &name),
            None => name,
        }))
    }
}

/// `path`, and its namespaced twin when it names an entity (`{name}` → `{namespace}/{name}`).
/// Static segments win over parameters, so `/services/x/logs.txt` stays service x's download.
pub fn route_both<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    handler: MethodRouter<S>,
) -> Router<S> {
    match path.contains("{name}") {
        true => router
            .route(path, handler.clone())
            .route(&path.replacen("{name}", "{namespace}/{name}", 1), handler),
        false => router.route(path, handler),
    }
}
