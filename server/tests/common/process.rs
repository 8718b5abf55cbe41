//! The real `console` binary as a process, as a platform runs it: configured by environment,
//! its own sandbox cluster, signed in through dev sign-in, stopped by a signal.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Process {
    pub child: Child,
    pub base: String,
    /// Its log (stdout and stderr).
    pub log: PathBuf,
}

/// Starts `console serve` on `database_url` with the demo catalog, dev sign-in and a sandbox of
/// its own; `env` adds or overrides variables. Files go under `dir`, named after `name`.
pub fn spawn(name: &str, dir: &Path, database_url: &str, env: &[(&str, String)]) -> Process {
    let (port, sandbox) = (free_port(), free_port());
    let log = dir.join(format!("{name}.log"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_console"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONSOLE_DATABASE_URL", database_url)
        .env("CONSOLE_LISTEN", format!("127.0.0.1:{port}"))
        .env("CONSOLE_CATALOG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/catalog"))
        .env("CONSOLE_DEMO_REPLICA", dir.join(format!("{name}-replica.db")))
        .env("CONSOLE_SITE_ROOT", dir)
        .env("CONSOLE_AUTH__DEV_SIGN_IN", "true")
        .env("CONSOLE_KUBERNETES__SANDBOX", format!("127.0.0.1:{sandbox}"))
        .env("CONSOLE_KUBERNETES__KUBECONFIG", dir.join(format!("{name}-kubeconfig")))
        .env("CONSOLE_LOG_LEVEL", "info");
    for (key, value) in env {
        command.env(key, value);
    }
    let file = std::fs::File::create(&log).unwrap();
    let child = command.stdout(file.try_clone().unwrap()).stderr(file).spawn().unwrap();
    Process { child, base: format!("http://127.0.0.1:{port}"), log }
}

impl Process {
    /// Waits for `/readyz` to answer 200.
    pub async fn ready(&self, http: &reqwest::Client) {
        for _ in 0..600 {
            let reply = http.get(format!("{}/readyz", self.base)).send().await;
            if reply.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} never became ready: {}", self.base, self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A session cookie for `login` (dev sign-in).
    pub async fn sign_in(&self, http: &reqwest::Client, login: &str) -> String {
        let signed_in = http
            .post(format!("{}/auth/dev", self.base))
            .header("origin", &self.base)
            .form(&[("login", login)])
            .send()
            .await
            .unwrap();
        signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
    }

    /// Calls the server function at `/api/{endpoint}` with JSON arguments.
    pub async fn call(
        &self,
        http: &reqwest::Client,
        cookie: &str,
        endpoint: &str,
        args: serde_json::Value,
    ) -> (u16, String) {
        let reply = http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("origin", &self.base)
            .header("cookie", cookie)
            .json(&args)
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.text().await.unwrap_or_default())
    }

    /// `GET path` with the session.
    pub async fn get(&self, http: &reqwest::Client, cookie: &str, path: &str) -> (u16, String) {
        let reply =
            http.get(format!("{}{path}", self.base)).header("cookie", cookie).send().await.unwrap();
        (reply.status().as_u16(), reply.text().await.unwrap_or_default())
    }

    /// Sends `signal` (`-TERM`, `-KILL`).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([signal, &self.child.id().to_string()]).status();
        assert!(sent.unwrap().success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}
