//! Kubernetes benchmark: the sandbox cluster holding 5,000 deployments and 50,000 pods, the real
//! `console` binary (release) watching it through a kubeconfig.
//!
//! Reports the console's resident memory with warm caches, the deployment page's p50/p99 over
//! HTTP, API-server requests per page view, and log follow lag: from the sandbox writing a line
//! to the browser's event stream receiving it. Run with `make bench`.

mod common;

use console_core::catalog::fixture::synthetic_org;
use console_core::catalog::{ingest, repo};
use console_core::store::Store;
use console_sandbox::Sandbox;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SQUADS: usize = 50;
const DEPLOYMENTS: usize = 5_000;
const PODS_EACH: i32 = 10;
const PAGE_VIEWS: usize = 1_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

#[tokio::main]
async fn main() {
    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/console");
    assert!(binary.exists(), "build target/release/console first (`make bench` does)");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    ingest::replace_all(&store, &synthetic_org(SQUADS, DEPLOYMENTS)).await.unwrap();

    // One deployment of 10 pods per catalog service, in its squad's namespace; a few with life.
    let services = repo::workloads(&store).await.unwrap();
    let workloads = common::fleet(&services, PODS_EACH, 0);
    let started = Instant::now();
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), workloads, Default::default())
        .await
        .unwrap();
    let (deployments, pods) = sandbox.size();
    println!(
        "sandbox: {deployments} deployments, {pods} pods, built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig("sandbox")).unwrap();

    let port = common::free_port();
    let child = common::Killed(
        std::process::Command::new(&binary)
            .env("CONSOLE_AUTH__DEV_SIGN_IN", "true")
            .env("CONSOLE_DATABASE_URL", &url)
            .env("CONSOLE_LISTEN", format!("127.0.0.1:{port}"))
            .env("CONSOLE_LOG_LEVEL", "warn")
            .env("CONSOLE_KUBERNETES__KUBECONFIG", &kubeconfig)
            .env_remove("CONSOLE_CONFIG")
            .spawn()
            .expect("start console"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = common::signed_in_client(&base, "dev-000-0").await;

    // Caches warm: every watch has listed.
    let started = Instant::now();
    let probe = &services[0].0;
    loop {
        let view: serde_json::Value = client
            .post(format!("{base}/api/k8s/workloads"))
            .header("origin", &base)
            .json(&serde_json::json!({"service": probe, "cluster": ""}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if view["clusters"][0]["synced"] == true {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "caches never synced: {view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("console caches synced in {:.1} s", started.elapsed().as_secs_f64());

    // Deployment pages over HTTP, and API-server requests they cause.
    let requests_before = sandbox.requests();
    let mut times = Vec::with_capacity(PAGE_VIEWS);
    let mut bytes = 0;
    for i in 0..PAGE_VIEWS {
        let name = &services[(i * 7) % services.len()].0;
        let started = Instant::now();
        let response =
            client.get(format!("{base}/services/{name}/deployments")).send().await.unwrap();
        assert!(response.status().is_success(), "{name}: {}", response.status());
        let body = response.text().await.unwrap();
        times.push(started.elapsed());
        bytes = bytes.max(body.len());
        assert!(
            body.contains(&format!("deployment-sandbox-{name}")),
            "{name}: no deployment on the page"
        );
    }
    let api_requests = sandbox.requests() - requests_before;
    times.sort();
    let rss = |pid: u32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let get = |key: &str| {
            status.lines().find_map(|l| l.strip_prefix(key)).unwrap_or("?").trim().to_string()
        };
        (get("VmRSS:"), get("VmHWM:"))
    };
    let (resident, peak) = rss(child.id());

    // Follow lag: lines written to the pods of one service, timed to their arrival in the stream.
    let (service, squad, _, _) =
        services.iter().find(|(_, squad, _, _)| squad == "squad-000").unwrap().clone();
    let pod_names = sandbox.pods(&squad, &format!("backstage.io/kubernetes-id={service}"));
    let mut stream = client
        .get(format!("{base}/services/{service}/logs/stream?follow=true&filter=lag-probe&since=1m"))
        .send()
        .await
        .unwrap();
    assert!(stream.status().is_success());
    tokio::time::sleep(Duration::from_secs(2)).await; // the follow opens one log stream per pod
    let lines = 3_000;
    let sandbox = std::sync::Arc::new(sandbox);
    let writer = {
        let sandbox = sandbox.clone();
        let (squad, pod_names) = (squad.clone(), pod_names.clone());
        tokio::spawn(async move {
            // 1,000 lines a second spread over the service's pods, in bursts every 10 ms.
            for burst in 0..lines / 10 {
                for k in 0..10 {
                    let pod = &pod_names[(burst * 10 + k) % pod_names.len()];
                    sandbox.write_log(
                        &squad,
                        pod,
                        "app",
                        &format!("lag-probe {} {}", burst * 10 + k, now_nanos()),
                    );
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let mut lags = Vec::with_capacity(lines);
    let mut buffer = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lags.len() < lines && Instant::now() < deadline {
        let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await
        else {
            break;
        };
        let received = now_nanos();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            let Ok(batch) = serde_json::from_str::<Vec<serde_json::Value>>(data) else { continue };
            for line in batch {
                let text = line["text"].as_str().unwrap_or_default();
                if let Some(sent) = text.rsplit(' ').next().and_then(|n| n.parse::<u128>().ok()) {
                    lags.push(Duration::from_nanos((received.saturating_sub(sent)) as u64));
                }
            }
        }
    }
    writer.await.unwrap();
    lags.sort();

    println!("\n| figure | value |\n|---|---|");
    println!("| sandbox | {deployments} deployments, {pods} pods |");
    println!(
        "| console RSS, caches warm, after {PAGE_VIEWS} page views | {resident} (peak {peak}) |"
    );
    println!(
        "| deployment page p50 / p99 (SSR HTML, max {} KB) | {} / {} |",
        bytes / 1024,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
    println!(
        "| API-server requests per page view (warm) | {:.3} ({api_requests} in {PAGE_VIEWS}) |",
        api_requests as f64 / PAGE_VIEWS as f64
    );
    if lags.is_empty() {
        println!("| log follow lag | no line arrived |");
    } else {
        println!(
            "| log follow lag p50 / p99 / max ({} of {lines} lines at 1,000 lines/s over {} pods) | {} / {} / {} |",
            lags.len(),
            pod_names.len(),
            ms(percentile(&lags, 0.5)),
            ms(percentile(&lags, 0.99)),
            ms(*lags.last().unwrap())
        );
    }
    drop(child);
}
