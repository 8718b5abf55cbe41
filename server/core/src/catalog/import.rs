//! Import of Backstage `catalog-info.yaml` descriptors (kinds Group, Component, System).
//!
//! An import is all or nothing: [`parse`] either returns a whole valid batch or every problem
//! it found, each with file, line and field, so a batch with one bad file changes nothing.
//!
//! Our own annotations:
//! - Component: `console.dev/tier` (1–4, required), `console.dev/runbook`, `console.dev/slo`,
//!   `console.dev/repository`, `console.dev/kubernetes-cluster`,
//!   `console.dev/attest-<check id>: "<who> <YYYY-MM-DD>"` for attested readiness checks.
//! - Group: `console.dev/chat-channel`, `console.dev/oncall-rotation`, `console.dev/oncall-url`,
//!   `console.dev/kubernetes-namespaces` (comma-separated: where its services' workloads may be
//!   found; a service naming `backstage.io/kubernetes-namespace` is looked for there instead).
//! - User (a person who may sign in): `spec.profile.email` (linked to verified sign-in
//!   e-mails), `spec.memberOf` (squads), `console.dev/github-id` (the GitHub user id, a
//!   number), `console.dev/oidc-subject` (the OIDC `sub`).
//!
//! Backstage's `backstage.io/kubernetes-id`, `-namespace` and `-label-selector` locate workloads.

mod files;
pub use files::{read_dir, MAX_DESCRIPTOR_BYTES};
mod fields;
mod kinds;
use files::inside;
#[cfg(test)]
use kinds::is_iso_date;

use super::model::*;
use super::readiness::{Check, Evidence};
use serde::Serialize;
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;

/// One thing wrong with the input, precise enough to fix it without guessing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}:{}: {}: {}", self.file, self.line, self.field, self.message)
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as shown in problems, relative to the imported directory.
    pub path: String,
    pub text: String,
}

/// A valid catalog, ready to replace the stored one.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub squads: Vec<Squad>,
    pub services: Vec<Service>,
    /// `User` entities, and a person for every squad member no User describes.
    pub people: Vec<crate::auth::people::Person>,
    /// Descriptors of kinds we do not use (User, API, Resource…), counted and skipped.
    pub skipped: usize,
    /// What was assumed or skipped, per file and line (a default tier, a file that is not a
    /// descriptor, another apiVersion): reported, not refused.
    pub warnings: Vec<Problem>,
    /// Components present but invalid (left out by `--skip-invalid`): not to be removed.
    pub invalid_services: Vec<String>,
    /// Systems, Domains, APIs and Resources.
    pub entities: Vec<Entity>,
    /// Every edge the descriptors declare (dependsOn, providesApis, consumesApis, system…).
    pub relations: Vec<Relation>,
    /// `Location` targets inside the catalog directory (read with it) and elsewhere (skipped).
    pub locations_followed: usize,
    pub locations_skipped: usize,
}

/// Parses and validates a whole batch of descriptor files, with tier 4 for Components that name
/// none. `checks` are the readiness requirements in force: attestations must name one of them.
pub fn parse(files: &[SourceFile], checks: &[Check]) -> Result<Batch, Vec<Problem>> {
    parse_with(files, checks, Tier::ALL[3])
}

/// [`parse`] with the tier a Component without `console.dev/tier` gets (with a warning):
/// Backstage's own descriptors name no tier.
pub fn parse_with(
    files: &[SourceFile],
    checks: &[Check],
    default_tier: Tier,
) -> Result<Batch, Vec<Problem>> {
    let (batch, problems) = parse_all(files, checks, default_tier);
    if problems.is_empty() {
        Ok(batch)
    } else {
        Err(problems)
    }
}

