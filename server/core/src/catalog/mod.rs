//! The service catalog: squads, services, tiers and production readiness.

pub mod model;
pub mod pages;
pub mod readiness;

#[cfg(feature = "server")]
pub mod actions;
#[cfg(any(test, feature = "testing"))]
pub mod fixture;
#[cfg(feature = "server")]
pub mod import;
#[cfg(feature = "server")]
pub mod ingest;
#[cfg(feature = "server")]
pub mod merge;
#[cfg(feature = "server")]
pub mod overrides;
#[cfg(feature = "server")]
pub mod repo;

pub use model::*;
pub use pages::*;
