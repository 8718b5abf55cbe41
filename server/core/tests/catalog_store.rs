//! The catalog store on both backends: every test runs on SQLite and on PostgreSQL.

use console_core::audit;
use console_core::catalog::fixture::synthetic_org;
use console_core::catalog::ingest::{self, ImportError};
use console_core::catalog::repo;
use console_core::catalog::*;
use console_core::store::{testing, Store};
use std::future::Future;

/// Runs `test` on a fresh in-memory SQLite store and a fresh PostgreSQL database.
async fn on_both<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    test(testing::sqlite().await).await;
    let pg = testing::postgres().await;
    test(pg.store.clone()).await;
    pg.drop().await;
}

fn query(text: &str) -> CatalogQuery {
    CatalogQuery { text: text.into(), page: 1, ..Default::default() }
}

#[tokio::test]
async fn search_filters_and_pages() {
    on_both(|store| async move {
        ingest::replace_all(&store, &synthetic_org(10, 240)).await.unwrap();

        let all = repo::search(&store, &query("")).await.unwrap();
        assert_eq!(all.total, 240);
        assert_eq!(all.services.len(), 50);
        assert_eq!(all.page_count(), 5);
        assert_eq!(all.services[0].name, "svc-00000-payments");

        let last = repo::search(&store, &CatalogQuery { page: 5, ..query("") }).await.unwrap();
        assert_eq!(last.services.len(), 40);
        let beyond = repo::search(&store, &CatalogQuery { page: 9, ..query("") }).await.unwrap();
        assert!(beyond.services.is_empty());
        assert_eq!(beyond.total, 240);

        // Text matches name, description, tags and squad, case-insensitively.
        let ledger = repo::search(&store, &query("LEDGER")).await.unwrap();
        assert_eq!(ledger.total, 15);
        assert!(ledger.services.iter().all(|s| s.name.contains("ledger")));

        let tier1 = Tier::new(1).unwrap();
        let q = CatalogQuery {
            tier: Some(tier1),
            lifecycle: Some(Lifecycle::Production),
            squad: Some("squad-004".into()),
            ..query("")
        };
        let page = repo::search(&store, &q).await.unwrap();
        assert!(page.total > 0);
        assert!(page.services.iter().all(|s| s.tier == tier1
            && s.lifecycle == Lifecycle::Production
            && s.squad == "squad-004"));

        let ready = repo::search(
            &store,
            &CatalogQuery { readiness: Some(ReadinessFilter::Ready), ..query("") },
        )
        .await
        .unwrap();
        let not_ready = repo::search(
            &store,
            &CatalogQuery { readiness: Some(ReadinessFilter::NotReady), ..query("") },
        )
        .await
        .unwrap();
        assert_eq!(ready.total + not_ready.total, 240);
        assert!(ready.services.iter().all(|s| s.readiness.is_ready()));
        assert!(not_ready.services.iter().all(|s| !s.readiness.is_ready()));
    })
    .await;
}

#[tokio::test]
async fn search_text_is_only_ever_text() {
    on_both(|store| async move {
        ingest::replace_all(&store, &synthetic_org(2, 20)).await.unwrap();
        for hostile in ["%", "_", "\\", "'; DROP TABLE services; --", "' OR '1'='1", "svc-0000_"] {
            let page = repo::search(&store, &query(hostile)).await.unwrap();
            assert_eq!(page.total, 0, "{hostile:?} matched something");
        }
        assert_eq!(repo::service_count(&store).await.unwrap(), 20);
        // Control characters are dropped, never sent to the database (SQLite would cut at NUL).
        assert_eq!(repo::search(&store, &query("svc\u{0}-0001\u{7}")).await.unwrap().total, 10);
        // A real substring still matches.
        assert_eq!(repo::search(&store, &query("svc-0001")).await.unwrap().total, 10);
    })
    .await;
}

#[tokio::test]
async fn squad_page_rolls_up_readiness() {
    on_both(|store| async move {
        ingest::replace_all(&store, &synthetic_org(3, 30)).await.unwrap();
        let page = repo::squad_page(&store, "squad-001").await.unwrap().unwrap();
        assert_eq!(page.services.len(), 10);
        assert_eq!(page.squad.members.len(), 3);
        let sum = page.services.iter().fold(Score::default(), |a, s| a.plus(s.readiness));
        assert_eq!(page.readiness, sum);
        assert!(page.readiness.required > page.readiness.met);
        // Most critical first.
        assert_eq!(page.services[0].tier.number(), 1);

        let squads = repo::squads(&store).await.unwrap();
        assert_eq!(squads.len(), 3);
        assert_eq!(squads[1].services, 10);
        assert_eq!(squads[1].readiness, page.readiness);

        assert!(repo::squad_page(&store, "nobody").await.unwrap().is_none());
        assert_eq!(
            console_core::auth::people::squads_of(&store, "dev-001-2").await.unwrap(),
            ["squad-001"]
        );
    })
    .await;
}

