//! The sandbox can answer as a cluster whose RBAC grants the caller exactly one role: a
//! ClusterRole (every namespace) or a Role bound in some namespaces. Anything not granted is
//! 403 Forbidden, as a real API server answers, so the console can be run under exactly the
//! role its manifests grant.

/// One rule of a role, as in `rules:` of a (Cluster)Role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbacRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

/// The caller's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rbac {
    pub rules: Vec<RbacRule>,
    /// `None`: a ClusterRole (cluster-wide). `Some`: a Role bound in these namespaces only.
    pub namespaces: Option<Vec<String>>,
}

impl Rbac {
    /// Whether `verb` on `resource` (`pods`, `pods/log`) of `group` ("" for core) in
    /// `namespace` (`None`: across all namespaces) is granted. No wildcards are honoured as
    /// grants: the console's roles never use them, and a test must not pass because of one.
    pub fn allows(&self, verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> bool {
        let in_scope = match (&self.namespaces, namespace) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(list), Some(ns)) => list.iter().any(|n| n == ns),
        };
        in_scope
            && self.rules.iter().any(|r| {
                r.api_groups.iter().any(|g| g == group)
                    && r.resources.iter().any(|x| x == resource)
                    && r.verbs.iter().any(|v| v == verb)
            })
    }
}