/// The valid entities of a batch and every problem of the rest: for a first migration
/// (`--skip-invalid`, Backstage's own behaviour), where all-or-nothing would import nothing.
/// Components whose owner is not among the valid Groups are left out too.
pub fn parse_valid(
    files: &[SourceFile],
    checks: &[Check],
    default_tier: Tier,
) -> (Batch, Vec<Problem>) {
    let (mut batch, problems) = parse_all(files, checks, default_tier);
    let squads: HashSet<&str> = batch.squads.iter().map(|s| s.name.as_str()).collect();
    let people: HashSet<&str> = batch.people.iter().map(|p| p.name.as_str()).collect();
    // A dangling owner is kept (Backstage's behaviour); an owner that is in the batch but invalid leaves its services out.
    let owned = |s: &Service| {
        !s.dangling_owner.is_empty()
            || if s.squad.is_empty() {
                people.contains(s.owner_person.as_str())
            } else {
                squads.contains(s.squad.as_str())
            }
    };
    let (kept, orphans): (Vec<Service>, Vec<Service>) =
        std::mem::take(&mut batch.services).into_iter().partition(|s| owned(s));
    let orphans: Vec<String> = orphans.into_iter().map(|s| s.name).collect();
    batch.services = kept;
    // Edges of what was left out go with it.
    batch.relations.retain(|r| r.from_kind != EntityKind::Component || !orphans.contains(&r.from));
    batch.invalid_services.extend(orphans);
    (batch, problems)
}

