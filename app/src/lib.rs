//! The console's pages. Server-rendered by the `console` binary (feature `ssr`), then hydrated
//! in the browser (feature `hydrate`). Folders mirror features.

pub mod app;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod components;
pub mod defaults;
pub mod error;
pub mod k8s;
pub mod query;
#[cfg(feature = "ssr")]
pub mod ssr;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
