//! Shared by the benchmarks that drive the real `console` over HTTP.
#![allow(dead_code)] // each bench uses a part

use std::time::Duration;

/// `make bench-quick`: fewer runs, and one `quick|figure|milliseconds` line per headline figure
/// for `.ci/bench-quick` to set against BENCHMARKS.md's targets.
pub fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

pub fn report(figure: &str, d: Duration) {
    println!("quick|{figure}|{:.3}", d.as_secs_f64() * 1e3);
}

/// A client holding a dev sign-in session as `login`, redirects not followed so a lost session
/// fails the fetch instead of timing the login page. Waits for the console to accept it.
pub async fn signed_in_client(base: &str, login: &str) -> reqwest::Client {
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut attempts = 0;
    let reply = loop {
        let sent = no_redirects
            .post(format!("{base}/auth/dev"))
            .header("origin", base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("login={login}"))
            .send()
            .await;
        match sent {
            Ok(reply) => break reply,
            Err(error) => {
                attempts += 1;
                assert!(attempts < 150, "console did not start: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let cookie = reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("console_session="))
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A port no process listens on now, picked by the OS: a re-run never measures a console a
/// killed run left behind on a fixed port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when this is dropped, even when the benchmark panics.
pub struct Killed(pub std::process::Child);

impl Killed {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sandbox's fleet for a catalog (`repo::workloads`): one deployment of `pods_each` pods per
/// service, in its squad's namespace, a few with life (rollouts, crash loops); the first
/// `chatty` services write log lines.
pub fn fleet(
    services: &[(String, String, console_core::catalog::Tier, console_core::catalog::Workloads)],
    pods_each: i32,
    chatty: usize,
) -> Vec<console_sandbox::Workload> {
    services
        .iter()
        .enumerate()
        .map(|(i, (name, squad, _, w))| console_sandbox::Workload {
            namespace: squad.clone(),
            name: name.clone(),
            labels: console_core::k8s::selector::Selector::parse(&w.label_selector)
                .unwrap()
                .required_labels(),
            replicas: pods_each,
            containers: vec!["app".into()],
            life: console_sandbox::fleet_life(i),
            chatty: i < chatty,
        })
        .collect()
}
