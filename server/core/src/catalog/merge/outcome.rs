//! What an import may do (its options), what it did (its summary), and why one is refused.

use super::*;

/// How an import may change the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Remove what the descriptors no longer hold, however much (`console import --prune`).
    pub prune: bool,
    /// Say what would change; write nothing.
    pub dry_run: bool,
    /// Without `prune`, the largest share of stored services an import may remove (0–100).
    pub max_removed_percent: u32,
    /// The tier of a Component whose descriptor names none (with a warning).
    pub default_tier: Tier,
    /// Import the valid entities and report the rest (`--skip-invalid`, a first migration),
    /// instead of all or nothing.
    pub skip_invalid: bool,
    /// Where a descriptor file is shown when Git recorded no URL for it: a template with
    /// `{path}` and `{line}`, e.g. `https://git.example.com/org/catalog/blob/main/{path}#L{line}`.
    /// Empty: the path and line in the catalog directory.
    pub source_url: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            prune: false,
            dry_run: false,
            max_removed_percent: 10,
            default_tier: Tier::ALL[3],
            skip_invalid: false,
            source_url: String::new(),
        }
    }
}

/// What an import changed (or, in a dry run, would change), per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub squads_added: Vec<String>,
    pub squads_removed: Vec<String>,
    pub squads_kept: usize,
    pub services_added: Vec<String>,
    /// In the store and in the batch, with a row that changes (a descriptor field, a score).
    pub services_changed: Vec<String>,
    pub services_removed: Vec<String>,
    /// In the store and in the batch, unchanged.
    pub services_kept: usize,
    /// Moved to another namespace (old key, new key), with what the console holds for them.
    pub services_moved: Vec<(String, String)>,
    /// Replicas unregistered and grants ended with the services removed: a new service reusing
    /// a name gets neither.
    pub replicas_removed: u64,
    pub grants_ended: u64,
    /// Console edits dropped because Git changed the field they overrode.
    pub overrides_dropped: usize,
    pub people: usize,
    /// Descriptors of kinds the console does not model.
    pub skipped: usize,
    /// What was assumed or skipped, as `file:line: field: message`.
    pub warnings: Vec<String>,
    /// With `skip_invalid`: the problems of the entities left out.
    pub invalid: Vec<String>,
    pub dry_run: bool,
    /// Systems, Domains, APIs and Resources stored, per kind.
    pub entities: Vec<(String, usize)>,
    pub relations: usize,
    pub locations_followed: usize,
    pub locations_skipped: usize,
}

impl ImportSummary {
    pub fn squads(&self) -> usize {
        self.squads_added.len() + self.squads_kept
    }
    pub fn services(&self) -> usize {
        self.services_added.len()
            + self.services_moved.len()
            + self.services_changed.len()
            + self.services_kept
    }

    /// One line per kind, for the command line and the log.
    pub fn lines(&self) -> Vec<String> {
        let names = |list: &[String]| match list.len() {
            0 => String::new(),
            1..=10 => format!(": {}", list.join(", ")),
            n => format!(": {} … ({} more)", list[..10].join(", "), n - 10),
        };
        vec![
            format!("squads: {} added{}, {} removed{}, {} kept", self.squads_added.len(), names(&self.squads_added), self.squads_removed.len(), names(&self.squads_removed), self.squads_kept),
            format!(
                "services: {} added{}, {} changed{}, {} removed{}, {} unchanged",
                self.services_added.len(),
                names(&self.services_added),
                self.services_changed.len(),
                names(&self.services_changed),
                self.services_removed.len(),
                names(&self.services_removed),
                self.services_kept
            ),
            format!(
                "services moved to another namespace: {}{}; replicas unregistered and grants ended with removed services: {}, {}",
                self.services_moved.len(),
                if self.services_moved.is_empty() { String::new() } else { format!(": {}", self.services_moved.iter().map(|(a, b)| format!("{a} → {b}")).collect::<Vec<_>>().join(", ")) },
                self.replicas_removed,
                self.grants_ended
            ),
            format!("console edits dropped because Git changed the field: {}", self.overrides_dropped),
            format!("people: {}; descriptors of other kinds skipped: {}", self.people, self.skipped),
            format!(
                "{}; relations: {}; locations: {} followed, {} outside the catalog directory skipped",
                if self.entities.is_empty() { "no systems, domains, APIs or resources".to_string() } else { self.entities.iter().map(|(k, n)| format!("{k}: {n}")).collect::<Vec<_>>().join(", ") },
                self.relations,
                self.locations_followed,
                self.locations_skipped
            ),
            format!("invalid entities left out: {}", self.invalid.len()),
        ]
    }
}

/// Why an import changed nothing, besides invalid descriptors.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("the batch holds no squad and no service: importing it would remove the whole catalog ({stored} services); pass --prune if that is meant")]
    Empty { stored: usize },
    #[error("the batch would remove {removed} of {stored} services (more than {percent}%): {names}; pass --prune if that is meant")]
    TooManyRemoved { removed: usize, stored: usize, percent: u32, names: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for MergeError {
    fn from(e: sqlx::Error) -> Self {
        MergeError::Store(e.into())
    }
}
