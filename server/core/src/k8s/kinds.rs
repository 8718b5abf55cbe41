//! The table of what the console reads from a cluster: each watched kind, and the one
//! subresource it reads without watching (pod logs). The watchers take their health slot from
//! it, and the RBAC the manifests grant is rendered from it (`console rbac`), so a role can never
//! drift from what the console does: adding a kind is one row here (and its summary in `cache`).

/// One kind the console reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchedKind {
    pub kind: &'static str,
    /// The API group: empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// The plural resource name in URLs and RBAC rules.
    pub resource: &'static str,
    /// Exactly the verbs the console needs: a watch cache lists, then watches.
    pub verbs: &'static [&'static str],
}

/// The kinds the watch caches keep, in the order of their health slots.
pub const WATCHED: [WatchedKind; 4] = [
    WatchedKind {
        kind: "Deployment",
        group: "apps",
        version: "v1",
        resource: "deployments",
        verbs: &["list", "watch"],
    },
    WatchedKind {
        kind: "ReplicaSet",
        group: "apps",
        version: "v1",
        resource: "replicasets",
        verbs: &["list", "watch"],
    },
    WatchedKind {
        kind: "Pod",
        group: "",
        version: "v1",
        resource: "pods",
        verbs: &["list", "watch"],
    },
    WatchedKind {
        kind: "Event",
        group: "",
        version: "v1",
        resource: "events",
        verbs: &["list", "watch"],
    },
];

/// Read without a watch: a pod's log, fetched (and followed) on demand.
pub const POD_LOGS: WatchedKind =
    WatchedKind { kind: "Pod", group: "", version: "v1", resource: "pods/log", verbs: &["get"] };

/// The slot of `kind` in [`WATCHED`]. Panics for a kind not in the table: a watcher for a kind
/// nobody granted would fail in every real cluster, so it must not start.
pub fn slot(kind: &str) -> usize {
    WATCHED
        .iter()
        .position(|k| k.kind == kind)
        .unwrap_or_else(|| panic!("{kind} is not in k8s::kinds::WATCHED"))
}

/// One RBAC rule: resources of one group with the same verbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub group: &'static str,
    pub resources: Vec<&'static str>,
    pub verbs: &'static [&'static str],
}

/// The rules the console needs, grouped by API group and verbs, in table order.
pub fn rules() -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for k in WATCHED.iter().chain(std::iter::once(&POD_LOGS)) {
        match rules.iter_mut().find(|r| r.group == k.group && r.verbs == k.verbs) {
            Some(rule) => rule.resources.push(k.resource),
            None => {
                rules.push(Rule { group: k.group, resources: vec![k.resource], verbs: k.verbs })
            }
        }
    }
    rules
}

/// The ClusterRole granting [`rules`] (cluster-wide watching), as the manifests carry it.
pub fn cluster_role(name: &str) -> String {
    format!(
        "{}apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/name: console\nrules:\n{}",
        GENERATED,
        rules_yaml()
    )
}

/// A Role granting [`rules`] in each of `namespaces` (namespaced watching), bound to the
/// console's ServiceAccount in `console_namespace`.
pub fn roles(name: &str, namespaces: &[String], console_namespace: &str) -> String {
    let mut out = GENERATED.to_string();
    for ns in namespaces {
        out.push_str(&format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app.kubernetes.io/name: console\nrules:\n{}",
            rules_yaml()
        ));
        out.push_str(&format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app.kubernetes.io/name: console\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: {name}\nsubjects:\n  - kind: ServiceAccount\n    name: {name}\n    namespace: {console_namespace}\n"
        ));
    }
    out
}

const GENERATED: &str =
    "# Rendered from server/core/src/k8s/kinds.rs by `console rbac`: do not edit by hand.\n";

fn rules_yaml() -> String {
    let list =
        |items: &[&str]| items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", ");
    rules()
        .iter()
        .map(|r| {
            format!(
                "  - apiGroups: [\"{}\"]\n    resources: [{}]\n    verbs: [{}]\n",
                r.group,
                list(&r.resources),
                list(r.verbs)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    use k8s_openapi::api::core::v1::{Event, Pod};
    use k8s_openapi::Resource;

    fn row_of<K: Resource>() -> WatchedKind {
        WATCHED[slot(K::KIND)]
    }

    /// Each row names its kind as the API server does (the typed watchers use these types).
    #[test]
    fn every_row_is_its_kind_as_the_api_names_it() {
        fn check<K: Resource>() {
            let row = row_of::<K>();
            assert_eq!(
                (row.group, row.version, row.resource),
                (K::GROUP, K::VERSION, K::URL_PATH_SEGMENT),
                "{}",
                K::KIND
            );
        }
        check::<Deployment>();
        check::<ReplicaSet>();
        check::<Pod>();
        check::<Event>();
    }

    #[test]
    fn rules_grant_exactly_the_table() {
        let rules = rules();
        assert_eq!(
            rules,
            vec![
                Rule {
                    group: "apps",
                    resources: vec!["deployments", "replicasets"],
                    verbs: &["list", "watch"]
                },
                Rule { group: "", resources: vec!["pods", "events"], verbs: &["list", "watch"] },
                Rule { group: "", resources: vec!["pods/log"], verbs: &["get"] },
            ]
        );
        let yaml = cluster_role("console");
        assert!(!yaml.contains('*'), "no wildcard: {yaml}");
    }
}