fn parse_all(files: &[SourceFile], checks: &[Check], default_tier: Tier) -> (Batch, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut docs = Vec::new();
    for file in files {
        for (start, text) in split_documents(&file.text) {
            match serde_yaml::from_str::<Value>(text) {
                Ok(Value::Null) => {}
                Ok(value) => docs.push(Doc { file: &file.path, start, text, value }),
                Err(e) => problems.push(Problem {
                    file: file.path.clone(),
                    line: start + e.location().map(|l| l.line()).unwrap_or(1) - 1,
                    field: String::new(),
                    message: format!("malformed YAML: {e}"),
                }),
            }
        }
    }
    let paths: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();

    let mut batch = Batch::default();
    // (kind, key) -> (file, line) of its first definition, for duplicate and reference checks.
    let mut defined: HashMap<(EntityKind, String), (String, usize)> = HashMap::new();
    // Owners and other references, checked once every entity is known.
    let mut owner_refs: Vec<(&Doc, EntityKind, String)> = Vec::new();
    let mut squad_namespaces: HashMap<String, String> = HashMap::new();
    let mut memberships: Vec<(String, String)> = Vec::new();

    let mut warnings: Vec<Problem> = Vec::new();
    for doc in &docs {
        let note = |message: String| Problem {
            file: doc.file.to_string(),
            line: doc.start,
            field: String::new(),
            message,
        };
        // YAML that is no descriptor at all (an OpenAPI file next to its API entity): skipped.
        let has = |key: &str| doc.value.get(key).is_some();
        if !doc.value.is_mapping() || (!has("apiVersion") && !has("kind")) {
            warnings
                .push(note("not a catalog descriptor (no apiVersion and kind): skipped".into()));
            continue;
        }
        // Other apiVersions (a scaffolder Template): not ours to model, skipped and counted.
        if let Some(v) = doc.value.get("apiVersion").and_then(|v| v.as_str()) {
            if !v.starts_with("backstage.io/") {
                warnings.push(note(format!("apiVersion {v:?} is not modelled here: skipped")));
                batch.skipped += 1;
                continue;
            }
        }
        let mut p =
            Problems { doc, list: &mut problems, checks, default_tier, warnings: &mut warnings };
        p.string(&["apiVersion"], true);
        let Some(kind_text) = p.string(&["kind"], true) else { continue };
        if kind_text == "Location" {
            p.location(&paths, &mut batch);
            continue;
        }
        let Some(kind) = EntityKind::parse(&kind_text) else {
            let message = format!("kind {kind_text:?} is not modelled here: skipped");
            p.warnings.push(Problem {
                file: doc.file.to_string(),
                line: doc.line_of(&["kind"]),
                field: "kind".into(),
                message,
            });
            batch.skipped += 1;
            continue;
        };
        // A bad name or namespace is one problem among others: the rest of the document is still
        // checked (and the entity left out), so every problem is reported at once.
        let namespace = p.namespace();
        let named = p.name(kind, &namespace);
        let key = entity_key(&namespace, named.as_deref().unwrap_or_default());
        if named.is_some() {
            if let Some((file, line)) = claim(&mut defined, kind, &key, doc) {
                p.add(
                    &["metadata", "name"],
                    &format!("duplicate {kind_text} {key:?}, first defined at {file}:{line}"),
                );
                continue;
            }
        }
        let before = p.list.len();
        match kind {
            EntityKind::Group => {
                let namespaces = p.workload_namespaces();
                if let Some(squad) = p.squad(&key, &namespace) {
                    if p.list.len() == before && named.is_some() {
                        squad_namespaces.insert(key.clone(), namespaces);
                        batch.squads.push(squad);
                    }
                }
            }
            EntityKind::Component => {
                // The owner is checked whatever else is wrong with the document.
                let owner = p.owner(&namespace);
                if let Some((owner_kind, owner_key)) = &owner {
                    owner_refs.push((doc, *owner_kind, owner_key.clone()));
                }
                let relations = p.relations(kind, &key, &namespace);
                match (
                    p.service(&key, named.as_deref().unwrap_or_default(), owner),
                    named.is_some(),
                ) {
                    (Some(service), true) if p.list.len() == before => {
                        batch.services.push(service);
                        batch.relations.extend(relations);
                    }
                    (_, true) => batch.invalid_services.push(key.clone()),
                    _ => {}
                }
            }
            EntityKind::System | EntityKind::Domain | EntityKind::Api | EntityKind::Resource => {
                let owner = p.owner(&namespace);
                if let Some((owner_kind, owner_key)) = &owner {
                    owner_refs.push((doc, *owner_kind, owner_key.clone()));
                }
                let relations = p.relations(kind, &key, &namespace);
                let entity = p.entity(
                    kind,
                    &key,
                    owner.map(|(k, o)| format!("{}:{o}", k.as_str())).unwrap_or_default(),
                );
                if p.list.len() == before && named.is_some() {
                    batch.entities.push(entity);
                    batch.relations.extend(relations);
                }
            }
            EntityKind::User => {
                let annotations = p.annotations();
                let github_id =
                    annotations.get("console.dev/github-id").cloned().unwrap_or_default();
                if !github_id.is_empty() && !github_id.bytes().all(|b| b.is_ascii_digit()) {
                    p.add(
                        &["metadata", "annotations", "console.dev/github-id"],
                        "must be the GitHub user id (a number), not the login",
                    );
                }
                let email = p.text(&["spec", "profile", "email"]);
                if !email.is_empty() && !email.contains('@') {
                    p.add(&["spec", "profile", "email"], "must be an e-mail address");
                }
                let member_of = p.strings(&["spec", "memberOf"]);
                let mut groups = Vec::new();
                for group in member_of {
                    match parse_ref(&group, EntityKind::Group, &namespace) {
                        Ok((EntityKind::Group, g)) => groups.push(g),
                        _ => p.add(
                            &["spec", "memberOf"],
                            &format!("{group:?} is not a Group reference"),
                        ),
                    }
                }
                if p.list.len() != before || named.is_none() {
                    continue;
                }
                memberships.extend(groups.into_iter().map(|g| (g, key.clone())));
                batch.people.push(crate::auth::people::Person {
                    display_name: p.text(&["spec", "profile", "displayName"]),
                    email,
                    github_id,
                    oidc_subject: annotations
                        .get("console.dev/oidc-subject")
                        .cloned()
                        .unwrap_or_default(),
                    name: key,
                });
            }
        }
    }

    // A service that names no namespace is looked for only in its squad's: a label anyone can
    // set in any namespace must not pull someone else's pods into the squad's views.
    for service in &mut batch.services {
        if service.workloads.namespace.is_empty() {
            service.workloads.namespace =
                squad_namespaces.get(&service.squad).cloned().unwrap_or_default();
        }
    }

    // `memberOf` on a User is membership as much as `members` on its Group.
    for (group, member) in memberships {
        if let Some(squad) = batch.squads.iter_mut().find(|s| s.name == group) {
            if !squad.members.contains(&member) {
                squad.members.push(member);
            }
        }
    }
    // Until every member has a User entity, each member name is a person of its own (with no
    // e-mail: only the dev sign-in can reach it by name).
    let described: HashSet<String> = batch.people.iter().map(|p| p.name.clone()).collect();
    let mut undescribed: Vec<String> = batch
        .squads
        .iter()
        .flat_map(|s| s.members.iter())
        .filter(|m| !described.contains(*m))
        .cloned()
        .collect();
    undescribed.sort();
    undescribed.dedup();
    batch.people.extend(
        undescribed
            .into_iter()
            .map(|name| crate::auth::people::Person { name, ..Default::default() }),
    );

    // An owner that names no Group or User of the batch is kept, dangling, as Backstage keeps
    // it: the service then has no owning squad (its check fails, its page says why) and gives
    // nobody owner rights.
    let mut dangling: HashSet<(EntityKind, String)> = HashSet::new();
    for (doc, kind, owner) in owner_refs {
        if !defined.contains_key(&(kind, owner.clone())) {
            let what = if kind == EntityKind::User { "User" } else { "Group" };
            Problems { doc, list: &mut problems, checks, default_tier, warnings: &mut warnings }
                .warn(&["spec", "owner"], &format!("owner {owner:?} names no {what} of this catalog: kept as a dangling owner, so nobody owns it"));
            dangling.insert((kind, owner));
        }
    }
    for s in batch.services.iter_mut() {
        let (kind, key) = if s.squad.is_empty() {
            (EntityKind::User, &s.owner_person)
        } else {
            (EntityKind::Group, &s.squad)
        };
        if dangling.contains(&(kind, key.clone())) {
            s.dangling_owner = format!("{}:{key}", kind.as_str());
            s.squad.clear();
            s.owner_person.clear();
        }
    }
    // A relation to what no descriptor describes is kept (Backstage keeps it too) and reported.
    for r in &batch.relations {
        if !defined.contains_key(&(r.to_kind, r.to.clone())) {
            let at = defined.get(&(r.from_kind, r.from.clone())).cloned().unwrap_or_default();
            warnings.push(Problem {
                file: at.0,
                line: at.1,
                field: String::new(),
                message: format!(
                    "{} {} {} {}:{}, which no descriptor in this batch describes",
                    r.from_kind.as_str(),
                    r.from,
                    r.relation,
                    r.to_kind.as_str(),
                    r.to
                ),
            });
        }
    }

    batch.warnings = warnings;
    batch.squads.sort_by(|a, b| a.name.cmp(&b.name));
    batch.services.sort_by(|a, b| a.name.cmp(&b.name));
    batch.entities.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    batch.relations.sort();
    batch.relations.dedup();
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    (batch, problems)
}

