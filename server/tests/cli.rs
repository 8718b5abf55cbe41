//! The `console` binary's import command as an operator runs it: an empty directory removes
//! nothing and says why (exit code 1); a dry run prints what would change per kind; `--prune`
//! is what it takes to empty the catalog.

mod common;
use std::process::Command;

fn console(db: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_console"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONSOLE_DATABASE_URL", db)
        .env("CONSOLE_LOG_LEVEL", "warn")
        .output()
        .expect("the console binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn import_refuses_to_empty_the_catalog_without_prune() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("console.db").display());
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/catalog");
    let (code, out, err) = console(&db, &["import", "--dir", demo]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("services: 39 added"), "{out}");

    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap();
    let (code, out, err) = console(&db, &["import", "--dir", empty]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("holds no squad and no service") && err.contains("--prune"), "{err}");

    let (code, out, _) = console(&db, &["import", "--dir", empty, "--prune", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("dry run: nothing was changed")
            && out.contains("services: 0 added, 0 changed, 39 removed"),
        "{out}"
    );
    let (_, out, _) = console(&db, &["import", "--dir", demo, "--dry-run"]);
    assert!(
        out.contains("services: 0 added, 0 changed, 0 removed, 39 unchanged"),
        "the dry run removed nothing: {out}"
    );
    // A dry run names what would change.
    let edited = tempfile::tempdir().unwrap();
    common::write_demo_catalog(edited.path(), |text| {
        text.replace(
            "Double-entry ledger for every money movement.",
            "Double-entry ledger, edited in Git.",
        )
        .replace("name: cart\n", "name: cart-v2\n")
    });
    let (code, out, err) =
        console(&db, &["import", "--dir", edited.path().to_str().unwrap(), "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "services: 1 added: cart-v2, 1 changed: ledger, 1 removed: cart, 37 unchanged"
        ),
        "{out}"
    );

    let (code, out, err) = console(&db, &["import", "--dir", empty, "--prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("39 removed"), "{out}");
}

/// A first migration: `--skip-invalid` imports what is valid and names what is not; without it,
/// the same batch imports nothing.
#[test]
fn skip_invalid_imports_the_valid_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("console.db").display());
    let catalog = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(catalog.path().join(name), text).unwrap();
    write("team.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n");
    write("good.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: artist-web\nspec:\n  type: website\n  lifecycle: production\n  owner: team-a\n");
    // A name Backstage rejects (an owner that names nothing is kept, dangling).
    write("broken.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: broken one!\nspec:\n  type: service\n  lifecycle: production\n  owner: team-z\n");
    let path = catalog.path().to_str().unwrap();
    let (code, _, err) = console(&db, &["import", "--dir", path]);
    assert_eq!(code, 1);
    assert!(err.contains("broken.yaml:4: metadata.name: "), "{err}");
    let (code, out, err) = console(&db, &["import", "--dir", path, "--skip-invalid"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("services: 1 added: artist-web"), "{out}");
    assert!(err.contains("skipped: broken.yaml:4: metadata.name: "), "{err}");
    assert!(
        err.contains("warning: good.yaml:1: metadata.annotations.console.dev/tier: no tier"),
        "{err}"
    );
}

/// Bad input: twenty problems across ten files are all reported, one plain
/// `file:line: field: message` line each on stderr, and nothing is stored.
#[test]
fn every_problem_of_a_bad_batch_is_reported_and_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("console.db").display());
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/catalog");
    assert_eq!(console(&db, &["import", "--dir", demo]).0, 0);

    let catalog = tempfile::tempdir().unwrap();
    std::fs::write(catalog.path().join("team.yaml"), "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n").unwrap();
    for i in 0..10 {
        let text = format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc-{i}\n  annotations:\n    console.dev/tier: \"9\"\nspec:\n  type: service\n  lifecycle: retired\n  owner: api:team-a\n");
        std::fs::write(catalog.path().join(format!("f{i:02}.yaml")), text).unwrap();
    }
    let (code, out, err) = console(&db, &["import", "--dir", catalog.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    let problems: Vec<&str> =
        err.lines().filter(|l| l.starts_with('f') && l.contains(".yaml:")).collect();
    assert_eq!(problems.len(), 20, "{err}");
    for i in 0..10 {
        assert!(problems.contains(&format!("f{i:02}.yaml:6: metadata.annotations.console.dev/tier: tier must be 1, 2, 3 or 4, not 9").as_str()), "{err}");
        assert!(problems.contains(&format!("f{i:02}.yaml:10: spec.owner: must be a Group (squad) or a User, not \"api:team-a\"").as_str()), "{err}");
    }
    assert!(err.contains("20 problem(s)"), "{err}");
    let (_, out, _) = console(&db, &["import", "--dir", demo, "--dry-run"]);
    assert!(
        out.contains("services: 0 added, 0 changed, 0 removed, 39 unchanged"),
        "nothing was stored: {out}"
    );
}

/// The import at start never empties the catalog: pointed at an empty directory, the console
/// logs the refusal, starts, and serves the stored catalog.
#[test]
fn the_import_at_start_keeps_the_stored_catalog() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("console.db").display());
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/catalog");
    assert_eq!(console(&db, &["import", "--dir", demo]).0, 0);

    let empty = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_console"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONSOLE_DATABASE_URL", &db)
        .env("CONSOLE_CATALOG_DIR", empty.path())
        .env("CONSOLE_LISTEN", format!("127.0.0.1:{port}"))
        .env("CONSOLE_LOG_LEVEL", "warn")
        .env("CONSOLE_DEMO_REPLICA", "")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ready = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply.starts_with("HTTP/1.1 200")
    });
    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(ready, "the console did not start: {log}");
    assert!(log.contains("holds no squad and no service"), "the refusal is logged: {log}");
    let (_, out, _) = console(&db, &["import", "--dir", demo, "--dry-run"]);
    assert!(out.contains("0 removed, 39 unchanged"), "the stored catalog is intact: {out}");
}
