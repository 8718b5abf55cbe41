//! `console`: serve the developer console, or import the catalog on demand.

use clap::{Parser, Subcommand};
use console::config::{Config, LogFormat, KEYS};
use console::start::{import_catalog, import_options};
use console_core::catalog::ingest::ImportOptions;
use console_core::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

/// The image's static (musl) binary: musl's allocator serialises threads; mimalloc does not.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "console",
    version,
    about = "Self-service developer console for services on Kubernetes"
)]
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
    /// Print the RBAC the console needs, rendered from its table of watched kinds: a
    /// ClusterRole (watching the whole cluster) or, with --namespace (repeated), a Role and
    /// RoleBinding in each. deploy/ holds both, checked against this by `make test`.
    Rbac {
        /// Watch only these namespaces (kubernetes.namespaces).
        #[arg(long = "namespace")]
        namespaces: Vec<String>,
        /// Where the console's ServiceAccount lives.
        #[arg(long, default_value = "console")]
        console_namespace: String,
    },
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
    let mut help =
        String::from("Configuration keys (TOML file or CONSOLE_<KEY> environment variables):\n");
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
        Command::Import { dir, prune, dry_run, skip_invalid } => {
            import(config, dir, prune, dry_run, skip_invalid).await
        }
        Command::Sandbox { listen, kubeconfig, deployments, pods_per_deployment } => {
            sandbox(config, listen, kubeconfig, deployments, pods_per_deployment).await
        }
        Command::CheckConfig => {
            println!("configuration is valid");
            Ok(())
        }
        Command::Rbac { namespaces, console_namespace } => {
            use console_core::k8s::kinds;
            match namespaces.is_empty() {
                true => print!("{}", kinds::cluster_role("console")),
                false => print!("{}", kinds::roles("console", &namespaces, &console_namespace)),
            }
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
        LogFormat::Text => {
            builder.with_ansi(false).with_writer(console::logging::Escaped(std::io::stdout)).init()
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    use console::drain::{stop_signal, DrainTimes};
    let console = console::start::start(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!("console listening on http://{}", config.listen);
    if let Some(address) = config.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| format!("cannot listen on {address} (metrics_listen): {e}"))?;
        tracing::info!("metrics on http://{address}/metrics");
        let router = console::metrics_router(console.state.clone());
        tokio::spawn(async move { axum::serve(metrics, router).await });
    }
    let times = DrainTimes {
        pre_stop: std::time::Duration::from_secs(config.drain_delay_seconds),
        timeout: std::time::Duration::from_secs(config.drain_timeout_seconds),
    };
    let state = console.state.clone();
    let app = console::router(console.state.clone());
    let stop_queries = move || state.limiter.stop_all();
    console::drain::serve(
        listener,
        app,
        console.state.drain.clone(),
        times,
        stop_signal(),
        stop_queries,
    )
    .await
    .map_err(|e| e.to_string())?;
    // The abandoned queries' audit events are written by their own tasks: give them a moment.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    Ok(())
}

async fn import(
    config: Config,
    dir: Option<PathBuf>,
    prune: bool,
    dry_run: bool,
    skip_invalid: bool,
) -> Result<(), String> {
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

async fn sandbox(
    config: Config,
    listen: std::net::SocketAddr,
    kubeconfig: PathBuf,
    deployments: Option<usize>,
    pods: i32,
) -> Result<(), String> {
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
    let options =
        console_sandbox::Options { public: config.kubernetes.sandbox_public, ..Default::default() };
    let _sandbox =
        console::kubernetes::start_sandbox(listen, workloads, &kubeconfig, options).await?;
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