/// Reads an entity reference `[kind:][namespace/]name`, the kind defaulting to `default_kind` and
/// the namespace to the referring entity's (Backstage's rule); returns (kind, key).
pub fn parse_ref(
    raw: &str,
    default_kind: EntityKind,
    namespace: &str,
) -> Result<(EntityKind, String), String> {
    let (kind, rest) = match raw.split_once(':') {
        Some((k, rest)) => {
            (EntityKind::parse(k).ok_or_else(|| format!("unknown kind {k:?}"))?, rest)
        }
        None => (default_kind, raw),
    };
    let (ns, name) = rest.split_once('/').unwrap_or((namespace, rest));
    if !valid_name(name) || !valid_namespace(ns) {
        return Err(format!("{raw:?} is not a valid entity reference"));
    }
    Ok((kind, entity_key(ns, name)))
}

/// Backstage's namespace rule: a DNS label.
fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 63
        && ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-')
}

/// Words after `/services/{namespace}/{name}`'s first segment that name a page of a service in
/// the default namespace: a service in another namespace cannot be called so, or its URL would
/// be that page.
pub const RESERVED_SERVICE_NAMES: [&str; 9] = [
    "edit",
    "query",
    "query.csv",
    "deployments",
    "logs",
    "logs.txt",
    "reads",
    "overrides",
    "related",
];

