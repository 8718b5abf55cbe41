//! Reading each kind the console models: groups as squads, components as services,
//! other entities, locations, attestations.

use super::*;

impl Problems<'_, '_> {
    /// A System, Domain, API or Resource as stored.
    pub(super) fn entity(&mut self, kind: EntityKind, key: &str, owner: String) -> Entity {
        let title = self.text(&["metadata", "title"]);
        Entity {
            kind,
            key: key.to_string(),
            title: if title.is_empty() { key.to_string() } else { title },
            description: self.text(&["metadata", "description"]),
            owner,
            entity_type: self.text(&["spec", "type"]),
            lifecycle: self.text(&["spec", "lifecycle"]),
            source: self.source(),
        }
    }

    /// The file to change for what Git owns: the location Backstage recorded when it is a URL,
    /// else this file and line in the catalog directory.
    pub(super) fn source(&self) -> String {
        let managed =
            ["backstage.io/managed-by-origin-location", "backstage.io/managed-by-location"]
                .iter()
                .find_map(|k| self.doc.get(&["metadata", "annotations", k]).and_then(Value::as_str))
                .and_then(|v| v.strip_prefix("url:"))
                .filter(|url| safe_href(url).is_some());
        match managed {
            Some(url) => url.to_string(),
            None => format!("{}:{}", self.doc.file, self.doc.line_of(&["metadata", "name"])),
        }
    }

    /// A `Location`: its targets inside the catalog directory are read with it (every file under
    /// the directory is), others (URLs, paths outside) are skipped and counted.
    pub(super) fn location(&mut self, paths: &HashSet<&str>, batch: &mut Batch) {
        let mut targets = self.strings(&["spec", "targets"]);
        targets.extend(self.string(&["spec", "target"], false));
        let dir = std::path::Path::new(self.doc.file).parent().unwrap_or(std::path::Path::new(""));
        for target in targets {
            let note = |message: String| Problem {
                file: self.doc.file.to_string(),
                line: self.doc.line_of(&["spec"]),
                field: "spec.target".into(),
                message,
            };
            match inside(dir, &target) {
                Some(path) if path.contains('*') || paths.contains(path.as_str()) => {
                    batch.locations_followed += 1
                }
                Some(path) => {
                    self.warnings.push(note(format!(
                        "target {target:?} ({path}) is not in the catalog directory"
                    )));
                    batch.locations_skipped += 1;
                }
                None => {
                    self.warnings.push(note(format!(
                        "target {target:?} lies outside the catalog directory: skipped"
                    )));
                    batch.locations_skipped += 1;
                }
            }
        }
    }

    /// The Group's `console.dev/kubernetes-namespaces`, checked, comma-joined.
    pub(super) fn workload_namespaces(&mut self) -> String {
        let path = ["metadata", "annotations", "console.dev/kubernetes-namespaces"];
        let Some(text) = self.doc.get(&path).and_then(|v| v.as_str()).map(str::to_string) else {
            return String::new();
        };
        let names: Vec<&str> = text.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
        for name in &names {
            let valid = name.len() <= 63
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !name.starts_with('-')
                && !name.ends_with('-');
            if !valid {
                self.add(&path, &format!("{name:?} is not a Kubernetes namespace name"));
            }
        }
        names.join(",")
    }

    pub(super) fn squad(&mut self, name: &str, namespace: &str) -> Option<Squad> {
        let before = self.list.len();
        let annotations = self.annotations();
        let members = self
            .refs(&["spec", "members"], EntityKind::User, namespace)
            .into_iter()
            .map(|(_, key)| key)
            .collect();
        let parent = self
            .refs(&["spec", "parent"], EntityKind::Group, namespace)
            .into_iter()
            .next()
            .map(|(_, key)| key)
            .unwrap_or_default();
        let group_type = self.text(&["spec", "type"]);
        let display_name = self.string(&["spec", "profile", "displayName"], false);
        if let Some(url) = annotations.get("console.dev/oncall-url") {
            if safe_href(url).is_none() {
                self.add(
                    &["metadata", "annotations", "console.dev/oncall-url"],
                    &format!("must be an http(s) URL, not {url:?}"),
                );
            }
        }
        let squad = Squad {
            name: name.to_string(),
            display_name: display_name.unwrap_or_else(|| name.to_string()),
            description: self.text(&["metadata", "description"]),
            chat_channel: annotations.get("console.dev/chat-channel").cloned().unwrap_or_default(),
            oncall: OnCall {
                rotation: annotations
                    .get("console.dev/oncall-rotation")
                    .cloned()
                    .unwrap_or_default(),
                url: annotations.get("console.dev/oncall-url").cloned().unwrap_or_default(),
            },
            members,
            links: self.links(),
            parent,
            group_type,
        };
        (self.list.len() == before).then_some(squad)
    }

