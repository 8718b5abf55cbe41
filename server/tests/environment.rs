//! The real binary in a pod's environment: replica credentials, their directory and the service
//! links Kubernetes injects are not configuration and never stop it; a misspelt configuration
//! variable still does, by name.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// What a pod in a namespace with a Service named `console` (and one named `console-metrics`)
/// carries, plus a replica credential and its mounted directory.
fn pod_environment(credentials: &std::path::Path) -> Vec<(String, String)> {
    [
        ("CONSOLE_REPLICA_LEDGER_PASSWORD", "s3cr3t"),
        ("CONSOLE_REPLICA_CREDENTIALS_DIR", &credentials.display().to_string()),
        ("CONSOLE_SERVICE_HOST", "10.96.0.10"),
        ("CONSOLE_SERVICE_PORT", "80"),
        ("CONSOLE_SERVICE_PORT_HTTP", "80"),
        ("CONSOLE_PORT", "tcp://10.96.0.10:80"),
        ("CONSOLE_PORT_80_TCP", "tcp://10.96.0.10:80"),
        ("CONSOLE_PORT_80_TCP_ADDR", "10.96.0.10"),
        ("CONSOLE_PORT_80_TCP_PORT", "80"),
        ("CONSOLE_PORT_80_TCP_PROTO", "tcp"),
        ("CONSOLE_METRICS_SERVICE_HOST", "10.96.0.11"),
        ("CONSOLE_METRICS_PORT_9090_TCP_ADDR", "10.96.0.11"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn console(args: &[&str], env: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_console"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONSOLE_LOG_LEVEL", "warn")
        .env("CONSOLE_DEMO_REPLICA", "")
        .envs(env.iter().cloned());
    command
}

fn readyz(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ =
        stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

#[test]
fn the_console_starts_in_a_pods_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("console.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut env = pod_environment(dir.path());
    env.push(("CONSOLE_DATABASE_URL".into(), db));
    env.push(("CONSOLE_LISTEN".into(), format!("127.0.0.1:{port}")));

    let check = console(&["check-config"], &env).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let mut server = console(&["serve"], &env).stdout(Stdio::piped()).spawn().unwrap();
    let ready = (0..150).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        readyz(port)
    });
    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    assert!(ready, "the console did not start: {}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn a_misspelt_configuration_variable_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = pod_environment(dir.path());
    env.push(("CONSOLE_DATABSE_URL".into(), "postgres://db/console".into()));
    for args in [&["check-config"][..], &["serve"][..]] {
        let out = console(args, &env).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 2: the configuration is wrong (1 is a command that failed).
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("databse_url") && stderr.contains("unknown field"), "{stderr}");
    }
}
