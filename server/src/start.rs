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
    /// What the import at start did (none without `catalog_dir`).
    pub import: Option<StartImport>,
    /// Dropping the sandbox stops it.
    _sandbox: Option<console_sandbox::Sandbox>,
    _sweeper: AbortOnDrop,
    _orphans: AbortOnDrop,
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
    let import = match config.catalog_dir() {
        Some(dir) => Some(import_at_start(&store, dir, import_options(config)).await),
        None => None,
    };
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
    let orphans = AbortOnDrop(spawn_orphan_closer(store.clone(), ORPHAN_SWEEP));
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
    Ok(Console { state, import, _sandbox: sandbox, _sweeper: sweeper, _orphans: orphans })
}

/// How often every replica looks for queries of a console that died. With the limiter's 15 s
/// lease, such a query is closed within about 20 s of the death.
const ORPHAN_SWEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Closes the `started` queries of consoles that died without draining (see
/// `console_core::audit::running`).
fn spawn_orphan_closer(store: Store, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match console_core::query::replicas::close_orphans(&store).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(closed = n, "queries of a stopped console closed"),
                Err(e) => tracing::warn!(error = %e, "queries of stopped consoles not closed yet"),
            }
        }
    })
}

/// What the import at start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartImport {
    Imported,
    /// The files are those already imported (by this replica or another).
    Unchanged,
    /// Refused or failed: the stored catalog is served as it is (the reason is logged).
    Kept,
}

/// Replicas started together take turns (a limiter lease: one import at a time across the
/// store) and skip files already imported. A bad catalog, or one that would remove too much,
/// never takes the console down: the stored one is served.
async fn import_at_start(
    store: &Store,
    dir: &std::path::Path,
    options: ImportOptions,
) -> StartImport {
    let limiter = console_core::limiter::Limiter::new(store.clone());
    let mut lease = None;
    // Another replica importing holds the lease; an import of 20,000 services takes seconds.
    for _ in 0..240 {
        match limiter.acquire("catalog.import", "console", "start").await {
            Ok(Some(held)) => {
                lease = Some(held);
                break;
            }
            Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            Err(e) => {
                tracing::error!(error = %e, "catalog import at start: store unavailable");
                return StartImport::Kept;
            }
        }
    }
    let Some(lease) = lease else {
        tracing::error!(
            "catalog import at start: another replica held the lease for 2 minutes; skipped"
        );
        return StartImport::Kept;
    };
    let key = dir.display().to_string();
    let fingerprint = ingest::fingerprint(dir);
    let last = ingest::last_imported(store, &key).await.ok().flatten();
    let outcome = if fingerprint.is_some() && fingerprint == last {
        tracing::info!(dir = %key, "catalog unchanged since its last import: not imported again");
        StartImport::Unchanged
    } else {
        match import_catalog(store, dir, options).await {
            Ok(_) => {
                if let Some(fingerprint) = &fingerprint {
                    if let Err(e) = ingest::record_imported(store, &key, fingerprint).await {
                        tracing::warn!(error = %e, "catalog import at start not recorded");
                    }
                }
                StartImport::Imported
            }
            Err(message) => {
                tracing::error!("{message}");
                StartImport::Kept
            }
        }
    };
    lease.release().await;
    outcome
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
