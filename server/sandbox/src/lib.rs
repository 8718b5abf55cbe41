//! A sandbox cluster: speaks the Kubernetes REST API over HTTP (list, watch, `pods/log`) with the
//! real wire format, and runs workloads with life in them. `make run` and the tests point the
//! console at it through an ordinary kubeconfig, so the same kube client code serves it and a
//! real cluster.

mod discovery;
mod http;
pub mod life;
pub mod rbac;
pub mod world;

pub use life::{Life, Workload};
pub use rbac::{Rbac, RbacRule};

use life::DeploymentSim;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use world::{Kind, World};

pub(crate) struct State {
    pub world: World,
    sims: BTreeMap<(String, String), DeploymentSim>,
}

pub(crate) struct Inner {
    pub state: Mutex<State>,
    pub rbac: Option<Rbac>,
    pub requests: AtomicU64,
    /// Open log follows per (namespace, pod).
    pub follows: Mutex<std::collections::HashMap<(String, String), usize>>,
    /// False while the cluster is "down": requests fail and open streams end.
    pub up: watch::Receiver<bool>,
    up_tx: watch::Sender<bool>,
}

pub(crate) type Shared = Arc<Inner>;

#[derive(Debug, Clone)]
pub struct Options {
    /// How often life advances (rollout steps, crashes, log lines).
    pub tick: Duration,
    /// How many changes a watch can resume from.
    pub history: usize,
    /// Log follows of a pod that is deleted stay open until their client lets go, as through a
    /// kubelet the API server lost or a long termination grace: the client must notice.
    pub lingering_follows: bool,
    /// Answer as a cluster whose RBAC grants only this (403 for the rest); `None`: everything.
    pub rbac: Option<Rbac>,
    /// Listen on an address other hosts reach. The sandbox answers without authentication (any
    /// caller may roll out, delete pods, write logs): off unless asked for.
    pub public: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tick: Duration::from_secs(1),
            history: 200_000,
            lingering_follows: false,
            rbac: None,
            public: false,
        }
    }
}

pub struct Sandbox {
    shared: Shared,
    addr: SocketAddr,
    server: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
    life: JoinHandle<()>,
}

