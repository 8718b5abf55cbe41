//! The workloads the sandbox runs and the life in them: rollouts that progress a pod at a time,
//! a crash-looping container, an OOMKilled restart, a rollout stuck on an image pull, events, and
//! steady log lines. Each change is written to the [`World`] as real Kubernetes objects.

use crate::world::{Kind, World};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
    ReplicaSetStatus,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Event, EventSource, ObjectReference, Pod, PodCondition,
    PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// How a workload behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Running and ready, writing log lines.
    Steady,
    /// Rolls out a new image every `every` ticks, one pod per tick.
    RollingOut { every: u32 },
    /// The first pod's first container exits with an error every few ticks (CrashLoopBackOff).
    CrashLoop,
    /// The first pod was OOMKilled once and runs again.
    OomKilled,
    /// A rollout to an image that cannot be pulled: progress deadline exceeded.
    Stalled,
}

/// A workload to run: one Deployment with its ReplicaSets and Pods.
#[derive(Debug, Clone)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub replicas: i32,
    pub containers: Vec<String>,
    pub life: Life,
    /// Whether its pods write a log line every tick.
    pub chatty: bool,
}

#[derive(Debug, Clone)]
struct PodSim {
    name: String,
    revision: u32,
    created: Timestamp,
    ready: bool,
    restarts: i32,
    waiting: Option<(&'static str, String)>,
    last_termination: Option<(&'static str, i32, Timestamp)>,
    /// Ticks until the crash-looping container exits again.
    crash_in: u32,
}

#[derive(Debug, Clone)]
struct Revision {
    number: u32,
    image_tag: String,
    hash: String,
    created: Timestamp,
}

#[derive(Debug)]
pub(crate) struct DeploymentSim {
    spec: Workload,
    created: Timestamp,
    revisions: Vec<Revision>,
    pods: Vec<PodSim>,
    next_pod: u64,
    ticks: u32,
    /// When the current rollout began (for the progress deadline).
    rollout_started: Option<Timestamp>,
    events: BTreeMap<String, (Event, i32)>,
}

fn meta(
    namespace: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    created: Timestamp,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels.clone()),
        creation_timestamp: Some(Time(created)),
        uid: Some(format!("{namespace}-{name}")),
        ..Default::default()
    }
}

fn hash(text: &str) -> String {
    // FNV-1a: a stable pod-template-hash look-alike.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    // The low bits differ most between similar names.
    format!("{h:016x}")[6..].to_string()
}

const NODES: [&str; 4] = ["node-a", "node-b", "node-c", "node-d"];

impl DeploymentSim {
    pub(crate) fn new(spec: Workload, now: Timestamp) -> DeploymentSim {
        let created = now - SignedDuration::from_hours(24 * 3);
        let first = Revision {
            number: 1,
            image_tag: "1.0.0".into(),
            hash: hash(&format!("{}-1", spec.name)),
            created,
        };
        let mut sim = DeploymentSim {
            spec,
            created,
            revisions: vec![first],
            pods: vec![],
            next_pod: 0,
            ticks: 0,
            rollout_started: None,
            events: BTreeMap::new(),
        };
        for _ in 0..sim.spec.replicas {
            let mut pod = sim.new_pod(1, created + SignedDuration::from_mins(1));
            pod.ready = true;
            sim.pods.push(pod);
        }
        match sim.spec.life {
            Life::CrashLoop => {
                if let Some(pod) = sim.pods.first_mut() {
                    pod.restarts = 7;
                    pod.crash_in = 4;
                }
            }
            Life::OomKilled => {
                if let Some(pod) = sim.pods.first_mut() {
                    pod.restarts = 1;
                    pod.last_termination =
                        Some(("OOMKilled", 137, now - SignedDuration::from_mins(42)));
                }
            }
            _ => {}
        }
        sim
    }

    fn new_pod(&mut self, revision: u32, created: Timestamp) -> PodSim {
        self.next_pod += 1;
        let hash =
            &self.revisions.iter().find(|r| r.number == revision).expect("revision exists").hash;
        let suffix = hash_suffix(&format!("{}{}", self.spec.name, self.next_pod));
        PodSim {
            name: format!("{}-{}-{}", self.spec.name, hash, suffix),
            revision,
            created,
            ready: false,
            restarts: 0,
            waiting: None,
            last_termination: None,
            crash_in: 0,
        }
    }

