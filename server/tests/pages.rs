//! The pages, rendered on the server by the real router.

mod common;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use tower::ServiceExt;

#[tokio::test]
async fn home_lists_squads_with_readiness() {
    let app = TestApp::demo().await;
    let (status, html) = app.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/squads/payments\""), "{html}");
    assert!(html.contains("Search &amp; Discovery"));
    assert!(html.contains("readiness checks met"));
}

#[tokio::test]
async fn catalog_searches_filters_and_pages() {
    let app = TestApp::demo().await;
    let (status, html) = app.get("/catalog?q=ledger").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/services/ledger\""));
    assert!(!html.contains("href=\"/services/cart\""));
    assert!(html.contains("1 services · page 1 of 1"));

    let (_, html) = app.get("/catalog?tier=1&lifecycle=production").await;
    assert!(html.contains("href=\"/services/payments-api\""));
    assert!(!html.contains("href=\"/services/refunds-ui\""), "tier 3 service shown under tier=1");

    let (_, html) = app.get("/catalog?squad=identity").await;
    assert!(html.contains("4 services"));
}

#[tokio::test]
async fn bad_input_is_a_clear_error_not_a_crash() {
    let app = TestApp::demo().await;
    for uri in [
        "/catalog?page=0",
        "/catalog?page=abc",
        "/catalog?page=-3",
        "/catalog?tier=5",
        "/catalog?lifecycle=zombie",
    ] {
        let (status, html) = app.get(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(html.contains("Please check what you asked for"), "{uri}");
    }
    let long = "x".repeat(5000);
    let (status, html) = app.get(&format!("/catalog?q={long}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("longer than 200 characters"));

    // Strange text is only text: escaped on the way out, never SQL on the way in.
    let (status, html) =
        app.get("/catalog?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%27%20OR%201%3D1%20--").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No service matches."));
    assert!(!html.contains("<script>alert(1)"), "search text echoed unescaped");
}

#[tokio::test]
async fn unknown_things_get_a_404_page() {
    let app = TestApp::demo().await;
    for uri in ["/services/no-such-service", "/squads/no-such-squad", "/no/such/page"] {
        let (status, html) = app.get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(html.contains("We could not find that"), "{uri}: {html}");
    }
}

#[tokio::test]
async fn service_page_shows_ownership_and_readiness() {
    let app = TestApp::demo().await;
    let (status, html) = app.get("/services/ledger").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Readiness for tier 1 (critical)"));
    assert!(html.contains("href=\"/squads/payments\""));
    assert!(html.contains("payments-primary"));
    assert!(html.contains("backstage.io/kubernetes-id=ledger"));
    assert!(html.contains("Defined SLO"));
}

#[tokio::test]
async fn squad_page_shows_what_we_own() {
    let app = TestApp::demo().await;
    let (status, html) = app.get("/squads/growth").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("data-testid=\"owned-service\"").count(), 4);
    assert!(html.contains("No on-call rotation"), "growth has no rotation in the demo");
    assert!(html.contains("zoe"));
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::demo().await;
    assert_eq!(app.get_as("/healthz", None).await.body, "ok");
    assert_eq!(app.get_as("/readyz", None).await.status, StatusCode::OK);
    app.get("/catalog").await;
    // Not on the public listener, signed in or not.
    assert_ne!(app.get_as("/metrics", None).await.status, StatusCode::OK);
    assert_eq!(app.get("/metrics").await.0, StatusCode::NOT_FOUND);
    let metrics = app
        .metrics
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let body = axum::body::to_bytes(metrics.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("console_catalog_services 39"), "{text}");
    for family in [
        "console_limiter_slots_in_use",
        "console_audit_events_total",
        "console_query_outcomes_total",
        "console_audit_write_failures_total 0",
        "console_cluster_synced",
    ] {
        assert!(text.contains(family), "{family}: {text}");
    }
    assert!(
        text.contains(
            "console_http_requests_total{method=\"GET\",route=\"/catalog\",status=\"200\"} 1"
        ),
        "{text}"
    );

    app.store.pool().close().await;
    assert_eq!(app.get_as("/readyz", None).await.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// Every response forbids framing by other sites and content sniffing: pages, the API, errors.
#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::demo().await;
    for path in ["/", "/login", "/api/v1/services", "/no-such-page", "/healthz"] {
        let reply = app.get_as(path, None).await;
        let header = |name: &str| {
            reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
        };
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}: {:?}",
            reply.headers
        );
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
    }
}

/// Pages allow only scripts carrying this response's nonce (and our own files): the nonce in the
/// header is the one on the page's scripts, and a new one each time.
#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts() {
    let app = TestApp::demo().await;
    let maria = app.sign_in("maria").await;
    let mut seen = Vec::new();
    for path in ["/login", "/", "/services/ledger"] {
        let reply = app.get_as(path, Some(&maria)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let csp =
            reply.headers.get("content-security-policy").unwrap().to_str().unwrap().to_string();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: {csp}"))
            .to_string();
        assert!(
            csp.contains("script-src 'self' 'nonce-")
                && csp.contains("'wasm-unsafe-eval'")
                && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        // The script directive alone: no inline script, no eval (wasm's own is allowed).
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src "))
            .unwrap_or_else(|| panic!("{csp}"));
        assert!(
            !script_src.contains("'unsafe-inline'") && !script_src.contains("'unsafe-eval'"),
            "no inline scripts: {script_src}"
        );
        let scripts = reply.body.matches("<script").count();
        assert!(scripts > 0, "{path} has its hydration scripts");
        assert_eq!(
            reply.body.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: every script carries the nonce"
        );
        seen.push(nonce);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "a fresh nonce per response");
    let api = app.get_as("/api/v1/services", Some(&maria)).await;
    assert!(api
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
}

/// A catalog in the shape of Backstage's example: default-namespace links stay as they were,
/// other namespaces live under `/services/{namespace}/{name}` (pages, sub-pages and the API
/// alike), and systems, APIs, the Group hierarchy and dependencies have their pages.
#[tokio::test]
async fn backstage_entities_have_pages_and_namespaced_urls() {
    let app = TestApp::demo().await;
    let backstage =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backstage-example");
    let options =
        console_core::catalog::ingest::ImportOptions { prune: true, ..Default::default() };
    console_core::catalog::ingest::import_dir_with(&app.store, &backstage, options).await.unwrap();
    // A person of that catalog (the demo's people are gone with it).
    let cookie = app.sign_in("breanna.davison").await;
    let get = |uri: &'static str| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            let reply = app.get_as(uri, Some(&cookie)).await;
            (reply.status, reply.body)
        }
    };

    let (status, html) = get("/services/search").await;
    assert_eq!(status, StatusCode::OK, "an old default-namespace link still answers");
    assert!(html.contains("Finds artists"));
    let (status, html) = get("/services/wayback/search").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("The same name in another namespace"), "{html}");
    assert!(html.contains("href=\"/entities/system/wayback/podcast\""), "{html}");
    let (status, html) = get("/services/wayback/search/deployments").await;
    assert_eq!(status, StatusCode::OK, "a namespaced service's sub-pages answer: {html}");
    let (status, json) = get("/api/v1/services/wayback/search").await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["service"]["name"], "wayback/search");

    // Dependencies with tier and readiness; a tier 1 service leaning on a tier 4 one flagged.
    let (_, html) = get("/services/artist-web").await;
    assert!(html.contains("href=\"/services/artist-lookup\""), "{html}");
    assert!(html.contains("href=\"/entities/api/artist-api\""));
    assert_eq!(html.matches("data-testid=\"weak-dependency\"").count(), 1);
    let (_, html) = get("/services/artist-lookup").await;
    assert!(html.contains("depended on by"), "{html}");
    assert!(html.contains("href=\"/services/wayback/search\""));
    let (_, html) = get("/services/example-website").await;
    assert!(html.contains("guest (a person, not a squad)"), "{html}");
    assert!(html.contains("owned by a person (guest), not a squad"));

    // A system page lists its services; the domain links back.
    let (status, html) = get("/entities/system/artist-engagement-portal").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for href in [
        "/services/artist-web",
        "/services/artist-lookup",
        "/entities/api/artist-api",
        "/entities/resource/artists-db",
        "/entities/domain/artists",
    ] {
        assert!(
            html.contains(&format!("href=\"{href}\"")),
            "{href} not on the system page: {html}"
        );
    }
    assert_eq!(get("/entities/system/wayback/podcast").await.0, StatusCode::OK);
    for missing in ["/entities/system/nothing", "/entities/group/team-a", "/entities/warp/artists"]
    {
        assert_eq!(get(missing).await.0, StatusCode::NOT_FOUND, "{missing}");
    }

    // The Group hierarchy: shown and rolled up, not inherited.
    let (_, html) = get("/squads/infrastructure").await;
    assert!(html.contains("Groups under infrastructure: 6 services in all"), "{html}");
    assert!(html.contains("href=\"/squads/backstage\""));
    let (_, html) = get("/squads/team-a").await;
    assert!(html.contains("href=\"/squads/backstage\""), "its parent: {html}");
}