impl Sandbox {
    /// Starts the API on `addr` (port 0 picks one) with `workloads` running.
    pub async fn start(
        addr: SocketAddr,
        workloads: Vec<Workload>,
        options: Options,
    ) -> std::io::Result<Sandbox> {
        if !addr.ip().is_loopback() && !options.public {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{addr} is not a loopback address, and the sandbox answers anyone without authentication; bind it to 127.0.0.1, or allow it explicitly"),
            ));
        }
        let now = k8s_openapi::jiff::Timestamp::now();
        let mut world = World::new(options.history.max(1));
        world.lingering_follows = options.lingering_follows;
        let mut sims = BTreeMap::new();
        for workload in workloads {
            let mut sim = DeploymentSim::new(workload, now);
            sim.publish_all(&mut world, now);
            sims.insert(sim.key(), sim);
        }
        let (up_tx, up) = watch::channel(true);
        let shared = Arc::new(Inner {
            state: Mutex::new(State { world, sims }),
            rbac: options.rbac.clone(),
            requests: AtomicU64::new(0),
            follows: Default::default(),
            up,
            up_tx,
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let server = serve(shared.clone(), listener);
        let life = tokio::spawn(live(shared.clone(), options.tick));
        Ok(Sandbox { shared, addr, server: Mutex::new(Some(server)), life })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig with one context, `context`, for this sandbox.
    pub fn kubeconfig(&self, context: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: {context}\n  cluster:\n    server: {url}\ncontexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\nusers:\n- name: {context}\n  user: {{}}\n",
            url = self.url()
        )
    }

    /// API requests served so far (list, watch, get, log).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The cluster goes away: the port closes and every open watch and log stream ends.
    pub async fn stop(&self) {
        let server = self.server.lock().expect("server slot").take();
        let _ = self.shared.up_tx.send(false);
        if let Some((shutdown, task)) = server {
            let _ = shutdown.send(());
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                tracing::warn!("sandbox connections did not close in time");
            }
        }
    }

    /// The cluster comes back on the same address, with everything that happened meanwhile.
    pub async fn resume(&self) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let _ = self.shared.up_tx.send(true);
        *self.server.lock().expect("server slot") = Some(serve(self.shared.clone(), listener));
        Ok(())
    }

    /// Starts a rollout of `namespace/name` to image `tag`; false if there is no such deployment.
    pub fn rollout(&self, namespace: &str, name: &str, tag: &str) -> bool {
        let mut state = self.shared.state.lock().expect("sandbox state");
        let State { world, sims } = &mut *state;
        match sims.get_mut(&(namespace.to_string(), name.to_string())) {
            Some(sim) => {
                sim.start_rollout(world, k8s_openapi::jiff::Timestamp::now(), tag);
                true
            }
            None => false,
        }
    }

    /// Log streams being followed right now (one per container and client).
    pub fn open_follows(&self) -> usize {
        self.shared.state.lock().expect("sandbox state").world.log_lines.receiver_count()
    }

    /// Log streams being followed right now of the pod `namespace/pod` (any container).
    pub fn follows_of(&self, namespace: &str, pod: &str) -> usize {
        let follows = self.shared.follows.lock().expect("follows");
        follows.iter().filter(|((ns, p), _)| ns == namespace && p == pod).map(|(_, n)| n).sum()
    }

    /// Writes one log line to a container, as the container would.
    pub fn write_log(&self, namespace: &str, pod: &str, container: &str, line: &str) {
        self.shared.state.lock().expect("sandbox state").world.write_log(
            namespace,
            pod,
            container,
            line.to_string(),
        );
    }

    /// Names of the pods whose labels match `selector` in `namespace`.
    pub fn pods(&self, namespace: &str, selector: &str) -> Vec<String> {
        let selector =
            console_core::k8s::selector::Selector::parse(selector).expect("a valid selector");
        let state = self.shared.state.lock().expect("sandbox state");
        state
            .world
            .list(Kind::Pod, Some(namespace), None)
            .filter(|(_, s)| selector.matches(&s.labels))
            .map(|((_, name), _)| name.clone())
            .collect()
    }

    /// (deployments, pods) held.
    pub fn size(&self) -> (usize, usize) {
        let state = self.shared.state.lock().expect("sandbox state");
        (state.world.count(Kind::Deployment), state.world.count(Kind::Pod))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.life.abort();
        let _ = self.shared.up_tx.send(false);
        if let Some((shutdown, _)) = self.server.lock().expect("server slot").take() {
            let _ = shutdown.send(());
        }
    }
}

fn serve(
    shared: Shared,
    listener: tokio::net::TcpListener,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let app = http::router(shared);
    let task = tokio::spawn(async move {
        let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = rx.await;
        });
        if let Err(error) = serving.await {
            tracing::warn!(%error, "sandbox server stopped");
        }
    });
    (tx, task)
}

async fn live(shared: Shared, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let now = k8s_openapi::jiff::Timestamp::now();
        let mut state = shared.state.lock().expect("sandbox state");
        let State { world, sims } = &mut *state;
        for sim in sims.values_mut() {
            sim.tick(world, now);
        }
    }
}

/// `count` deployments of `pods_each` pods spread over 50 namespaces, for benchmarks. A few roll
/// out, crash or write logs, like a real fleet.
pub fn synthetic(count: usize, pods_each: i32) -> Vec<Workload> {
    (0..count)
        .map(|i| Workload {
            namespace: format!("team-{:02}", i % 50),
            name: format!("svc-{i:05}"),
            labels: BTreeMap::from([(
                "backstage.io/kubernetes-id".to_string(),
                format!("svc-{i:05}"),
            )]),
            replicas: pods_each,
            containers: vec!["app".into()],
            life: fleet_life(i),
            chatty: i % 500 == 0,
        })
        .collect()
}

/// The life of the `index`th workload of a large fleet: one in 200 rolls out every two minutes,
/// one crash-loops, one was OOMKilled; the rest are steady.
pub fn fleet_life(index: usize) -> Life {
    match index % 200 {
        0 => Life::RollingOut { every: 120 },
        1 => Life::CrashLoop,
        2 => Life::OomKilled,
        _ => Life::Steady,
    }
}
