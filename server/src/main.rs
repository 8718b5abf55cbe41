//! `console`: serve the developer console, or import the catalog on demand.

use clap::{Parser, Subcommand};
use console::config::{Config, LogFormat, KEYS};
use console::{router, AppState};
use console_core::catalog::repo::{self, ImportError, ImportOptions, ImportSummary};
use console_core::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "console", version, about = "Self-service developer console for services on Kubernetes")]
#[command(after_help = config_help())]
struct Cli {
    /// TOML configuration file; every key can also be set as CONSOLE_<KEY>.
    #[arg(long, env = "CONSOLE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the console (the default).
    Serve,
    /// Import catalog descriptors now, all or nothing, merged with what the console owns, and
    /// exit. Prints what was added, kept and removed.
    Import {
        /// Directory of catalog-info.yaml files (default: the configured catalog_dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Remove whatever the descriptors no longer hold, even everything (else an import that
        /// would remove more than catalog_max_removed_percent of the services is refused).
        #[arg(long)]
        prune: bool,
        /// Print what would be added, kept and removed, per kind; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the valid entities and report the invalid ones (a first migration from
        /// Backstage), instead of all or nothing.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Validate the configuration and exit.
    CheckConfig,
    /// Run only the sandbox cluster (Kubernetes API over HTTP) and write its kubeconfig.
    Sandbox {
        /// Address of its API.
        #[arg(long, default_value = "127.0.0.1:6443")]
        listen: std::net::SocketAddr,
        /// Where to write the kubeconfig.
        #[arg(long, default_value = "data/sandbox.kubeconfig")]
        kubeconfig: PathBuf,
        /// Synthetic deployments to run instead of the demo catalog's (for benchmarks).
        #[arg(long)]
        deployments: Option<usize>,
        /// Pods per synthetic deployment.
        #[arg(long, default_value_t = 10)]
        pods_per_deployment: i32,
    },
}

fn config_help() -> String {
    let mut help = String::from("Configuration keys (TOML file or CONSOLE_<KEY> environment variables):\n");
    for (key, meaning) in KEYS {
        help.push_str(&format!("  {key:<14} {meaning}\n"));
    }
    help
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("console: {error}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Import { dir, prune, dry_run, skip_invalid } => import(config, dir, prune, dry_run, skip_invalid).await,
        Command::Sandbox { listen, kubeconfig, deployments, pods_per_deployment } => {
            sandbox(config, listen, kubeconfig, deployments, pods_per_deployment).await
        }
        Command::CheckConfig => {
            println!("configuration is valid");
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("console: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::new(&config.log_level);
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        // No colours: they are escapes too, and the writer keeps every event on one line.
        LogFormat::Text => builder.with_ansi(false).with_writer(console::logging::Escaped(std::io::stdout)).init(),
    }
}

/// Imports `dir` (never pruning past the configured share); problems are printed one per line
/// as `file:line: field: message` on stderr and leave the stored catalog as it was.
async fn import_catalog(store: &Store, dir: &std::path::Path, options: ImportOptions) -> Result<ImportSummary, String> {
    match repo::import_dir_with(store, dir, options).await {
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
            Err(format!("catalog import refused, nothing changed: {} problem(s) in {}", problems.len(), dir.display()))
        }
        Err(ImportError::Refused(why)) => Err(format!("catalog import refused, nothing changed: {why}")),
        Err(ImportError::Store(e)) => Err(format!("catalog import failed, nothing changed: {e}")),
    }
}

fn import_options(config: &Config) -> ImportOptions {
    let default_tier = console_core::catalog::Tier::new(config.catalog_default_tier as i64).unwrap_or(console_core::catalog::Tier::ALL[3]);
    ImportOptions {
        max_removed_percent: config.catalog_max_removed_percent,
        default_tier,
        source_url: config.catalog_source_url.clone(),
        ..Default::default()
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let store = Store::open(&config.database_url).await.map_err(|e| e.to_string())?;
    if let Some(dir) = config.catalog_dir() {
        // A bad catalog, or one that would remove too much, must not take the console down:
        // keep serving the stored one. The import at start never prunes past the share.
        if let Err(message) = import_catalog(&store, dir, import_options(&config)).await {
            tracing::error!("{message}");
        }
    }
    if let Some(path) = config.demo_replica.as_deref().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(e) = console::demo::ensure(&store, path).await {
            tracing::error!(error = %e, "demo replica not available");
        }
    }
    let auth = console::auth::Auth::from_config(&config).map_err(|e| e.to_string())?;
    let _sweeper = console::auth::spawn_session_sweeper(store.clone(), std::time::Duration::from_secs(600));
    if auth.dev_sign_in {
        tracing::warn!("dev sign-in is on: anyone who reaches {} can act as any demo user", config.public_url());
    }
    // Kept alive while serving: dropping the sandbox stops it.
    let (clusters, _sandbox) = console::kubernetes::connect(&config.kubernetes, &store).await?;
    let state = AppState::new(store, auth, &config.site_root.to_string_lossy(), config.listen)
        .with_catalog_dir(config.catalog_dir().map(PathBuf::from))
        .with_import_options(import_options(&config))
        .with_clusters(clusters);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!("console listening on http://{}", config.listen);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

async fn import(config: Config, dir: Option<PathBuf>, prune: bool, dry_run: bool, skip_invalid: bool) -> Result<(), String> {
    let dir = dir
        .or_else(|| config.catalog_dir().map(PathBuf::from))
        .ok_or("no directory: pass --dir or set catalog_dir")?;
    let store = Store::open(&config.database_url).await.map_err(|e| e.to_string())?;
    let options = ImportOptions { prune, dry_run, skip_invalid, ..import_options(&config) };
    let summary = import_catalog(&store, &dir, options).await?;
    if dry_run {
        println!("dry run: nothing was changed; an import would do this:");
    }
    for line in summary.lines() {
        println!("{line}");
    }
    Ok(())
}

async fn sandbox(config: Config, listen: std::net::SocketAddr, kubeconfig: PathBuf, deployments: Option<usize>, pods: i32) -> Result<(), String> {
    let workloads = match deployments {
        Some(count) => console_sandbox::synthetic(count, pods),
        None => {
            let store = Store::open(&config.database_url).await.map_err(|e| e.to_string())?;
            if let Some(dir) = config.catalog_dir() {
                import_catalog(&store, dir, import_options(&config)).await?;
            }
            console::kubernetes::demo_workloads(&store).await?
        }
    };
    let _sandbox = console::kubernetes::start_sandbox(listen, workloads, &kubeconfig).await?;
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