    fn current(&self) -> &Revision {
        self.revisions.last().expect("a deployment has a revision")
    }

    pub(crate) fn key(&self) -> (String, String) {
        (self.spec.namespace.clone(), self.spec.name.clone())
    }

    /// Writes the deployment, its replica sets and pods as they are now.
    pub(crate) fn publish_all(&mut self, world: &mut World, now: Timestamp) {
        for revision in self.revisions.clone() {
            self.publish_replica_set(world, &revision);
        }
        for pod in self.pods.clone() {
            self.publish_pod(world, &pod);
        }
        self.publish_deployment(world, now);
        if self.spec.life == Life::OomKilled {
            let pod = self.pods[0].name.clone();
            self.event(
                world,
                now,
                "Pod",
                &pod,
                "Warning",
                "OOMKilling",
                "Container app exceeded its memory limit (512Mi) and was OOMKilled",
            );
        }
        if self.spec.life == Life::Stalled {
            self.start_rollout(world, now, "2.0.0-missing");
        }
        // A quiet fleet has few events (they expire after an hour); troubled workloads have some.
        let pods = if self.spec.life == Life::Steady { vec![] } else { self.pods.clone() };
        for pod in pods {
            self.event(
                world,
                now,
                "Pod",
                &pod.name,
                "Normal",
                "Scheduled",
                &format!(
                    "Successfully assigned {}/{} to {}",
                    self.spec.namespace,
                    pod.name,
                    self.node(&pod)
                ),
            );
            self.event(world, now, "Pod", &pod.name, "Normal", "Started", "Started container app");
        }
    }

