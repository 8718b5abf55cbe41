//! Server functions for the catalog pages: thin wrappers over `console_core::catalog::repo`.

use crate::error::AppError;
use console_core::catalog::{model, CatalogQuery, SquadSummary};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(input = Json)]
pub async fn search_catalog(query: CatalogQuery) -> Result<model::CatalogPage, AppError> {
    use console_core::{catalog::repo, store::Store};
    query.validate().map_err(AppError::BadRequest)?;
    let store = expect_context::<Store>();
    Ok(repo::search(&store, &query).await?)
}

#[server(input = Json)]
pub async fn list_squads() -> Result<Vec<SquadSummary>, AppError> {
    use console_core::{catalog::repo, store::Store};
    let store = expect_context::<Store>();
    Ok(repo::squads(&store).await?)
}

#[server(input = Json)]
pub async fn get_service(name: String) -> Result<model::ServicePage, AppError> {
    use console_core::{catalog::repo, store::Store};
    let store = expect_context::<Store>();
    repo::service_page(&store, &name).await?.ok_or_else(|| AppError::NotFound(format!("service {name:?}")))
}

#[server(input = Json)]
pub async fn get_squad(name: String) -> Result<model::SquadPage, AppError> {
    use console_core::{catalog::repo, store::Store};
    let store = expect_context::<Store>();
    repo::squad_page(&store, &name).await?.ok_or_else(|| AppError::NotFound(format!("squad {name:?}")))
}
