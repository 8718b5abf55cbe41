//! Taking descriptors in: read a directory, validate, map lifecycles and sources with the
//! platform defaults, and merge (all or nothing) into the stored catalog.

use super::import::{self, Batch};
use super::merge::merge;
pub use super::merge::{ImportOptions, ImportSummary, MergeError};
use super::model::*;
use super::repo;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the catalog was not changed: {} problem(s) in the descriptors", .0.len())]
    Invalid(Vec<import::Problem>),
    /// Valid descriptors whose import would lose too much (an empty batch, a large removal).
    #[error("the catalog was not changed: {0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads, validates and merges every descriptor under `dir`, all or nothing, never pruning past
/// the default share.
pub async fn import_dir(
    store: &Store,
    dir: &std::path::Path,
) -> Result<ImportSummary, ImportError> {
    import_dir_with(store, dir, ImportOptions::default()).await
}

/// [`import_dir`] with its options (prune, dry run, the share an import may remove).
pub async fn import_dir_with(
    store: &Store,
    dir: &std::path::Path,
    options: ImportOptions,
) -> Result<ImportSummary, ImportError> {
    let files = import::read_dir(dir).map_err(ImportError::Invalid)?;
    let defaults = crate::defaults::repo::current(store).await?.1;
    let checks = defaults.readiness;
    let (mut batch, invalid) = if options.skip_invalid {
        import::parse_valid(&files, &checks, options.default_tier)
    } else {
        (
            import::parse_with(&files, &checks, options.default_tier)
                .map_err(ImportError::Invalid)?,
            vec![],
        )
    };
    // A lifecycle outside the three gets the guardrails the platform defaults map it to.
    for s in batch.services.iter_mut().filter(|s| !s.lifecycle_label.is_empty()) {
        if let Some(class) = defaults.lifecycles.get(&s.lifecycle_label) {
            s.lifecycle = *class;
        }
    }
    if !options.source_url.is_empty() {
        let sources = batch
            .services
            .iter_mut()
            .map(|s| &mut s.source)
            .chain(batch.entities.iter_mut().map(|e| &mut e.source));
        for source in sources {
            *source = source_url(&options.source_url, source);
        }
    }
    let mut summary = merge(store, &batch, &checks, options).await?;
    summary.invalid = invalid.iter().map(|p| p.to_string()).collect();
    Ok(summary)
}

/// `source` (`path:line` in the catalog directory) as a URL from `template`; a URL Git
/// recorded stays as it is.
fn source_url(template: &str, source: &str) -> String {
    if safe_href(source).is_some() {
        return source.to_string();
    }
    let (path, line) = source.rsplit_once(':').unwrap_or((source, "1"));
    let path: String = path.split('/').map(encode_component).collect::<Vec<_>>().join("/");
    template.replace("{path}", &path).replace("{line}", line)
}

/// Makes the stored catalog hold exactly `batch`, keeping what the console owns (a merge that may
/// remove anything: for tests, benchmarks and fixtures; imports go through [`import_dir_with`]).
pub async fn replace_all(store: &Store, batch: &Batch) -> Result<ImportSummary, ImportError> {
    let options = ImportOptions { prune: true, ..Default::default() };
    let checks = repo::checks(store).await?;
    merge(store, batch, &checks, options).await.map_err(ImportError::from)
}

impl From<MergeError> for ImportError {
    fn from(e: MergeError) -> Self {
        match e {
            MergeError::Store(e) => ImportError::Store(e),
            refused => ImportError::Refused(refused.to_string()),
        }
    }
}
