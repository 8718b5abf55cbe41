//! The sandbox speaks the Kubernetes API as kube's client expects: paginated lists, label
//! selectors, watch resumption and 410 Gone, and `pods/log` with its options and errors.

use console_sandbox::{Life, Options, Sandbox, Workload};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams, WatchEvent, WatchParams};
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::time::Duration;

fn workload(name: &str, replicas: i32, containers: &[&str], life: Life) -> Workload {
    Workload {
        namespace: "shop".into(),
        name: name.into(),
        labels: BTreeMap::from([("app".to_string(), name.to_string())]),
        replicas,
        containers: containers.iter().map(|c| c.to_string()).collect(),
        life,
        // web stays quiet so the log test knows every line.
        chatty: name != "web",
    }
}

async fn start(history: usize) -> (Sandbox, Client) {
    let workloads = vec![
        workload("web", 3, &["app"], Life::Steady),
        workload("api", 2, &["app", "proxy"], Life::Steady),
        workload("worker", 1, &["app"], Life::CrashLoop),
    ];
    let sandbox = Sandbox::start(
        "127.0.0.1:0".parse().unwrap(),
        workloads,
        Options { tick: Duration::from_millis(50), history, ..Default::default() },
    )
    .await
    .unwrap();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig("sandbox")).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    (sandbox, Client::try_from(config).unwrap())
}

