//! Catalog benchmark: 20,000 services in 300 squads, on SQLite and on PostgreSQL.
//!
//! Ingestion goes through the real YAML import (descriptor files on disk). Latency is measured
//! over HTTP against the real router on loopback: the catalog search page and the squad page.
//! Run with `make bench`; copy the table into BENCHMARKS.md.

mod common;

use console::{router, AppState};
use console_core::catalog::fixture::synthetic_org;
use console_core::catalog::import::Batch;
use console_core::catalog::ingest;
use console_core::store::{testing, Store};
use std::fmt::Write;
use std::time::{Duration, Instant};

const SQUADS: usize = 300;
const SERVICES: usize = 20_000;
const REQUESTS: usize = 1_000;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    write_descriptors(&synthetic_org(SQUADS, SERVICES), dir.path());
    println!("| store | ingest 20k (YAML → store) | merge 20k into 20k, 1% changed | search p50 | search p99 | search bytes (max) | squad p50 | squad p99 | squad bytes (max) |");
    println!("|---|---|---|---|---|---|---|---|---|");

    let sqlite_file = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}/bench.db", sqlite_file.path().display());
    let sqlite = Store::open(&sqlite_url).await.unwrap();
    run("SQLite", sqlite, dir.path()).await;

    let pg = testing::postgres().await;
    run("PostgreSQL", pg.store.clone(), dir.path()).await;
    pg.drop().await;
    if !common::quick() {
        console_memory(&sqlite_url).await;
    }
}