    /// The Component `key` (named `name` in its namespace), owned by `owner` (checked by the caller).
    pub(super) fn service(
        &mut self,
        key: &str,
        name: &str,
        owner: Option<(EntityKind, String)>,
    ) -> Option<Service> {
        let before = self.list.len();
        let component_type = self.string(&["spec", "type"], true);
        // Backstage takes any lifecycle: one outside the three is kept as written, and counts as
        // experimental for the guardrails unless the platform defaults map it.
        let lifecycle = self.string(&["spec", "lifecycle"], true).and_then(|l| match Lifecycle::parse(&l) {
            Some(known) => Some((known, String::new())),
            None if l.trim().is_empty() || l.chars().count() > 63 || l.chars().any(char::is_control) => {
                self.add(&["spec", "lifecycle"], &format!("must be a name of at most 63 characters, not {l:?}"));
                None
            }
            None => {
                self.warn(&["spec", "lifecycle"], &format!("{l:?} is not experimental, production or deprecated: kept as written, treated as experimental unless the platform defaults map it"));
                Some((Lifecycle::Experimental, l))
            }
        });
        let annotations = self.annotations();
        let tier_path = ["metadata", "annotations", "console.dev/tier"];
        let tier = match annotations.get("console.dev/tier") {
            None => {
                let line = self.doc.start;
                self.warnings.push(Problem {
                    file: self.doc.file.to_string(),
                    line,
                    field: tier_path.join("."),
                    message: format!("no tier (1 critical, 2 important, 3 useful, 4 experiment): tier {} assumed", self.default_tier.number()),
                });
                Some(self.default_tier)
            }
            Some(t) => match t
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("tier must be 1, 2, 3 or 4, not {t:?}"))
                .and_then(Tier::new)
            {
                Ok(tier) => Some(tier),
                Err(e) => {
                    self.add(&tier_path, &e);
                    None
                }
            },
        };
        let attestations = self.attestations(&annotations);
        let annotation = |key: &str| annotations.get(key).cloned().unwrap_or_default();
        let kubernetes_id = annotations
            .get("backstage.io/kubernetes-id")
            .cloned()
            .unwrap_or_else(|| name.to_string());
        let selector = annotations
            .get("backstage.io/kubernetes-label-selector")
            .cloned()
            .unwrap_or_else(|| format!("{}={kubernetes_id}", Workloads::DEFAULT_LABEL));
        let repository = annotations
            .get("console.dev/repository")
            .cloned()
            .or_else(|| {
                annotations
                    .get("backstage.io/source-location")
                    .map(|s| s.trim_start_matches("url:").to_string())
            })
            .unwrap_or_default();
        for key in ["console.dev/runbook", "console.dev/repository", "backstage.io/source-location"]
        {
            if let Some(url) = annotations.get(key) {
                if safe_href(url.trim_start_matches("url:")).is_none() {
                    self.add(
                        &["metadata", "annotations", key],
                        &format!("must be an http(s) URL, not {url:?}"),
                    );
                }
            }
        }
        let description = self.text(&["metadata", "description"]);
        let system = self.text(&["spec", "system"]);
        let tags = self.strings(&["metadata", "tags"]);
        let links = self.links();
        if self.list.len() != before {
            return None;
        }
        let (owner_kind, owner) = owner?;
        let (squad, owner_person) = if owner_kind == EntityKind::User {
            (String::new(), owner)
        } else {
            (owner, String::new())
        };
        Some(Service {
            name: key.to_string(),
            squad,
            owner_person,
            // Backstage's types are lower-case; `Service` is a service, not a type of its own.
            component_type: component_type?.to_lowercase(),
            source: self.source(),
            tier: tier?,
            lifecycle: lifecycle.clone()?.0,
            lifecycle_label: lifecycle?.1,
            dangling_owner: String::new(),
            description,
            system,
            repository,
            runbook: annotation("console.dev/runbook"),
            slo: annotation("console.dev/slo"),
            tags,
            links,
            workloads: Workloads {
                cluster: annotation("console.dev/kubernetes-cluster"),
                namespace: annotation("backstage.io/kubernetes-namespace"),
                label_selector: selector,
            },
            attestations,
        })
    }

    pub(super) fn attestations(
        &mut self,
        annotations: &BTreeMap<String, String>,
    ) -> Vec<Attestation> {
        let attestable: Vec<String> = self
            .checks
            .iter()
            .filter(|c| c.evidence == Evidence::Attested)
            .map(|c| c.id.clone())
            .collect();
        let mut out = Vec::new();
        for (key, value) in annotations {
            let Some(check) = key.strip_prefix("console.dev/attest-") else { continue };
            let path = ["metadata", "annotations", key.as_str()];
            if !attestable.iter().any(|c| c == check) {
                self.add(
                    &path,
                    &format!(
                        "unknown attestable check {check:?}; known: {}",
                        attestable.join(", ")
                    ),
                );
                continue;
            }
            match value.split_whitespace().collect::<Vec<_>>().as_slice() {
                [by, at] if is_iso_date(at) => out.push(Attestation {
                    check: check.to_string(),
                    by: by.to_string(),
                    at: at.to_string(),
                }),
                _ => self.add(&path, &format!("must be \"<who> <YYYY-MM-DD>\", not {value:?}")),
            }
        }
        out
    }
}

pub(super) fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && matches!(s[5..7].parse::<u8>(), Ok(1..=12))
        && matches!(s[8..10].parse::<u8>(), Ok(1..=31))
}
