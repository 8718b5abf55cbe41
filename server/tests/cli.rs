//! The `console` binary's import command as an operator runs it: an empty directory removes
//! nothing and says why (exit code 1); a dry run prints what would change per kind; `--prune`
//! is what it takes to empty the catalog.

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
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
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
    assert!(out.contains("dry run: nothing was changed") && out.contains("services: 0 added, 39 removed"), "{out}");
    let (_, out, _) = console(&db, &["import", "--dir", demo, "--dry-run"]);
    assert!(out.contains("services: 0 added, 0 removed, 39 kept"), "the dry run removed nothing: {out}");

    let (code, out, err) = console(&db, &["import", "--dir", empty, "--prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("39 removed"), "{out}");
}