/// Resident memory of the real `console` binary (release) serving the 20k catalog from SQLite,
/// after 1,000 searches and squad pages.
async fn console_memory(sqlite_url: &str) {
    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/console");
    if !binary.exists() {
        println!(
            "\n(target/release/console not built: `make bench` builds it for the memory figure)"
        );
        return;
    }
    let port = common::free_port();
    let child = common::Killed(
        std::process::Command::new(&binary)
            .env("CONSOLE_AUTH__DEV_SIGN_IN", "true")
            .env("CONSOLE_DATABASE_URL", sqlite_url)
            .env("CONSOLE_LISTEN", format!("127.0.0.1:{port}"))
            .env("CONSOLE_LOG_LEVEL", "warn")
            .env_remove("CONSOLE_CONFIG")
            .spawn()
            .expect("start console"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let plain = reqwest::Client::new();
    for _ in 0..100 {
        if plain.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = common::signed_in_client(&base, "dev-001-0").await;
    for i in 0..500 {
        fetch(&client, &format!("{base}/catalog?q=svc-{}&page=1", i % 100)).await;
        fetch(&client, &format!("{base}/squads/squad-{:03}", i % SQUADS)).await;
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let rss =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap_or("?").trim().to_string();
    let hwm =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap_or("?").trim().to_string();
    println!("\nconsole (release) serving 20,000 services on SQLite after 1,000 page views: RSS {rss}, peak {hwm}");
    drop(child);
}

async fn run(name: &str, store: Store, dir: &std::path::Path) {
    let started = Instant::now();
    let summary = ingest::import_dir(&store, dir).await.expect("import");
    let ingest = started.elapsed();
    assert_eq!(summary.services(), SERVICES);
    // The import at every restart and every SRE re-import: the same catalog, 1% edited in Git.
    let edited = tempfile::tempdir().unwrap();
    let mut batch = synthetic_org(SQUADS, SERVICES);
    for s in batch.services.iter_mut().step_by(100) {
        s.description.push_str(" (edited)");
    }
    write_descriptors(&batch, edited.path());
    let started = Instant::now();
    let summary = ingest::import_dir(&store, edited.path()).await.expect("merge");
    let merge = started.elapsed();
    assert_eq!((summary.services_changed.len(), summary.services_added.len()), (SERVICES / 100, 0));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let state = AppState::new(store, console::auth::Auth::dev(&base), "target/site", addr);
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    // Signed in as a squad member, as people use the pages.
    let client = common::signed_in_client(&base, "dev-001-0").await;

    // Warm up connections and caches.
    for _ in 0..20 {
        fetch(&client, &format!("{base}/catalog")).await;
    }
    let words =
        ["ledger", "payments", "region-3", "svc-19", "nothing-matches-this", "SHIPPING", ""];
    let requests = if common::quick() { 300 } else { REQUESTS };
    let search = measure(&client, requests, |i| {
        let word = words[i % words.len()];
        match i % 4 {
            0 => format!("{base}/catalog?q={word}"),
            1 => format!("{base}/catalog?q={word}&page={}", 1 + i % 5),
            2 => format!(
                "{base}/catalog?tier={}&lifecycle=production&page={}",
                1 + i % 4,
                1 + i % 30
            ),
            _ => format!("{base}/catalog?page={}", 1 + (i * 7) % 400),
        }
    })
    .await;
    let shapes = if common::quick() {
        &[][..]
    } else {
        &["q=word", "q=word&page", "tier&lifecycle&page", "deep page"][..]
    };
    for (shape, label) in shapes.iter().enumerate() {
        let f = measure(&client, 200, |i| {
            let i = i * 4 + shape;
            let word = words[i % words.len()];
            match shape {
                0 => format!("{base}/catalog?q={word}"),
                1 => format!("{base}/catalog?q={word}&page={}", 1 + i % 5),
                2 => format!(
                    "{base}/catalog?tier={}&lifecycle=production&page={}",
                    1 + i % 4,
                    1 + i % 30
                ),
                _ => format!("{base}/catalog?page={}", 1 + (i * 7) % 400),
            }
        })
        .await;
        eprintln!("{name} {label}: p50 {} p99 {}", ms(f.p50), ms(f.p99));
    }
    let squad =
        measure(&client, requests, |i| format!("{base}/squads/squad-{:03}", (i * 37) % SQUADS))
            .await;
    common::report(&format!("catalog ingest 20k, {name}"), ingest);
    common::report(&format!("catalog search p50, {name}"), search.p50);
    common::report(&format!("catalog search p99, {name}"), search.p99);
    common::report(&format!("squad page p50, {name}"), squad.p50);
    println!(
        "| {name} | {:.2} s | {:.2} s | {} | {} | {} KB | {} | {} | {} KB |",
        ingest.as_secs_f64(),
        merge.as_secs_f64(),
        ms(search.p50),
        ms(search.p99),
        search.max_bytes / 1024,
        ms(squad.p50),
        ms(squad.p99),
        squad.max_bytes / 1024,
    );
}

struct Figures {
    p50: Duration,
    p99: Duration,
    max_bytes: usize,
}

async fn fetch(client: &reqwest::Client, url: &str) -> usize {
    let response = client.get(url).send().await.unwrap();
    assert!(response.status().is_success(), "{url}: {}", response.status());
    response.bytes().await.unwrap().len()
}

async fn measure(client: &reqwest::Client, n: usize, url: impl Fn(usize) -> String) -> Figures {
    let mut times = Vec::with_capacity(n);
    let mut max_bytes = 0;
    for i in 0..n {
        let url = url(i);
        let started = Instant::now();
        let bytes = fetch(client, &url).await;
        times.push(started.elapsed());
        max_bytes = max_bytes.max(bytes);
    }
    times.sort();
    Figures { p50: times[n / 2], p99: times[n * 99 / 100], max_bytes }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Writes the batch as Backstage descriptors, one file per squad with its services.
fn write_descriptors(batch: &Batch, dir: &std::path::Path) {
    for squad in &batch.squads {
        let mut y = String::new();
        let _ = write!(
            y,
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {}\n  description: \"{}\"\n  annotations:\n    console.dev/oncall-rotation: \"{}\"\nspec:\n  type: team\n  members: [{}]\n",
            squad.name,
            squad.description,
            squad.oncall.rotation,
            squad.members.join(", ")
        );
        for s in batch.services.iter().filter(|s| s.squad == squad.name) {
            let _ = write!(
                y,
                "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {}\n  description: \"{}\"\n  tags: [{}]\n  annotations:\n    console.dev/tier: \"{}\"\n    console.dev/runbook: \"{}\"\n    console.dev/slo: \"{}\"\nspec:\n  type: service\n  lifecycle: {}\n  owner: {}\n  system: {}\n",
                s.name,
                s.description,
                s.tags.join(", "),
                s.tier.number(),
                if s.runbook.is_empty() { "https://runbooks.example.com/none" } else { &s.runbook },
                s.slo,
                s.lifecycle.as_str(),
                s.squad,
                s.system
            );
        }
        std::fs::write(dir.join(format!("{}.yaml", squad.name)), y).unwrap();
    }
}
