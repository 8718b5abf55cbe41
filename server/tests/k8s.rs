//! Kubernetes through the real kube client against the sandbox cluster over HTTP: deployment
//! views and rollout states, events, every log option, follow across a rollout, limits from the
//! platform defaults, bad input, and a cluster that goes away and comes back.

mod common;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;
use tower::ServiceExt;

async fn workloads(app: &TestApp, cookie: &str, service: &str) -> Value {
    let reply = app
        .post_json("/api/k8s/workloads", Some(cookie), json!({"service": service, "cluster": ""}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()
}

/// Polls `service`'s view until `ready` holds (life in the sandbox takes a few ticks).
async fn until(
    app: &TestApp,
    cookie: &str,
    service: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..100 {
        let view = workloads(app, cookie, service).await;
        if ready(&view) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{service}: never saw {what}: {}", workloads(app, cookie, service).await);
}

fn deployment(view: &Value) -> &Value {
    &view["deployments"][0]
}

#[tokio::test]
async fn deployment_views_show_rollouts_pods_and_events() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;

    // ledger: tier 1, three pods of two containers, one OOMKilled restart, all events.
    let ledger = workloads(&app, &maria, "ledger").await;
    assert_eq!(ledger["clusters"][0]["name"], "sandbox");
    assert_eq!(ledger["clusters"][0]["stale_since"], Value::Null);
    let d = deployment(&ledger);
    assert_eq!((d["name"].as_str(), d["namespace"].as_str()), (Some("ledger"), Some("payments")));
    assert_eq!(d["rollout"]["state"], "Complete");
    assert_eq!(
        (d["desired"].as_i64(), d["ready"].as_i64(), d["available"].as_i64()),
        (Some(3), Some(3), Some(3))
    );
    assert_eq!(
        d["images"],
        json!(["registry.example.com/ledger:1.0.0", "registry.example.com/proxy:3.1"])
    );
    let pods = d["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p["containers"] == json!(["app", "proxy"])
        && p["node"].as_str().unwrap().starts_with("node-")));
    assert!(
        pods.iter().any(|p| p["last_termination"] == "OOMKilled (137)" && p["restarts"] == 1),
        "{pods:?}"
    );
    let events = d["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["reason"] == "OOMKilling" && e["warning"] == true),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["reason"] == "Scheduled"));

    // payouts-worker: a rollout stuck on an image pull is reported failed, with the reason.
    // The pod's ErrImagePull turns into ImagePullBackOff on a later tick than the deadline can
    // pass: wait for both rather than for the first.
    let stuck = until(&app, &maria, "payouts-worker", "a stalled rollout", |v| {
        deployment(v)["rollout"]["state"] == "Failed"
            && deployment(v)["pods"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["waiting"] == "ImagePullBackOff")
    })
    .await;
    let d = deployment(&stuck);
    assert_eq!(d["rollout"]["reason"], "ProgressDeadlineExceeded");
    assert!(d["pods"].as_array().unwrap().iter().any(|p| p["waiting"] == "ImagePullBackOff"));
    assert!(d["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["reason"] == "Failed" && e["warning"] == true));

    // fraud-scoring: its container crashes again and again.
    let crashing = until(&app, &maria, "fraud-scoring", "CrashLoopBackOff", |v| {
        deployment(v)["pods"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["waiting"] == "CrashLoopBackOff"))
    })
    .await;
    let d = deployment(&crashing);
    assert!(d["pods"][0]["restarts"].as_i64().unwrap() >= 8, "{}", d["pods"]);
    assert!(d["events"].as_array().unwrap().iter().any(|e| e["reason"] == "BackOff"));

    // refunds-ui: a rollout progresses a pod at a time, then completes on a new revision.
    assert!(sandbox.rollout("payments", "refunds-ui", "2.0.0"));
    until(&app, &maria, "refunds-ui", "a rollout in progress", |v| {
        deployment(v)["rollout"]["state"] == "Progressing"
    })
    .await;
    let done = until(&app, &maria, "refunds-ui", "the rollout complete", |v| {
        deployment(v)["rollout"]["state"] == "Complete" && deployment(v)["revision"] == 2
    })
    .await;
    let d = deployment(&done);
    assert_eq!(d["images"], json!(["registry.example.com/refunds-ui:2.0.0"]));
    let revisions = d["revisions"].as_array().unwrap();
    assert_eq!(
        (revisions[0]["revision"].as_u64(), revisions[0]["current"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(revisions[1]["revision"], 1);
    assert!(d["pods"].as_array().unwrap().iter().all(|p| p["revision"] == 2));

    // The page itself, server-rendered, escapes and shows the same.
    let (status, page) = app.get("/services/ledger/deployments").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("OOMKilled (137)") && page.contains("OOMKilling"), "{page}");
}

#[tokio::test]
async fn page_views_make_no_api_requests_once_the_caches_are_warm() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let before = sandbox.requests();
    for service in ["ledger", "payments-api", "fraud-scoring", "refunds-ui", "cart"] {
        workloads(&app, &maria, service).await;
        let page = app.get_as(&format!("/services/{service}/deployments"), Some(&maria)).await;
        assert_eq!(page.status, StatusCode::OK);
    }
    assert_eq!(sandbox.requests() - before, 0, "page views reached the API server");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_or_an_empty_state() {
    let (app, _sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let unknown = app
        .post_json(
            "/api/k8s/workloads",
            Some(&maria),
            json!({"service": "ledger", "cluster": "mars"}),
        )
        .await;
    assert!(unknown.body.contains("no cluster named \\\"mars\\\""), "{}", unknown.body);
    // One status per refusal on every route: what does not exist is 404, here as on the pages.
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let missing = app
        .post_json("/api/k8s/workloads", Some(&maria), json!({"service": "no-such", "cluster": ""}))
        .await;
    assert!(missing.body.contains("NotFound"), "{}", missing.body);
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    for route in ["/services/no-such/logs.txt", "/services/no-such/deployments/live"] {
        let reply = app.get_as(route, Some(&maria)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{route}: {}", reply.body);
    }

    // A namespace with nothing in it: an empty state, not an error.
    sqlx::query("UPDATE services SET k8s_namespace = 'nowhere' WHERE name = 'ledger'")
        .execute(app.store.pool())
        .await
        .unwrap();
    let empty = workloads(&app, &maria, "ledger").await;
    assert_eq!(empty["deployments"], json!([]));
    let page = app.get_as("/services/ledger/deployments", Some(&maria)).await;
    assert!(page.body.contains("No deployment matches"), "{}", page.body);
    // A selector that matches nothing: empty too.
    sqlx::query("UPDATE services SET k8s_namespace = '', k8s_selector = 'app=nothing-here' WHERE name = 'cart'").execute(app.store.pool()).await.unwrap();
    assert_eq!(workloads(&app, &maria, "cart").await["deployments"], json!([]));
    // An empty selector would match everything: refused.
    sqlx::query("UPDATE services SET k8s_selector = '' WHERE name = 'refunds-ui'")
        .execute(app.store.pool())
        .await
        .unwrap();
    let reply = app
        .post_json(
            "/api/k8s/workloads",
            Some(&maria),
            json!({"service": "refunds-ui", "cluster": ""}),
        )
        .await;
    assert!(reply.body.contains("empty label selector"), "{}", reply.body);
    let logs = app.get_as("/services/refunds-ui/logs.txt", Some(&maria)).await;
    assert_eq!(logs.status, StatusCode::BAD_REQUEST);
}

/// `pod/container time text` lines of a download.
async fn download(app: &TestApp, cookie: &str, query: &str) -> (StatusCode, Vec<String>, String) {
    let reply = app.get_as(&format!("/services/ledger/logs.txt?{query}"), Some(cookie)).await;
    let lines = reply.body.lines().map(str::to_string).collect();
    (reply.status, lines, reply.body)
}

#[tokio::test]
async fn logs_merge_every_pod_and_honour_each_option() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    // Polled, not slept on: until every container of the 3 pods has logged a line.
    let mut reply = download(&app, &maria, "since=5m").await;
    for _ in 0..200 {
        let containers: std::collections::BTreeSet<&str> =
            reply.1.iter().filter_map(|l| l.split(' ').next()).collect();
        if containers.len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        reply = download(&app, &maria, "since=5m").await;
    }
    let (status, lines, body) = reply;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pods: std::collections::BTreeSet<&str> =
        lines.iter().map(|l| l.split('/').next().unwrap()).collect();
    assert_eq!(pods.len(), 3, "every pod in one timeline: {pods:?}");
    assert!(
        lines.iter().any(|l| l.contains("/proxy ")) && lines.iter().any(|l| l.contains("/app "))
    );
    let times: Vec<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by_key(|t| t.parse::<jiff::Timestamp>().unwrap());
    assert_eq!(times, sorted, "merged by time");

    let (_, proxy, _) = download(&app, &maria, "since=5m&container=proxy").await;
    assert!(!proxy.is_empty() && proxy.iter().all(|l| l.contains("/proxy ")));
    let (_, tail, _) = download(&app, &maria, "tail=1").await;
    assert_eq!(tail.len(), 6, "one line from each of 3 pods x 2 containers: {tail:?}");

    let pod = sandbox.pods("payments", "backstage.io/kubernetes-id=ledger")[0].clone();
    sandbox.write_log("payments", &pod, "app", "level=error msg=\"payment 42 declined\" code=E42");
    let (_, found, _) = download(&app, &maria, "filter=declined").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with(&format!("{pod}/app ")) && found[0].ends_with("code=E42"));
    let (_, matched, _) = download(&app, &maria, "filter=code%3DE%5Cd%2B&regex=true").await;
    assert_eq!(matched.len(), 1);
    let (_, none, _) = download(&app, &maria, "filter=code%3DE%5Cd%2B").await;
    assert!(none.is_empty(), "without regex the pattern is a plain substring");

    // previous: the last run of the crash-looping container, once it has crashed.
    let mut previous = String::new();
    for _ in 0..50 {
        let reply =
            app.get_as("/services/fraud-scoring/logs.txt?previous=true", Some(&maria)).await;
        if reply.body.contains("panic: cannot start") {
            previous = reply.body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(previous.contains("connection refused"), "{previous}");

    // Bad input: each a clear refusal, none a 5xx.
    for (query, expect) in [
        ("since=-5m", "must be a positive duration"),
        ("since=10y", "the unit must be s, m, h or d"),
        ("since=30d", "the platform keeps log views to the last"),
        ("since=abc", "must be a number and a unit"),
        ("filter=(unclosed&regex=true", "not a valid regular expression"),
        ("cluster=mars", "no cluster named"),
        ("container=sidecar", "no pod has a container named \"sidecar\""),
        ("deployment=nope", "no deployment named"),
        ("tail=999999999", "at most"),
    ] {
        let (status, _, body) = download(&app, &maria, query).await;
        assert!(status.is_client_error(), "{query}: {status} {body}");
        assert!(body.contains(expect), "{query}: {body}");
    }
    let tail = app.get_as("/services/ledger/logs.txt?tail=lots", Some(&maria)).await;
    assert_eq!(tail.status, StatusCode::BAD_REQUEST);

    // Logs belong to the owning squad (and SREs).
    let arjun = app.sign_in("arjun").await;
    assert_eq!(download(&app, &arjun, "since=5m").await.0, StatusCode::FORBIDDEN);
    let anonymous = app.get_as("/services/ledger/logs.txt", None).await.status;
    assert!(matches!(anonymous, StatusCode::UNAUTHORIZED | StatusCode::SEE_OTHER), "{anonymous}");
}

/// Reads server-sent events from a streamed reply.
struct Events {
    body: axum::body::BodyDataStream,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, uri: &str, cookie: &str) -> Events {
        let request = Request::get(uri).header("cookie", cookie).body(Body::empty()).unwrap();
        let response = app.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        Events { body: response.into_body().into_data_stream(), buffer: String::new() }
    }

    /// The next (event, data), or None when the stream ends or `wait` passes.
    async fn next(&mut self, wait: Duration) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(e) =
                        line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:"))
                    {
                        event = e.to_string();
                    } else if let Some(d) =
                        line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:"))
                    {
                        data.push_str(d);
                    }
                }
                if data.is_empty() && event == "message" {
                    continue; // keep-alive comment
                }
                return Some((event, data));
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await.ok()??.ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Lines until one satisfies `want`.
    async fn line_where(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        while let Some((event, data)) = self.next(Duration::from_secs(15)).await {
            assert_ne!(event, "problem", "{data}");
            if event == "lines" {
                let batch: Vec<Value> = serde_json::from_str(&data).unwrap();
                if let Some(line) = batch.into_iter().find(|l| want(l)) {
                    return line;
                }
            }
        }
        panic!("the stream never carried {what}");
    }
}

#[tokio::test]
async fn follow_streams_new_lines_and_new_pods_of_a_rollout_join() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let before = sandbox.pods("payments", "backstage.io/kubernetes-id=refunds-ui");
    let mut events = Events::open(
        &app,
        "/services/refunds-ui/logs/stream?follow=true&since=1m&filter=marker",
        &maria,
    )
    .await;
    assert!(
        eventually(|| sandbox.follows_of("payments", &before[0]) > 0).await,
        "the pod is followed"
    );
    sandbox.write_log("payments", &before[0], "app", "marker one");
    let line = events.line_where("marker one", |l| l["text"] == "marker one").await;
    assert_eq!(line["pod"], before[0].as_str());
    assert_eq!(line["container"], "app");

    // A rollout replaces the pods: the new ones join the follow.
    assert!(sandbox.rollout("payments", "refunds-ui", "3.0.0"));
    let mut fresh = None;
    for _ in 0..100 {
        let now = sandbox.pods("payments", "backstage.io/kubernetes-id=refunds-ui");
        if let Some(pod) = now.into_iter().find(|p| !before.contains(p)) {
            fresh = Some(pod);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fresh = fresh.expect("the rollout starts a new pod");
    // Write until the follow has picked the new pod up (it joins on the next cache change).
    let writer = {
        let fresh = fresh.clone();
        let sandbox = std::sync::Arc::new(sandbox);
        let s = sandbox.clone();
        tokio::spawn(async move {
            for i in 0..100 {
                s.write_log("payments", &fresh, "app", &format!("marker from the new pod {i}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        sandbox
    };
    let joined = events.line_where("a line of the new pod", |l| l["pod"] == fresh.as_str()).await;
    assert!(joined["text"].as_str().unwrap().starts_with("marker from the new pod"));
    drop(writer);
}

#[tokio::test]
async fn log_limits_come_from_the_platform_defaults() {
    let (app, _sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    assert_eq!(download(&app, &maria, "since=2h").await.0, StatusCode::OK);
    let (_, uncapped, _) = download(&app, &maria, "since=30m").await;
    assert!(uncapped.len() > 5, "enough lines for the cap below to cut: {}", uncapped.len());

    let (version, mut defaults) = console_core::defaults::repo::current(&app.store).await.unwrap();
    defaults.logs = console_core::defaults::LogLimits {
        max_window_minutes: 60,
        max_lines: 5,
        max_follows_per_user: 1,
        max_live_views_per_user: 1,
    };
    let document = toml::to_string(&defaults).unwrap();
    console_core::defaults::actions::save_as(&app.store, version, &document, "sre", "tighter logs")
        .await
        .unwrap();

    let (status, _, body) = download(&app, &maria, "since=2h").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("the platform keeps log views to the last 60m"), "{body}");
    let (_, lines, _) = download(&app, &maria, "since=30m").await;
    assert_eq!(lines.len(), 5, "exactly max_lines of the more there are");
    assert!(download(&app, &maria, "tail=6").await.2.contains("at most 5 lines"));

    // One follow at a time for this user; the second is refused, a first one closed frees it.
    let mut first = Events::open(&app, "/services/ledger/logs/stream?follow=true", &maria).await;
    assert!(first.next(Duration::from_secs(15)).await.is_some(), "the first follow runs");
    let mut second = Events::open(&app, "/services/ledger/logs/stream?follow=true", &maria).await;
    let (event, data) = second.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (event.as_str(), data.as_str()),
        ("problem", "you already follow 1 log streams: close one first")
    );
    drop(first);
    let mut third = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut again =
            Events::open(&app, "/services/ledger/logs/stream?follow=true", &maria).await;
        match again.next(Duration::from_secs(5)).await {
            Some((event, _)) if event == "lines" => {
                third = Some(again);
                break;
            }
            _ => continue,
        }
    }
    assert!(third.is_some(), "closing a follow frees its slot");
}

#[tokio::test]
async fn a_cluster_that_goes_away_is_served_stale_then_live_again() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let live = workloads(&app, &maria, "ledger").await;
    sandbox.stop().await;

    let stale = until(&app, &maria, "ledger", "a stale banner", |v| {
        v["clusters"][0]["stale_since"].is_string()
    })
    .await;
    assert_eq!(
        stale["deployments"].as_array().unwrap().len(),
        live["deployments"].as_array().unwrap().len()
    );
    assert_eq!(deployment(&stale)["name"], "ledger", "the cached state keeps serving");
    let page = app.get_as("/services/ledger/deployments", Some(&maria)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("is unreachable: showing its state as of"), "{}", page.body);
    let logs = app.get_as("/services/ledger/logs.txt?since=5m", Some(&maria)).await;
    assert_eq!(logs.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(logs.body.contains("not reachable right now"), "{}", logs.body);

    sandbox.resume().await.unwrap();
    until(&app, &maria, "ledger", "the banner gone", |v| v["clusters"][0]["stale_since"].is_null())
        .await;
    // Live again: a rollout started now shows up.
    assert!(sandbox.rollout("payments", "ledger", "9.9.9"));
    until(&app, &maria, "ledger", "the new rollout", |v| deployment(v)["revision"] == 2).await;
    assert_eq!(
        app.get_as("/services/ledger/logs.txt?since=5m", Some(&maria)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_live_view_pushes_changes_as_they_happen() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let mut events = Events::open(&app, "/services/refunds-ui/deployments/live", &maria).await;
    let (event, data) = events.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(event, "workloads");
    let first: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(deployment(&first)["rollout"]["state"], "Complete");
    assert!(sandbox.rollout("payments", "refunds-ui", "4.0.0"));
    // Without asking again, the new revision arrives as the rollout goes through.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while let Some((_, data)) = events.next(deadline - tokio::time::Instant::now()).await {
        let view: Value = serde_json::from_str(&data).unwrap();
        let d = deployment(&view);
        if d["rollout"]["state"] == "Complete" && d["revision"] == 2 {
            assert_eq!(d["images"], json!(["registry.example.com/refunds-ui:4.0.0"]));
            return;
        }
    }
    panic!("the live view never showed the rollout through");
}

/// Who read which service's logs, over which window and filter, and how many lines: downloads,
/// views and follows each leave an event in the audit log.
#[tokio::test]
async fn log_reads_are_audited_with_who_what_and_how_many() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let pod = sandbox.pods("payments", "backstage.io/kubernetes-id=ledger")[0].clone();
    sandbox.write_log("payments", &pod, "app", "level=error msg=\"payment 42 declined\" code=E42");
    let (status, lines, body) = download(&app, &maria, "since=30m&filter=declined").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!lines.is_empty(), "the sandbox writes declined payments");

    let mut view = Events::open(&app, "/services/ledger/logs/stream?since=5m", &maria).await;
    let mut viewed = 0;
    while let Some((event, data)) = view.next(Duration::from_secs(15)).await {
        match event.as_str() {
            "lines" => viewed += serde_json::from_str::<Vec<Value>>(&data).unwrap().len(),
            "end" => break,
            _ => {}
        }
    }
    assert!(viewed > 0);

    let audit = console_core::audit::export(&app.store, "test", 0, i64::MAX).await.unwrap();
    let downloaded =
        audit.iter().find(|e| e.kind == "logs.downloaded").expect("the download is audited");
    assert_eq!((downloaded.actor.as_str(), downloaded.entity.as_str()), ("maria", "ledger"));
    assert_eq!(downloaded.row_count, lines.len() as i64);
    assert!(
        downloaded.detail.contains("since=30m") && downloaded.detail.contains("filter=declined"),
        "{}",
        downloaded.detail
    );
    let read = audit.iter().find(|e| e.kind == "logs.read").expect("the view is audited");
    assert_eq!((read.actor.as_str(), read.row_count), ("maria", viewed as i64));
    // The owning squad browses them; other squads cannot.
    let reads =
        app.post_json("/api/audit/service-reads", Some(&maria), json!({"service": "ledger"})).await;
    assert!(
        reads
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "logs.downloaded" && r["actor"] == "maria"),
        "{}",
        reads.body
    );
    let arjun = app.sign_in("arjun").await;
    assert_eq!(
        app.post_json("/api/audit/service-reads", Some(&arjun), json!({"service": "ledger"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // A follow: its start, then (once closed) how many lines it carried.
    let mut follow =
        Events::open(&app, "/services/ledger/logs/stream?follow=true&since=1m", &maria).await;
    follow.line_where("any line", |_| true).await;
    drop(follow);
    let mut ended = None;
    for _ in 0..100 {
        let audit = console_core::audit::export(&app.store, "test", 0, i64::MAX).await.unwrap();
        assert!(audit.iter().any(|e| e.kind == "logs.followed" && e.actor == "maria"));
        ended = audit.into_iter().find(|e| e.kind == "logs.follow-ended");
        if ended.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended.expect("a closed follow is recorded").row_count > 0);
}

/// Live views are capped per person in the store (so across console replicas), and a closed
/// view frees its slot.
#[tokio::test]
async fn live_views_are_capped_per_person() {
    let (app, _sandbox) = TestApp::with_sandbox().await;
    let (version, mut defaults) = console_core::defaults::repo::current(&app.store).await.unwrap();
    defaults.logs.max_live_views_per_user = 2;
    console_core::defaults::actions::save_as(
        &app.store,
        version,
        &toml::to_string(&defaults).unwrap(),
        "sre",
        "two views",
    )
    .await
    .unwrap();
    let maria = app.sign_in("maria").await;
    let open = |cookie: String| {
        let router = app.router.clone();
        async move {
            let request = Request::get("/services/ledger/deployments/live")
                .header("cookie", cookie)
                .body(Body::empty())
                .unwrap();
            router.oneshot(request).await.unwrap()
        }
    };
    let first = open(maria.clone()).await;
    let second = open(maria.clone()).await;
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    let third = open(maria.clone()).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = axum::body::to_bytes(third.into_body(), 1 << 16).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&body),
        "you already have 2 live views open: close one first"
    );
    // Someone else is not held back by maria's views.
    let arjun = app.sign_in("arjun").await;
    assert_eq!(open(arjun).await.status(), StatusCode::OK);
    drop(first);
    let mut freed = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if open(maria.clone()).await.status() == StatusCode::OK {
            freed = true;
            break;
        }
    }
    assert!(freed, "closing a view frees its slot");
    drop(second);
}

/// Anyone who can deploy somewhere can label a deployment `backstage.io/kubernetes-id=ledger`:
/// ledger's views look only in its squad's namespaces, so the impostor's pods and log lines stay
/// out.
#[tokio::test]
async fn workloads_outside_the_squads_namespaces_are_not_shown() {
    let impostor = console_sandbox::Workload {
        namespace: "sandbox-games".into(),
        name: "ledger-lookalike".into(),
        labels: [("backstage.io/kubernetes-id".to_string(), "ledger".to_string())].into(),
        replicas: 1,
        containers: vec!["app".into()],
        life: console_sandbox::Life::Steady,
        chatty: true,
    };
    let (app, sandbox) = TestApp::with_sandbox_and(vec![impostor]).await;
    let intruder = sandbox.pods("sandbox-games", "backstage.io/kubernetes-id=ledger");
    assert_eq!(intruder.len(), 1, "the impostor runs");
    sandbox.write_log("sandbox-games", &intruder[0], "app", "FORGED payment 99 refunded");
    let maria = app.sign_in("maria").await;
    let view = workloads(&app, &maria, "ledger").await;
    let deployments = view["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0]["namespace"], "payments");
    assert_eq!(view["namespace"], "payments");
    let (status, lines, _) = download(&app, &maria, "since=30m").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !lines.is_empty()
            && lines.iter().all(|l| !l.starts_with("ledger-lookalike") && !l.contains("FORGED")),
        "{lines:?}"
    );
}

/// Polls `done` every 50 ms for up to 15 s; false if it never held.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..300 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Pods a rollout replaced leave the follow: the console ends their streams itself, even on a
/// cluster that would keep them open (a lost kubelet, a long termination grace), and the new
/// pods are followed instead.
#[tokio::test]
async fn gone_pods_leave_a_follow() {
    let options = console_sandbox::Options {
        tick: Duration::from_millis(100),
        lingering_follows: true,
        ..Default::default()
    };
    let (app, sandbox) = TestApp::with_sandbox_options(vec![], options).await;
    let maria = app.sign_in("maria").await;
    let pods = || sandbox.pods("payments", "backstage.io/kubernetes-id=refunds-ui");
    let before = pods();
    let mut events =
        Events::open(&app, "/services/refunds-ui/logs/stream?follow=true&since=1m", &maria).await;
    let reader =
        tokio::spawn(async move { while events.next(Duration::from_secs(60)).await.is_some() {} });
    assert!(
        eventually(|| before.iter().all(|p| sandbox.follows_of("payments", p) > 0)).await,
        "every pod followed"
    );

    assert!(sandbox.rollout("payments", "refunds-ui", "3.0.0"));
    assert!(
        eventually(|| !pods().iter().any(|p| before.contains(p))).await,
        "the rollout replaced every pod"
    );
    let after = pods();
    assert!(
        eventually(|| before.iter().all(|p| sandbox.follows_of("payments", p) == 0)).await,
        "the gone pods' streams are still open: {:?}",
        before.iter().map(|p| sandbox.follows_of("payments", p)).collect::<Vec<_>>()
    );
    assert!(
        eventually(|| after.iter().all(|p| sandbox.follows_of("payments", p) > 0)).await,
        "the new pods are followed"
    );
    reader.abort();
}

/// A follow holds a stream per container on the cluster while its client reads, and none once
/// the client has gone (and then frees its slot).
#[tokio::test]
async fn a_follow_stops_following_the_cluster_when_its_client_goes() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    assert_eq!(sandbox.open_follows(), 0);
    let mut follow =
        Events::open(&app, "/services/ledger/logs/stream?follow=true&since=1m", &maria).await;
    follow.line_where("any line", |_| true).await;
    // ledger: 3 pods × 2 containers.
    let mut open = 0;
    for _ in 0..100 {
        open = sandbox.open_follows();
        if open == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open, 6, "one stream per container while followed");
    drop(follow);
    for _ in 0..100 {
        open = sandbox.open_follows();
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open, 0, "no stream left on the cluster once the client is gone");
}

/// A stream is one request that can last days: a follow ends, saying why, when its grant is
/// revoked or runs out, when its person is offboarded, and when an import moves the service to
/// another squad; the cluster is freed.
#[tokio::test]
async fn an_open_follow_ends_when_access_does() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let sre = app.sign_in("sre").await;
    let granted = app
        .post_form(
            "/api/access/grant",
            Some(&sre),
            "grantee=arjun&service=ledger&access=logs&hours=1&reason=incident%207",
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    let arjun = app.sign_in("arjun").await;
    let mut follow =
        Events::open(&app, "/services/ledger/logs/stream?follow=true&since=1m", &arjun).await;
    follow.line_where("a line under the grant", |_| true).await;
    let revoke = format!("id={}", granted.json()["id"].as_str().unwrap());
    assert_eq!(
        app.post_form("/api/access/revoke-grant", Some(&sre), &revoke).await.status,
        StatusCode::OK
    );
    assert_eq!(ending(&mut follow).await, ACCESS_ENDED, "a revoked grant");

    // A grant that runs out.
    let granted = app
        .post_form(
            "/api/access/grant",
            Some(&sre),
            "grantee=arjun&service=ledger&access=logs&hours=1&reason=incident%208",
        )
        .await;
    let mut follow =
        Events::open(&app, "/services/ledger/logs/stream?follow=true&since=1m", &arjun).await;
    follow.line_where("a line under the second grant", |_| true).await;
    sqlx::query("UPDATE access_grants SET expires_at = $1 WHERE id = $2")
        .bind(console_core::dates::now() - 1)
        .bind(granted.json()["id"].as_str().unwrap())
        .execute(app.store.pool())
        .await
        .unwrap();
    assert_eq!(ending(&mut follow).await, ACCESS_ENDED, "an expired grant");

    // Maria follows her own service; an SRE offboards her.
    let maria = app.sign_in("maria").await;
    let mut follow =
        Events::open(&app, "/services/ledger/logs/stream?follow=true&since=1m", &maria).await;
    follow.line_where("a line", |_| true).await;
    assert_eq!(
        app.post_form("/api/access/offboard", Some(&sre), "actor=maria").await.status,
        StatusCode::OK
    );
    assert_eq!(ending(&mut follow).await, ACCESS_ENDED, "an offboarded person");
    drop(follow);

    // An import (the descriptors in Git) moves ledger to another squad: its owners' follow ends.
    let joao = app.sign_in("joao").await;
    let mut follow =
        Events::open(&app, "/services/ledger/logs/stream?follow=true&since=1m", &joao).await;
    follow.line_where("a line", |_| true).await;
    let moved = tempfile::tempdir().unwrap();
    common::write_demo_catalog(moved.path(), |mut text| {
        if let Some(at) = text.find("  name: ledger\n") {
            let owner = at + text[at..].find("owner: group:default/payments").unwrap();
            text.replace_range(
                owner..owner + "owner: group:default/payments".len(),
                "owner: group:default/search",
            );
        }
        text
    });
    console_core::catalog::ingest::import_dir(&app.store, moved.path()).await.unwrap();
    assert_eq!(ending(&mut follow).await, ACCESS_ENDED, "the service moved to another squad");
    drop(follow);
    let mut open = usize::MAX;
    for _ in 0..100 {
        open = sandbox.open_follows();
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open, 0);
}

const ACCESS_ENDED: &str =
    "your access to this service ended (signed out, a grant expired, or your squads changed)";

/// The `problem` event that ends a follow (lines before it are skipped).
async fn ending(follow: &mut Events) -> String {
    while let Some((event, data)) = follow.next(Duration::from_secs(10)).await {
        if event == "problem" {
            return data;
        }
    }
    panic!("the follow did not end");
}

/// A log read whose record cannot be written is not served: the audit fails closed.
#[tokio::test]
async fn a_read_that_cannot_be_audited_is_not_served() {
    let (app, _sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_away")
        .execute(app.store.pool())
        .await
        .unwrap();
    let (status, _, body) = download(&app, &maria, "since=30m").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.contains("ledger-"), "no line leaves: {body}");
    let mut view = Events::open(&app, "/services/ledger/logs/stream?since=5m", &maria).await;
    let (event, data) = view.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (event.as_str(), data.contains("could not be recorded")),
        ("problem", true),
        "{data}"
    );
}

/// A read is bounded in bytes, not only in lines: the cluster cuts each container's answer at
/// READ_BYTES_PER_CONTAINER (the client holds a whole answer in memory). Three 1 MiB lines come
/// back as at most 2 MiB of that container's text.
#[tokio::test]
async fn a_log_read_is_cut_at_its_byte_bound() {
    let (app, sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let pod = sandbox.pods("payments", "backstage.io/kubernetes-id=ledger")[0].clone();
    for i in 0..3 {
        sandbox.write_log("payments", &pod, "app", &format!("big-{i}-{}", "x".repeat(1 << 20)));
    }
    let (status, lines, body) = download(&app, &maria, "since=5m").await;
    assert_eq!(status, StatusCode::OK, "{}", &body[..body.len().min(300)]);
    let prefix = format!("{pod}/app ");
    let bytes: usize = lines.iter().filter(|l| l.starts_with(&prefix)).map(|l| l.len() + 1).sum();
    assert!(bytes > 1 << 20, "the first big line is read: {bytes} bytes");
    // The download prefixes each line with pod/container (the bound counts the API's own prefix).
    assert!(
        bytes <= console_core::k8s::logs::READ_BYTES_PER_CONTAINER + 8 * 1024,
        "cut at the bound: {bytes} bytes"
    );
    assert!(!lines.iter().any(|l| l.contains("big-2-")), "the newest big line is past the bound");
}

/// A stream is held to the session's absolute lifetime like any request, and a re-check that
/// cannot be made (the store fails) ends it: access fails closed.
#[tokio::test]
async fn an_open_follow_ends_at_the_absolute_lifetime_and_on_a_store_error() {
    let mut auth = console::auth::Auth::dev(common::PUBLIC_URL);
    auth.max_age_secs = 3;
    let options =
        console_sandbox::Options { tick: Duration::from_millis(100), ..Default::default() };
    let (app, _sandbox) = TestApp::with_sandbox_auth(vec![], options, auth).await;
    let maria = app.sign_in("maria").await;
    let mut follow =
        Events::open(&app, "/services/ledger/logs/stream?follow=true&since=1m", &maria).await;
    follow.line_where("a line", |_| true).await;
    assert_eq!(ending(&mut follow).await, ACCESS_ENDED, "the session's absolute lifetime");

    let (app, _sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let mut follow =
        Events::open(&app, "/services/ledger/logs/stream?follow=true&since=1m", &maria).await;
    follow.line_where("a line", |_| true).await;
    sqlx::query("ALTER TABLE sessions RENAME TO sessions_away")
        .execute(app.store.pool())
        .await
        .unwrap();
    assert_eq!(ending(&mut follow).await, ACCESS_ENDED, "a store error");
}

/// Pages whose title follows the route, rendered many at a time on several threads: each one
/// answered. (The soak found the deployments page's connection dropped about once in 200 views:
/// its `<Title>` read the route's parameters after the page's owner was gone, and the panic cut
/// the connection.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_rendered_concurrently_never_drop_the_connection() {
    let (app, _sandbox) = TestApp::with_sandbox().await;
    let maria = app.sign_in("maria").await;
    let app = std::sync::Arc::new(app);
    let mut clients = Vec::new();
    for client in 0..16 {
        let (app, maria) = (app.clone(), maria.clone());
        clients.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..60 {
                let page = match (client + i) % 4 {
                    0 => "/services/ledger/deployments",
                    1 => "/services/payments-api/logs",
                    2 => "/services/payments-api/query",
                    _ => "/services/ledger/reads",
                };
                let request = Request::get(page)
                    .header(axum::http::header::COOKIE, &maria)
                    .body(Body::empty())
                    .unwrap();
                let response = app.router.clone().oneshot(request).await.unwrap();
                let status = response.status();
                axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
                statuses.push((page, status));
            }
            statuses
        }));
    }
    for client in clients {
        let statuses = client.await.expect("a page's rendering panicked");
        for (page, status) in statuses {
            assert_eq!(status, StatusCode::OK, "{page}");
        }
    }
}
