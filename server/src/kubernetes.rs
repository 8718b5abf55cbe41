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
use console_core::auth::policy::{allows_on_service, Action};
use console_core::auth::{CurrentSession, CurrentUser};
use console_core::catalog::model::{Service, Tier};
use console_core::catalog::repo;
use console_core::defaults::LogLimits;
use console_core::k8s::logs::{self, LogPlan};
use console_core::k8s::model::{LogLine, LogOptions};
use console_core::k8s::selector::Selector;
use console_core::k8s::{views, Clusters, K8sError};
use console_core::limiter::Lease;
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
    let mut clusters = match kubeconfig {
        Some(path) => {
            Clusters::from_kubeconfig(&path, &config.contexts).await.map_err(|e| e.to_string())?
        }
        None => Clusters::default(),
    };
    if config.in_cluster {
        let mut all = clusters.all().to_vec();
        all.extend(
            Clusters::in_cluster("in-cluster")
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

/// The service, if `user` may do `action` on it.
async fn authorized(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    action: Action,
) -> Result<Service, AppError> {
    let ctx = state.ctx(user.0.clone());
    let service = ctx.service(name).await?;
    ctx.authorize_on_service(action, &service)?;
    Ok(service)
}

/// A store failure: logged (by the conversion), a plain 500 for the browser.
fn internal(error: console_core::store::StoreError) -> AppError {
    console_core::error::Error::from(error).into()
}

/// The service (if `user` may read its logs) and the checked plan for `options`, with the
/// platform's log limits. The plan's own error is returned apart: the stream reports it as an
/// event, the download as a status.
async fn log_plan(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    options: &LogOptions,
) -> Result<(Service, LogLimits, Result<LogPlan, K8sError>), AppError> {
    let service = authorized(state, user, name, Action::ReadLogs).await?;
    let limits =
        console_core::defaults::repo::current(&state.store).await.map_err(internal)?.1.logs;
    let plan = LogPlan::new(&state.clusters, &service.workloads, options, &limits);
    Ok((service, limits, plan))
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

const ACCESS_ENDED: &str =
    "your access to this service ended (signed out, a grant expired, or your squads changed)";

/// What an open stream re-checks while it runs: access is decided at every request, and a
/// stream is one request that can last days.
struct Access {
    state: AppState,
    session: Option<String>,
    /// The session's absolute lifetime or the token's expiry: a stream ends there too.
    ends_at: Option<i64>,
    identity: String,
    action: Action,
    service: Service,
    every: Duration,
}

impl Access {
    fn of(
        state: &AppState,
        user: &CurrentUser,
        session: &CurrentSession,
        ends: crate::auth::CredentialEnds,
        action: Action,
        service: &Service,
    ) -> Access {
        Access {
            state: state.clone(),
            session: session.0.clone(),
            ends_at: ends.0,
            identity: user.0.as_ref().map(|u| u.identity.clone()).unwrap_or_default(),
            action,
            service: service.clone(),
            every: state.access_check,
        }
    }

    /// The session still exists within its absolute lifetime (or the token has not expired), and
    /// the person's current roles (or a grant in force) still allow the action on the service.
    /// A check that cannot be made ends the stream: it fails closed.
    async fn still_allowed(&self) -> bool {
        if self.ends_at.is_some_and(|end| console_core::dates::now() >= end) {
            return false;
        }
        if let Some(session) = &self.session {
            match console_core::auth::sessions::exists(&self.state.store, session).await {
                Ok(true) => {}
                Ok(false) => return false,
                Err(error) => {
                    tracing::warn!(%error, "session check failed; the stream ends");
                    return false;
                }
            }
        }
        // The owner as it is now: an import may have moved the service to another squad, or
        // removed it.
        let squad = match repo::service(&self.state.store, &self.service.name).await {
            Ok(Some(service)) => service.squad,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(%error, "access check failed; the stream ends");
                return false;
            }
        };
        match crate::auth::current_user(&self.state, &self.identity).await {
            Ok(user) => allows_on_service(user.as_ref(), self.action, &self.service.name, &squad),
            Err(error) => {
                tracing::warn!(%error, "access check failed; the stream ends");
                false
            }
        }
    }
}

/// One of `cap` running slots of `kind` for `login`, counted in the store (so the cap holds
/// across console replicas); None when all are held. The slot is held as long as the lease.
async fn stream_slot(
    state: &AppState,
    kind: &str,
    login: &str,
    cap: u64,
) -> Result<Option<Lease>, AppError> {
    for i in 0..cap {
        if let Some(lease) =
            state.limiter.acquire(kind, login, &format!("slot-{i}")).await.map_err(internal)?
        {
            return Ok(Some(lease));
        }
    }
    Ok(None)
}

fn login_of(user: &CurrentUser) -> String {
    user.0.as_ref().map(|u| u.login.clone()).unwrap_or_default()
}

/// Reads of logs are audited like queries: who, which service, which window and filter, how
/// many lines. The record is written once the lines are known and before they are sent: a read
/// whose record cannot be written is not served (fails closed).
async fn audit_read(
    state: &AppState,
    kind: &'static str,
    login: &str,
    service: &str,
    options: &LogOptions,
    lines: usize,
) -> bool {
    let event = audit::Event {
        kind,
        actor: login.to_string(),
        entity: service.to_string(),
        detail: options.query_string().trim_start_matches('?').to_string(),
        rows: lines as i64,
        ..Default::default()
    };
    match audit::append(&state.store, &event).await {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(%error, kind, service, "log read could not be audited: not served");
            false
        }
    }
}

const TOO_MANY_READS: &str = "you already have that many log reads running: wait for one to finish";
const NOT_AUDITED: &str = "internal error: the read could not be recorded, so it is not served";

/// `GET /services/{name}/deployments/live`: the deployment view, sent again whenever the
/// caches change it (a rollout, a crash, an event), at most four times a second.
async fn live_deployments(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Extension(session): Extension<CurrentSession>,
    Extension(ends): Extension<crate::auth::CredentialEnds>,
    EntityKey(name): EntityKey,
) -> Result<Response, AppError> {
    let service = authorized(&state, &user, &name, Action::ViewWorkloads).await?;
    let picked = state.clusters.pick(&service.workloads.cluster).map_err(refusal)?;
    // The first view also checks the request (unknown cluster, empty selector).
    let first = views::service_workloads(&state.clusters, &service.name, &service.workloads)
        .map_err(refusal)?;
    let cap = console_core::defaults::repo::current(&state.store)
        .await
        .map_err(internal)?
        .1
        .logs
        .max_live_views_per_user;
    let Some(slot) = stream_slot(&state, "workloads.live", &login_of(&user), cap).await? else {
        return Err(AppError::Throttled(format!(
            "you already have {cap} live views open: close one first"
        )));
    };
    let (tx, rx) = mpsc::channel::<Event>(4);
    let clusters = state.clusters.clone();
    let access = Access::of(&state, &user, &session, ends, Action::ViewWorkloads, &service);
    tokio::spawn(async move {
        let _slot = slot; // held while the browser watches
        let mut check = tokio::time::interval(access.every);
        check.tick().await;
        let mut changes: Vec<_> = picked.iter().map(|c| c.changes()).collect();
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
                _ = _slot.cancel.cancelled() => return,
                _ = check.tick() => if !access.still_allowed().await {
                    let _ = tx.send(Event::default().event("problem").data(ACCESS_ENDED)).await;
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
    let (service, limits, plan) = log_plan(&state, &user, &name, &options).await?;
    let login = login_of(&user);
    let (events, rx) = mpsc::channel::<Event>(64);
    // One-shot views hold up to max_lines in memory while they merge: capped per person too.
    let read_slot = if follow.follow {
        None
    } else {
        match stream_slot(&state, "logs.read", &login, limits.max_follows_per_user).await? {
            Some(slot) => Some(slot),
            None => return Err(AppError::Throttled(TOO_MANY_READS.into())),
        }
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(error) => {
            let _ = events.send(Event::default().event("problem").data(error.to_string())).await;
            return Ok(sse_stream(rx).into_response());
        }
    };
    if let Some(read_slot) = read_slot {
        tokio::spawn(async move {
            let _slot = read_slot;
            // A client that goes away stops the fetch from the clusters.
            let fetched = tokio::select! {
                _ = events.closed() => return,
                fetched = logs::fetch(&plan) => fetched,
            };
            match fetched {
                Ok(result) => {
                    if !audit_read(
                        &state,
                        audit::LOGS_READ,
                        &login,
                        &service.name,
                        &options,
                        result.lines.len(),
                    )
                    .await
                    {
                        let _ =
                            events.send(Event::default().event("problem").data(NOT_AUDITED)).await;
                        return;
                    }
                    for chunk in result.lines.chunks(1_000) {
                        let _ = events.send(json_event("lines", &chunk)).await;
                    }
                    for note in result.notes {
                        let _ = events.send(Event::default().event("note").data(note)).await;
                    }
                    let _ = events.send(Event::default().event("end").data("done")).await;
                }
                Err(error) => {
                    let _ = events
                        .send(Event::default().event("problem").data(error.to_string()))
                        .await;
                }
            }
        });
        return Ok(sse_stream(rx).into_response());
    }
    let Some(slot) =
        stream_slot(&state, "logs.follow", &login, limits.max_follows_per_user).await?
    else {
        let error = K8sError::TooManyFollows(limits.max_follows_per_user);
        let _ = events.send(Event::default().event("problem").data(error.to_string())).await;
        return Ok(sse_stream(rx).into_response());
    };
    if !audit_read(&state, audit::LOGS_FOLLOWED, &login, &service.name, &options, 0).await {
        let _ = events.send(Event::default().event("problem").data(NOT_AUDITED)).await;
        return Ok(sse_stream(rx).into_response());
    }
    let access = Access::of(&state, &user, &session, ends, Action::ReadLogs, &service);
    let (lines_tx, mut lines) = mpsc::channel::<LogLine>(4_096);
    let errors = events.clone();
    let follower = tokio::spawn(async move {
        if let Err(error) = logs::follow(plan, lines_tx).await {
            let _ = errors.send(Event::default().event("problem").data(error.to_string())).await;
        }
    });
    tokio::spawn(async move {
        let _slot = slot; // held while the browser follows
                          // At most ten events a second: a quiet stream's line goes out at once, a busy stream's
                          // lines gather into one event, so thousands of lines a second stay a few page updates.
        let gap = Duration::from_millis(100);
        let mut last_sent = tokio::time::Instant::now() - gap;
        let mut sent = 0usize;
        let mut check = tokio::time::interval(access.every);
        check.tick().await;
        loop {
            let first = tokio::select! {
                _ = events.closed() => break,
                _ = _slot.cancel.cancelled() => break,
                // A grant that expires, an offboarding, a lost squad: the follow ends with it.
                _ = check.tick() => if access.still_allowed().await { continue } else {
                    let _ = events.send(Event::default().event("problem").data(ACCESS_ENDED)).await;
                    break;
                },
                line = lines.recv() => match line { Some(line) => line, None => break },
            };
            tokio::time::sleep_until(last_sent + gap).await;
            let mut batch = vec![first];
            while batch.len() < 1_000 {
                match lines.try_recv() {
                    Ok(line) => batch.push(line),
                    Err(_) => break,
                }
            }
            sent += batch.len();
            if events.send(json_event("lines", &batch)).await.is_err() {
                break;
            }
            last_sent = tokio::time::Instant::now();
        }
        // The client went: stop following the clusters too.
        follower.abort();
        audit_read(&state, audit::LOGS_FOLLOW_ENDED, &login, &service.name, &options, sent).await;
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
    let (service, limits, plan) = log_plan(&state, &user, &name, &options).await?;
    let plan = plan.map_err(refusal)?;
    let Some(_slot) =
        stream_slot(&state, "logs.read", &login_of(&user), limits.max_follows_per_user).await?
    else {
        return Err(AppError::Throttled(TOO_MANY_READS.into()));
    };
    let result = logs::fetch(&plan).await.map_err(refusal)?;
    if !audit_read(
        &state,
        audit::LOGS_DOWNLOADED,
        &login_of(&user),
        &service.name,
        &options,
        result.lines.len(),
    )
    .await
    {
        tracing::error!(service = %service.name, "{NOT_AUDITED}");
        return Err(AppError::Internal);
    }
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
