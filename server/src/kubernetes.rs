//! Kubernetes in the console: connecting the configured clusters (or the built-in sandbox),
//! and the streamed routes the pages use: live deployment views and pod logs (SSE), and the
//! log download. Views and logs themselves are `console_core::k8s`.

use crate::config::KubernetesConfig;
use crate::entity_path::EntityKey;
use crate::AppState;
use app::error::AppError;
use axum::extract::{Extension, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use console_core::audit;
use console_core::auth::policy::Action;
use console_core::auth::{CurrentSession, CurrentUser};
use console_core::catalog::model::Tier;
use console_core::catalog::repo;
use console_core::k8s::actions::{self, StreamAccess};
use console_core::k8s::logs;
use console_core::k8s::model::{LogLine, LogOptions};
use console_core::k8s::selector::Selector;
use console_core::k8s::{views, Clusters, K8sError, Scope};
use console_core::store::Store;
use console_sandbox::{Life, Sandbox, Workload};
use serde::Deserialize;
use std::convert::Infallible;
use std::path::Path as FsPath;
use std::time::Duration;
use tokio::sync::mpsc;

/// The kubeconfig the embedded sandbox writes when none is configured.
pub const SANDBOX_KUBECONFIG: &str = "data/sandbox.kubeconfig";

/// The demo organisation's workloads: one deployment per catalog service, in its namespace (or
/// its squad's), labelled so its selector matches. A few payments services have trouble.
pub async fn demo_workloads(store: &Store) -> Result<Vec<Workload>, String> {
    let services = repo::workloads(store).await.map_err(|e| e.to_string())?;
    Ok(services
        .into_iter()
        .filter_map(|(name, squad, tier, workloads)| {
            let labels = Selector::parse(&workloads.label_selector).ok()?.required_labels();
            if labels.is_empty() {
                return None;
            }
            let critical = tier == Tier::ALL[0];
            Some(Workload {
                namespace: workloads
                    .namespace
                    .split(',')
                    .next()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .unwrap_or(squad),
                labels,
                replicas: match tier.number() {
                    1 => 3,
                    2 => 2,
                    _ => 1,
                },
                // Tier-1 services run a proxy sidecar: two containers to choose from.
                containers: if critical {
                    vec!["app".into(), "proxy".into()]
                } else {
                    vec!["app".into()]
                },
                life: match name.as_str() {
                    "payments-api" => Life::RollingOut { every: 45 },
                    "fraud-scoring" => Life::CrashLoop,
                    "ledger" => Life::OomKilled,
                    "payouts-worker" => Life::Stalled,
                    _ => Life::Steady,
                },
                chatty: true,
                name,
            })
        })
        .collect())
}

/// Connects the configured clusters. With `sandbox` set, first starts the built-in sandbox
/// there and writes its kubeconfig, which is then read like any other.
pub async fn connect(
    config: &KubernetesConfig,
    store: &Store,
) -> Result<(Clusters, Option<Sandbox>), String> {
    let mut sandbox = None;
    let kubeconfig = match (&config.sandbox, &config.kubeconfig) {
        (Some(addr), path) => {
            let path = path.clone().unwrap_or_else(|| SANDBOX_KUBECONFIG.into());
            let options =
                console_sandbox::Options { public: config.sandbox_public, ..Default::default() };
            sandbox =
                Some(start_sandbox(*addr, demo_workloads(store).await?, &path, options).await?);
            Some(path)
        }
        (None, path) => path.clone(),
    };
    let scope = match config.namespaces.is_empty() {
        true => Scope::Cluster,
        false => Scope::Namespaces(config.namespaces.clone()),
    };
    let mut clusters = match kubeconfig {
        Some(path) => Clusters::from_kubeconfig(&path, &config.contexts, &scope)
            .await
            .map_err(|e| e.to_string())?,
        None => Clusters::default(),
    };
    if config.in_cluster {
        let mut all = clusters.all().to_vec();
        all.extend(
            Clusters::in_cluster("in-cluster", &scope)
                .await
                .map_err(|e| e.to_string())?
                .all()
                .iter()
                .cloned(),
        );
        clusters = Clusters::new(all);
    }
    Ok((clusters, sandbox))
}

/// Starts the sandbox on `addr` running `workloads` and writes its kubeconfig to `path`.
pub async fn start_sandbox(
    addr: std::net::SocketAddr,
    workloads: Vec<Workload>,
    path: &FsPath,
    options: console_sandbox::Options,
) -> Result<Sandbox, String> {
    let sandbox = Sandbox::start(addr, workloads, options)
        .await
        .map_err(|e| format!("cannot start the sandbox cluster on {addr}: {e}"))?;
    write_kubeconfig(path, &sandbox.kubeconfig("sandbox"))?;
    let (deployments, pods) = sandbox.size();
    tracing::info!(url = %sandbox.url(), kubeconfig = %path.display(), deployments, pods, "sandbox cluster running");
    Ok(sandbox)
}

fn write_kubeconfig(path: &FsPath, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Streamed and download routes, each with the action it needs.
pub const ROUTES: &[(&str, Action)] = &[
    ("/services/{name}/deployments/live", Action::ViewWorkloads),
    ("/services/{name}/logs/stream", Action::ReadLogs),
    ("/services/{name}/logs.txt", Action::ReadLogs),
];

pub fn router() -> Router<AppState> {
    use crate::entity_path::route_both;
    let router = route_both(Router::new(), ROUTES[0].0, get(live_deployments));
    let router = route_both(router, ROUTES[1].0, get(log_stream));
    route_both(router, ROUTES[2].0, get(log_download))
}

/// A cluster's refusal as the routes answer it: the one classification in `console_core::error`.
fn refusal(error: K8sError) -> AppError {
    console_core::error::Error::from(error).into()
}

fn sse_stream(
    rx: mpsc::Receiver<Event>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default().event(name).data(serde_json::to_string(value).expect("views serialize"))
}

fn problem(text: impl Into<String>) -> Event {
    Event::default().event("problem").data(text.into())
}

fn note(text: impl Into<String>) -> Event {
    Event::default().event("note").data(text.into())
}

const ACCESS_ENDED: &str =
    "your access to this service ended (signed out, a grant expired, or your squads changed)";
const TOO_MANY_READS: &str = "you already have that many log reads running: wait for one to finish";
const NOT_AUDITED: &str = "internal error: the read could not be recorded, so it is not served";

/// A lasting stream's re-check: the person resolved as they are now (roles, grants, a provider
/// re-check), then the core's rules on the session and the service's current owner.
struct Recheck {
    state: AppState,
    identity: String,
    access: StreamAccess,
    every: Duration,
}

impl Recheck {
    fn of(
        state: &AppState,
        user: &CurrentUser,
        session: &CurrentSession,
        ends: crate::auth::CredentialEnds,
        action: Action,
        service: &str,
    ) -> Recheck {
        Recheck {
            state: state.clone(),
            identity: user.0.as_ref().map(|u| u.identity.clone()).unwrap_or_default(),
            access: StreamAccess {
                session: session.0.clone(),
                ends_at: ends.0,
                action,
                service: service.to_string(),
            },
            every: state.access_check,
        }
    }

    async fn still_allowed(&self) -> bool {
        match crate::auth::current_user(&self.state, &self.identity).await {
            Ok(user) => self.access.still_allowed(&self.state.store, user.as_ref()).await,
            Err(error) => {
                tracing::warn!(%error, "access check failed; the stream ends");
                false
            }
        }
    }
}

/// `GET /services/{name}/deployments/live`: the deployment view, sent again whenever the
/// caches change it (a rollout, a crash, an event), at most four times a second.
async fn live_deployments(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Extension(session): Extension<CurrentSession>,
    Extension(ends): Extension<crate::auth::CredentialEnds>,
    EntityKey(name): EntityKey,
) -> Result<Response, AppError> {
    let ctx = state.ctx(user.0.clone());
    let actions::LiveView { service, watched, first, slot } =
        actions::live_view(&ctx, &name).await?;
    let (tx, rx) = mpsc::channel::<Event>(4);
    let clusters = state.clusters.clone();
    let access = Recheck::of(&state, &user, &session, ends, Action::ViewWorkloads, &service.name);
    let drain = state.drain.clone();
    tokio::spawn(async move {
        let _slot = slot; // held while the browser watches
        let mut check = tokio::time::interval(access.every);
        check.tick().await;
        let mut changes: Vec<_> = watched.iter().map(|c| c.changes()).collect();
        let mut view = Ok(first);
        let mut last = String::new();
        loop {
            if let Ok(view) = &view {
                let json = serde_json::to_string(view).expect("views serialize");
                if json != last {
                    if tx.send(Event::default().event("workloads").data(&json)).await.is_err() {
                        return;
                    }
                    last = json;
                }
            }
            let changed =
                futures_util::future::select_all(changes.iter_mut().map(|c| Box::pin(c.changed())));
            tokio::select! {
                _ = tx.closed() => return,
                // The console stops: say so and end; the browser reconnects to another one.
                _ = drain.closed() => {
                    let _ = tx.send(note(crate::drain::RESTARTING)).await;
                    return;
                }
                _ = _slot.cancel.cancelled() => return,
                _ = check.tick() => if !access.still_allowed().await {
                    let _ = tx.send(problem(ACCESS_ENDED)).await;
                    return;
                },
                _ = changed => {}
                // Ages move on even in a quiet cluster.
                _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            view = views::service_workloads(&clusters, &service.name, &service.workloads);
        }
    });
    Ok(sse_stream(rx).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FollowParam {
    follow: bool,
}

/// `GET /services/{name}/logs/stream?…`: the merged timeline as SSE `lines` events (JSON arrays
/// of lines), then, with `follow=true`, new lines as they are written. Problems arrive as a
/// `problem` event (the browser's EventSource cannot read an error body); the end as `end`
/// (with data: the browser drops events without any).
async fn log_stream(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Extension(session): Extension<CurrentSession>,
    Extension(ends): Extension<crate::auth::CredentialEnds>,
    EntityKey(name): EntityKey,
    Query(options): Query<LogOptions>,
    Query(follow): Query<FollowParam>,
) -> Result<Response, AppError> {
    let ctx = state.ctx(user.0.clone());
    let (service, limits, plan) = actions::log_plan(&ctx, &name, &options).await?;
    let (events, rx) = mpsc::channel::<Event>(64);
    let cap = limits.max_follows_per_user;
    let plan = match plan {
        Ok(plan) => plan,
        Err(error) => {
            let _ = events.send(problem(error.to_string())).await;
            return Ok(sse_stream(rx).into_response());
        }
    };
    if !follow.follow {
        // One-shot views hold up to max_lines in memory while they merge: capped per person too.
        let slot = actions::slot(&ctx, "logs.read", cap, TOO_MANY_READS).await?;
        tokio::spawn(async move {
            let _slot = slot;
            // A client that goes away stops the fetch from the clusters.
            let fetched = tokio::select! {
                _ = events.closed() => return,
                fetched = logs::fetch(&plan) => fetched,
            };
            let result = match fetched {
                Ok(result) => result,
                Err(error) => {
                    let _ = events.send(problem(error.to_string())).await;
                    return;
                }
            };
            let lines = result.lines.len();
            if let Err(e) =
                actions::record_read(&ctx, audit::LOGS_READ, &service.name, &options, lines).await
            {
                tracing::error!(error = %e, "log read not recorded: not served");
                let _ = events.send(problem(NOT_AUDITED)).await;
                return;
            }
            for chunk in result.lines.chunks(1_000) {
                let _ = events.send(json_event("lines", &chunk)).await;
            }
            for note in result.notes {
                let _ = events.send(Event::default().event("note").data(note)).await;
            }
            let _ = events.send(Event::default().event("end").data("done")).await;
        });
        return Ok(sse_stream(rx).into_response());
    }
    let too_many = K8sError::TooManyFollows(cap).to_string();
    let slot = match actions::slot(&ctx, "logs.follow", cap, &too_many).await {
        Ok(slot) => slot,
        Err(console_core::error::Error::Throttled(why)) => {
            let _ = events.send(problem(why)).await;
            return Ok(sse_stream(rx).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(e) =
        actions::record_read(&ctx, audit::LOGS_FOLLOWED, &service.name, &options, 0).await
    {
        tracing::error!(error = %e, "log read not recorded: not served");
        let _ = events.send(problem(NOT_AUDITED)).await;
        return Ok(sse_stream(rx).into_response());
    }
    let access = Recheck::of(&state, &user, &session, ends, Action::ReadLogs, &service.name);
    let drain = state.drain.clone();
    let (lines_tx, mut lines) = mpsc::channel::<LogLine>(4_096);
    let errors = events.clone();
    let follower = tokio::spawn(async move {
        if let Err(error) = logs::follow(plan, lines_tx).await {
            let _ = errors.send(problem(error.to_string())).await;
        }
    });
    tokio::spawn(async move {
        let _slot = slot; // held while the browser follows
                          // At most ten events a second: a busy stream's lines gather into one event, so thousands
                          // of lines a second stay a few page updates.
        let gap = Duration::from_millis(100);
        let mut last_sent = tokio::time::Instant::now() - gap;
        let mut sent = 0usize;
        let mut check = tokio::time::interval(access.every);
        check.tick().await;
        loop {
            let first = tokio::select! {
                _ = events.closed() => break,
                // The console stops: say so and end; the browser reconnects to another one.
                _ = drain.closed() => {
                    let _ = events.send(note(crate::drain::RESTARTING)).await;
                    break;
                }
                _ = _slot.cancel.cancelled() => {
                    if _slot.cancel.is_stopping() {
                        let _ = events.send(note(crate::drain::RESTARTING)).await;
                    }
                    break;
                }
                // A grant that expires, an offboarding, a lost squad: the follow ends with it.
                _ = check.tick() => if access.still_allowed().await { continue } else {
                    let _ = events.send(problem(ACCESS_ENDED)).await;
                    break;
                },
                line = lines.recv() => match line { Some(line) => line, None => break },
            };
            tokio::time::sleep_until(last_sent + gap).await;
            let batch = actions::next_batch(first, &mut lines, 1_000);
            sent += batch.len();
            if events.send(json_event("lines", &batch)).await.is_err() {
                break;
            }
            last_sent = tokio::time::Instant::now();
        }
        // The client went: stop following the clusters too.
        follower.abort();
        let ended =
            actions::record_read(&ctx, audit::LOGS_FOLLOW_ENDED, &service.name, &options, sent);
        if let Err(e) = ended.await {
            tracing::error!(error = %e, "end of a follow not recorded");
        }
    });
    Ok(sse_stream(rx).into_response())
}

/// `GET /services/{name}/logs.txt?…`: the merged timeline as a text file.
async fn log_download(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    EntityKey(name): EntityKey,
    Query(options): Query<LogOptions>,
) -> Result<Response, AppError> {
    let ctx = state.ctx(user.0.clone());
    let (service, limits, plan) = actions::log_plan(&ctx, &name, &options).await?;
    let plan = plan.map_err(refusal)?;
    let _slot =
        actions::slot(&ctx, "logs.read", limits.max_follows_per_user, TOO_MANY_READS).await?;
    let result = logs::fetch(&plan).await.map_err(refusal)?;
    let lines = result.lines.len();
    actions::record_read(&ctx, audit::LOGS_DOWNLOADED, &service.name, &options, lines).await?;
    let mut text = String::with_capacity(result.lines.len() * 120);
    for line in &result.lines {
        text.push_str(&line.to_text());
        text.push('\n');
    }
    let disposition = format!("attachment; filename=\"{}-logs.txt\"", service.name);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}
