//! Platform defaults through the real router: links on pages, versions, rollback, export and
//! import round trip, SRE-only.

mod common;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn an_sre_changes_a_link_and_squads_see_it_then_it_rolls_back() {
    let app = TestApp::demo().await;
    let sre = app.sign_in("sre").await;
    let maria = app.sign_in("maria").await;
    let page = app.get_as("/services/ledger", Some(&maria)).await.body;
    assert!(
        page.contains("https://grafana.example.com/d/service-overview?var-service=ledger"),
        "starter link missing"
    );
    // Tier 1 only: ledger (tier 1) has Datadog, refunds-ui (tier 3) does not.
    assert!(page.contains("app.datadoghq.com/apm/services/ledger"));
    assert!(!app.get_as("/services/refunds-ui", Some(&maria)).await.body.contains("datadoghq"));

    let current = app.post_json("/api/admin/defaults", Some(&sre), json!({})).await.json();
    let mut links = current["links"].clone();
    links[0]["url"] = json!("https://grafana.example.com/d/v2?svc={service}&squad={squad}");
    let saved = app
        .post_json(
            "/api/admin/save-links",
            Some(&sre),
            json!({"based_on": current["version"], "links": links}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    // Saving on top of a version someone else replaced meanwhile: a conflict (409), nothing saved.
    let stale = app
        .post_json(
            "/api/admin/save-links",
            Some(&sre),
            json!({"based_on": current["version"], "links": links}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    let latest = app.post_json("/api/admin/defaults", Some(&sre), json!({})).await.json();
    assert_eq!(latest["version"], json!(current["version"].as_i64().unwrap() + 1));
    let page = app.get_as("/services/ledger", Some(&maria)).await.body;
    assert!(
        page.contains("https://grafana.example.com/d/v2?svc=ledger&amp;squad=payments"),
        "new link not shown"
    );
    let squad = app.get_as("/squads/payments", Some(&maria)).await.body;
    assert!(squad.contains("d/v2?svc=ledger"));

    // A hostile template is refused with the reason, and nothing changes.
    let mut bad = links.clone();
    bad[0]["url"] = json!("javascript:alert(document.cookie)");
    let refused = app
        .post_json("/api/admin/save-links", Some(&sre), json!({"based_on": 1, "links": bad}))
        .await;
    assert!(refused.body.contains("only http(s) links are allowed"), "{}", refused.body);
    let mut unknown = links.clone();
    unknown[0]["url"] = json!("https://g.example.com/{owner}");
    let refused = app
        .post_json("/api/admin/save-links", Some(&sre), json!({"based_on": 1, "links": unknown}))
        .await;
    assert!(refused.body.contains("unknown placeholder {owner}"), "{}", refused.body);

    let diff = app.post_json("/api/admin/diff", Some(&sre), json!({"version": 1})).await.json();
    let text = diff.to_string();
    assert!(text.contains("Added") && text.contains("d/v2") && text.contains("Removed"), "{text}");

    let rolled = app.post_json("/api/admin/rollback", Some(&sre), json!({"version": 0})).await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.body);
    let page = app.get_as("/services/ledger", Some(&maria)).await.body;
    assert!(page.contains("d/service-overview?var-service=ledger") && !page.contains("d/v2"));
}

#[tokio::test]
async fn export_and_import_round_trip() {
    let app = TestApp::demo().await;
    let sre = app.sign_in("sre").await;
    let export = app.get_as("/admin/defaults.toml", Some(&sre)).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("platform-defaults-v0.toml"));
    let edited = export.body.replace("row_cap = 500\n", "row_cap = 250\n");
    assert_ne!(edited, export.body);
    let saved = app
        .post_json(
            "/api/admin/save-document",
            Some(&sre),
            json!({"based_on": 0, "document": edited, "note": "from git"}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let again = app.get_as("/admin/defaults.toml", Some(&sre)).await.body;
    assert!(again.contains("row_cap = 250"));
    assert!(again.starts_with("# Platform defaults, version 1"));

    // A broken file is refused whole, with the reasons.
    let broken = again.replace("row_cap = 250", "row_cap = 0");
    let refused = app
        .post_json(
            "/api/admin/save-document",
            Some(&sre),
            json!({"based_on": 1, "document": broken, "note": ""}),
        )
        .await;
    assert!(refused.body.contains("row_cap must be 1 to 1000000"), "{}", refused.body);
    let refused = app
        .post_json(
            "/api/admin/save-document",
            Some(&sre),
            json!({"based_on": 1, "document": "not = [toml", "note": ""}),
        )
        .await;
    assert!(refused.body.contains("BadRequest"), "{}", refused.body);
    let stale = app
        .post_json(
            "/api/admin/save-document",
            Some(&sre),
            json!({"based_on": 0, "document": again, "note": ""}),
        )
        .await;
    assert!(stale.body.contains("someone else saved"), "{}", stale.body);
}

#[tokio::test]
async fn requirements_changed_by_sres_drive_every_score() {
    let app = TestApp::demo().await;
    let sre = app.sign_in("sre").await;
    let before = app.get_as("/api/v1/services/ledger", Some(&sre)).await.json();
    let export = app.get_as("/admin/defaults.toml", Some(&sre)).await.body;
    // Make "security-review" a tier-4 requirement: every service must now meet it.
    let moved = export.replacen(
        "id = \"security-review\"\ntitle = \"Security review\"\ntier = 1",
        "id = \"security-review\"\ntitle = \"Security review\"\ntier = 4",
        1,
    );
    assert_ne!(moved, export, "document layout changed");
    let saved = app
        .post_json(
            "/api/admin/save-document",
            Some(&sre),
            json!({"based_on": 0, "document": moved, "note": ""}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let cart = app.get_as("/api/v1/services/gift-wrap", Some(&sre)).await.json();
    assert!(cart["readiness"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["check"]["id"] == "security-review"));
    let after = app.get_as("/api/v1/services/ledger", Some(&sre)).await.json();
    assert_eq!(before["readiness"]["score"]["required"], after["readiness"]["score"]["required"]);
    // The readiness page reflects it.
    let page = app.get_as("/readiness", Some(&sre)).await.body;
    assert!(page.contains("Security review"));
}

#[tokio::test]
async fn the_readiness_page_is_linkable_and_sortable() {
    let app = TestApp::demo().await;
    let maria = app.sign_in("maria").await;
    let by_name = app.get_as("/readiness", Some(&maria)).await;
    assert_eq!(by_name.status, StatusCode::OK);
    assert!(by_name.body.contains("href=\"/catalog?tier=1&amp;readiness=not-ready\""));
    // Each row's bar says "X of Y readiness checks met"; by score means non-increasing X/Y.
    let scores = |body: &str| -> Vec<f64> {
        body.split("data-testid=\"squad-readiness-row\"")
            .skip(1)
            .map(|row| {
                let title = row
                    .split("title=\"")
                    .nth(1)
                    .unwrap()
                    .split(" readiness checks met")
                    .next()
                    .unwrap()
                    .to_string();
                let (met, required) = title.split_once(" of ").unwrap();
                met.parse::<f64>().unwrap() / required.parse::<f64>().unwrap()
            })
            .collect()
    };
    let by_score = scores(&app.get_as("/readiness?sort=score", Some(&maria)).await.body);
    assert_eq!(by_score.len(), 8);
    assert!(by_score.windows(2).all(|w| w[0] >= w[1] - 0.01), "{by_score:?}");
    let names = |body: &str| -> Vec<String> {
        body.split("href=\"/squads/")
            .skip(1)
            .map(|r| r.split('"').next().unwrap().to_string())
            .collect()
    };
    let alphabetical = names(&by_name.body);
    let mut sorted = alphabetical.clone();
    sorted.sort();
    assert_eq!(alphabetical, sorted);
}
