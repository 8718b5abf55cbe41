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

/// A digest of every descriptor file under `dir` (paths and contents, in order): the import at
/// start skips a directory whose digest it already imported.
pub fn fingerprint(dir: &std::path::Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.strip_prefix(dir).unwrap_or(&file).to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update(std::fs::read(&file)?);
        hash.update([0]);
    }
    Ok(format!("{:x}", hash.finalize()))
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