/// Records where an entity is first defined; returns that place if it was already taken.
fn claim(
    seen: &mut HashMap<(EntityKind, String), (String, usize)>,
    kind: EntityKind,
    key: &str,
    doc: &Doc,
) -> Option<(String, usize)> {
    if let Some(first) = seen.get(&(kind, key.to_string())) {
        return Some(first.clone());
    }
    seen.insert(
        (kind, key.to_string()),
        (doc.file.to_string(), doc.line_of(&["metadata", "name"])),
    );
    None
}

/// Splits a multi-document YAML file at `---` lines; yields (1-based first line, text).
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            docs.push((start_line, &text[start_byte..offset]));
            start_byte = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start_byte..]));
    docs.retain(|(_, t)| {
        t.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

struct Doc<'a> {
    file: &'a str,
    start: usize,
    text: &'a str,
    value: Value,
}

impl Doc<'_> {
    fn get(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(&self.value, |v, key| v.get(*key))
    }

    /// The line of the deepest key of `path` found in the text, walking keys in order.
    fn line_of(&self, path: &[&str]) -> usize {
        let lines: Vec<&str> = self.text.lines().collect();
        let mut at = 0;
        let mut found = 0;
        for key in path {
            let hit = lines.iter().enumerate().skip(at).find(|(_, l)| {
                let l = l.trim_start().trim_start_matches("- ");
                [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")]
                    .iter()
                    .any(|k| l.starts_with(k.as_str()))
            });
            match hit {
                Some((i, _)) => {
                    found = i;
                    at = i + 1;
                }
                None => break,
            }
        }
        self.start + found
    }
}

/// Collects problems for one document.
struct Problems<'d, 'l> {
    doc: &'d Doc<'d>,
    list: &'l mut Vec<Problem>,
    checks: &'l [Check],
    default_tier: Tier,
    warnings: &'l mut Vec<Problem>,
}

const NAME_RULE: &str =
    "must be 1–63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !name.is_empty()
        && name.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

impl Problems<'_, '_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing outside the catalog directory is read: a link out of it, a link to a directory and
    /// an oversized file are each refused with the file and the reason; the rest is read.
    #[test]
    fn the_import_stays_inside_its_directory_and_bounds_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ok.yaml"), "kind: Group\n").unwrap();
        std::fs::write(outside.path().join("secret.yaml"), "kind: Group\n").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.yaml"),
            dir.path().join("leak.yaml"),
        )
        .unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
        std::fs::write(dir.path().join("inside.yml"), "kind: Group\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("inside.yml"), dir.path().join("alias.yaml"))
            .unwrap();
        std::fs::write(dir.path().join("big.yaml"), " ".repeat(MAX_DESCRIPTOR_BYTES as usize + 1))
            .unwrap();
        let problems = read_dir(dir.path()).unwrap_err();
        let by_file: Vec<(&str, &str)> =
            problems.iter().map(|p| (p.file.as_str(), p.message.as_str())).collect();
        assert_eq!(by_file.len(), 3, "{by_file:?}");
        assert!(by_file.iter().any(|(f, m)| *f == "leak.yaml" && m.contains("leads out of the catalog directory")), "{by_file:?}");
        assert!(
            by_file.iter().any(|(f, m)| *f == "loop" && m.contains("directory is not followed")),
            "{by_file:?}"
        );
        assert!(
            by_file.iter().any(|(f, m)| *f == "big.yaml" && m.contains("larger than 1024 KiB")),
            "{by_file:?}"
        );
        std::fs::remove_file(dir.path().join("leak.yaml")).unwrap();
        std::fs::remove_file(dir.path().join("loop")).unwrap();
        std::fs::remove_file(dir.path().join("big.yaml")).unwrap();
        let files: Vec<String> =
            read_dir(dir.path()).unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(
            files,
            ["alias.yaml", "inside.yml", "ok.yaml"],
            "a link that stays inside is read"
        );
    }
    use crate::catalog::readiness::standard_checks;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile { path: path.into(), text: text.into() }
    }

    const SQUAD: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
  description: Money in, money out
  annotations:
    console.dev/oncall-rotation: payments-primary