#[tokio::test]
async fn service_page_explains_readiness() {
    on_both(|store| async move {
        let mut org = synthetic_org(1, 4);
        org.services[0].attestations.push(Attestation {
            check: "backups".into(),
            by: "dev-000-1".into(),
            at: "2026-11-01".into(),
        });
        ingest::replace_all(&store, &org).await.unwrap();
        let page = repo::service_page(&store, "svc-00000-payments").await.unwrap().unwrap();
        assert_eq!(page.service, org.services[0]);
        assert_eq!(page.readiness.tier.number(), 1);
        assert_eq!(page.readiness.checks.len(), 24);
        let backups = page.readiness.checks.iter().find(|c| c.check.id == "backups").unwrap();
        assert_eq!(backups.because, "attested by dev-000-1 on 2026-11-01");
        // The stored score agrees with the one computed for the page.
        let row = repo::search(&store, &query("svc-00000")).await.unwrap();
        assert_eq!(row.services[0].readiness, page.readiness.score);
        assert!(repo::service_page(&store, "nope").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn a_bad_import_changes_nothing() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "squad.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: core\nspec:\n  type: team\n  members: [a, b]\n",
        );
        write(
            "ok.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: api\n  annotations:\n    console.dev/tier: '2'\nspec:\n  type: service\n  lifecycle: production\n  owner: core\n",
        );
        let summary = ingest::import_dir(&store, dir.path()).await.unwrap();
        assert_eq!((summary.squads(), summary.services()), (1, 1));

        // One good new file and one bad one: nothing of the batch lands.
        write(
            "new.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: worker\n  annotations:\n    console.dev/tier: '3'\nspec:\n  type: service\n  lifecycle: production\n  owner: core\n",
        );
        write("bad.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\n  annotations:\n    console.dev/tier: '5'\nspec: {type: service, lifecycle: production, owner: core}\n");
        match ingest::import_dir(&store, dir.path()).await {
            Err(ImportError::Invalid(problems)) => {
                assert_eq!(problems.len(), 1, "{problems:?}");
                assert_eq!(problems[0].file, "bad.yaml");
                assert_eq!(problems[0].line, 6);
            }
            other => panic!("expected problems, got {other:?}"),
        }
        assert_eq!(repo::service_count(&store).await.unwrap(), 1);
        assert!(repo::service(&store, "worker").await.unwrap().is_none());

        // A batch the store itself rejects mid-way is rolled back too.
        let mut broken = synthetic_org(1, 3);
        broken.services[2].squad = "ghost".into();
        assert!(ingest::replace_all(&store, &broken).await.is_err());
        assert_eq!(repo::service_count(&store).await.unwrap(), 1);
        assert!(repo::service(&store, "api").await.unwrap().is_some());
    })
    .await;
}

#[tokio::test]
async fn the_readiness_report_counts_by_tier_check_and_squad() {
    on_both(|store| async move {
        ingest::replace_all(&store, &synthetic_org(3, 40)).await.unwrap();
        let report = repo::readiness_report(&store).await.unwrap();
        assert_eq!(report.tiers.iter().map(|t| t.1).sum::<u32>(), 40);
        let all = repo::search(&store, &query("")).await.unwrap();
        let ready = repo::search(
            &store,
            &CatalogQuery { readiness: Some(ReadinessFilter::Ready), ..query("") },
        )
        .await
        .unwrap();
        assert_eq!(report.tiers.iter().map(|t| t.2).sum::<u32>() as u64, ready.total);
        assert_eq!(all.total, 40);
        // Nothing is attested in the synthetic org, so an attested tier-4 check is missing everywhere.
        let first = &report.most_missing[0];
        assert_eq!(first.2, 40, "{:?}", report.most_missing);
        assert_eq!(report.squads.len(), 3);
        assert_eq!(report.squads.iter().map(|s| s.services).sum::<u32>(), 40);
    })
    .await;
}

