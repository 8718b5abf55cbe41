//! Catalog data as the pages and the JSON API see it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How critical a service is: 1 critical, 2 important, 3 useful, 4 experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Tier(u8);

impl Tier {
    pub const ALL: [Tier; 4] = [Tier(1), Tier(2), Tier(3), Tier(4)];

    pub fn new(n: i64) -> Result<Tier, String> {
        match n {
            1..=4 => Ok(Tier(n as u8)),
            _ => Err(format!("tier must be 1, 2, 3 or 4, not {n}")),
        }
    }
    pub fn number(self) -> u8 {
        self.0
    }
    pub fn label(self) -> &'static str {
        match self.0 {
            1 => "critical",
            2 => "important",
            3 => "useful",
            _ => "experiment",
        }
    }
}

impl TryFrom<u8> for Tier {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        Tier::new(n as i64)
    }
}
impl From<Tier> for u8 {
    fn from(t: Tier) -> u8 {
        t.0
    }
}
impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tier {} ({})", self.0, self.label())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    Experimental,
    Production,
    Deprecated,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 3] =
        [Lifecycle::Experimental, Lifecycle::Production, Lifecycle::Deprecated];

    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Experimental => "experimental",
            Lifecycle::Production => "production",
            Lifecycle::Deprecated => "deprecated",
        }
    }
    pub fn parse(s: &str) -> Option<Lifecycle> {
        Lifecycle::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCall {
    /// Name of the rotation, e.g. "payments-primary".
    pub rotation: String,
    /// Where the schedule lives (PagerDuty, Opsgenie…).
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Squad {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub chat_channel: String,
    pub oncall: OnCall,
    pub members: Vec<String>,
    pub links: Vec<Link>,
    /// The Group it sits under (`spec.parent`), for display and roll-up only: nothing a parent's
    /// members may do follows from it.
    #[serde(default)]
    pub parent: String,
    /// Backstage's `spec.type`: team, department, organization…
    #[serde(default)]
    pub group_type: String,
}

impl Squad {
    /// No squad: what a service a person owns is evaluated against.
    pub fn none() -> Squad {
        Squad {
            name: String::new(),
            display_name: String::new(),
            description: String::new(),
            chat_channel: String::new(),
            oncall: OnCall::default(),
            members: vec![],
            links: vec![],
            parent: String::new(),
            group_type: String::new(),
        }
    }
}

/// Where a service's workloads live in Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workloads {
    /// Empty means every configured cluster.
    pub cluster: String,
    /// Empty means every namespace.
    pub namespace: String,
    pub label_selector: String,
}

impl Workloads {
    pub const DEFAULT_LABEL: &'static str = "backstage.io/kubernetes-id";

    pub fn default_for(service: &str) -> Workloads {
        Workloads {
            cluster: String::new(),
            namespace: String::new(),
            label_selector: format!("{}={service}", Workloads::DEFAULT_LABEL),
        }
    }
}

/// A squad's word that a readiness check is met, with who and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub check: String,
    pub by: String,
    /// ISO date, e.g. 2026-10-01.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// The service's key: its name in the default namespace, `namespace/name` in another
    /// (see [`entity_key`]); its URL is `/services/{key}`.
    pub name: String,
    /// The owning squad; empty when a person owns it (see `owner_person`).
    pub squad: String,
    /// The User owning it when no squad does: shown as owner, and the "owning squad" check fails.
    #[serde(default)]
    pub owner_person: String,
    /// Backstage's `spec.type` (service, website, library…): which readiness checks apply.
    #[serde(default = "default_component_type")]
    pub component_type: String,
    /// Where its descriptor lives: the file to change for a field Git owns (a URL when known,
    /// else the path and line in the catalog directory).
    #[serde(default)]
    pub source: String,
    pub tier: Tier,
    /// The guardrails' class of the lifecycle (`experimental` for a name outside the three,
    /// unless the platform defaults map it).
    pub lifecycle: Lifecycle,
    /// The lifecycle as written when it is not one of the three (`sandbox`); empty otherwise.
    #[serde(default)]
    pub lifecycle_label: String,
    /// The owner as written (`group:inpixon`) when it names no Group or User of the catalog, as
    /// Backstage keeps it: then no squad and no person own the service, and nobody gets owner
    /// rights from it (SREs and grants only).
    #[serde(default)]
    pub dangling_owner: String,
    pub description: String,
    pub system: String,
    pub repository: String,
    pub runbook: String,
    pub slo: String,
    pub tags: Vec<String>,
    pub links: Vec<Link>,
    pub workloads: Workloads,
    pub attestations: Vec<Attestation>,
}

