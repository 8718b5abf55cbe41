//! The sandbox answers the way a real API server does, checked with the real client: kubectl
//! discovers its resources, lists, watches, follows logs and describes a deployment, and is
//! refused (403) whatever a granted role leaves out.

use console_sandbox::{Life, Options, Rbac, RbacRule, Sandbox, Workload};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn workload(name: &str, replicas: i32) -> Workload {
    Workload {
        namespace: "shop".into(),
        name: name.into(),
        labels: BTreeMap::from([("app".to_string(), name.to_string())]),
        replicas,
        containers: vec!["app".into()],
        life: Life::Steady,
        chatty: true,
    }
}

struct Cluster {
    _sandbox: Sandbox,
    _dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

async fn cluster(rbac: Option<Rbac>) -> Cluster {
    let options = Options { tick: Duration::from_millis(100), rbac, ..Default::default() };
    let sandbox = Sandbox::start(
        "127.0.0.1:0".parse().unwrap(),
        vec![workload("web", 2), workload("api", 1)],
        options,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig("sandbox")).unwrap();
    Cluster { _sandbox: sandbox, _dir: dir, kubeconfig }
}

impl Cluster {
    fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self._dir.path())
            .output()
            .expect("kubectl is installed (.ci/install-tools)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    /// The first `n` lines of a command that keeps streaming (`-w`, `-f`), then stops it.
    fn first_lines(&self, args: &[&str], n: usize) -> Vec<String> {
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self._dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .take(n)
            .map(Result::unwrap)
            .collect();
        child.kill().unwrap();
        child.wait().unwrap();
        lines
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_lists_watches_follows_and_describes() {
    let c = cluster(None).await;
    let (ok, text) = c.kubectl(&["api-resources"]);
    assert!(ok, "{text}");
    for row in ["deployments", "deploy", "replicasets", "pods", "events"] {
        assert!(text.contains(row), "{row}: {text}");
    }

    let (ok, text) = c.kubectl(&["get", "deployments,replicasets,pods,events", "-A"]);
    assert!(ok, "{text}");
    assert!(text.contains("deployment.apps/web") && text.contains("deployment.apps/api"), "{text}");
    assert!(text.contains("replicaset.apps/web-") && text.contains("pod/web-"), "{text}");

    let (ok, text) = c.kubectl(&["describe", "deploy", "web", "-n", "shop"]);
    assert!(ok, "{text}");
    assert!(text.contains("Name:") && text.contains("web") && text.contains("Replicas:"), "{text}");

    // A watch prints the current pods, then keeps the stream open.
    let watched = c.first_lines(&["get", "pods", "-n", "shop", "-w"], 3);
    assert_eq!(watched.len(), 3, "{watched:?}");
    assert!(watched[0].starts_with("NAME"), "{watched:?}");

    // A followed log keeps coming (the sandbox writes a line per tick).
    let followed = c.first_lines(&["logs", "-f", "deploy/web", "-n", "shop"], 3);
    assert_eq!(followed.len(), 3, "{followed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_role_does_not_grant_is_forbidden() {
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| RbacRule {
        api_groups: groups.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
    };
    let only_deployments = Rbac {
        rules: vec![rule(&["apps"], &["deployments"], &["list", "watch"])],
        namespaces: None,
    };
    let c = cluster(Some(only_deployments)).await;
    let (ok, text) = c.kubectl(&["get", "deployments", "-A"]);
    assert!(ok, "{text}");
    let (ok, text) = c.kubectl(&["get", "pods", "-A"]);
    assert!(!ok && text.contains("forbidden"), "{text}");
    // get is not list: a single deployment was not granted.
    let (ok, text) = c.kubectl(&["get", "deployment", "web", "-n", "shop"]);
    assert!(!ok && text.contains("forbidden"), "{text}");

    let in_shop = Rbac {
        rules: vec![rule(&["apps"], &["deployments"], &["list", "watch"])],
        namespaces: Some(vec!["shop".into()]),
    };
    let c = cluster(Some(in_shop)).await;
    assert!(c.kubectl(&["get", "deployments", "-n", "shop"]).0);
    let (ok, text) = c.kubectl(&["get", "deployments", "-A"]);
    assert!(!ok && text.contains("forbidden"), "a Role is not cluster-wide: {text}");
}