/// A squad's edit of a field Git owns survives a restart (which imports the catalog again) and
/// is shown as "overrides Git" with the descriptor file to change.
#[tokio::test]
async fn a_console_edit_survives_a_restart_and_says_it_overrides_git() {
    // The console as configured, restarted as `main` starts it: the store opened again and the
    // catalog directory imported again, with the configured import options. The catalog is the
    // demo's and one component without a tier (it gets catalog_default_tier).
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    common::write_demo_catalog(&catalog, |text| text);
    std::fs::write(
        catalog.join("untiered.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: untiered\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n",
    )
    .unwrap();
    let config = format!(
        "database_url = {:?}\ncatalog_dir = {:?}\ncatalog_default_tier = 2\ncatalog_source_url = \"https://git.example.com/catalog/blob/main/{{path}}#L{{line}}\"\nsite_root = \"target/site\"\n[auth]\ndev_sign_in = true\n",
        format!("sqlite://{}/console.db", dir.path().display()),
        catalog.display().to_string()
    );
    let app = TestApp::from_config(&config).await.unwrap();
    let maria = app.sign_in("maria").await;
    let untiered = app.get_as("/api/v1/services/untiered", Some(&maria)).await;
    assert_eq!(
        untiered.json()["service"]["tier"],
        2,
        "the configured default tier: {}",
        untiered.body
    );
    let current: serde_json::Value =
        serde_json::from_str(&app.get_as("/api/v1/services/ledger", Some(&maria)).await.body)
            .unwrap();
    let s = &current["service"];
    let edit = serde_json::json!({"name": "ledger", "description": "Edited by payments in the console", "tier": s["tier"], "lifecycle": s["lifecycle"], "runbook": s["runbook"], "slo": s["slo"]});
    let reply = app.post_json("/api/catalog/update-service", Some(&maria), edit).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    drop(app);

    let app = TestApp::from_config(&config).await.unwrap();
    let (status, html) = app.get("/services/ledger").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Edited by payments in the console"), "{html}");
    assert!(html.contains("overrides Git"), "{html}");
    let link = html
        .split("https://git.example.com/catalog/blob/main/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default();
    assert!(
        link.contains("payments.yaml#L"),
        "the descriptor file to change, by the configured template: {link:?} in {html}"
    );
}

/// Backstage's own example catalog imports as Backstage takes it, whole and without flags:
/// owners that name no Group or User are kept dangling (the service has no owner, its "owning
/// squad" check fails and says why, nobody but SREs may act as its owner), a lifecycle outside
/// the three is kept as written and shown. An entity Backstage rejects is still refused with
/// file, line and field. On SQLite and on PostgreSQL.
#[tokio::test]
async fn backstages_example_catalog_imports_as_backstage_takes_it() {
    backstage_example_on(TestApp::demo().await).await;
    let db = console_core::store::testing::postgres().await;
    backstage_example_on(TestApp::with_store(db.store.clone()).await).await;
    db.drop().await;
}

async fn backstage_example_on(app: TestApp) {
    let backstage =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backstage-example");
    let options =
        console_core::catalog::ingest::ImportOptions { prune: true, ..Default::default() };
    let summary = console_core::catalog::ingest::import_dir_with(&app.store, &backstage, options)
        .await
        .expect("imports whole, without flags");
    assert!(summary.invalid.is_empty(), "{:?}", summary.invalid);
    let stored = |name: &'static str| {
        let store = app.store.clone();
        async move {
            console_core::catalog::repo::service(&store, name)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{name} imported"))
        }
    };
    let inpixon = stored("inpixon-indoor").await;
    assert_eq!(
        (inpixon.squad.as_str(), inpixon.owner_person.as_str(), inpixon.dangling_owner.as_str()),
        ("", "", "group:inpixon")
    );
    assert_eq!(stored("sre-tools").await.dangling_owner, "group:sre");
    assert_eq!(stored("visitor-site").await.dangling_owner, "user:visitor");
    let sandbox = stored("sandbox-playground").await;
    assert_eq!(
        (sandbox.lifecycle_name(), sandbox.lifecycle),
        ("sandbox", console_core::catalog::Lifecycle::Experimental)
    );
    assert_eq!(sandbox.squad, "team-a");

    let cookie = app.sign_in("breanna.davison").await;
    let page = app.get_as("/services/inpixon-indoor", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(
            "group:inpixon names no squad or person of the catalog: nobody owns this service"
        ),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("its owner group:inpixon names no squad or person of the catalog"),
        "the owning-squad check says why"
    );
    let page = app.get_as("/services/sandbox-playground", Some(&cookie)).await;
    assert!(
        page.body.contains("data-testid=\"lifecycle-label\"") && page.body.contains(">sandbox<"),
        "{}",
        page.body
    );
    // Nobody acts as the owner of a service whose owner dangles: not a team-a member, and not the
    // demo's SRE-less developers; only SREs and grants.
    let attest = app
        .post_json(
            "/api/catalog/attest",
            Some(&cookie),
            serde_json::json!({"service": "inpixon-indoor", "check": "runbook", "attested": true}),
        )
        .await;
    assert_eq!(attest.status, StatusCode::FORBIDDEN, "{}", attest.body);

    // SREs map the free-form lifecycle in the platform defaults: the next import applies it.
    let (version, mut defaults) = console_core::defaults::repo::current(&app.store).await.unwrap();
    defaults.lifecycles.insert("sandbox".into(), console_core::catalog::Lifecycle::Production);
    console_core::defaults::actions::save_as(
        &app.store,
        version,
        &defaults.to_toml(),
        "sre",
        "sandbox is production here",
    )
    .await
    .unwrap();
    console_core::catalog::ingest::import_dir_with(
        &app.store,
        &backstage,
        console_core::catalog::ingest::ImportOptions { prune: true, ..Default::default() },
    )
    .await
    .unwrap();
    let mapped = stored("sandbox-playground").await;
    assert_eq!(
        (mapped.lifecycle_name(), mapped.lifecycle),
        ("sandbox", console_core::catalog::Lifecycle::Production)
    );

    // A name Backstage itself rejects is still refused, with file, line and field.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&backstage).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(dir.path().join("bad.yaml"), "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: -not a name-\nspec:\n  type: service\n  lifecycle: sandbox\n  owner: inpixon\n").unwrap();
    match console_core::catalog::ingest::import_dir(&app.store, dir.path()).await {
        Err(console_core::catalog::ingest::ImportError::Invalid(problems)) => {
            let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            assert_eq!(shown.len(), 1, "{shown:?}");
            assert!(shown[0].starts_with("bad.yaml:4: metadata.name: "), "{shown:?}");
        }
        other => panic!("expected the invalid name refused: {other:?}"),
    }
}