#[tokio::test]
async fn the_audit_event_log_is_append_only() {
    on_both(|store| async move {
        sqlx::query("INSERT INTO audit_events (at, kind, actor, entity, target, sql_text, outcome) VALUES (1, 'query.finished', 'maria', 's', 'r', 'SELECT 1', 'allowed')")
            .execute(store.pool())
            .await
            .unwrap();
        let update = sqlx::query("UPDATE audit_events SET sql_text = 'nothing to see'").execute(store.pool()).await;
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = sqlx::query("DELETE FROM audit_events").execute(store.pool()).await;
        assert!(delete.unwrap_err().to_string().contains("append-only"));
        // PostgreSQL's TRUNCATE fires no row trigger: a statement trigger refuses it (SQLite has none).
        if store.backend() == console_core::store::Backend::Postgres {
            let truncate = sqlx::query("TRUNCATE audit_events").execute(store.pool()).await;
            assert!(truncate.unwrap_err().to_string().contains("append-only"));
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(store.pool()).await.unwrap();
        assert_eq!(n, 1);
    })
    .await;
}

const SQUAD: &str = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: core\nspec:\n  type: team\n  members: [maria]\n";

fn component(name: &str, description: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  description: {description}\n  annotations:\n    console.dev/tier: '2'\nspec:\n  type: service\n  lifecycle: production\n  owner: core\n"
    )
}