impl Service {
    /// The lifecycle as the descriptor wrote it.
    pub fn lifecycle_name(&self) -> &str {
        if self.lifecycle_label.is_empty() {
            self.lifecycle.as_str()
        } else {
            &self.lifecycle_label
        }
    }
}

fn default_component_type() -> String {
    "service".into()
}

/// The default Backstage namespace: its entities' keys are their bare names.
pub const DEFAULT_NAMESPACE: &str = "default";

/// An entity's key within its kind: the name in the default namespace, `namespace/name` in any
/// other, so one name in two namespaces is two entities and old links keep working.
pub fn entity_key(namespace: &str, name: &str) -> String {
    if namespace.is_empty() || namespace == DEFAULT_NAMESPACE {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

/// (namespace, name) of a key made by [`entity_key`].
pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or((DEFAULT_NAMESPACE, key))
}

/// The kinds of entity the catalog stores besides squads (Groups), services (Components) and
/// people (Users).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Component,
    System,
    Domain,
    Api,
    Resource,
    Group,
    User,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Component => "component",
            EntityKind::System => "system",
            EntityKind::Domain => "domain",
            EntityKind::Api => "api",
            EntityKind::Resource => "resource",
            EntityKind::Group => "group",
            EntityKind::User => "user",
        }
    }
    /// From a descriptor's `kind` or a reference's kind, in any case.
    pub fn parse(s: &str) -> Option<EntityKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "component" => EntityKind::Component,
            "system" => EntityKind::System,
            "domain" => EntityKind::Domain,
            "api" => EntityKind::Api,
            "resource" => EntityKind::Resource,
            "group" => EntityKind::Group,
            "user" => EntityKind::User,
            _ => return None,
        })
    }
    /// Where its page is, for the kinds that have one.
    pub fn path(self, key: &str) -> String {
        match self {
            EntityKind::Component => format!("/services/{key}"),
            EntityKind::Group => format!("/squads/{key}"),
            other => format!("/entities/{}/{key}", other.as_str()),
        }
    }
}

/// A System, Domain, API or Resource: stored as Git describes it, shown with its relations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub kind: EntityKind,
    pub key: String,
    pub title: String,
    pub description: String,
    /// `group:payments`, `user:maria`, or empty.
    pub owner: String,
    /// `spec.type` (an API's openapi / grpc, a Resource's database…).
    pub entity_type: String,
    pub lifecycle: String,
    pub source: String,
}

/// A typed edge between two entities, in Backstage's words and direction: `dependsOn`,
/// `providesApi`, `consumesApi`, `partOf` (component/API/resource → system, system → domain),
/// `subcomponentOf`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Relation {
    pub from_kind: EntityKind,
    pub from: String,
    pub relation: String,
    pub to_kind: EntityKind,
    pub to: String,
}

/// Met / required readiness checks for one service or a roll-up of many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub met: u32,
    pub required: u32,
}

impl Score {
    pub fn percent(self) -> u32 {
        (self.met * 100).checked_div(self.required).unwrap_or(100)
    }
    pub fn is_ready(self) -> bool {
        self.met >= self.required
    }
    pub fn plus(self, other: Score) -> Score {
        Score { met: self.met + other.met, required: self.required + other.required }
    }
}

/// One row of the catalog list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub name: String,
    pub squad: String,
    pub tier: Tier,
    pub lifecycle: Lifecycle,
    pub description: String,
    pub runbook: String,
    pub readiness: Score,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadinessFilter {
    Ready,
    NotReady,
}

impl ReadinessFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadinessFilter::Ready => "ready",
            ReadinessFilter::NotReady => "not-ready",
        }
    }
    pub fn parse(s: &str) -> Option<ReadinessFilter> {
        match s {
            "ready" => Some(ReadinessFilter::Ready),
            "not-ready" => Some(ReadinessFilter::NotReady),
            _ => None,
        }
    }
}

/// A catalog search: free text plus filters, one page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogQuery {
    pub text: String,
    pub squad: Option<String>,
    pub tier: Option<Tier>,
    pub lifecycle: Option<Lifecycle>,
    pub readiness: Option<ReadinessFilter>,
    /// 1-based.
    pub page: u32,
}

impl CatalogQuery {
    pub const PAGE_SIZE: u32 = 50;
    pub const MAX_PAGE: u32 = 100_000;
    pub const MAX_TEXT: usize = 200;

