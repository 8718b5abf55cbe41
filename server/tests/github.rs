//! GitHub sign-in against a fake GitHub (OAuth endpoints and REST API) over HTTP: only members
//! of the configured organisation sign in; only its mapped or prefixed teams become squads; a
//! GitHub login never links to a catalog person by name (only the id annotation or a verified
//! e-mail does).

mod common;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{TestApp, PUBLIC_URL};
use console::auth::Auth;
use console_core::auth::github::{GithubProvider, GithubSettings};
use console_core::auth::sign_in::Secret;
use console_core::store::testing;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// GitHub accounts by OAuth code (the code is also the access token's suffix).
#[derive(Clone, Default)]
struct FakeGithub {
    accounts: Arc<Mutex<HashMap<String, Value>>>,
}

fn account(headers: &HeaderMap, github: &FakeGithub) -> Result<Value, StatusCode> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer gho_"));
    token
        .and_then(|code| github.accounts.lock().unwrap().get(code).cloned())
        .ok_or(StatusCode::UNAUTHORIZED)
}

async fn fake_github(github: FakeGithub) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/login/oauth/access_token", post(|State(github): State<FakeGithub>, Form(form): Form<HashMap<String, String>>| async move {
            let code = form.get("code").cloned().unwrap_or_default();
            if github.accounts.lock().unwrap().contains_key(&code) && form.contains_key("code_verifier") {
                Ok(Json(json!({"access_token": format!("gho_{code}"), "token_type": "bearer", "scope": "read:org"})))
            } else {
                Err((StatusCode::BAD_REQUEST, Json(json!({"error": "bad_verification_code"}))))
            }
        }))
        .route("/api/user", get(|State(github): State<FakeGithub>, headers: HeaderMap| async move {
            let a = account(&headers, &github)?;
            Ok::<_, StatusCode>(Json(json!({"id": a["id"], "login": a["login"], "name": a["name"]})))
        }))
        .route("/api/user/memberships/orgs/{org}", get(|State(github): State<FakeGithub>, Path(org): Path<String>, headers: HeaderMap| async move {
            let a = account(&headers, &github)?;
            if a["orgs"].as_array().unwrap().contains(&json!(org)) {
                Ok(Json(json!({"state": "active", "role": "member"})))
            } else {
                Err(StatusCode::NOT_FOUND)
            }
        }))
        .route("/api/user/teams", get(|State(github): State<FakeGithub>, headers: HeaderMap| async move {
            Ok::<_, StatusCode>(Json(account(&headers, &github)?["teams"].clone()))
        }))
        .route("/api/user/emails", get(|State(github): State<FakeGithub>, headers: HeaderMap| async move {
            Ok::<_, StatusCode>(Json(account(&headers, &github)?["emails"].clone()))
        }))
        .with_state(github);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn team(slug: &str, org: &str) -> Value {
    json!({"id": slug.len() as u64 * 1000 + slug.bytes().map(u64::from).sum::<u64>(), "slug": slug, "organization": {"login": org}})
}

async fn app_with(base: &str) -> TestApp {
    app_adjusted(base, |_| {}).await
}

async fn app_adjusted(base: &str, adjust: impl FnOnce(&mut Auth)) -> TestApp {
    app_from(github_settings(base), adjust).await
}

async fn app_from(settings: GithubSettings, adjust: impl FnOnce(&mut Auth)) -> TestApp {
    let mut auth = Auth::dev(PUBLIC_URL);
    auth.dev_sign_in = false;
    auth.github = Some(GithubProvider::new(settings));
    adjust(&mut auth);
    TestApp::build(testing::sqlite().await, auth).await
}

fn github_settings(base: &str) -> GithubSettings {
    GithubSettings {
        client_id: "gh-client".into(),
        client_secret: Secret::new("gh-secret".into()),
        redirect_url: format!("{PUBLIC_URL}/auth/github/callback"),
        org: "acme".into(),
        // By id (survives a rename): the team the fake calls "data-eng"; by slug: payments-team.
        team_map: [
            ("slug:payments-team".to_string(), "payments".to_string()),
            (format!("id:{}", team("data-eng", "acme")["id"]), "data".to_string()),
        ]
        .into(),
        team_prefix: "squad-".into(),
        sre_team: "slug:platform-sre".into(),
        trust_email: true,
        web_url: base.to_string(),
        api_url: format!("{base}/api"),
    }
}