spec:
  type: team
  profile:
    displayName: Payments
  members: [user:default/maria, joao]
";

    fn component(name: &str, tier: &str, owner: &str) -> String {
        format!(
            "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  annotations:
    console.dev/tier: \"{tier}\"
    console.dev/attest-backups: \"maria 2026-10-01\"
spec:
  type: service
  lifecycle: production
  owner: {owner}
"
        )
    }

    #[test]
    fn reads_groups_and_components_from_multi_document_files() {
        let text = format!(
            "{SQUAD}---\n{}---\n# only a comment\n",
            component("checkout", "1", "group:default/payments")
        );
        let batch = parse(&[file("payments.yaml", &text)], &standard_checks()).unwrap();
        assert_eq!(batch.squads.len(), 1);
        assert_eq!(batch.squads[0].members, ["maria", "joao"]);
        assert_eq!(batch.squads[0].oncall.rotation, "payments-primary");
        let svc = &batch.services[0];
        assert_eq!(
            (svc.name.as_str(), svc.squad.as_str(), svc.tier.number()),
            ("checkout", "payments", 1)
        );
        assert_eq!(svc.workloads.label_selector, "backstage.io/kubernetes-id=checkout");
        assert_eq!(svc.attestations[0].by, "maria");
    }

    #[test]
    fn every_problem_is_reported_with_file_line_and_field() {
        let bad = format!(
            "{}---\n{}---\n{}",
            component("tier-zero", "0", "payments"),
            component("tier-five", "5", "payments"),
            component("orphan", "2", "nobody")
        );
        let missing =
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: bare\n";
        let problems = parse(
            &[
                file("a.yaml", SQUAD),
                file("b.yaml", &bad),
                file("c.yaml", "kind: [unclosed\n"),
                file("d.yaml", missing),
                file("e.yaml", &component("tier-zero", "3", "payments")),
            ],
            &standard_checks(),
        )
        .unwrap_err();
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let has = |needle: &str| {
            assert!(shown.iter().any(|s| s.contains(needle)), "{needle} not in {shown:#?}")
        };
        has("b.yaml:6: metadata.annotations.console.dev/tier: tier must be 1, 2, 3 or 4, not 0");
        has("b.yaml:18: metadata.annotations.console.dev/tier: tier must be 1, 2, 3 or 4, not 5");
        // An owner that names nothing is kept dangling, as Backstage keeps it: no problem.
        assert!(
            !shown.iter().any(|s| s.contains("spec.owner") && s.starts_with("b.yaml")),
            "{shown:#?}"
        );
        has("c.yaml:2: malformed YAML");
        has("d.yaml:1: spec.type: missing required field");
        has("d.yaml:1: spec.lifecycle: missing required field");
        has("d.yaml:1: spec.owner: missing required field");
        has("e.yaml:4: metadata.name: duplicate Component \"tier-zero\"");
        assert!(
            !shown.iter().any(|s| s.starts_with("d.yaml:3")),
            "a missing tier is no error: {shown:#?}"
        );
    }

    #[test]
    fn every_problem_of_a_document_is_reported_at_once() {
        // A bad name, a bad tier and a bad owner reference in one document: three problems, one run.
        let text = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: -bad-\n  annotations:\n    console.dev/tier: '9'\nspec:\n  type: service\n  lifecycle: production\n  owner: api:nobody\n";
        let problems =
            parse(&[file("a.yaml", SQUAD), file("x.yaml", text)], &standard_checks()).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"metadata.name"), "{problems:#?}");
        assert!(fields.contains(&"metadata.annotations.console.dev/tier"), "{problems:#?}");
        assert!(
            fields.contains(&"spec.owner"),
            "the owner that is no Group or User too: {problems:#?}"
        );
    }

    #[test]
    fn backstage_files_import_as_they_are_with_warnings() {
        // Backstage's own Component names no tier; a Template is another apiVersion; an OpenAPI
        // document sits next to its API entity.
        let no_tier = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: artist-web\nspec:\n  type: website\n  lifecycle: production\n  owner: payments\n";
        let template = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: new-service\nspec: {}\n";
        let openapi = "openapi: 3.0.0\ninfo:\n  title: Artists\n  version: 1.0.0\npaths: {}\n";
        let batch = parse(
            &[
                file("a.yaml", SQUAD),
                file("c.yaml", no_tier),
                file("t.yaml", template),
                file("o.yaml", openapi),
            ],
            &standard_checks(),
        )
        .unwrap();
        assert_eq!(batch.services[0].tier, Tier::ALL[3], "tier 4 assumed");
        assert_eq!(batch.skipped, 1, "the Template");
        let shown: Vec<String> = batch.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            shown
                .iter()
                .any(|w| w.starts_with("c.yaml:1: metadata.annotations.console.dev/tier: no tier")
                    && w.contains("tier 4 assumed")),
            "{shown:#?}"
        );
        assert!(shown.iter().any(|w| w.starts_with("t.yaml:1") && w.contains("scaffolder.backstage.io/v1beta3")), "{shown:#?}");
        assert!(
            shown
                .iter()
                .any(|w| w.starts_with("o.yaml:1") && w.contains("not a catalog descriptor")),
            "{shown:#?}"
        );
        let strict = parse_with(
            &[file("a.yaml", SQUAD), file("c.yaml", no_tier)],
            &standard_checks(),
            Tier::ALL[1],
        )
        .unwrap();
        assert_eq!(strict.services[0].tier, Tier::ALL[1], "the configured default");
    }

    #[test]
    fn refuses_bad_names_links_and_attestations() {
        let text = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: -bad name-
spec: {type: service, lifecycle: production, owner: payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ok
  links:
    - url: javascript:alert(1)
  annotations:
    console.dev/tier: '2'
    console.dev/attest-backups: yesterday
    console.dev/attest-warp-drive: maria 2026-01-01
    console.dev/runbook: javascript:alert(1)
spec: {type: service, lifecycle: production, owner: api:maria}
";
        let problems =
            parse(&[file("x.yaml", SQUAD), file("y.yaml", text)], &standard_checks()).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"metadata.name"), "{problems:#?}");
        assert!(fields.contains(&"metadata.links.url"));
        assert!(fields.contains(&"metadata.annotations.console.dev/attest-backups"));
        assert!(fields.contains(&"metadata.annotations.console.dev/attest-warp-drive"));
        assert!(fields.contains(&"spec.owner"));
        assert!(fields.contains(&"metadata.annotations.console.dev/runbook"));
    }

    #[test]
    fn kinds_the_console_does_not_model_are_skipped_and_counted() {
        let other =
            "apiVersion: backstage.io/v1alpha1\nkind: Widget\nmetadata:\n  name: payments\n";
        let batch = parse(&[file("a.yaml", other)], &standard_checks()).unwrap();
        assert_eq!(batch.skipped, 1);
        assert!(
            batch.warnings[0]
                .to_string()
                .starts_with("a.yaml:2: kind: kind \"Widget\" is not modelled here"),
            "{:?}",
            batch.warnings
        );
    }

    #[test]
    fn namespaces_make_keys_and_references_resolve_in_their_own() {
        let text = format!("{SQUAD}---\n{}", component("ledger", "2", "payments").replace("  name: ledger\n", "  name: ledger\n  namespace: billing\n").replace("  owner: payments\n", "  owner: group:default/payments\n  dependsOn: [component:audit, resource:default/db]\n"));
        let batch = parse(&[file("a.yaml", &text)], &standard_checks()).unwrap();
        assert_eq!(batch.services[0].name, "billing/ledger");
        let targets: Vec<&str> = batch.relations.iter().map(|r| r.to.as_str()).collect();
        assert_eq!(
            targets,
            ["billing/audit", "db"],
            "a reference without a namespace is in the referrer's"
        );
        // A namespaced service may not be called like a page of another service.
        let reserved = text.replace("  name: ledger\n", "  name: logs\n");
        let problems = parse(&[file("a.yaml", &reserved)], &standard_checks()).unwrap_err();
        assert!(
            problems[0].to_string().contains("would be a page of service \"billing\""),
            "{problems:?}"
        );
        let bad = text.replace("namespace: billing", "namespace: Billing_NS");
        let problems = parse(&[file("a.yaml", &bad)], &standard_checks()).unwrap_err();
        assert_eq!(problems[0].field, "metadata.namespace", "{problems:?}");
    }

    #[test]
    fn locations_inside_the_directory_are_followed_others_counted() {
        let location = "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: all\nspec:\n  targets: [./a.yaml, ./teams/*.yaml, ./missing.yaml, ../elsewhere.yaml, https://example.com/x.yaml]\n";
        let batch = parse(
            &[
                file("a.yaml", SQUAD),
                file("sub/all.yaml", &location.replace("./a.yaml", "../a.yaml")),
            ],
            &standard_checks(),
        )
        .unwrap();
        assert_eq!(
            (batch.locations_followed, batch.locations_skipped),
            (2, 3),
            "{:#?}",
            batch.warnings
        );
    }

    #[test]
    fn services_are_looked_for_in_their_squads_namespaces_only() {
        let group = |ns: &str| {
            format!("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: payments\n  annotations:\n    console.dev/kubernetes-namespaces: \"{ns}\"\nspec:\n  type: team\n")
        };
        let component = |extra: &str| {
            format!("---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ledger\n  annotations:\n    console.dev/tier: \"1\"\n{extra}spec:\n  type: service\n  lifecycle: production\n  owner: payments\n")
        };
        let batch = parse(
            &[file("p.yaml", &(group("payments, payments-jobs") + &component("")))],
            &standard_checks(),
        )
        .unwrap();
        assert_eq!(batch.services[0].workloads.namespace, "payments,payments-jobs");
        let named = component("    backstage.io/kubernetes-namespace: ledger-prod\n");
        let batch =
            parse(&[file("p.yaml", &(group("payments") + &named))], &standard_checks()).unwrap();
        assert_eq!(
            batch.services[0].workloads.namespace, "ledger-prod",
            "the descriptor's own namespace wins"
        );
        let problems =
            parse(&[file("p.yaml", &(group("Payments_NS") + &component("")))], &standard_checks())
                .unwrap_err();
        assert!(
            problems.iter().any(|p| p.message.contains("not a Kubernetes namespace name")),
            "{problems:?}"
        );
    }

    #[test]
    fn users_are_people_and_their_member_of_is_membership() {
        let text = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: payments\nspec:\n  type: team\n  members: [joao]\n---\n\
apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: maria\n  annotations:\n    console.dev/github-id: \"583231\"\n\
spec:\n  profile:\n    email: Maria@Example.com\n  memberOf: [group:payments]\n";
        let batch = parse(&[file("org.yaml", text)], &standard_checks()).unwrap();
        assert_eq!(batch.squads[0].members, ["joao", "maria"]);
        let maria = batch.people.iter().find(|p| p.name == "maria").unwrap();
        assert_eq!(
            (maria.email.as_str(), maria.github_id.as_str()),
            ("Maria@Example.com", "583231")
        );
        // A member without a User entity is a person with nothing to link a provider by.
        let joao = batch.people.iter().find(|p| p.name == "joao").unwrap();
        assert_eq!((joao.email.as_str(), joao.github_id.as_str()), ("", ""));
        let login = text.replace("\"583231\"", "octocat");
        let problems = parse(&[file("org.yaml", &login)], &standard_checks()).unwrap_err();
        assert!(
            problems.iter().any(|p| p.field == "metadata.annotations.console.dev/github-id"),
            "{problems:?}"
        );
    }

    #[test]
    fn dates_are_checked() {
        assert!(is_iso_date("2026-10-01"));
        assert!(!is_iso_date("2026-13-01"));
        assert!(!is_iso_date("26-10-01"));
    }
}
