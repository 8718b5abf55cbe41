//! The manifests under deploy/ as a platform team applies them: each overlay renders with
//! `kubectl kustomize`, validates against the Kubernetes schemas (PyPI kubernetes-validate,
//! strict), holds the security posture, grants exactly the table of watched kinds, and carries a
//! configuration the console accepts.

use console_core::k8s::kinds;
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const OVERLAYS: [&str; 3] = ["demo", "ha", "namespaced"];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// The overlay rendered, as its documents.
fn render(overlay: &str) -> (String, Vec<Value>) {
    let out = Command::new("kubectl")
        .args(["kustomize", &deploy().join("overlays").join(overlay).display().to_string()])
        .output()
        .expect("kubectl is installed (.ci/install-tools)");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{overlay}: {}", String::from_utf8_lossy(&out.stderr));
    let docs = serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect();
    (text, docs)
}
use serde::Deserialize;

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().map(|x| x.as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

/// (group, resource, verb) for every grant of a role's rules.
fn grants(role: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_sequence().unwrap() {
        for g in strings(&rule["apiGroups"]) {
            for r in strings(&rule["resources"]) {
                for v in strings(&rule["verbs"]) {
                    out.insert((g.clone(), r.clone(), v.clone()));
                }
            }
        }
    }
    out
}

fn table_grants() -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in kinds::rules() {
        for r in &rule.resources {
            for v in rule.verbs {
                out.insert((rule.group.to_string(), r.to_string(), v.to_string()));
            }
        }
    }
    out
}

#[test]
fn the_rbac_files_are_rendered_from_the_table_of_watched_kinds() {
    let cluster_role =
        std::fs::read_to_string(deploy().join("base/rbac/clusterrole.yaml")).unwrap();
    assert_eq!(
        cluster_role,
        kinds::cluster_role("console"),
        "run `console rbac > deploy/base/rbac/clusterrole.yaml`"
    );
    let toml: toml::Table =
        std::fs::read_to_string(deploy().join("overlays/namespaced/console.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let namespaces: Vec<String> = toml["kubernetes"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let roles = std::fs::read_to_string(deploy().join("overlays/namespaced/roles.yaml")).unwrap();
    assert_eq!(
        roles,
        kinds::roles("console", &namespaces, "console"),
        "roles.yaml must grant exactly console.toml's namespaces: console rbac --namespace …"
    );
}

#[test]
fn every_overlay_renders_validates_and_holds_the_posture() {
    let dir = tempfile::tempdir().unwrap();
    for overlay in OVERLAYS {
        let (text, docs) = render(overlay);
        let file = dir.path().join(format!("{overlay}.yaml"));
        std::fs::write(&file, &text).unwrap();
        let valid = Command::new("kubernetes-validate")
            .args(["--strict", "--quiet", &file.display().to_string()])
            .output()
            .expect("kubernetes-validate is installed (.ci/install-tools)");
        assert!(valid.status.success(), "{overlay}: {}", String::from_utf8_lossy(&valid.stdout));

        let deployment = of_kind(&docs, "Deployment")[0];
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{overlay}");
        assert_eq!(pod["enableServiceLinks"], false, "{overlay}");
        assert_eq!(pod["serviceAccountName"], "console", "{overlay}");
        for container in pod["containers"].as_sequence().unwrap() {
            let sc = &container["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{overlay}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{overlay}");
            assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{overlay}");
            for probe in ["readinessProbe", "livenessProbe"] {
                assert!(container[probe]["httpGet"]["path"].is_string(), "{overlay}: {probe}");
            }
            assert!(container["resources"]["requests"]["memory"].is_string(), "{overlay}");
            assert!(container["resources"]["limits"]["memory"].is_string(), "{overlay}");
        }

        // Exactly the table: no wildcard, nothing more, nothing less, pods/log included.
        let roles: Vec<&Value> =
            of_kind(&docs, "ClusterRole").into_iter().chain(of_kind(&docs, "Role")).collect();
        assert!(!roles.is_empty(), "{overlay}");
        for role in roles {
            let granted = grants(role);
            assert!(granted.iter().all(|(g, r, v)| g != "*" && r != "*" && v != "*"), "{overlay}");
            assert_eq!(granted, table_grants(), "{overlay}");
            assert!(granted.contains(&("".into(), "pods/log".into(), "get".into())));
        }

        let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
        match overlay {
            "demo" => {
                assert_eq!(replicas, 1);
                assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
                let volumes = pod["volumes"].as_sequence().unwrap();
                let data = volumes.iter().find(|v| v["name"] == "data").unwrap();
                assert_eq!(data["persistentVolumeClaim"]["claimName"], "console-data");
                assert!(data["emptyDir"].is_null(), "one volume source only");
                assert_eq!(of_kind(&docs, "PersistentVolumeClaim").len(), 1);
            }
            _ => {
                assert!(replicas >= 2, "{overlay}");
                assert_eq!(of_kind(&docs, "PodDisruptionBudget").len(), 1, "{overlay}");
                let policy = of_kind(&docs, "NetworkPolicy")[0];
                assert_eq!(strings(&policy["spec"]["policyTypes"]), ["Ingress"], "{overlay}");
            }
        }
        if overlay == "namespaced" {
            assert!(
                of_kind(&docs, "ClusterRole").is_empty()
                    && of_kind(&docs, "ClusterRoleBinding").is_empty()
            );
        }
    }
}

/// The configuration each overlay mounts is one the console accepts (secrets stood in for by
/// files in a scratch directory, as the Secret volume would hold them).
#[test]
fn every_overlays_configuration_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::write(secrets.join("sealing-key"), "k".repeat(64)).unwrap();
    std::fs::write(secrets.join("oidc-client-secret"), "s3cr3t").unwrap();
    for overlay in OVERLAYS {
        let toml =
            std::fs::read_to_string(deploy().join("overlays").join(overlay).join("console.toml"))
                .unwrap()
                .replace("/etc/console-secrets", &secrets.display().to_string())
                .replace(
                    "site_root = \"/site\"",
                    &format!("site_root = {:?}", dir.path().display().to_string()),
                );
        let file = dir.path().join(format!("{overlay}.toml"));
        std::fs::write(&file, toml).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_console"))
            .args(["check-config"])
            .env_clear()
            .env("CONSOLE_CONFIG", &file)
            .env("CONSOLE_DATABASE_URL", "postgres://console@db/console")
            .output()
            .unwrap();
        assert!(out.status.success(), "{overlay}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
