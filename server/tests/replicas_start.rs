//! Several replicas starting at once on one PostgreSQL store: they migrate and seed without
//! tripping over each other and import the catalog directory once (a limiter lease: one at a
//! time); the next start skips files already imported.

mod common;
use console::start::{start, StartImport};
use console_core::store::testing;

fn config(url: &str) -> console::config::Config {
    let toml = format!(
        "database_url = {url:?}\ncatalog_dir = {:?}\nsite_root = \"target/site\"\n",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/catalog")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("console.toml");
    std::fs::write(&path, toml).unwrap();
    console::config::Config::load(Some(&path), std::iter::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_started_together_import_once() {
    let db = testing::postgres().await;
    let url = db.url.clone();
    let (c1, c2, c3) = (config(&url), config(&url), config(&url));
    let (a, b, c) = tokio::join!(start(&c1), start(&c2), start(&c3));
    let mut outcomes: Vec<StartImport> =
        [a, b, c].into_iter().map(|c| c.expect("starts").import.expect("an import ran")).collect();
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        [StartImport::Imported, StartImport::Unchanged, StartImport::Unchanged],
        "one import, the others see the same files imported"
    );
    let services: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM services")
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    assert_eq!(services, 39);
    // A later start of unchanged files imports nothing.
    let again = start(&config(&url)).await.unwrap();
    assert_eq!(again.import, Some(StartImport::Unchanged));
    db.drop().await;
}
