//! From a configuration to a running console: what `main` does before it listens, and what the
//! tests that start "the console as configured" go through too.

use crate::config::Config;
use crate::AppState;
use console_core::catalog::ingest::{self, ImportError, ImportOptions, ImportSummary};
use console_core::store::Store;
use std::path::PathBuf;

/// A started console: its state (give it to [`crate::router`]) and what must live as long as it
/// serves.
pub struct Console {
    pub state: AppState,
    /// Dropping the sandbox stops it.
    _sandbox: Option<console_sandbox::Sandbox>,
    _sweeper: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens (and migrates) the store, imports the catalog directory, prepares the demo replica,
/// builds sign-in from the configuration, connects the clusters and starts the session sweeper.
pub async fn start(config: &Config) -> Result<Console, String> {
    let store = Store::open(&config.database_url).await.map_err(|e| e.to_string())?;
    if let Some(dir) = config.catalog_dir() {
        // A bad catalog, or one that would remove too much, must not take the console down:
        // keep serving the stored one. The import at start never prunes past the share.
        if let Err(message) = import_catalog(&store, dir, import_options(config)).await {
            tracing::error!("{message}");
        }
    }
    if let Some(path) = config.demo_replica.as_deref().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(e) = crate::demo::ensure(&store, path).await {
            tracing::error!(error = %e, "demo replica not available");
        }
    }
    let auth = crate::auth::Auth::from_config(config).map_err(|e| e.to_string())?;
    let sweeper = AbortOnDrop(crate::auth::spawn_session_sweeper(
        store.clone(),
        std::time::Duration::from_secs(600),
    ));
    if auth.dev_sign_in {
        tracing::warn!(
            "dev sign-in is on: anyone who reaches {} can act as any demo user",
            config.public_url()
        );
    }
    let (clusters, sandbox) = crate::kubernetes::connect(&config.kubernetes, &store).await?;
    let state = AppState::new(store, auth, &config.site_root.to_string_lossy(), config.listen)
        .with_catalog_dir(config.catalog_dir().map(PathBuf::from))
        .with_import_options(import_options(config))
        .with_clusters(clusters);
    Ok(Console { state, _sandbox: sandbox, _sweeper: sweeper })
}

/// Imports `dir` (never pruning past the configured share); problems are printed one per line
/// as `file:line: field: message` on stderr and leave the stored catalog as it was.
pub async fn import_catalog(
    store: &Store,
    dir: &std::path::Path,
    options: ImportOptions,
) -> Result<ImportSummary, String> {
    match ingest::import_dir_with(store, dir, options).await {
        Ok(summary) => {
            for warning in &summary.warnings {
                eprintln!("warning: {warning}");
            }
            for problem in &summary.invalid {
                eprintln!("skipped: {problem}");
            }
            tracing::info!(dir = %dir.display(), squads = summary.squads(), services = summary.services(), removed = summary.services_removed.len(), skipped = summary.skipped, dry_run = summary.dry_run, "catalog imported");
            Ok(summary)
        }
        Err(ImportError::Invalid(problems)) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            Err(format!(
                "catalog import refused, nothing changed: {} problem(s) in {}",
                problems.len(),
                dir.display()
            ))
        }
        Err(ImportError::Refused(why)) => {
            Err(format!("catalog import refused, nothing changed: {why}"))
        }
        Err(ImportError::Store(e)) => Err(format!("catalog import failed, nothing changed: {e}")),
    }
}

pub fn import_options(config: &Config) -> ImportOptions {
    let default_tier = console_core::catalog::Tier::new(config.catalog_default_tier as i64)
        .unwrap_or(console_core::catalog::Tier::ALL[3]);
    ImportOptions {
        max_removed_percent: config.catalog_max_removed_percent,
        default_tier,
        source_url: config.catalog_source_url.clone(),
        ..Default::default()
    }
}
