//! What each catalog page shows, assembled from the model and the readiness checks.

use super::model::*;
use super::readiness::Readiness;
use crate::defaults::links::RenderedLink;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SquadSummary {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub services: u32,
    pub readiness: Score,
}

/// Everything the squad ownership page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SquadPage {
    pub squad: Squad,
    pub services: Vec<ServiceSummary>,
    pub readiness: Score,
    /// Metrics links of each owned service, in the order of `services`.
    pub links: Vec<Vec<RenderedLink>>,
    /// Groups whose `spec.parent` is this one.
    #[serde(default)]
    pub children: Vec<SquadSummary>,
    /// Readiness of what this group and every group under it own (a roll-up for departments;
    /// no ownership is inherited).
    #[serde(default)]
    pub subtree: Score,
    #[serde(default)]
    pub subtree_services: u32,
}

/// What the person looking may do on one service, so pages render only the controls they may
/// use and, for the rest, say who can open them. Computed by the server from the same policy that
/// refuses the requests: hiding a control is a courtesy, never the guard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccess {
    pub service: String,
    /// The owning squad ("" when nobody owns the service).
    pub squad: String,
    pub edit: bool,
    pub set_tier: bool,
    pub attest: bool,
    pub query: bool,
    pub logs: bool,
    pub service_audit: bool,
    /// Replicas designated for the service: the REPL is offered only where there is one.
    pub replicas: usize,
    /// Who opens what the viewer may not use (empty when nothing is closed to them).
    pub how_to_get_access: String,
}

/// Everything the service page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePage {
    pub service: Service,
    pub squad: Squad,
    pub readiness: Readiness,
    /// Metrics links rendered from the platform's templates.
    pub links: Vec<RenderedLink>,
    /// Descriptor fields edited in the console ("overrides Git"), until Git changes them.
    #[serde(default)]
    pub overrides: Vec<FieldOverride>,
    /// What it depends on, provides, consumes and belongs to, and what depends on it.
    #[serde(default)]
    pub related: Vec<Linked>,
}

/// An entity linked to the one shown, with what its page needs to judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Linked {
    /// As read from the shown entity: "depends on", "depended on by", "provides API",
    /// "consumes API", "part of", "has part", "subcomponent of", "has subcomponent".
    pub relation: String,
    pub kind: EntityKind,
    pub key: String,
    /// Tier and readiness when it is a stored service; None for other kinds or a reference
    /// to nothing the catalog holds.
    pub tier: Option<Tier>,
    pub readiness: Option<Score>,
    /// Whether the catalog holds it (a descriptor may name what no descriptor describes).
    pub known: bool,
    /// A tier 1 service depending on a tier 3 or 4 one: the chain is only as strong as that.
    pub weak: bool,
}

/// The page of a System, Domain, API or Resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityPage {
    pub entity: Entity,
    pub related: Vec<Linked>,
}

/// A console edit of a field the descriptor in Git owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldOverride {
    pub field: String,
    pub value: String,
    /// What Git says; the override lasts while Git still says it.
    pub git_value: String,
    pub by: String,
}

/// The org-wide readiness view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessReport {
    /// (tier, services, services meeting every check of their tier)
    pub tiers: Vec<(Tier, u32, u32)>,
    /// (check id, title, services missing it), most often missing first.
    pub most_missing: Vec<(String, String, u32)>,
    pub squads: Vec<SquadReadiness>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SquadReadiness {
    pub name: String,
    pub display_name: String,
    pub services: u32,
    pub ready: u32,
    pub score: Score,
}