    /// Reads a query from URL parameters (`q`, `squad`, `tier`, `lifecycle`, `readiness`,
    /// `page`), the same for the pages and the JSON API. Empty values mean "any".
    pub fn from_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<CatalogQuery, String> {
        let non_empty = |key: &str| get(key).map(str::trim).filter(|v| !v.is_empty());
        let text = non_empty("q").unwrap_or_default().to_string();
        let tier = match non_empty("tier") {
            None => None,
            Some(t) => Some(
                t.parse::<i64>()
                    .map_err(|_| format!("tier must be 1, 2, 3 or 4, not {t:?}"))
                    .and_then(Tier::new)?,
            ),
        };
        let lifecycle = match non_empty("lifecycle") {
            None => None,
            Some(l) => Some(Lifecycle::parse(l).ok_or_else(|| {
                format!("lifecycle must be experimental, production or deprecated, not {l:?}")
            })?),
        };
        let readiness = match non_empty("readiness") {
            None => None,
            Some(r) => Some(
                ReadinessFilter::parse(r)
                    .ok_or_else(|| format!("readiness must be ready or not-ready, not {r:?}"))?,
            ),
        };
        let page = match non_empty("page") {
            None => 1,
            Some(p) => match p.parse::<u32>() {
                Ok(n) if (1..=Self::MAX_PAGE).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "page must be a whole number from 1 to {}, not {p:?}",
                        Self::MAX_PAGE
                    ))
                }
            },
        };
        let query = CatalogQuery {
            text,
            squad: non_empty("squad").map(str::to_string),
            tier,
            lifecycle,
            readiness,
            page,
        };
        query.validate()?;
        Ok(query)
    }

    /// The limits any query must respect, wherever it came from.
    pub fn validate(&self) -> Result<(), String> {
        if self.text.chars().count() > Self::MAX_TEXT {
            return Err(format!("search text is longer than {} characters", Self::MAX_TEXT));
        }
        if !(1..=Self::MAX_PAGE).contains(&self.page) {
            return Err(format!(
                "page must be a whole number from 1 to {}, not {}",
                Self::MAX_PAGE,
                self.page
            ));
        }
        Ok(())
    }

    /// The URL query string for this search, for links that keep the filters.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |k: &str, v: &str| parts.push(format!("{k}={}", encode_component(v)));
        if !self.text.is_empty() {
            push("q", &self.text);
        }
        if let Some(s) = &self.squad {
            push("squad", s);
        }
        if let Some(t) = self.tier {
            push("tier", &t.number().to_string());
        }
        if let Some(l) = self.lifecycle {
            push("lifecycle", l.as_str());
        }
        if let Some(r) = self.readiness {
            push("readiness", r.as_str());
        }
        if self.page > 1 {
            push("page", &self.page.to_string());
        }
        parts.join("&")
    }
}

/// `url` if it is safe to put in an href (http or https), else None: a stored
/// `javascript:` URL must never become a link.
pub fn safe_href(url: &str) -> Option<&str> {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub query: CatalogQuery,
    pub services: Vec<ServiceSummary>,
    pub total: u64,
    pub page_size: u32,
}

impl CatalogPage {
    pub fn page_count(&self) -> u32 {
        (self.total.div_ceil(self.page_size as u64)).max(1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<CatalogQuery, String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        CatalogQuery::from_params(|k| map.get(k).map(String::as_str))
    }

    #[test]
    fn parses_filters_and_round_trips_them() {
        let q = parse(&[
            ("q", "pay & ship"),
            ("tier", "2"),
            ("lifecycle", "production"),
            ("page", "3"),
        ])
        .unwrap();
        assert_eq!(q.tier, Some(Tier::new(2).unwrap()));
        assert_eq!(q.lifecycle, Some(Lifecycle::Production));
        assert_eq!(q.page, 3);
        assert_eq!(q.to_query_string(), "q=pay%20%26%20ship&tier=2&lifecycle=production&page=3");
    }

    #[test]
    fn refuses_bad_values_with_reasons() {
        for (key, value, needle) in [
            ("page", "0", "page must be"),
            ("page", "-1", "page must be"),
            ("page", "abc", "page must be"),
            ("page", "99999999999", "page must be"),
            ("tier", "0", "tier must be"),
            ("tier", "5", "tier must be"),
            ("lifecycle", "retired", "lifecycle must be"),
            ("readiness", "maybe", "readiness must be"),
        ] {
            let err = parse(&[(key, value)]).unwrap_err();
            assert!(err.contains(needle), "{key}={value}: {err}");
        }
        assert!(parse(&[("q", &"x".repeat(201))]).unwrap_err().contains("longer than"));
    }

    #[test]
    fn empty_values_mean_any() {
        let q = parse(&[("q", " "), ("tier", ""), ("page", "")]).unwrap();
        assert_eq!(q, CatalogQuery { page: 1, ..Default::default() });
    }
}
