//! Domain logic of the console, one module per feature.
//!
//! The `model` and `readiness` parts are plain data and pure functions (they also compile to
//! wasm, so the browser shares the types). Everything that touches the store or the file system
//! sits behind the `server` feature.

#[cfg(feature = "server")]
pub mod audit;
pub mod auth;
pub mod catalog;
#[cfg(feature = "server")]
pub mod ctx;
pub mod dates;
pub mod defaults;
pub mod error;
pub mod k8s;
#[cfg(feature = "server")]
pub mod limiter;
pub mod query;
#[cfg(feature = "server")]
pub mod store;
