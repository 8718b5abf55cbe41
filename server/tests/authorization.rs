//! The authorization matrix: every server function and API route, for every role, against the
//! one policy. A server function without an entry here fails `every_server_function_is_covered`.

mod common;
use app::error::AppError;
use axum::http::StatusCode;
use common::TestApp;
use console_core::auth::policy::{role, Action, Role};
use console_core::auth::User;
use serde_json::json;

enum Body {
    Json(serde_json::Value),
    Form(&'static str),
}

/// Every server function with the action it performs, called on the service `ledger` (owned by
/// the payments squad) where it takes a resource.
fn server_functions() -> Vec<(&'static str, Action, Body)> {
    vec![
        ("/api/auth/session", Action::ViewSession, Body::Json(json!({}))),
        ("/api/auth/options", Action::ViewSession, Body::Json(json!({}))),
        (
            "/api/catalog/search",
            Action::ViewCatalog,
            Body::Json(
                json!({"query": {"text": "", "squad": null, "tier": null, "lifecycle": null, "readiness": null, "page": 1}}),
            ),
        ),
        ("/api/catalog/squads", Action::ViewCatalog, Body::Json(json!({}))),
        ("/api/catalog/service", Action::ViewCatalog, Body::Json(json!({"name": "ledger"}))),
        ("/api/catalog/squad", Action::ViewCatalog, Body::Json(json!({"name": "payments"}))),
        (
            "/api/catalog/entity",
            Action::ViewCatalog,
            Body::Json(json!({"kind": "system", "key": "payments"})),
        ),
        (
            "/api/catalog/service-for-edit",
            Action::EditService,
            Body::Json(json!({"name": "ledger"})),
        ),
        (
            "/api/catalog/update-service",
            Action::EditService,
            Body::Json(
                json!({"name": "ledger", "description": "d", "tier": 1, "lifecycle": "production", "runbook": "", "slo": ""}),
            ),
        ),
        (
            "/api/catalog/attest",
            Action::AttestReadiness,
            Body::Json(json!({"service": "ledger", "check": "backups", "attested": true})),
        ),
        ("/api/catalog/import", Action::ImportCatalog, Body::Form("")),
        ("/api/catalog/readiness", Action::ViewCatalog, Body::Json(json!({}))),
        ("/api/admin/defaults", Action::AdminDefaults, Body::Json(json!({}))),
        (
            "/api/admin/save-document",
            Action::AdminDefaults,
            Body::Json(json!({"based_on": 999, "document": "", "note": ""})),
        ),
        (
            "/api/admin/save-links",
            Action::AdminDefaults,
            Body::Json(json!({"based_on": 999, "links": []})),
        ),
        ("/api/admin/diff", Action::AdminDefaults, Body::Json(json!({"version": 0}))),
        ("/api/admin/rollback", Action::AdminDefaults, Body::Json(json!({"version": 999}))),
        ("/api/query/replicas", Action::QueryReplica, Body::Json(json!({"service": "ledger"}))),
        ("/api/catalog/service-access", Action::ViewCatalog, Body::Json(json!({"name": "ledger"}))),
        (
            "/api/query/run",
            Action::QueryReplica,
            Body::Json(json!({"service": "ledger", "replica": "none", "sql": "SELECT 1"})),
        ),
        (
            "/api/query/cancel",
            Action::QueryReplica,
            Body::Json(json!({"service": "ledger", "replica": "none"})),
        ),
        (
            "/api/query/schema",
            Action::QueryReplica,
            Body::Json(json!({"service": "ledger", "replica": "none"})),
        ),
        ("/api/query/history", Action::ViewCatalog, Body::Json(json!({}))),
        ("/api/query/saved", Action::QueryReplica, Body::Json(json!({"service": "ledger"}))),
        (
            "/api/query/save",
            Action::QueryReplica,
            Body::Json(json!({"service": "ledger", "name": "matrix", "sql": "SELECT 1"})),
        ),
        (
            "/api/query/delete-saved",
            Action::QueryReplica,
            Body::Json(json!({"service": "ledger", "name": "none"})),
        ),
        ("/api/query/audit", Action::AdministerReplicas, Body::Json(json!({}))),
        ("/api/query/check", Action::AdministerReplicas, Body::Json(json!({"replica": "none"}))),
        (
            "/api/query/managed",
            Action::AdministerReplicas,
            Body::Json(json!({"service": "ledger"})),
        ),
        (
            "/api/query/update",
            Action::AdministerReplicas,
            Body::Json(
                json!({"replica": {"id": "BAD ID", "service": "ledger", "name": "x", "engine": "sqlite", "url": "sqlite://x.db",
                                          "credential_env": "", "credential_file": "", "statement_timeout_ms": null, "row_cap": null, "masks": null}}),
            ),
        ),
        (
            "/api/query/set-disabled",
            Action::AdministerReplicas,
            Body::Json(json!({"service": "ledger", "replica": "none", "reason": "matrix"})),
        ),
        (
            "/api/query/remove",
            Action::AdministerReplicas,
            Body::Json(json!({"service": "ledger", "replica": "none"})),
        ),
        (
            "/api/query/register",
            Action::AdministerReplicas,
            Body::Json(
                json!({"replica": {"id": "BAD ID", "service": "ledger", "name": "x", "engine": "sqlite", "url": "sqlite://x.db",
                                          "credential_env": "", "credential_file": "", "statement_timeout_ms": null, "row_cap": null, "masks": null}}),
            ),
        ),
        (
            "/api/k8s/workloads",
            Action::ViewWorkloads,
            Body::Json(json!({"service": "ledger", "cluster": ""})),
        ),
        ("/api/audit/events", Action::AdministerReplicas, Body::Json(json!({"filter": {}}))),
        (
            "/api/audit/service-reads",
            Action::ViewServiceAudit,
            Body::Json(json!({"service": "ledger"})),
        ),
        ("/api/tokens/list", Action::ManageOwnTokens, Body::Json(json!({}))),
        ("/api/tokens/create", Action::ManageOwnTokens, Body::Form("name=matrix")),
        ("/api/tokens/revoke", Action::ManageOwnTokens, Body::Form("id=nonexistent")),
        ("/api/tokens/limits", Action::ManageOwnTokens, Body::Json(json!({}))),
        ("/api/sessions/mine", Action::ManageOwnTokens, Body::Json(json!({}))),
        ("/api/access/tokens", Action::AdministerAccess, Body::Json(json!({}))),
        ("/api/access/revoke-token", Action::AdministerAccess, Body::Form("id=nonexistent")),
        ("/api/access/identities", Action::AdministerAccess, Body::Json(json!({}))),
        ("/api/access/grants", Action::AdministerAccess, Body::Json(json!({}))),
        ("/api/access/offboard", Action::AdministerAccess, Body::Form("actor=nobody-at-all")),
        ("/api/access/restore", Action::AdministerAccess, Body::Form("actor=nobody-at-all")),
        ("/api/access/blocked", Action::AdministerAccess, Body::Json(json!({}))),
        (
            "/api/access/grant",
            Action::AdministerAccess,
            Body::Form(
                "grantee=nobody&service=no-such-service&access=logs&hours=1&reason=matrix%20test",
            ),
        ),
        ("/api/access/revoke-grant", Action::AdministerAccess, Body::Form("id=nonexistent")),
        (
            "/api/access/service-grants",
            Action::ViewCatalog,
            Body::Json(json!({"service": "ledger"})),
        ),
        // Last: it ends the session the rest of the table uses.
        ("/api/sessions/end-all", Action::ManageOwnTokens, Body::Form("")),
    ]
}

/// The JSON API's routes and what each does, written out: checked against `console::api::ROUTES`
/// (from which the router is built), so a new route needs an entry here too.
const API_ROUTES: &[(&str, Action)] = &[
    ("/me", Action::ViewCatalog),
    ("/services", Action::ViewCatalog),
    ("/services/{name}", Action::ViewCatalog),
    ("/squads", Action::ViewCatalog),
    ("/squads/{name}", Action::ViewCatalog),
    ("/services/{name}/query", Action::QueryReplica),
];

#[test]
fn every_api_route_is_in_the_table() {
    assert_eq!(console::api::ROUTES, API_ROUTES);
}

/// A concrete URL for each route of `console::api::ROUTES`.
fn api_url(route: &str) -> String {
    format!(
        "/api/v1{}",
        route
            .replace("/services/{name}", "/services/ledger")
            .replace("/squads/{name}", "/squads/payments")
    )
}

/// What each role may do, written out here rather than asked of the policy under test: a change
/// to `policy.rs` that widens or narrows access fails this table.
fn expected(action: Action, role: Role) -> bool {
    use Action::*;
    use Role::*;
    match (action, role) {
        (ViewSession, _) => true,
        (_, Anonymous) => false,
        (ViewCatalog | ManageOwnTokens | ViewWorkloads, Developer | Owner | Sre) => true,
        (
            EditService | AttestReadiness | QueryReplica | ReadLogs | ViewServiceAudit,
            Owner | Sre,
        ) => true,
        (ImportCatalog | AdminDefaults | AdministerReplicas | SetTier | AdministerAccess, Sre) => {
            true
        }
        _ => false,
    }
}

/// The role towards a resource no squad owns: an owner of `ledger` is a developer there.
fn unowned(role: Role) -> Role {
    if role == Role::Owner {
        Role::Developer
    } else {
        role
    }
}

/// (who, role towards `ledger`): nobody, a developer of another squad, an owner, an SRE.
const PEOPLE: [(Option<&str>, Role); 4] = [
    (None, Role::Anonymous),
    (Some("arjun"), Role::Developer),
    (Some("maria"), Role::Owner),
    (Some("sre"), Role::Sre),
];

fn user_for(role: Role) -> Option<User> {
    let user = |squads: &[&str], sre| User {
        login: "x".into(),
        name: "x".into(),
        squads: squads.iter().map(|s| s.to_string()).collect(),
        sre,
        provider: "dev".into(),
        identity: String::new(),
        grants: vec![],
    };
    match role {
        Role::Anonymous => None,
        Role::Developer => Some(user(&["search"], false)),
        Role::Owner => Some(user(&["payments"], false)),
        Role::Sre => Some(user(&[], true)),
    }
}

#[test]
fn every_server_function_is_covered() {
    let covered: Vec<&str> = server_functions().iter().map(|(path, _, _)| *path).collect();
    let registered: Vec<String> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path.to_string()).collect();
    assert!(!registered.is_empty());
    for path in &registered {
        assert!(
            covered.contains(&path.as_str()),
            "server function {path} has no entry in the authorization matrix"
        );
    }
    for path in covered {
        assert!(
            registered.iter().any(|p| p == path),
            "matrix lists {path}, which is not registered"
        );
    }
}

