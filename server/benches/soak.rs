//! The soak (`make soak`; `SOAK_MINUTES`, default 60): two console replicas (release) on one
//! PostgreSQL store, the sandbox cluster at 5,000 pods, mixed traffic from eight people (pages,
//! the JSON API, REPL queries, log follows, live views) sent only to replicas whose `/readyz`
//! answers 200 (as a Service does), one rolling restart (SIGTERM, start again, one replica after
//! the other) half-way. Every `SOAK_SAMPLE_SECONDS` (default 60) each replica's resident memory,
//! open file descriptors and store connections are sampled into target/soak/samples.csv.
//!
//! Passes when no request answered 5xx or failed to connect, and each process's samples after
//! its warm-up stay within 10 % of each other. `.ci/soak-plot` draws target/soak/soak.png.

mod common;

use console_core::catalog::fixture::synthetic_org;
use console_core::catalog::{ingest, repo};
use console_core::query::{replicas, Engine, Replica};
use console_core::store::testing::ScratchDb;
use console_core::store::Store;
use console_sandbox::Sandbox;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SQUADS: usize = 50;
const SERVICES: usize = 500;
const PODS_EACH: i32 = 10;
const PEOPLE: usize = 8;
/// Samples of a process's first minutes are warm-up: caches fill, pools open.
const WARM_UP: Duration = Duration::from_secs(180);

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A console replica (a process): its port stays when it is restarted.
struct Instance {
    name: &'static str,
    port: u16,
    process: Mutex<Option<common::Killed>>,
    started: Mutex<Instant>,
    ready: AtomicBool,
}

struct Setup {
    binary: std::path::PathBuf,
    dir: std::path::PathBuf,
    logs: std::path::PathBuf,
    store_url: String,
    kubeconfig: std::path::PathBuf,
}