    fn node(&self, pod: &PodSim) -> &'static str {
        NODES[(pod.name.len() + pod.name.bytes().last().unwrap_or(0) as usize) % NODES.len()]
    }

    /// Begins a rollout to a new image tag.
    pub(crate) fn start_rollout(&mut self, world: &mut World, now: Timestamp, tag: &str) {
        let number = self.current().number + 1;
        let revision = Revision {
            number,
            image_tag: tag.to_string(),
            hash: hash(&format!("{}-{number}", self.spec.name)),
            created: now,
        };
        self.revisions.push(revision.clone());
        self.rollout_started = Some(now);
        self.publish_replica_set(world, &revision);
        let message =
            format!("Scaled up replica set {}-{} from 0 to 1", self.spec.name, revision.hash);
        self.event(
            world,
            now,
            "Deployment",
            &self.spec.name.clone(),
            "Normal",
            "ScalingReplicaSet",
            &message,
        );
        self.publish_deployment(world, now);
    }

    /// One step of life.
    pub(crate) fn tick(&mut self, world: &mut World, now: Timestamp) {
        self.ticks += 1;
        if let Life::RollingOut { every } = self.spec.life {
            if self.ticks.is_multiple_of(every) && self.rollout_started.is_none() {
                let tag = format!("1.{}.0", self.current().number);
                self.start_rollout(world, now, &tag);
            }
        }
        if self.rollout_started.is_some() {
            self.step_rollout(world, now);
        }
        if self.spec.life == Life::CrashLoop {
            self.step_crash_loop(world, now);
        }
        if self.spec.chatty {
            for (i, pod) in self.pods.iter().enumerate() {
                if pod.ready {
                    for container in &self.spec.containers {
                        let line = format!(
                            "level=info msg=\"handled request\" service={} path=/api/v1/items/{} status=200 duration_ms={}",
                            self.spec.name,
                            self.ticks,
                            (self.ticks as usize * 7 + i * 13) % 250
                        );
                        world.write_log(&self.spec.namespace, &pod.name, container, line);
                    }
                }
            }
        }
    }

    fn step_rollout(&mut self, world: &mut World, now: Timestamp) {
        let target = self.current().clone();
        if target.image_tag.ends_with("-missing") {
            // Stuck: one new pod that cannot pull its image.
            if !self.pods.iter().any(|p| p.revision == target.number) {
                let mut pod = self.new_pod(target.number, now);
                pod.waiting = Some((
                    "ImagePullBackOff",
                    format!(
                        "Back-off pulling image \"registry.example.com/{}:{}\"",
                        self.spec.name, target.image_tag
                    ),
                ));
                self.publish_pod(world, &pod);
                self.event(
                    world,
                    now,
                    "Pod",
                    &pod.name.clone(),
                    "Warning",
                    "Failed",
                    &format!(
                        "Failed to pull image \"registry.example.com/{}:{}\": not found",
                        self.spec.name, target.image_tag
                    ),
                );
                self.pods.push(pod);
                self.publish_deployment(world, now);
            }
            return;
        }
        // A new pod that is not ready yet becomes ready; otherwise replace one old pod.
        if let Some(i) = self.pods.iter().position(|p| p.revision == target.number && !p.ready) {
            self.pods[i].ready = true;
            let pod = self.pods[i].clone();
            self.publish_pod(world, &pod);
            if let Some(old) = self.pods.iter().position(|p| p.revision != target.number) {
                let gone = self.pods.remove(old);
                world.delete(Kind::Pod, &self.spec.namespace, &gone.name);
                world.drop_logs(&self.spec.namespace, &gone.name);
                self.event(
                    world,
                    now,
                    "Pod",
                    &gone.name,
                    "Normal",
                    "Killing",
                    "Stopping container app",
                );
            }
        } else if self.pods.iter().any(|p| p.revision != target.number)
            || (self.pods.len() as i32) < self.spec.replicas
        {
            let pod = self.new_pod(target.number, now);
            self.publish_pod(world, &pod);
            self.event(
                world,
                now,
                "Pod",
                &pod.name.clone(),
                "Normal",
                "Scheduled",
                &format!(
                    "Successfully assigned {}/{} to {}",
                    self.spec.namespace,
                    pod.name,
                    self.node(&pod)
                ),
            );
            self.pods.push(pod);
        } else {
            self.rollout_started = None;
        }
        for revision in self.revisions.clone() {
            self.publish_replica_set(world, &revision);
        }
        self.publish_deployment(world, now);
    }

    fn step_crash_loop(&mut self, world: &mut World, now: Timestamp) {
        let Some(pod) = self.pods.first_mut() else { return };
        if pod.crash_in > 0 {
            pod.crash_in -= 1;
            if pod.crash_in == 0 {
                // The container exits: its log becomes the previous one.
                let (ns, name, container) = (
                    self.spec.namespace.clone(),
                    pod.name.clone(),
                    self.spec.containers[0].clone(),
                );
                world.write_log(
                    &ns,
                    &name,
                    &container,
                    "level=error msg=\"connecting to ledger-db: connection refused\"".into(),
                );
                world.write_log(
                    &ns,
                    &name,
                    &container,
                    "panic: cannot start without the ledger database".into(),
                );
                world.restart_log(&ns, &name, &container);
                pod.restarts += 1;
                pod.ready = false;
                pod.last_termination = Some(("Error", 2, now));
                pod.waiting = Some((
                    "CrashLoopBackOff",
                    format!("back-off 5m0s restarting failed container={container} pod={name}"),
                ));
                pod.crash_in = 6;
                let pod = pod.clone();
                self.publish_pod(world, &pod);
                self.event(
                    world,
                    now,
                    "Pod",
                    &pod.name,
                    "Warning",
                    "BackOff",
                    "Back-off restarting failed container app",
                );
                self.publish_deployment(world, now);
            } else if pod.crash_in == 3 {
                // It starts again, is ready and logs until the next crash.
                pod.waiting = None;
                pod.ready = true;
                let pod = pod.clone();
                self.publish_pod(world, &pod);
                world.write_log(
                    &self.spec.namespace,
                    &pod.name,
                    &self.spec.containers[0],
                    "level=info msg=\"starting\" version=1.0.0".into(),
                );
            }
        }
    }

    fn event(
        &mut self,
        world: &mut World,
        now: Timestamp,
        kind: &str,
        object: &str,
        type_: &str,
        reason: &str,
        message: &str,
    ) {
        let name = format!("{object}.{}", hash(&format!("{reason}{message}")));
        let entry = self.events.entry(name.clone()).or_insert_with(|| {
            let event = Event {
                metadata: meta(&self.spec.namespace, &name, &BTreeMap::new(), now),
                involved_object: ObjectReference {
                    kind: Some(kind.to_string()),
                    name: Some(object.to_string()),
                    namespace: Some(self.spec.namespace.clone()),
                    api_version: Some(if kind == "Pod" { "v1" } else { "apps/v1" }.to_string()),
                    ..Default::default()
                },
                reason: Some(reason.to_string()),
                message: Some(message.to_string()),
                type_: Some(type_.to_string()),
                first_timestamp: Some(Time(now)),
                source: Some(EventSource { component: Some("sandbox".into()), host: None }),
                ..Default::default()
            };
            (event, 0)
        });
        entry.1 += 1;
        entry.0.count = Some(entry.1);
        entry.0.last_timestamp = Some(Time(now));
        let event = entry.0.clone();
        world.put(Kind::Event, &self.spec.namespace, &name, &event);
    }

    fn selector_labels(&self) -> BTreeMap<String, String> {
        self.spec.labels.clone()
    }

    fn template(&self, revision: &Revision) -> PodTemplateSpec {
        let mut labels = self.selector_labels();
        labels.insert("pod-template-hash".into(), revision.hash.clone());
        PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
            spec: Some(PodSpec { containers: self.containers(revision), ..Default::default() }),
        }
    }

    fn containers(&self, revision: &Revision) -> Vec<Container> {
        self.spec
            .containers
            .iter()
            .map(|c| Container {
                name: c.clone(),
                image: Some(if c == "app" || c == &self.spec.containers[0] {
                    format!("registry.example.com/{}:{}", self.spec.name, revision.image_tag)
                } else {
                    format!("registry.example.com/{c}:3.1")
                }),
                ..Default::default()
            })
            .collect()
    }

    fn publish_replica_set(&self, world: &mut World, revision: &Revision) {
        let name = format!("{}-{}", self.spec.name, revision.hash);
        let mut labels = self.selector_labels();
        labels.insert("pod-template-hash".into(), revision.hash.clone());
        let mut metadata = meta(&self.spec.namespace, &name, &labels, revision.created);
        metadata.annotations = Some(BTreeMap::from([(
            "deployment.kubernetes.io/revision".to_string(),
            revision.number.to_string(),
        )]));
        metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: self.spec.name.clone(),
            uid: format!("{}-{}", self.spec.namespace, self.spec.name),
            controller: Some(true),
            ..Default::default()
        }]);
        let pods: Vec<&PodSim> =
            self.pods.iter().filter(|p| p.revision == revision.number).collect();
        let ready = pods.iter().filter(|p| p.ready).count() as i32;
        let rs = ReplicaSet {
            metadata,
            spec: ReplicaSetSpec {
                replicas: Some(pods.len() as i32),
                selector: LabelSelector { match_labels: Some(labels), match_expressions: None },
                template: Some(self.template(revision)),
                ..Default::default()
            },
            status: Some(ReplicaSetStatus {
                replicas: pods.len() as i32,
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                ..Default::default()
            }),
        };
        world.put(Kind::ReplicaSet, &self.spec.namespace, &name, &rs);
    }

    fn publish_pod(&self, world: &mut World, pod: &PodSim) {
        let revision =
            self.revisions.iter().find(|r| r.number == pod.revision).expect("revision exists");
        let mut labels = self.selector_labels();
        labels.insert("pod-template-hash".into(), revision.hash.clone());
        let mut metadata = meta(&self.spec.namespace, &pod.name, &labels, pod.created);
        metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("{}-{}", self.spec.name, revision.hash),
            uid: String::new(),
            controller: Some(true),
            ..Default::default()
        }]);
        let statuses = self
            .containers(revision)
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let first = i == 0;
                let state = match (&pod.waiting, first) {
                    (Some((reason, message)), true) => ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some(reason.to_string()),
                            message: Some(message.clone()),
                        }),
                        ..Default::default()
                    },
                    _ if !pod.ready && pod.revision == revision.number && pod.restarts == 0 => {
                        ContainerState {
                            waiting: Some(ContainerStateWaiting {
                                reason: Some("ContainerCreating".into()),
                                message: None,
                            }),
                            ..Default::default()
                        }
                    }
                    _ => ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: Some(Time(pod.created)),
                        }),
                        ..Default::default()
                    },
                };
                let last_state =
                    pod.last_termination.filter(|_| first).map(|(reason, exit_code, at)| {
                        ContainerState {
                            terminated: Some(ContainerStateTerminated {
                                reason: Some(reason.to_string()),
                                exit_code,
                                finished_at: Some(Time(at)),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }
                    });
                ContainerStatus {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                    image_id: String::new(),
                    ready: pod.ready,
                    restart_count: if first { pod.restarts } else { 0 },
                    state: Some(state),
                    last_state,
                    ..Default::default()
                }
            })
            .collect();
        let phase = if pod.ready || pod.restarts > 0 { "Running" } else { "Pending" };
        let object = Pod {
            metadata,
            spec: Some(PodSpec {
                containers: self.containers(revision),
                node_name: Some(self.node(pod).to_string()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                start_time: Some(Time(pod.created)),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if pod.ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                container_statuses: Some(statuses),
                ..Default::default()
            }),
        };
        world.put(Kind::Pod, &self.spec.namespace, &pod.name, &object);
    }

    fn publish_deployment(&self, world: &mut World, now: Timestamp) {
        let current = self.current();
        let updated = self.pods.iter().filter(|p| p.revision == current.number).count() as i32;
        let ready = self.pods.iter().filter(|p| p.ready).count() as i32;
        let rs_name = format!("{}-{}", self.spec.name, current.hash);
        let (status, reason, message) =
            match (self.rollout_started, current.image_tag.ends_with("-missing")) {
                (Some(_), true) => {
                    ("False", "ProgressDeadlineExceeded", "has timed out progressing.")
                }
                (Some(_), false) => ("True", "ReplicaSetUpdated", "is progressing."),
                (None, _) => ("True", "NewReplicaSetAvailable", "has successfully progressed."),
            };
        let progressing = DeploymentCondition {
            type_: Some("Progressing".into()),
            status: Some(status.into()),
            reason: Some(reason.into()),
            message: Some(format!("ReplicaSet \"{rs_name}\" {message}")),
            last_update_time: Some(Time(now)),
            ..Default::default()
        };
        let available = DeploymentCondition {
            type_: Some("Available".into()),
            status: Some(
                if ready >= self.spec.replicas.saturating_sub(1).max(1) { "True" } else { "False" }
                    .into(),
            ),
            reason: Some("MinimumReplicasAvailable".into()),
            message: Some("Deployment has minimum availability.".into()),
            ..Default::default()
        };
        let mut metadata =
            meta(&self.spec.namespace, &self.spec.name, &self.spec.labels, self.created);
        metadata.annotations = Some(BTreeMap::from([(
            "deployment.kubernetes.io/revision".to_string(),
            current.number.to_string(),
        )]));
        metadata.generation = Some(current.number as i64);
        let deployment = Deployment {
            metadata,
            spec: DeploymentSpec {
                replicas: Some(self.spec.replicas),
                selector: LabelSelector {
                    match_labels: Some(self.selector_labels()),
                    match_expressions: None,
                },
                template: self.template(current),
                ..Default::default()
            },
            status: Some(DeploymentStatus {
                observed_generation: Some(current.number as i64),
                replicas: Some(self.pods.len() as i32),
                updated_replicas: Some(updated),
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                unavailable_replicas: Some((self.spec.replicas - ready).max(0)),
                conditions: Some(vec![available, progressing]),
                ..Default::default()
            }),
        };
        world.put(Kind::Deployment, &self.spec.namespace, &self.spec.name, &deployment);
    }
}

fn hash_suffix(text: &str) -> String {
    let h = hash(text);
    h[5..].to_string()
}