fn state_of(location: &str) -> String {
    location.split(['?', '&']).find_map(|p| p.strip_prefix("state=")).unwrap().to_string()
}

/// Signs in with the account behind `code`; returns the callback's reply.
async fn callback(app: &TestApp, code: &str) -> common::Reply {
    let start = app.get_as("/auth/github/start", None).await;
    assert!(start.session_cookie().is_none(), "starting a sign-in stores no session");
    let pending = start.cookie("console_pending").expect("pending login cookie");
    let state = state_of(start.location());
    app.get_as(&format!("/auth/github/callback?code={code}&state={state}"), Some(&pending)).await
}

async fn session(app: &TestApp, reply: &common::Reply) -> Value {
    let cookie = reply.session_cookie().expect("signed in");
    app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json()["user"].clone()
}

fn github_with(accounts: &[(&str, Value)]) -> FakeGithub {
    let github = FakeGithub::default();
    for (code, a) in accounts {
        github.accounts.lock().unwrap().insert(code.to_string(), a.clone());
    }
    github
}

#[tokio::test]
async fn mapped_and_prefixed_teams_of_the_org_become_squads() {
    let github = github_with(&[(
        "good",
        json!({"id": 555, "login": "octo-quinn", "name": "Quinn", "orgs": ["acme"], "emails": [],
               "teams": [team("payments-team", "acme"), team("squad-search", "acme"), team("platform-sre", "acme"), team("data-eng", "acme"),
                         // Named like a squad, but neither mapped nor prefixed: anyone in the org can make one.
                         team("checkout", "acme"),
                         // Prefixed, but of another organisation: a squad name nothing else gives.
                         team("squad-billing", "other-org")]}),
    )]);
    let app = app_with(&fake_github(github).await).await;
    let reply = callback(&app, "good").await;
    assert_eq!(reply.location(), "/");
    let user = session(&app, &reply).await;
    assert_eq!(
        user["login"], "github:555",
        "not linked to any person: acts by its GitHub id, not its login"
    );
    assert_eq!(user["name"], "Quinn");
    assert_eq!(user["sre"], true);
    assert_eq!(user["squads"], json!(["data", "payments", "search"]));
}

#[tokio::test]
async fn accounts_outside_the_organisation_are_refused() {
    let github = github_with(&[(
        "stranger",
        json!({"id": 9, "login": "stranger", "name": "S", "orgs": ["other-org"], "emails": [],
               "teams": [team("squad-payments", "other-org")]}),
    )]);
    let app = app_with(&fake_github(github).await).await;
    let reply = callback(&app, "stranger").await;
    assert_eq!(reply.location(), "/login?error=not-member");
    assert!(reply.session_cookie().is_none());
    let page = app.get_as("/login?error=not-member", None).await;
    assert!(page.body.contains("not a member of the organisation"), "{}", page.body);
}

#[tokio::test]
async fn a_login_named_like_a_catalog_member_is_not_that_member() {
    // Whoever registers `maria` on GitHub (and joins the org) is not the catalog's maria.
    let github = github_with(&[
        (
            "namesake",
            json!({"id": 777, "login": "maria", "name": "Not Maria", "orgs": ["acme"], "teams": [],
                             "emails": [{"email": "maria@example.com", "verified": false}, {"email": "m@elsewhere.example", "verified": true}]}),
        ),
        // The real maria: by the id annotation in demo/catalog/people.yaml.
        (
            "by-id",
            json!({"id": 1001, "login": "msilva", "name": "Maria", "orgs": ["acme"], "teams": [], "emails": []}),
        ),
        // Someone else linking by a verified e-mail the catalog lists.
        (
            "by-email",
            json!({"id": 4242, "login": "arjun-gh", "name": "Arjun", "orgs": ["acme"], "teams": [],
                             "emails": [{"email": "Arjun@Example.com", "verified": true}]}),
        ),
    ]);
    let app = app_with(&fake_github(github).await).await;
    let namesake = session(&app, &callback(&app, "namesake").await).await;
    assert_eq!(namesake["login"], "github:777");
    assert_eq!(namesake["squads"], json!([]), "no catalog squad by name or unverified e-mail");
    let maria = session(&app, &callback(&app, "by-id").await).await;
    assert_eq!(
        (maria["login"].clone(), maria["squads"].clone()),
        (json!("maria"), json!(["payments"]))
    );
    let arjun = session(&app, &callback(&app, "by-email").await).await;
    assert_eq!(
        (arjun["login"].clone(), arjun["squads"].clone()),
        (json!("arjun"), json!(["search"]))
    );
}