/// What squads enter in the console survives the import at every restart: an attestation, and an
/// edit of a descriptor field (an override, until Git changes that field).
#[tokio::test]
async fn an_import_keeps_what_the_console_owns() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("squad.yaml", SQUAD);
        write("api.yaml", &component("api", "From Git"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        let check = repo::checks(&store)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.evidence == readiness::Evidence::Attested && c.tier >= 2)
            .unwrap()
            .id;
        repo::attest(&store, "api", &check, Some(("maria", "2026-12-01"))).await.unwrap();
        let before = repo::service(&store, "api").await.unwrap().unwrap();
        let edit = repo::ServiceEdit {
            description: "Edited in the console".into(),
            tier: before.tier,
            lifecycle: before.lifecycle,
            runbook: "https://runbooks.example.com/api".into(),
            slo: String::new(),
        };
        assert!(repo::update_service(&store, "api", &edit, "maria").await.unwrap());

        // The console restarts and imports the same descriptors.
        let summary = ingest::import_dir(&store, dir.path()).await.unwrap();
        assert_eq!((summary.services_kept, summary.overrides_dropped), (1, 0));
        let after = repo::service(&store, "api").await.unwrap().unwrap();
        assert_eq!(after.description, "Edited in the console");
        assert_eq!(after.runbook, "https://runbooks.example.com/api");
        assert!(
            after.attestations.iter().any(|a| a.check == check && a.by == "maria"),
            "{:?}",
            after.attestations
        );
        let overrides =
            console_core::catalog::overrides::overrides_of(&store, "api").await.unwrap();
        assert_eq!(overrides.len(), 2, "{overrides:?}");
        assert!(overrides.contains(&(
            "description".into(),
            "Edited in the console".into(),
            "From Git".into(),
            "maria".into()
        )));

        // Git changes the description: Git's new value counts; the runbook edit stays.
        write("api.yaml", &component("api", "Rewritten in Git"));
        let summary = ingest::import_dir(&store, dir.path()).await.unwrap();
        assert_eq!(summary.overrides_dropped, 1);
        let after = repo::service(&store, "api").await.unwrap().unwrap();
        assert_eq!(after.description, "Rewritten in Git");
        assert_eq!(after.runbook, "https://runbooks.example.com/api");
        assert!(after.attestations.iter().any(|a| a.check == check));
        // Setting a field back to Git's value clears its override.
        let back = repo::ServiceEdit {
            runbook: String::new(),
            description: after.description.clone(),
            ..edit
        };
        repo::update_service(&store, "api", &back, "maria").await.unwrap();
        assert!(console_core::catalog::overrides::overrides_of(&store, "api")
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

/// An empty batch, or one that would remove more than the allowed share, changes nothing unless
/// pruning is asked for; a dry run says what would change and writes nothing.
#[tokio::test]
async fn an_import_that_would_remove_too_much_is_refused() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("squad.yaml", SQUAD);
        for i in 0..10 {
            write(&format!("svc{i}.yaml"), &component(&format!("svc-{i}"), "x"));
        }
        ingest::import_dir(&store, dir.path()).await.unwrap();
        let empty = tempfile::tempdir().unwrap();
        match ingest::import_dir(&store, empty.path()).await {
            Err(ImportError::Refused(why)) => {
                assert!(why.contains("no squad and no service"), "{why}")
            }
            other => panic!("an empty batch must be refused: {other:?}"),
        }
        assert_eq!(repo::service_count(&store).await.unwrap(), 10);

        // One of ten removed: within the share.
        std::fs::remove_file(dir.path().join("svc9.yaml")).unwrap();
        let summary = ingest::import_dir(&store, dir.path()).await.unwrap();
        assert_eq!(summary.services_removed, ["svc-9"]);
        // Then two of nine: refused, naming them.
        for i in [7, 8] {
            std::fs::remove_file(dir.path().join(format!("svc{i}.yaml"))).unwrap();
        }
        match ingest::import_dir(&store, dir.path()).await {
            Err(ImportError::Refused(why)) => assert!(
                why.contains("2 of 9") && why.contains("svc-7") && why.contains("svc-8"),
                "{why}"
            ),
            other => panic!("expected a refusal: {other:?}"),
        }
        assert_eq!(repo::service_count(&store).await.unwrap(), 9);
        let dry = ingest::import_dir_with(
            &store,
            empty.path(),
            ingest::ImportOptions { prune: true, dry_run: true, ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(
            (dry.services_removed.len(), dry.squads_removed.len(), dry.dry_run),
            (9, 1, true)
        );
        assert_eq!(repo::service_count(&store).await.unwrap(), 9, "a dry run changes nothing");
        let pruned = ingest::import_dir_with(
            &store,
            dir.path(),
            ingest::ImportOptions { prune: true, ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(pruned.services_removed, ["svc-7", "svc-8"]);
        assert_eq!(repo::service_count(&store).await.unwrap(), 7);
    })
    .await;
}

/// The tier is not the owners' to lower: an SRE's tier set in the console stays when the owners
/// make the descriptor less critical, and yields when Git is at least as critical.
#[tokio::test]
async fn an_sres_tier_survives_git_lowering_it() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("squad.yaml", SQUAD);
        write("api.yaml", &component("api", "x"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        let before = repo::service(&store, "api").await.unwrap().unwrap();
        let raise = repo::ServiceEdit {
            description: before.description.clone(),
            tier: Tier::ALL[0],
            lifecycle: before.lifecycle,
            runbook: String::new(),
            slo: String::new(),
        };
        repo::update_service(&store, "api", &raise, "sre").await.unwrap();
        write(
            "api.yaml",
            &component("api", "x").replace("console.dev/tier: '2'", "console.dev/tier: '4'"),
        );
        ingest::import_dir(&store, dir.path()).await.unwrap();
        assert_eq!(
            repo::service(&store, "api").await.unwrap().unwrap().tier,
            Tier::ALL[0],
            "Git lowering it does not undo the SRE's tier"
        );
        write(
            "api.yaml",
            &component("api", "x").replace("console.dev/tier: '2'", "console.dev/tier: '1'"),
        );
        let summary = ingest::import_dir(&store, dir.path()).await.unwrap();
        assert_eq!(summary.overrides_dropped, 1);
        assert_eq!(repo::service(&store, "api").await.unwrap().unwrap().tier, Tier::ALL[0]);
        assert!(console_core::catalog::overrides::overrides_of(&store, "api")
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

/// A check attested in Git and withdrawn in the console stays withdrawn at the next import,
/// until Git attests it again later.
#[tokio::test]
async fn a_withdrawal_in_the_console_outlasts_an_older_git_attestation() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("squad.yaml", SQUAD);
        let check = repo::checks(&store)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.evidence == readiness::Evidence::Attested && c.tier >= 2)
            .unwrap()
            .id;
        let attested = |date: &str| {
            component("api", "x").replace(
                "    console.dev/tier: '2'\n",
                &format!(
                    "    console.dev/tier: '2'\n    console.dev/attest-{check}: \"joao {date}\"\n"
                ),
            )
        };
        write("api.yaml", &attested("2026-01-10"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        let has = |s: &Service| s.attestations.iter().any(|a| a.check == check);
        assert!(has(&repo::service(&store, "api").await.unwrap().unwrap()));
        repo::attest(&store, "api", &check, None).await.unwrap();
        assert!(!has(&repo::service(&store, "api").await.unwrap().unwrap()));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        assert!(
            !has(&repo::service(&store, "api").await.unwrap().unwrap()),
            "the older Git attestation does not come back"
        );
        write("api.yaml", &attested("2099-01-01"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        assert!(
            has(&repo::service(&store, "api").await.unwrap().unwrap()),
            "a later one in Git counts"
        );
    })
    .await;
}

fn backstage_example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/backstage-example")
}

/// Copies a fixture tree into a fresh directory, so a test can add to it.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A tree in the shape of Backstage's example catalog imports with no edits, and what lands is
/// checked one by one: groups with their parents, users as members, components of several types
/// and namespaces, one owned by a person, systems, a domain, APIs with providers and consumers,
/// a resource, the edges between them, a Location, a Template and an OpenAPI file.
#[tokio::test]
async fn backstages_example_catalog_moves_in_unchanged() {
    on_both(|store| async move {
        let summary = ingest::import_dir(&store, &backstage_example()).await.unwrap();
        assert_eq!(summary.skipped, 1, "the Template");
        assert_eq!((summary.locations_followed, summary.locations_skipped), (4, 2), "{summary:?}");
        assert!(summary.warnings.iter().any(|w| w.starts_with("openapi/artist-api.yaml:1") && w.contains("not a catalog descriptor")), "{:#?}", summary.warnings);
        assert!(summary.warnings.iter().any(|w| w.contains("../shared/components.yaml") && w.contains("outside the catalog directory")), "{:#?}", summary.warnings);
        assert_eq!(summary.entities, [("api".to_string(), 2), ("domain".into(), 1), ("resource".into(), 1), ("system".into(), 3)]);
        // Owners that name nothing are kept dangling, each with a warning (dangling.yaml).
        assert_eq!(summary.warnings.iter().filter(|w| w.contains("kept as a dangling owner")).count(), 4, "{:#?}", summary.warnings);

        // Groups, with the hierarchy kept.
        let squads: Vec<(String, String, String)> = sqlx::query_as("SELECT name, parent, group_type FROM squads ORDER BY name").fetch_all(store.pool()).await.unwrap();
        let expected = [
            ("acme-corp", "", "organization"),
            ("backstage", "infrastructure", "sub-department"),
            ("boxoffice", "infrastructure", "sub-department"),
            ("guests", "", "team"),
            ("infrastructure", "acme-corp", "department"),
            ("team-a", "backstage", "team"),
            ("team-b", "backstage", "team"),
        ];
        assert_eq!(squads, expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
        // Members from the Users' memberOf; nothing inherited up the tree.
        let members = |squad: &'static str| { let store = store.clone(); async move { repo::squad(&store, squad).await.unwrap().unwrap().members } };
        assert_eq!(members("team-a").await, ["breanna.davison", "janelle.dawe"]);
        assert_eq!(members("team-b").await, ["nigel.manning"]);
        assert_eq!(members("guests").await, ["guest"]);
        assert!(members("backstage").await.is_empty());
        assert_eq!(console_core::auth::people::squads_of(&store, "breanna.davison").await.unwrap(), ["team-a"]);
        let email: String = sqlx::query_scalar("SELECT email FROM people WHERE name = 'nigel.manning'").fetch_one(store.pool()).await.unwrap();
        assert_eq!(email, "nigel-manning@example.com");

        // Components: one name in two namespaces, a library, one a person owns.
        let services: Vec<(String, String, String, String, String)> =
            sqlx::query_as("SELECT name, COALESCE(squad, ''), owner_person, dangling_owner, component_type FROM services ORDER BY name").fetch_all(store.pool()).await.unwrap();
        let expected = [
            ("artist-client", "team-a", "", "", "library"),
            ("artist-lookup", "team-a", "", "", "service"),
            ("artist-web", "team-a", "", "", "website"),
            ("example-website", "", "guest", "", "website"),
            ("inpixon-indoor", "", "", "group:inpixon", "service"),
            ("sandbox-playground", "team-a", "", "", "service"),
            ("search", "team-b", "", "", "service"),
            ("sre-tools", "", "", "group:sre", "service"),
            ("visitor-site", "", "", "user:visitor", "website"),
            ("wayback/search", "team-b", "", "", "service"),
        ];
        assert_eq!(services, expected.map(|(a, b, c, d, e)| (a.to_string(), b.to_string(), c.to_string(), d.to_string(), e.to_string())));
        let page = repo::service_page(&store, "example-website").await.unwrap().unwrap();
        let owner = page.readiness.checks.iter().find(|c| c.check.id == "owner").unwrap();
        assert!(!owner.met && owner.because.contains("guest"), "{owner:?}");
        let library = repo::service_page(&store, "artist-client").await.unwrap().unwrap();
        assert!(library.readiness.checks.iter().all(|c| c.check.id != "uptime-monitor"), "a library has no uptime to monitor");
        let wayback = repo::service(&store, "wayback/search").await.unwrap().unwrap();
        assert_eq!(wayback.workloads.label_selector, "backstage.io/kubernetes-id=search");
        assert_eq!(wayback.source, "entities.yaml:70", "the file and line of its name, to change");

        // Systems, domain, APIs, resource, and every edge.
        let entities: Vec<(String, String, String)> = sqlx::query_as("SELECT kind, key, owner FROM catalog_entities ORDER BY kind, key").fetch_all(store.pool()).await.unwrap();
        let expected = [
            ("api", "artist-api", "group:team-a"),
            ("api", "example-grpc-api", "group:guests"),
            ("domain", "artists", "group:team-a"),
            ("resource", "artists-db", "group:team-a"),
            ("system", "artist-engagement-portal", "group:team-a"),
            ("system", "indoor-maps", "group:inpixon"),
            ("system", "wayback/podcast", "group:team-b"),
        ];
        assert_eq!(entities, expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
        let edges: Vec<(String, String, String, String, String)> =
            sqlx::query_as("SELECT from_kind, from_key, relation, to_kind, to_key FROM catalog_relations ORDER BY from_kind, from_key, relation, to_key").fetch_all(store.pool()).await.unwrap();
        let expected = [
            ("api", "artist-api", "partOf", "system", "artist-engagement-portal"),
            ("component", "artist-client", "consumesApi", "api", "artist-api"),
            ("component", "artist-client", "subcomponentOf", "component", "artist-lookup"),
            ("component", "artist-lookup", "dependsOn", "resource", "artists-db"),
            ("component", "artist-lookup", "dependsOn", "component", "wayback/search"),
            ("component", "artist-lookup", "partOf", "system", "artist-engagement-portal"),
            ("component", "artist-lookup", "providesApi", "api", "artist-api"),
            ("component", "artist-web", "consumesApi", "api", "artist-api"),
            ("component", "artist-web", "dependsOn", "component", "artist-lookup"),
            ("component", "artist-web", "partOf", "system", "artist-engagement-portal"),
            ("component", "example-website", "providesApi", "api", "example-grpc-api"),
            ("component", "wayback/search", "partOf", "system", "wayback/podcast"),
            ("resource", "artists-db", "partOf", "system", "artist-engagement-portal"),
            ("system", "artist-engagement-portal", "partOf", "domain", "artists"),
        ];
        assert_eq!(edges, expected.map(|(a, b, c, d, e)| (a.to_string(), b.to_string(), c.to_string(), d.to_string(), e.to_string())));

        // The pages read them both ways; a tier 1 service leaning on a tier 4 one is flagged.
        let web = repo::service_page(&store, "artist-web").await.unwrap().unwrap();
        let lookup = web.related.iter().find(|l| l.relation == "depends on").unwrap();
        assert_eq!((lookup.key.as_str(), lookup.tier.map(|t| t.number()), lookup.weak), ("artist-lookup", Some(4), true));
        let lookup_page = repo::service_page(&store, "artist-lookup").await.unwrap().unwrap();
        let shown: Vec<(&str, &str)> = lookup_page.related.iter().map(|l| (l.relation.as_str(), l.key.as_str())).collect();
        for edge in [("depended on by", "artist-web"), ("depends on", "wayback/search"), ("depends on", "artists-db"), ("provides API", "artist-api"), ("has subcomponent", "artist-client"), ("part of", "artist-engagement-portal")] {
            assert!(shown.contains(&edge), "{edge:?} not in {shown:?}");
        }
        let system = repo::entity_page(&store, EntityKind::System, "artist-engagement-portal").await.unwrap().unwrap();
        let mut parts: Vec<&str> = system.related.iter().filter(|l| l.relation == "has part").map(|l| l.key.as_str()).collect();
        parts.sort();
        assert_eq!(parts, ["artist-api", "artist-lookup", "artist-web", "artists-db"]);
        assert!(system.related.iter().any(|l| l.relation == "part of" && l.key == "artists" && l.known));
        let api = repo::entity_page(&store, EntityKind::Api, "artist-api").await.unwrap().unwrap();
        let consumers: Vec<&str> = api.related.iter().filter(|l| l.relation == "consumed by").map(|l| l.key.as_str()).collect();
        assert_eq!(consumers, ["artist-client", "artist-web"]);

        // Department roll-up: everything its groups own, no ownership inherited.
        let department = repo::squad_page(&store, "infrastructure").await.unwrap().unwrap();
        assert!(department.services.is_empty());
        assert_eq!(department.children.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["backstage", "boxoffice"]);
        assert_eq!(department.subtree_services, 6, "with sandbox-playground of team-a");

        // Imported again: nothing changes.
        let again = ingest::import_dir(&store, &backstage_example()).await.unwrap();
        assert_eq!((again.services_added.len(), again.services_removed.len(), again.services_kept), (0, 0, 10));
        // With the repository's URL template, the file to change is a link to its line.
        let template = "https://git.example.com/org/catalog/blob/main/{path}#L{line}".to_string();
        let linked = ingest::import_dir_with(&store, &backstage_example(), ingest::ImportOptions { source_url: template, ..Default::default() }).await.unwrap();
        assert_eq!(linked.services_changed.len(), 10, "each service's source is now a URL");
        let wayback = repo::service(&store, "wayback/search").await.unwrap().unwrap();
        assert_eq!(wayback.source, "https://git.example.com/org/catalog/blob/main/entities.yaml#L70");
        let db = repo::entity_page(&store, EntityKind::Resource, "artists-db").await.unwrap().unwrap();
        assert!(db.entity.source.starts_with("https://git.example.com/org/catalog/blob/main/entities.yaml#L"), "{}", db.entity.source);
    })
    .await;
}

/// The same tree with one invalid Component: refused as a whole, naming file, line and field;
/// `--skip-invalid` imports the rest.
#[tokio::test]
async fn backstages_example_with_an_invalid_component_is_refused_or_imported_without_it() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&backstage_example(), dir.path());
        std::fs::copy(
            backstage_example().join("../backstage-invalid-component.yaml"),
            dir.path().join("broken.yaml"),
        )
        .unwrap();
        match ingest::import_dir(&store, dir.path()).await {
            Err(ImportError::Invalid(problems)) => {
                let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                assert_eq!(shown.len(), 1, "{shown:?}");
                assert!(shown[0].starts_with("broken.yaml:4: metadata.name: "), "{shown:?}");
            }
            other => panic!("expected the batch refused, got {other:?}"),
        }
        assert_eq!(repo::service_count(&store).await.unwrap(), 0, "nothing stored");
        let options = ingest::ImportOptions { skip_invalid: true, ..Default::default() };
        let summary = ingest::import_dir_with(&store, dir.path(), options).await.unwrap();
        assert_eq!(summary.services(), 10);
        assert_eq!(summary.invalid.len(), 1, "{:?}", summary.invalid);
        assert_eq!(repo::service_count(&store).await.unwrap(), 10, "the broken one is not stored");
    })
    .await;
}

/// A service whose descriptor turns invalid is kept as it was under `--skip-invalid`, the
/// attestations written in Git included: a typo does not withdraw them.
#[tokio::test]
async fn a_service_whose_descriptor_turns_invalid_keeps_its_git_attestations() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("squad.yaml", SQUAD);
        let attested = component("api", "From Git").replace(
            "    console.dev/tier: '2'\n",
            "    console.dev/tier: '2'\n    console.dev/attest-backups: \"maria 2026-10-01\"\n",
        );
        write("api.yaml", &attested);
        write("web.yaml", &component("web", "Stays valid"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        assert_eq!(repo::service(&store, "api").await.unwrap().unwrap().attestations.len(), 1);

        // A typo Backstage rejects too (a free-form lifecycle is no longer one).
        write("api.yaml", &attested.replace("console.dev/tier: '2'", "console.dev/tier: '9'"));
        let options = ingest::ImportOptions { skip_invalid: true, ..Default::default() };
        let summary = ingest::import_dir_with(&store, dir.path(), options).await.unwrap();
        assert_eq!(summary.invalid.len(), 1, "{summary:?}");
        assert!(summary.services_removed.is_empty());
        let api = repo::service(&store, "api").await.unwrap().unwrap();
        assert_eq!(api.attestations.iter().map(|a| a.by.as_str()).collect::<Vec<_>>(), ["maria"]);
    })
    .await;
}

/// A removed service keeps its audit, keyed on its uid: a new service reusing the name starts
/// with no reads of its own.
#[tokio::test]
async fn a_new_service_reusing_a_name_does_not_inherit_its_audit() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("squad.yaml", SQUAD);
        write("api.yaml", &component("api", "The first api"));
        write("web.yaml", &component("web", "Stays"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        let read = audit::Event {
            kind: audit::LOGS_READ,
            actor: "maria".into(),
            entity: "api".into(),
            detail: "since=1h".into(),
            ..Default::default()
        };
        audit::append(&store, &read).await.unwrap();
        assert_eq!(audit::reads_of(&store, "api", 10).await.unwrap().len(), 1);

        std::fs::remove_file(dir.path().join("api.yaml")).unwrap();
        let options = ingest::ImportOptions { prune: true, ..Default::default() };
        assert_eq!(
            ingest::import_dir_with(&store, dir.path(), options).await.unwrap().services_removed,
            ["api"]
        );
        let (kept, uid): (i64, String) = sqlx::query_as(
            "SELECT COUNT(*), MAX(entity_uid) FROM audit_events WHERE entity = 'api'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(kept, 1, "the removed service's audit stays");
        assert_eq!(uid.len(), 32);

        write("api.yaml", &component("api", "A new api reusing the name"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        assert!(
            audit::reads_of(&store, "api", 10).await.unwrap().is_empty(),
            "the new api inherited the old one's reads"
        );
    })
    .await;
}

/// A service moved to a namespace by its owners is the same service: its console attestations,
/// overrides, replicas, grants and audit go with it. A service removed for good takes its
/// replicas and grants with it, so a new service reusing the name gets neither.
#[tokio::test]
async fn a_moved_service_keeps_its_console_data_and_a_removed_one_takes_its_access() {
    on_both(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("squad.yaml", SQUAD);
        write("api.yaml", &component("api", "From Git"));
        write("web.yaml", &component("web", "Stays"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        repo::attest(&store, "api", "backups", Some(("maria", "2026-12-01"))).await.unwrap();
        let replica = "INSERT INTO replicas (id, service, name, engine, url, created_by, created_at) VALUES ($1, $2, 'main', 'postgres', 'postgres://db/x', 'sre', 0)";
        sqlx::query(replica).bind("r-api").bind("api").execute(store.pool()).await.unwrap();
        sqlx::query(replica).bind("r-web").bind("web").execute(store.pool()).await.unwrap();
        let grant = "INSERT INTO access_grants (id, grantee, service, access, reason, granted_by, created_at, expires_at) VALUES ($1, 'arjun', $2, 'query', 'incident', 'sre', 0, 99999999999)";
        sqlx::query(grant).bind("g-web").bind("web").execute(store.pool()).await.unwrap();
        sqlx::query(grant).bind("g-api").bind("api").execute(store.pool()).await.unwrap();
        let before = repo::service(&store, "api").await.unwrap().unwrap();
        let edit = repo::ServiceEdit { description: "Edited in the console".into(), tier: before.tier, lifecycle: before.lifecycle, runbook: String::new(), slo: String::new() };
        assert!(repo::update_service(&store, "api", &edit, "maria").await.unwrap());
        let uid: String = sqlx::query_scalar("SELECT uid FROM services WHERE name = 'api'").fetch_one(store.pool()).await.unwrap();

        // The owners put api in a namespace: one move, nothing lost.
        write("api.yaml", &component("api", "From Git").replace("  name: api\n", "  name: api\n  namespace: core\n").replace("owner: core", "owner: group:default/core"));
        let summary = ingest::import_dir(&store, dir.path()).await.unwrap();
        assert_eq!(summary.services_moved, [("api".to_string(), "core/api".to_string())]);
        assert!(summary.services_removed.is_empty() && summary.services_added.is_empty(), "{summary:?}");
        let moved = repo::service(&store, "core/api").await.unwrap().unwrap();
        assert!(moved.attestations.iter().any(|a| a.check == "backups" && a.by == "maria"), "{:?}", moved.attestations);
        let (replica_service, moved_uid): (String, String) =
            sqlx::query_as("SELECT r.service, s.uid FROM replicas r JOIN services s ON s.name = r.service WHERE r.id = 'r-api'").fetch_one(store.pool()).await.unwrap();
        assert_eq!((replica_service.as_str(), moved_uid.as_str()), ("core/api", uid.as_str()));
        assert!(repo::service(&store, "api").await.unwrap().is_none());
        let overrides = console_core::catalog::overrides::overrides_of(&store, "core/api").await.unwrap();
        assert!(overrides.iter().any(|o| o.0 == "description" && o.1 == "Edited in the console"), "the override moved: {overrides:?}");
        assert_eq!(moved.description, "Edited in the console");
        let grant: (String, Option<i64>) = sqlx::query_as("SELECT service, revoked_at FROM access_grants WHERE id = 'g-api'").fetch_one(store.pool()).await.unwrap();
        assert_eq!(grant, ("core/api".to_string(), None), "the grant moved, still live");

        // web is removed: its replica and its grant end with it; a new web starts bare.
        std::fs::remove_file(dir.path().join("web.yaml")).unwrap();
        let summary = ingest::import_dir_with(&store, dir.path(), ingest::ImportOptions { prune: true, ..Default::default() }).await.unwrap();
        assert_eq!((summary.replicas_removed, summary.grants_ended), (1, 1));
        write("web.yaml", &component("web", "A new web"));
        ingest::import_dir(&store, dir.path()).await.unwrap();
        let replicas: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas WHERE service = 'web'").fetch_one(store.pool()).await.unwrap();
        let live_grants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM access_grants WHERE service = 'web' AND revoked_at IS NULL").fetch_one(store.pool()).await.unwrap();
        assert_eq!((replicas, live_grants), (0, 0));
    })
    .await;
}