#[tokio::test]
async fn lists_page_through_continue_tokens_and_filter_by_label() {
    let (_sandbox, client) = start(10_000).await;
    let pods: Api<Pod> = Api::all(client.clone());
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(2);
    loop {
        let page = pods.list(&params).await.unwrap();
        assert!(page.items.len() <= 2);
        names.extend(page.items.iter().map(|p| p.name_any()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(names.len(), 6, "{names:?}");
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), 6, "no pod twice across pages");

    let web = pods.list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(web.items.len(), 3);
    let not_web = Api::<Pod>::namespaced(client.clone(), "shop")
        .list(&ListParams::default().labels("app!=web"))
        .await
        .unwrap();
    assert_eq!(not_web.items.len(), 3);
    assert!(Api::<Pod>::namespaced(client.clone(), "elsewhere")
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    let bad = pods.list(&ListParams::default().labels("app in (x")).await.unwrap_err();
    assert!(matches!(bad, kube::Error::Api(ref s) if s.code == 400), "{bad:?}");
    let deployment = Api::<Deployment>::namespaced(client, "shop").get("api").await.unwrap();
    assert_eq!(deployment.spec.template.spec.unwrap().containers.len(), 2);
}

#[tokio::test]
async fn watches_resume_from_a_version_and_expire_when_it_is_too_old() {
    let (_sandbox, client) = start(50).await;
    let pods: Api<Pod> = Api::all(client);
    let list = pods.list(&Default::default()).await.unwrap();
    let version = list.metadata.resource_version.unwrap();
    // The crash loop changes a pod within a few ticks; once it has (a later list shows it), a
    // watch from the first version replays that change: resumed, not started from now.
    let number = |v: &str| v.parse::<u64>().unwrap();
    let mut later = None;
    for _ in 0..200 {
        let now = pods.list(&Default::default()).await.unwrap();
        if now
            .items
            .iter()
            .any(|p| number(p.metadata.resource_version.as_deref().unwrap()) > number(&version))
        {
            later = now.metadata.resource_version;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let later = number(&later.expect("a pod changed"));
    let mut stream =
        pods.watch(&WatchParams::default().timeout(10), &version).await.unwrap().boxed();
    let event = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let WatchEvent::Modified(pod) = event else { panic!("{event:?}") };
    assert!(pod.name_any().starts_with("worker-"), "{pod:?}");
    let at = number(pod.metadata.resource_version.as_deref().unwrap());
    assert!(
        number(&version) < at && at <= later,
        "a change from before the watch began: {version} < {at} <= {later}"
    );

    // Once the history no longer reaches back, the API says 410 Gone, as Kubernetes does.
    // Polled: life moves on until the 50 changes kept no longer reach back to version 2.
    let mut gone = None;
    for _ in 0..200 {
        let mut stream = pods.watch(&WatchParams::default().timeout(1), "2").await.unwrap().boxed();
        match stream.try_next().await.unwrap() {
            Some(WatchEvent::Error(e)) => {
                gone = Some(e);
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(gone.expect("the watch expires").code, 410);
}

#[tokio::test]
async fn pod_logs_honour_every_option_and_refuse_bad_ones() {
    let (sandbox, client) = start(10_000).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let pods: Api<Pod> = Api::namespaced(client, "shop");
    let web = sandbox.pods("shop", "app=web")[0].clone();
    sandbox.write_log("shop", &web, "app", "an older line");
    sandbox.write_log("shop", &web, "app", "the newest line");

    let all = pods.logs(&web, &LogParams::default()).await.unwrap();
    assert_eq!(all, "an older line\nthe newest line\n");
    let tail = pods
        .logs(&web, &LogParams { tail_lines: Some(1), timestamps: true, ..Default::default() })
        .await
        .unwrap();
    let (time, text) = tail.trim_end().split_once(' ').unwrap();
    assert!(time.parse::<jiff::Timestamp>().is_ok(), "{time}");
    assert_eq!(text, "the newest line");
    let since = pods
        .logs(&web, &LogParams { since_seconds: Some(3600), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(since, all);
    // Windows that leave something out: a line written after a pause is the only one in the last
    // second and from its own time on; limitBytes cuts the text.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sandbox.write_log("shop", &web, "app", "after a pause");
    let recent =
        pods.logs(&web, &LogParams { since_seconds: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(recent, "after a pause\n");
    let stamped = pods
        .logs(&web, &LogParams { timestamps: true, tail_lines: Some(1), ..Default::default() })
        .await
        .unwrap();
    let at: jiff::Timestamp = stamped.split_once(' ').unwrap().0.parse().unwrap();
    // sinceTime has whole seconds (kube rounds): its second, which began after the other lines.
    let second = jiff::Timestamp::from_second(at.as_second()).unwrap();
    let from_then = pods
        .logs(&web, &LogParams { since_time: Some(second), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(from_then, "after a pause\n");
    let cut =
        pods.logs(&web, &LogParams { limit_bytes: Some(8), ..Default::default() }).await.unwrap();
    assert_eq!(cut, "an older");

    // Two containers: one must be named.
    let api_pod = sandbox.pods("shop", "app=api")[0].clone();
    let error = pods.logs(&api_pod, &LogParams::default()).await.unwrap_err();
    assert!(
        matches!(error, kube::Error::Api(ref s) if s.message.contains("choose one of: [app proxy]")),
        "{error:?}"
    );
    assert!(pods
        .logs(&api_pod, &LogParams { container: Some("proxy".into()), ..Default::default() })
        .await
        .is_ok());
    // previous: only once a container has terminated.
    let error =
        pods.logs(&web, &LogParams { previous: true, ..Default::default() }).await.unwrap_err();
    assert!(
        matches!(error, kube::Error::Api(ref s) if s.message.contains("previous terminated container")),
        "{error:?}"
    );
    let worker = sandbox.pods("shop", "app=worker")[0].clone();
    let mut previous = String::new();
    for _ in 0..40 {
        if let Ok(text) =
            pods.logs(&worker, &LogParams { previous: true, ..Default::default() }).await
        {
            previous = text;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(previous.contains("panic: cannot start"), "{previous}");
    let missing = pods.logs("no-such-pod", &LogParams::default()).await.unwrap_err();
    assert!(matches!(missing, kube::Error::Api(ref s) if s.code == 404));

    // follow: new lines arrive as they are written.
    let stream = pods
        .log_stream(&web, &LogParams { follow: true, tail_lines: Some(0), ..Default::default() })
        .await
        .unwrap();
    let mut lines = futures_util::AsyncBufReadExt::lines(stream);
    sandbox.write_log("shop", &web, "app", "followed");
    let mut seen = Vec::new();
    while let Ok(Some(Ok(line))) = tokio::time::timeout(Duration::from_secs(5), lines.next()).await
    {
        if line == "followed" {
            return;
        }
        seen.push(line);
    }
    panic!("follow never delivered the line: {seen:?}");
}

/// The sandbox answers anyone without authentication: it refuses a non-loopback address unless
/// told to listen there.
#[tokio::test]
async fn a_public_address_is_refused_unless_allowed() {
    let refused = Sandbox::start("0.0.0.0:0".parse().unwrap(), vec![], Options::default())
        .await
        .err()
        .expect("refused");
    assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(refused.to_string().contains("not a loopback address"), "{refused}");
    let allowed = Sandbox::start(
        "0.0.0.0:0".parse().unwrap(),
        vec![],
        Options { public: true, ..Default::default() },
    )
    .await
    .unwrap();
    assert!(!allowed.addr().ip().is_loopback());
    Sandbox::start("127.0.0.1:0".parse().unwrap(), vec![], Options::default()).await.unwrap();
}