impl Instance {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&self, setup: &Setup) {
        // Kept in target/soak/ (appended across a restart): a failure is read from them.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(setup.logs.join(format!("{}.log", self.name)))
            .unwrap();
        let child = std::process::Command::new(&setup.binary)
            .arg("serve")
            .env_clear()
            .env("CONSOLE_AUTH__DEV_SIGN_IN", "true")
            .env(
                "CONSOLE_DATABASE_URL",
                format!("{}?application_name=soak-{}", setup.store_url, self.name),
            )
            .env("CONSOLE_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("CONSOLE_LOG_LEVEL", "warn")
            .env("RUST_BACKTRACE", "1")
            .env("CONSOLE_KUBERNETES__KUBECONFIG", &setup.kubeconfig)
            .env("CONSOLE_DEMO_REPLICA", setup.dir.join(format!("demo-{}.db", self.name)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start console");
        *self.process.lock().unwrap() = Some(common::Killed(child));
        *self.started.lock().unwrap() = Instant::now();
    }

    fn pid(&self) -> Option<u32> {
        self.process.lock().unwrap().as_ref().map(|p| p.id())
    }
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    server_errors: AtomicU64,
    unreachable: AtomicU64,
    follows: AtomicU64,
    follows_ended_restarting: AtomicU64,
    live_views: AtomicU64,
    queries: AtomicU64,
    problems: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, what: &str, outcome: Result<u16, String>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let problem = match outcome {
            Ok(status) if status >= 500 => {
                self.server_errors.fetch_add(1, Ordering::Relaxed);
                format!("{what}: {status}")
            }
            Ok(_) => return,
            Err(e) => {
                self.unreachable.fetch_add(1, Ordering::Relaxed);
                format!("{what}: {e}")
            }
        };
        let mut problems = self.problems.lock().unwrap();
        if problems.len() < 50 {
            problems.push(problem);
        }
    }
}

/// A replica that is ready now, taking turns.
fn pick(replicas: &[Arc<Instance>], turn: usize) -> Option<&Arc<Instance>> {
    let ready: Vec<_> = replicas.iter().filter(|r| r.ready.load(Ordering::SeqCst)).collect();
    (!ready.is_empty()).then(|| ready[turn % ready.len()])
}

async fn sign_in(base: &str, login: &str) -> String {
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let reply = http
        .post(format!("{base}/auth/dev"))
        .header("origin", base)
        .form(&[("login", login)])
        .send()
        .await
        .unwrap();
    reply.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

/// One person's pages, API calls and queries, until `until`.
async fn person(
    replicas: Arc<Vec<Arc<Instance>>>,
    tally: Arc<Tally>,
    cookie: String,
    service: String,
    until: Instant,
) {
    let http = reqwest::Client::new();
    let mut turn = 0usize;
    let mut last_query = Instant::now() - Duration::from_secs(10);
    while Instant::now() < until {
        turn += 1;
        let Some(replica) = pick(&replicas, turn) else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let base = replica.base();
        let (what, request) = match turn % 6 {
            0 => ("catalog page", http.get(format!("{base}/catalog?q=billing"))),
            1 => ("service page", http.get(format!("{base}/services/{service}"))),
            2 => ("deployments page", http.get(format!("{base}/services/{service}/deployments"))),
            3 => ("api services", http.get(format!("{base}/api/v1/services?q=pay"))),
            4 => (
                "search",
                http.post(format!("{base}/api/catalog/search")).header("origin", &base).json(
                    &serde_json::json!({"query": {"text": "billing", "squad": null, "tier": null,
                        "lifecycle": null, "readiness": null, "page": 2}}),
                ),
            ),
            _ if last_query.elapsed() >= Duration::from_secs(3) => {
                last_query = Instant::now();
                tally.queries.fetch_add(1, Ordering::Relaxed);
                (
                    "query",
                    http.post(format!("{base}/api/query/run")).header("origin", &base).json(
                        &serde_json::json!({"service": service, "replica": format!("soak-{service}"),
                            "sql": "SELECT id, amount, placed_at, note FROM orders ORDER BY id DESC LIMIT 20"}),
                    ),
                )
            }
            _ => ("healthz", http.get(format!("{base}/healthz"))),
        };
        let outcome = match request.header("cookie", &cookie).send().await {
            Ok(reply) => {
                let status = reply.status().as_u16();
                let _ = reply.bytes().await;
                Ok(status)
            }
            // The whole chain: "error sending request" alone does not say why.
            Err(e) => Err(format!("{e:?}")),
        };
        tally.record(what, outcome);
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
}

/// Keeps one event stream of `path` open, a minute at a time, reconnecting to a ready replica
/// when it ends (a draining replica ends it saying why).
async fn stream(
    replicas: Arc<Vec<Arc<Instance>>>,
    tally: Arc<Tally>,
    cookie: String,
    path: String,
    offset: usize,
    until: Instant,
) {
    let http = reqwest::Client::new();
    // Streams start spread over the replicas: in lockstep they all moved at each minute's
    // reconnect, and each replica's open files swung between none and all of them.
    let mut turn = offset;
    while Instant::now() < until {
        turn += 1;
        let Some(replica) = pick(&replicas, turn) else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let counter = if path.contains("live") { &tally.live_views } else { &tally.follows };
        counter.fetch_add(1, Ordering::Relaxed);
        let reply = http.get(format!("{}{path}", replica.base())).header("cookie", &cookie).send();
        let mut reply = match reply.await {
            Ok(reply) => reply,
            Err(e) => {
                tally.record(&path, Err(format!("{e:?}")));
                continue;
            }
        };
        tally.record(&path, Ok(reply.status().as_u16()));
        let minute = Instant::now() + Duration::from_secs(60);
        let mut tail = String::new();
        loop {
            let left = minute.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, reply.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    tail.push_str(&String::from_utf8_lossy(&chunk));
                    if tail.contains("event: problem") {
                        tally.record(&path, Err(format!("problem: {tail}")));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                    let keep = tail.len().saturating_sub(4096);
                    tail.drain(..keep);
                }
                Ok(Ok(None)) => {
                    if tail.contains("restarting") {
                        tally.follows_ended_restarting.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
                Ok(Err(e)) => {
                    tally.record(&path, Err(format!("{e:?}")));
                    break;
                }
                Err(_) => break,
            }
        }
    }
}

struct Sample {
    at: Duration,
    replica: &'static str,
    pid: u32,
    rss_kb: u64,
    fds: u64,
    store_connections: i64,
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let minutes = env_u64("SOAK_MINUTES", 60);
    let every = Duration::from_secs(env_u64("SOAK_SAMPLE_SECONDS", 60));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = root.join("target/release/console");
    assert!(binary.exists(), "build target/release/console first (`make soak` does)");
    let out = root.join("target/soak");
    std::fs::create_dir_all(&out).unwrap();
    for old in ["a.log", "b.log"] {
        let _ = std::fs::remove_file(out.join(old));
    }
    let dir = tempfile::tempdir().unwrap();

    // The store (PostgreSQL), its catalog, and a replica with a production-like table.
    let store_db = ScratchDb::postgres("soak_store").await;
    let store = Store::open(&store_db.url).await.unwrap();
    ingest::replace_all(&store, &synthetic_org(SQUADS, SERVICES)).await.unwrap();
    let replica_db = ScratchDb::postgres("soak_replica").await;
    let pool = sqlx::PgPool::connect(&replica_db.url).await.unwrap();
    sqlx::query(
        "CREATE TABLE orders AS SELECT g AS id, (g * 7 % 1000)::numeric(10, 2) AS amount,
                now() - g * interval '1 minute' AS placed_at, 'order ' || g AS note
         FROM generate_series(1, 100000) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("ALTER TABLE orders ADD PRIMARY KEY (id)").execute(&pool).await.unwrap();
    pool.close().await;

    // The sandbox: ten pods a service, the people's services writing log lines.
    let services = repo::workloads(&store).await.unwrap();
    let workloads = common::fleet(&services, PODS_EACH, PEOPLE);
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), workloads, Default::default())
        .await
        .unwrap();
    let (deployments, pods) = sandbox.size();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig("sandbox")).unwrap();
    let setup = Setup {
        binary,
        dir: dir.path().to_path_buf(),
        logs: out.clone(),
        store_url: store_db.url.clone(),
        kubeconfig,
    };

    // Each person owns the service of their squad's index; it has a replica.
    let mut people = Vec::new();
    for (i, (service, squad, _, _)) in services.iter().take(PEOPLE).enumerate() {
        let replica = Replica::new(
            &format!("soak-{service}"),
            service,
            "orders",
            Engine::Postgres,
            &replica_db.url,
        );
        replicas::register(&store, &replica, "soak").await.unwrap();
        let member = repo::squad(&store, squad).await.unwrap().unwrap().members[0].clone();
        people.push((i, member, service.clone()));
    }

    let consoles: Arc<Vec<Arc<Instance>>> = Arc::new(
        ["a", "b"]
            .into_iter()
            .map(|name| {
                Arc::new(Instance {
                    name,
                    port: common::free_port(),
                    process: Mutex::new(None),
                    started: Mutex::new(Instant::now()),
                    ready: AtomicBool::new(false),
                })
            })
            .collect(),
    );
    for console in consoles.iter() {
        console.start(&setup);
    }
    // Readiness, as a Service's endpoints follow it.
    let probe = tokio::spawn({
        let consoles = consoles.clone();
        async move {
            let http =
                reqwest::Client::builder().timeout(Duration::from_millis(500)).build().unwrap();
            loop {
                for console in consoles.iter() {
                    let ready = http
                        .get(format!("{}/readyz", console.base()))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200);
                    console.ready.store(ready, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
    let ready_by = Instant::now() + Duration::from_secs(120);
    while !consoles.iter().all(|c| c.ready.load(Ordering::SeqCst)) {
        assert!(Instant::now() < ready_by, "the consoles never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "soak: {minutes} min, {deployments} deployments, {pods} pods, {PEOPLE} people, 2 replicas"
    );

    let began = Instant::now();
    let until = began + Duration::from_secs(minutes * 60);
    let tally = Arc::new(Tally::default());
    let mut traffic = Vec::new();
    for (i, login, service) in &people {
        let cookie = sign_in(&consoles[0].base(), login).await;
        traffic.push(tokio::spawn(person(
            consoles.clone(),
            tally.clone(),
            cookie.clone(),
            service.clone(),
            until,
        )));
        let follow = format!("/services/{service}/logs/stream?follow=true&since=1m");
        traffic.push(tokio::spawn(stream(
            consoles.clone(),
            tally.clone(),
            cookie.clone(),
            follow,
            *i,
            until,
        )));
        if i % 2 == 0 {
            let live = format!("/services/{service}/deployments/live");
            traffic.push(tokio::spawn(stream(
                consoles.clone(),
                tally.clone(),
                cookie,
                live,
                *i + 1,
                until,
            )));
        }
    }

    // Samples, and the rolling restart half-way.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let admin = sqlx::PgPool::connect(&store_db.url).await.unwrap();
    let mut restarted = false;
    let mut next_sample = began;
    let mut restarts = Vec::new();
    while Instant::now() < until {
        if Instant::now() >= next_sample {
            for console in consoles.iter() {
                let Some(pid) = console.pid() else { continue };
                let connections: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
                )
                .bind(format!("soak-{}", console.name))
                .fetch_one(&admin)
                .await
                .unwrap_or(-1);
                samples.lock().unwrap().push(Sample {
                    at: began.elapsed(),
                    replica: console.name,
                    pid,
                    rss_kb: rss_kb(pid),
                    fds: fds(pid),
                    store_connections: connections,
                });
            }
            println!(
                "{:>5.1} min: {} requests, {} 5xx, {} unreachable",
                began.elapsed().as_secs_f64() / 60.0,
                tally.requests.load(Ordering::Relaxed),
                tally.server_errors.load(Ordering::Relaxed),
                tally.unreachable.load(Ordering::Relaxed)
            );
            next_sample += every;
        }
        if !restarted && began.elapsed() >= Duration::from_secs(minutes * 30) {
            restarted = true;
            for console in consoles.iter() {
                let pid = console.pid().unwrap();
                let signalled = Instant::now();
                std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .unwrap();
                // The drain: unready at once, serving for the pre-stop delay, then gone.
                loop {
                    let exited =
                        console.process.lock().unwrap().as_mut().unwrap().0.try_wait().unwrap();
                    if exited.is_some() {
                        break;
                    }
                    assert!(
                        signalled.elapsed() < Duration::from_secs(30),
                        "{} did not stop",
                        console.name
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let stopped = signalled.elapsed();
                console.start(&setup);
                let back_by = Instant::now() + Duration::from_secs(120);
                while !console.ready.load(Ordering::SeqCst) {
                    assert!(Instant::now() < back_by, "{} did not come back", console.name);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                restarts.push(format!(
                    "{} at {:.1} min: stopped in {:.1} s, ready again {:.1} s later",
                    console.name,
                    began.elapsed().as_secs_f64() / 60.0,
                    stopped.as_secs_f64(),
                    (signalled.elapsed() - stopped).as_secs_f64()
                ));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for task in traffic {
        let _ = task.await;
    }
    probe.abort();

    // The samples, as CSV and a verdict per process after its warm-up.
    let samples = samples.lock().unwrap();
    let mut csv = String::from("minute,replica,pid,rss_kb,fds,store_connections\n");
    for s in samples.iter() {
        csv.push_str(&format!(
            "{:.2},{},{},{},{},{}\n",
            s.at.as_secs_f64() / 60.0,
            s.replica,
            s.pid,
            s.rss_kb,
            s.fds,
            s.store_connections
        ));
    }
    std::fs::write(out.join("samples.csv"), csv).unwrap();
    let mut flat = true;
    println!("\n| process | samples after warm-up | RSS MB min / max | fds min / max | store connections min / max |");
    println!("|---|---|---|---|---|");
    let mut pids: Vec<(u32, &str)> = samples.iter().map(|s| (s.pid, s.replica)).collect();
    pids.sort();
    pids.dedup();
    for (pid, name) in pids {
        let mine: Vec<&Sample> = samples.iter().filter(|s| s.pid == pid).collect();
        let first = mine[0].at;
        let warm: Vec<&&Sample> = mine.iter().filter(|s| s.at >= first + WARM_UP).collect();
        if warm.len() < 2 {
            println!("| {name} (pid {pid}) | {} | too short to judge | | |", warm.len());
            continue;
        }
        let range = |f: &dyn Fn(&Sample) -> f64| {
            let values: Vec<f64> = warm.iter().map(|s| f(s)).collect();
            let (lo, hi) =
                values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            (lo, hi)
        };
        let (r, f, c) = (
            range(&|s| s.rss_kb as f64 / 1024.0),
            range(&|s| s.fds as f64),
            range(&|s| s.store_connections as f64),
        );
        // Within 10 %, or within a unit where the figure is small (a connection more is not a leak).
        let within = |(lo, hi): (f64, f64), slack: f64| hi - lo <= (lo * 0.10).max(slack);
        let ok = within(r, 0.0) && within(f, 2.0) && within(c, 1.0);
        flat &= ok;
        println!(
            "| {name} (pid {pid}){} | {} | {:.1} / {:.1} | {} / {} | {} / {} |",
            if ok { "" } else { " NOT FLAT" },
            warm.len(),
            r.0,
            r.1,
            f.0,
            f.1,
            c.0,
            c.1
        );
    }
    let (requests, errors, unreachable) = (
        tally.requests.load(Ordering::Relaxed),
        tally.server_errors.load(Ordering::Relaxed),
        tally.unreachable.load(Ordering::Relaxed),
    );
    println!("\nrequests: {requests}; 5xx: {errors}; failed to connect or cut: {unreachable}");
    println!(
        "queries: {}; follows opened: {} ({} ended by a draining replica, reopened); live views opened: {}",
        tally.queries.load(Ordering::Relaxed),
        tally.follows.load(Ordering::Relaxed),
        tally.follows_ended_restarting.load(Ordering::Relaxed),
        tally.live_views.load(Ordering::Relaxed)
    );
    for restart in &restarts {
        println!("rolling restart: {restart}");
    }
    for problem in tally.problems.lock().unwrap().iter() {
        println!("problem: {problem}");
    }
    println!("samples: {}", out.join("samples.csv").display());
    assert!(errors == 0 && unreachable == 0, "every request answered");
    assert!(flat, "resources flat after warm-up");
}