#[tokio::test]
async fn a_refused_code_signs_nobody_in() {
    let app = app_with(&fake_github(FakeGithub::default()).await).await;
    let reply = callback(&app, "bad").await;
    assert_eq!(reply.location(), "/login?error=refused");
    assert!(reply.session_cookie().is_none());
}

/// GitHub is asked again with the kept access token: a team change reaches the session, and a
/// person who leaves the organisation is signed out.
#[tokio::test]
async fn membership_and_teams_are_rechecked() {
    let github = github_with(&[(
        "member",
        json!({"id": 31, "login": "octo-sam", "name": "Sam", "orgs": ["acme"], "emails": [],
               "teams": [team("squad-search", "acme"), team("platform-sre", "acme")]}),
    )]);
    let app = app_adjusted(&fake_github(github.clone()).await, |auth| auth.recheck_secs = 0).await;
    let reply = callback(&app, "member").await;
    let cookie = reply.session_cookie().unwrap();
    let user = |cookie: String| {
        let app = &app;
        async move {
            app.post_json("/api/auth/session", Some(&cookie), json!({})).await.json()["user"]
                .clone()
        }
    };
    assert_eq!(user(cookie.clone()).await["sre"], true);
    github.accounts.lock().unwrap().get_mut("member").unwrap()["teams"] =
        json!([team("squad-search", "acme")]);
    let now = user(cookie.clone()).await;
    assert_eq!((now["sre"].clone(), now["squads"].clone()), (json!(false), json!(["search"])));
    github.accounts.lock().unwrap().get_mut("member").unwrap()["orgs"] = json!([]);
    assert_eq!(user(cookie.clone()).await, Value::Null, "left the organisation: signed out");
    assert_eq!(app.get_as("/", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
}

/// Team ids and slugs are separate key spaces: any member may create a team, and one whose slug
/// is the id of a mapped team (or of the SRE team) gets neither that squad nor SRE.
#[tokio::test]
async fn a_team_whose_slug_is_a_mapped_id_gets_nothing() {
    let data_id = team("data-eng", "acme")["id"].to_string();
    let sre_id = team("platform-sre", "acme")["id"].to_string();
    let github = github_with(&[
        (
            "mallory",
            json!({"id": 666, "login": "mallory", "name": "Mallory", "orgs": ["acme"], "emails": [],
                           "teams": [team(&data_id, "acme"), team(&sre_id, "acme")]}),
        ),
        (
            "sre",
            json!({"id": 777, "login": "octo-sre", "name": "Sam", "orgs": ["acme"], "emails": [],
                       "teams": [team("platform-sre", "acme")]}),
        ),
    ]);
    let base = fake_github(github).await;
    let app = app_from(
        GithubSettings { sre_team: format!("id:{sre_id}"), ..github_settings(&base) },
        |_| {},
    )
    .await;
    let mallory = session(&app, &callback(&app, "mallory").await).await;
    assert_eq!(mallory["sre"], false, "a slug equal to the SRE team's id is not the SRE team");
    assert_eq!(mallory["squads"], json!([]), "a slug equal to data-eng's id is not data-eng");
    let sre = session(&app, &callback(&app, "sre").await).await;
    assert_eq!(sre["sre"], true, "the SRE team itself, by its id");
}