#[tokio::test]
async fn the_matrix_holds_for_every_role() {
    let app = TestApp::demo().await;
    for (who, expected_role) in PEOPLE {
        let cookie = match who {
            Some(login) => Some(app.sign_in(login).await),
            None => None,
        };
        let owner = Some("payments");
        assert_eq!(role(user_for(expected_role).as_ref(), owner), expected_role);
        for (path, action, body) in server_functions() {
            let allowed = expected(action, expected_role);
            let reply = match body {
                Body::Json(value) => app.post_json(path, cookie.as_deref(), value).await,
                Body::Form(form) => app.post_form(path, cookie.as_deref(), form).await,
            };
            let refusal = if reply.status == StatusCode::OK {
                None
            } else {
                match serde_json::from_str::<AppError>(&reply.body) {
                    Ok(e @ (AppError::Unauthorized | AppError::Forbidden(_))) => Some(e),
                    Ok(_) => None,
                    Err(_) => panic!(
                        "{path} as {who:?}: unexpected reply {} {}",
                        reply.status, reply.body
                    ),
                }
            };
            assert_eq!(
                refusal.is_none(),
                allowed,
                "{path} ({action:?}) as {who:?} ({expected_role:?}): {} {}",
                reply.status,
                reply.body
            );
            if let Some(e) = refusal {
                let want_unauthorized = expected_role == Role::Anonymous;
                assert_eq!(
                    matches!(e, AppError::Unauthorized),
                    want_unauthorized,
                    "{path} as {who:?}: {e:?}"
                );
            }
        }
        // The table's last call signed this person out everywhere: in again for the rest.
        let cookie = match who {
            Some(login) => Some(app.sign_in(login).await),
            None => None,
        };
        // The REPL's CSV download: owners and SREs get past the policy (then: no such replica).
        let csv = app
            .post_form(
                "/services/ledger/query.csv",
                cookie.as_deref(),
                "replica=none&sql=SELECT%201",
            )
            .await;
        let allowed_csv = expected(Action::QueryReplica, expected_role);
        let refused_csv = matches!(
            csv.status,
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED | StatusCode::SEE_OTHER
        );
        assert_eq!(!refused_csv, allowed_csv, "query.csv as {who:?}: {}", csv.status);
        let audit_csv = app.get_as("/admin/audit.csv", cookie.as_deref()).await;
        let allowed_audit = expected(Action::AdministerReplicas, unowned(expected_role));
        assert_eq!(
            audit_csv.status == StatusCode::OK,
            allowed_audit,
            "audit export as {who:?}: {}",
            audit_csv.status
        );
        // The defaults export is a plain route too.
        let export = app.get_as(console::defaults::EXPORT, cookie.as_deref()).await;
        let allowed = expected(Action::AdminDefaults, unowned(expected_role));
        assert_eq!(
            export.status == StatusCode::OK,
            allowed,
            "export as {who:?}: {}",
            export.status
        );
        // Kubernetes streams and the log download (no cluster here: past the policy, an empty view).
        for (route, action) in console::kubernetes::ROUTES {
            let path = route.replace("{name}", "ledger");
            let allowed = expected(*action, expected_role);
            let reply = app.get_as(&path, cookie.as_deref()).await;
            let refused = matches!(
                reply.status,
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED | StatusCode::SEE_OTHER
            );
            assert_eq!(!refused, allowed, "{path} as {who:?}: {} {}", reply.status, reply.body);
        }
        // The API's query route (POST): past the policy, the replica `none` is not found.
        let query = app
            .post_json(
                "/api/v1/services/ledger/query",
                cookie.as_deref(),
                json!({"replica": "none", "sql": "SELECT 1"}),
            )
            .await;
        let allowed = expected(Action::QueryReplica, expected_role);
        let refused = matches!(query.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED);
        assert_eq!(!refused, allowed, "API query as {who:?}: {} {}", query.status, query.body);
        for (route, action) in API_ROUTES.iter().filter(|(route, _)| !route.ends_with("/query")) {
            let path = api_url(route);
            assert!(!path.contains('{'), "no sample URL for {route}");
            let allowed = expected(*action, unowned(expected_role));
            let reply = app.get_as(&path, cookie.as_deref()).await;
            let expected = if allowed { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
            assert_eq!(reply.status, expected, "{path} as {who:?}");
        }
    }
}

#[tokio::test]
async fn the_edit_page_is_a_403_page_for_other_squads() {
    let app = TestApp::demo().await;
    let arjun = app.sign_in("arjun").await;
    let page = app.get_as("/services/ledger/edit", Some(&arjun)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("only members of payments"));
    let maria = app.sign_in("maria").await;
    let page = app.get_as("/services/ledger/edit", Some(&maria)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Edit ledger"));
    // The service page offers the link only to those who may use it.
    assert!(app
        .get_as("/services/ledger", Some(&maria))
        .await
        .body
        .contains("data-testid=\"edit-link\""));
    assert!(!app
        .get_as("/services/ledger", Some(&arjun))
        .await
        .body
        .contains("data-testid=\"edit-link\""));
}

#[tokio::test]
async fn owners_change_their_service_and_others_cannot() {
    let app = TestApp::demo().await;
    let maria = app.sign_in("maria").await;
    let arjun = app.sign_in("arjun").await;
    let edit = json!({"name": "ledger", "description": "Owned by payments", "tier": 1, "lifecycle": "production",
                      "runbook": "https://runbooks.example.com/ledger-v2", "slo": "99.99%"});
    let refused = app.post_json("/api/catalog/update-service", Some(&arjun), edit.clone()).await;
    assert!(
        matches!(serde_json::from_str::<AppError>(&refused.body), Ok(AppError::Forbidden(_))),
        "{}",
        refused.body
    );
    let done = app.post_json("/api/catalog/update-service", Some(&maria), edit).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let page = app.get_as("/api/v1/services/ledger", Some(&maria)).await.json();
    assert_eq!(page["service"]["runbook"], "https://runbooks.example.com/ledger-v2");

    // Bad input is refused with the reason and changes nothing.
    let hostile = json!({"name": "ledger", "description": "x", "tier": 1, "lifecycle": "production", "runbook": "javascript:alert(1)", "slo": ""});
    let refused = app.post_json("/api/catalog/update-service", Some(&maria), hostile).await;
    assert!(refused.body.contains("runbook must be an http(s) URL"), "{}", refused.body);
    let bad_tier = json!({"name": "ledger", "description": "x", "tier": 7, "lifecycle": "production", "runbook": "", "slo": ""});
    assert_ne!(
        app.post_json("/api/catalog/update-service", Some(&maria), bad_tier).await.status,
        StatusCode::OK
    );
    let page = app.get_as("/api/v1/services/ledger", Some(&maria)).await.json();
    assert_eq!(page["service"]["description"], "Owned by payments");

    // Attesting a check records who and when and moves the score.
    let before = page["readiness"]["score"]["met"].as_u64().unwrap();
    let check = page["readiness"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["met"] == false && c["check"]["evidence"] == "attested")
        .unwrap()["check"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = app
        .post_json(
            "/api/catalog/attest",
            Some(&maria),
            json!({"service": "ledger", "check": check, "attested": true}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let page = app.get_as("/api/v1/services/ledger", Some(&maria)).await.json();
    assert_eq!(page["readiness"]["score"]["met"].as_u64().unwrap(), before + 1);
    let row = page["readiness"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"]["id"] == check.as_str())
        .unwrap()
        .clone();
    assert!(row["because"].as_str().unwrap().starts_with("attested by maria on 20"), "{row}");
    let derived = app
        .post_json(
            "/api/catalog/attest",
            Some(&maria),
            json!({"service": "ledger", "check": "slo", "attested": true}),
        )
        .await;
    assert!(derived.body.contains("not a check a squad attests"), "{}", derived.body);
}

/// The tier picks the REPL's limits and masks: owners may not relax their own guardrails.
#[tokio::test]
async fn owners_cannot_change_their_tier_but_sres_can() {
    let app = TestApp::demo().await;
    let maria = app.sign_in("maria").await;
    let tier_of = |page: serde_json::Value| page["service"]["tier"].clone();
    let before = tier_of(app.get_as("/api/v1/services/ledger", Some(&maria)).await.json());
    assert_eq!(before, json!(1));
    let lower = json!({"name": "ledger", "description": "x", "tier": 4, "lifecycle": "production", "runbook": "", "slo": ""});
    let refused = app.post_json("/api/catalog/update-service", Some(&maria), lower.clone()).await;
    assert!(
        matches!(serde_json::from_str::<AppError>(&refused.body), Ok(AppError::Forbidden(m)) if m.contains("tier")),
        "{}",
        refused.body
    );
    let page = app.get_as("/api/v1/services/ledger", Some(&maria)).await.json();
    assert_eq!(tier_of(page.clone()), before);
    assert_ne!(page["service"]["description"], "x", "a refused edit changes nothing");
    let sre = app.sign_in("sre").await;
    let done = app.post_json("/api/catalog/update-service", Some(&sre), lower).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(tier_of(app.get_as("/api/v1/services/ledger", Some(&maria)).await.json()), json!(4));
}

fn bearer(path: &str, token: &str, post: bool) -> axum::http::Request<axum::body::Body> {
    let builder =
        if post { axum::http::Request::post(path) } else { axum::http::Request::get(path) };
    builder
        .header("authorization", format!("Bearer {token}"))
        .header("origin", common::PUBLIC_URL)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("name=minted"))
        .unwrap()
}

/// Bearer rows of the table: a token reads the API as its person's current role, and nothing
/// else: not pages, not server functions (so no token makes or revokes tokens), not once expired
/// or revoked.
#[tokio::test]
async fn tokens_work_on_the_api_only_until_they_expire_or_are_revoked() {
    use console_core::auth::tokens;
    let app = TestApp::demo().await;
    let sre = app.sign_in("sre").await;
    let reply = app.post_form("/api/tokens/create", Some(&sre), "name=ci").await;
    let token: String =
        serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("{}", reply.body));
    for (route, _) in API_ROUTES.iter().filter(|(route, _)| !route.ends_with("/query")) {
        let reply = app.send(bearer(&api_url(route), &token, false)).await;
        assert_eq!(reply.status, StatusCode::OK, "{route}: {}", reply.body);
    }
    assert_eq!(app.send(bearer("/api/v1/me", &token, false)).await.json()["sre"], true);
    // Outside /api/v1: refused, even for an SRE's token.
    for (path, post) in [
        ("/api/tokens/create", true),
        ("/api/tokens/list", true),
        ("/api/access/tokens", true),
        ("/api/admin/defaults", true),
        ("/admin", false),
        ("/services/ledger", false),
    ] {
        let reply = app.send(bearer(path, &token, post)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}: {}", reply.body);
    }
    let listed = app.post_json("/api/tokens/list", Some(&sre), json!({})).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "the token minted nothing: {listed}");
    assert_eq!(listed[0]["scope"], "read");
    assert!(listed[0]["last_used_at"].is_i64(), "last use recorded: {listed}");
    // Expired: made directly with an expiry in the past.
    let identity = app.send(bearer("/api/v1/me", &token, false)).await.json()["identity"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, expired) = tokens::create(
        &app.store,
        tokens::NewToken {
            identity_id: &identity,
            owner: "sre",
            name: "old",
            scope: tokens::Scope::Read,
            expires_at: console_core::dates::now() - 1,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        app.send(bearer("/api/v1/me", &expired, false)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Expiry beyond the platform maximum is refused; the query scope is off by default.
    let long = app.post_form("/api/tokens/create", Some(&sre), "name=long&days=3650").await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.body);
    let query = app.post_form("/api/tokens/create", Some(&sre), "name=q&scope=query").await;
    assert_eq!(query.status, StatusCode::FORBIDDEN, "{}", query.body);
    // Revoked by its owner: it stops at once.
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(
        app.post_form("/api/tokens/revoke", Some(&sre), &format!("id={id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(bearer("/api/v1/me", &token, false)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// SREs see and revoke anyone's tokens, and offboard a person: every session and token at once.
/// Others cannot touch someone else's token: it keeps working.
#[tokio::test]
async fn sres_revoke_anyones_tokens_and_offboard_people() {
    revoke_and_offboard(TestApp::demo().await).await;
}

/// The same on PostgreSQL, the store of several console replicas.
#[tokio::test]
async fn sres_revoke_anyones_tokens_and_offboard_people_on_postgres() {
    let db = console_core::store::testing::postgres().await;
    revoke_and_offboard(TestApp::with_store(db.store.clone()).await).await;
    db.drop().await;
}

/// A service of the search squad, which maria is not in.
const SEARCH_SERVICE: &str = "search-api";

async fn revoke_and_offboard(app: TestApp) {
    let maria = app.sign_in("maria").await;
    let maria_laptop = app.sign_in("maria").await;
    let token: String = serde_json::from_str(
        &app.post_form("/api/tokens/create", Some(&maria), "name=ci").await.body,
    )
    .unwrap();
    let second: String = serde_json::from_str(
        &app.post_form("/api/tokens/create", Some(&maria), "name=cron").await.body,
    )
    .unwrap();
    let id_of = |t: &str| t.strip_prefix("cst_").unwrap().split('_').next().unwrap().to_string();

    let arjun = app.sign_in("arjun").await;
    let refused =
        app.post_form("/api/tokens/revoke", Some(&arjun), &format!("id={}", id_of(&token))).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.send(bearer("/api/v1/me", &token, false)).await.status,
        StatusCode::OK,
        "still works"
    );

    // Maria sees both her sessions, this one marked.
    let sessions = app.post_json("/api/sessions/mine", Some(&maria), json!({})).await.json();
    assert_eq!(sessions.as_array().unwrap().len(), 2, "{sessions}");
    assert_eq!(sessions.as_array().unwrap().iter().filter(|s| s["current"] == true).count(), 1);

    let sre = app.sign_in("sre").await;
    let all = app.post_json("/api/access/tokens", Some(&sre), json!({})).await.json();
    assert!(
        all.as_array().unwrap().iter().any(|t| t["owner"] == "maria" && t["id"] == id_of(&second)),
        "{all}"
    );
    assert_eq!(
        app.post_form("/api/access/revoke-token", Some(&sre), &format!("id={}", id_of(&second)))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(bearer("/api/v1/me", &second, false)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A grant beyond her squad, which offboarding must end too.
    let grant =
        format!("grantee=maria&service={SEARCH_SERVICE}&access=logs&hours=2&reason=on%20call");
    assert_eq!(app.post_form("/api/access/grant", Some(&sre), &grant).await.status, StatusCode::OK);
    let grants_on = || async {
        app.post_json("/api/access/service-grants", Some(&sre), json!({"service": SEARCH_SERVICE}))
            .await
            .json()
    };
    assert_eq!(grants_on().await[0]["grantee"], "maria");
    let all_grants =
        || async { app.post_json("/api/access/grants", Some(&sre), json!({})).await.json() };
    assert_eq!(all_grants().await[0]["grantee"], "maria", "listed on the access page");
    let signed_in = || async {
        let list = app.post_json("/api/access/identities", Some(&sre), json!({})).await.json();
        list.as_array().unwrap().iter().any(|i| i["actor"] == "maria")
    };
    assert!(signed_in().await);

    let done = app.post_form("/api/access/offboard", Some(&sre), "actor=maria").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(grants_on().await.as_array().unwrap().is_empty(), "her grant ended with her");
    assert!(all_grants().await.as_array().unwrap().is_empty());
    assert!(!signed_in().await, "listed as blocked, no longer among those who may sign in");
    assert_eq!(done.json(), json!([2, 1]), "two sessions ended, one live token revoked");
    for cookie in [&maria, &maria_laptop] {
        assert_eq!(app.get_as("/", Some(cookie)).await.status, StatusCode::SEE_OTHER, "signed out");
    }
    assert_eq!(
        app.send(bearer("/api/v1/me", &token, false)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get_as("/", Some(&arjun)).await.status, StatusCode::OK, "others untouched");
    let audit = console_core::audit::export(&app.store, "sre", 0, i64::MAX).await.unwrap();
    assert!(
        audit.iter().any(|e| e.kind == "access.offboarded" && e.target == "maria"),
        "offboarding is audited"
    );
}

/// Signing out everywhere ends every session of the person, on every device.
#[tokio::test]
async fn a_person_signs_out_everywhere() {
    let app = TestApp::demo().await;
    let phone = app.sign_in("maria").await;
    let laptop = app.sign_in("maria").await;
    let arjun = app.sign_in("arjun").await;
    let reply = app.post_form("/api/sessions/end-all", Some(&laptop), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    for cookie in [&phone, &laptop] {
        assert_eq!(app.get_as("/", Some(cookie)).await.status, StatusCode::SEE_OTHER);
    }
    assert_eq!(app.get_as("/", Some(&arjun)).await.status, StatusCode::OK);
}

/// An SRE gives an incident responder from another squad the logs (or the REPL) of one service
/// for some hours, with a reason: audited, listed on the service, over when it expires.
#[tokio::test]
async fn sres_grant_time_bound_access_that_expires() {
    let (app, _sandbox) = TestApp::with_sandbox().await;
    let arjun = app.sign_in("arjun").await;
    let logs = |cookie: String, service: &'static str| {
        let app = &app;
        async move {
            app.get_as(&format!("/services/{service}/logs.txt?since=5m"), Some(&cookie))
                .await
                .status
        }
    };
    let replicas = |cookie: String| {
        let app = &app;
        async move {
            app.post_json("/api/query/replicas", Some(&cookie), json!({"service": "ledger"}))
                .await
                .status
        }
    };
    assert_eq!(logs(arjun.clone(), "ledger").await, StatusCode::FORBIDDEN);
    let form = "grantee=arjun&service=ledger&access=logs&hours=2&reason=incident%2042%3A%20ledger%20timeouts";
    let maria = app.sign_in("maria").await;
    assert_eq!(
        app.post_form("/api/access/grant", Some(&maria), form).await.status,
        StatusCode::FORBIDDEN,
        "owners do not grant"
    );
    let sre = app.sign_in("sre").await;
    for bad in [
        form.replace("hours=2", "hours=100"),
        form.replace("reason=incident%2042%3A%20ledger%20timeouts", "reason="),
        form.replace("access=logs", "access=admin"),
    ] {
        assert_eq!(
            app.post_form("/api/access/grant", Some(&sre), &bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let granted = app.post_form("/api/access/grant", Some(&sre), form).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    let grant_id = granted.json()["id"].as_str().unwrap().to_string();

    assert_eq!(
        logs(arjun.clone(), "ledger").await,
        StatusCode::OK,
        "the grant opens ledger's logs"
    );
    assert_eq!(
        logs(arjun.clone(), "payments-api").await,
        StatusCode::FORBIDDEN,
        "that service only"
    );
    assert_eq!(replicas(arjun.clone()).await, StatusCode::FORBIDDEN, "logs, not the REPL");
    let listed = app
        .post_json("/api/access/service-grants", Some(&arjun), json!({"service": "ledger"}))
        .await
        .json();
    assert_eq!(listed[0]["grantee"], "arjun");
    assert_eq!(listed[0]["reason"], "incident 42: ledger timeouts");
    let audit = console_core::audit::export(&app.store, "test", 0, i64::MAX).await.unwrap();
    assert!(audit.iter().any(|e| e.kind == "access.granted"
        && e.actor == "sre"
        && e.target == "arjun"
        && e.entity == "ledger"));

    // It ends by itself.
    sqlx::query("UPDATE access_grants SET expires_at = $1 WHERE id = $2")
        .bind(console_core::dates::now() - 1)
        .bind(&grant_id)
        .execute(app.store.pool())
        .await
        .unwrap();
    assert_eq!(
        logs(arjun.clone(), "ledger").await,
        StatusCode::FORBIDDEN,
        "an expired grant opens nothing"
    );
    assert!(app
        .post_json("/api/access/service-grants", Some(&arjun), json!({"service": "ledger"}))
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty());

    // A REPL grant, revoked early.
    let query = app
        .post_form("/api/access/grant", Some(&sre), &form.replace("access=logs", "access=query"))
        .await
        .json();
    assert_eq!(replicas(arjun.clone()).await, StatusCode::OK);
    let revoke = format!("id={}", query["id"].as_str().unwrap());
    assert_eq!(
        app.post_form("/api/access/revoke-grant", Some(&sre), &revoke).await.status,
        StatusCode::OK
    );
    assert_eq!(replicas(arjun.clone()).await, StatusCode::FORBIDDEN);
}

fn bearer_json(
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

/// The `query` scope: only where SREs allow it, only on a token made with it, and through the
/// REPL's own flow (policy and grants first: a developer's query token is refused on another
/// squad's service).
#[tokio::test]
async fn query_tokens_need_the_scope_and_the_sres_leave() {
    let app = TestApp::demo().await;
    let sre = app.sign_in("sre").await;
    let maria = app.sign_in("maria").await;
    let arjun = app.sign_in("arjun").await;
    let make = |cookie: String, form: &'static str| {
        let app = &app;
        async move { app.post_form("/api/tokens/create", Some(&cookie), form).await }
    };
    let read: String = serde_json::from_str(&make(maria.clone(), "name=read").await.body).unwrap();
    assert_eq!(
        make(maria.clone(), "name=q&scope=query").await.status,
        StatusCode::FORBIDDEN,
        "not allowed yet"
    );

    let (version, mut defaults) = console_core::defaults::repo::current(&app.store).await.unwrap();
    defaults.tokens.allow_query_scope = true;
    let saved = console_core::defaults::actions::save_as(
        &app.store,
        version,
        &toml::to_string(&defaults).unwrap(),
        "sre",
        "scripts may query",
    )
    .await
    .unwrap();
    let query: String =
        serde_json::from_str(&make(maria.clone(), "name=q&scope=query").await.body).unwrap();
    let arjun_query: String =
        serde_json::from_str(&make(arjun.clone(), "name=q&scope=query").await.body).unwrap();

    let run = |token: String| {
        let app = &app;
        async move {
            app.send(bearer_json(
                "/api/v1/services/ledger/query",
                &token,
                json!({"replica": "none", "sql": "SELECT 1"}),
            ))
            .await
        }
    };
    assert_eq!(
        run(read.clone()).await.status,
        StatusCode::FORBIDDEN,
        "a read token does not query"
    );
    let reply = run(query.clone()).await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "past scope and policy, no such replica: {}",
        reply.body
    );
    assert_eq!(run(arjun_query).await.status, StatusCode::FORBIDDEN, "not arjun's squad's service");
    let bad =
        app.send(bearer_json("/api/v1/services/ledger/query", &query, json!({"sql": 1}))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // SREs take the scope back: existing query tokens stop querying.
    let (_, mut defaults) = console_core::defaults::repo::current(&app.store).await.unwrap();
    defaults.tokens.allow_query_scope = false;
    console_core::defaults::actions::save_as(
        &app.store,
        saved,
        &toml::to_string(&defaults).unwrap(),
        "sre",
        "no more",
    )
    .await
    .unwrap();
    assert_eq!(run(query).await.status, StatusCode::FORBIDDEN);
    drop(sre);
}

/// A link or image on another site cannot make an audited read in the user's name: browsers
/// mark such requests `Sec-Fetch-Site: cross-site`, and those are refused before anything runs.
#[tokio::test]
async fn audited_reads_refuse_other_sites() {
    let app = TestApp::demo().await;
    let sre = app.sign_in("sre").await;
    let get = |path: &'static str, site: &'static str| {
        let app = &app;
        let sre = sre.clone();
        async move {
            let request = axum::http::Request::get(path)
                .header("cookie", sre)
                .header("sec-fetch-site", site)
                .body(axum::body::Body::empty())
                .unwrap();
            app.send(request).await.status
        }
    };
    let paths = [
        "/services/ledger/logs.txt",
        "/services/ledger/logs/stream",
        "/admin/audit.csv",
        "/admin/defaults.toml",
    ];
    for path in paths {
        for site in ["cross-site", "same-site"] {
            assert_eq!(get(path, site).await, StatusCode::FORBIDDEN, "{path} {site}");
        }
    }
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind NOT LIKE 'auth.%'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(events, 0, "a refused read runs nothing and leaves no read behind");
    for path in paths {
        assert_ne!(get(path, "same-origin").await, StatusCode::FORBIDDEN, "{path}");
    }
    // Pages stay reachable from links elsewhere.
    assert_eq!(get("/services/ledger", "cross-site").await, StatusCode::OK);
}

/// A session or token from a time dev sign-in was on (`make run` on the same store) stops once it
/// is off.
#[tokio::test]
async fn dev_identities_stop_when_dev_sign_in_is_off() {
    let app = TestApp::demo().await;
    let sre = app.sign_in("sre").await;
    let token: String = serde_json::from_str(
        &app.post_form("/api/tokens/create", Some(&sre), "name=old").await.body,
    )
    .unwrap();
    assert_eq!(app.send(bearer("/api/v1/me", &token, false)).await.status, StatusCode::OK);
    let auth =
        console::auth::Auth { dev_sign_in: false, ..console::auth::Auth::dev(common::PUBLIC_URL) };
    let later = TestApp::build(app.store.clone(), auth).await;
    assert_eq!(
        later.get_as("/admin", Some(&sre)).await.status,
        StatusCode::SEE_OTHER,
        "the session is no sign-in"
    );
    assert_eq!(
        later.send(bearer("/api/v1/me", &token, false)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// A malformed Bearer header with a session cookie is refused as a token, never served by the
/// cookie (the Origin check lets Bearer requests to the API through).
#[tokio::test]
async fn a_malformed_bearer_never_falls_back_to_the_cookie() {
    let app = TestApp::demo().await;
    let maria = app.sign_in("maria").await;
    let request = axum::http::Request::post("/api/v1/services/ledger/query")
        .header("cookie", maria)
        .header("authorization", axum::http::HeaderValue::from_bytes(b"Bearer \x80\x81").unwrap())
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"replica": "none", "sql": "SELECT 1"}).to_string()))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::UNAUTHORIZED);
}
