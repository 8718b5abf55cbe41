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

/// A digest of every descriptor file under `dir` (paths and contents, in order), read as the
/// import reads them (nothing outside `dir`, each file bounded): the import at start skips a
/// directory whose digest it already imported. `None` when the directory has problems: the
/// import then runs and reports them.
pub fn fingerprint(dir: &std::path::Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for file in import::read_dir(dir).ok()? {
        hash.update(file.path.as_bytes());
        hash.update([0]);
        hash.update(file.text.as_bytes());
        hash.update([0]);
    }
    Some(format!("{:x}", hash.finalize()))
}

/// The digest last imported from `dir`, if any.
pub async fn last_imported(store: &Store, dir: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT fingerprint FROM catalog_imports WHERE dir = $1")
        .bind(dir)
        .fetch_optional(store.pool())
        .await?)
}

/// Records that `dir` was imported with `fingerprint`.
pub async fn record_imported(
    store: &Store,
    dir: &str,
    fingerprint: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO catalog_imports (dir, fingerprint, imported_at) VALUES ($1, $2, $3)
         ON CONFLICT (dir) DO UPDATE SET fingerprint = excluded.fingerprint, imported_at = excluded.imported_at",
    )
    .bind(dir)
    .bind(fingerprint)
    .bind(crate::dates::now())
    .execute(store.pool())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest reads what the import reads: a change shows, and a link out of the directory
    /// is not followed (no digest: the import runs and reports it).
    #[test]
    fn the_fingerprint_reads_only_what_the_import_reads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "kind: Group\n").unwrap();
        let first = fingerprint(dir.path()).unwrap();
        assert_eq!(fingerprint(dir.path()).unwrap(), first);
        std::fs::write(dir.path().join("a.yaml"), "kind: Group \n").unwrap();
        assert_ne!(fingerprint(dir.path()).unwrap(), first);
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.yaml"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.yaml"), dir.path().join("b.yaml"))
            .unwrap();
        assert_eq!(fingerprint(dir.path()), None);
    }
}
