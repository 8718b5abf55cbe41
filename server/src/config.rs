//! Configuration: defaults, then one TOML file, then `CONSOLE_*` environment variables.
//!
//! Every key can be set by an environment variable named `CONSOLE_` + the key in capitals,
//! with `__` between a section and its key (`CONSOLE_DATABASE_URL`). Errors name the key.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the console listens on.
    pub listen: SocketAddr,
    /// `sqlite://path` (default, created if missing) or `postgres://…` (HA).
    pub database_url: String,
    /// Directory of Backstage `catalog-info.yaml` descriptors imported at start. Empty: none.
    pub catalog_dir: Option<PathBuf>,
    /// Where the compiled site (wasm, JS, CSS) lives.
    pub site_root: PathBuf,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `console=debug,info`.
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:3000".parse().unwrap(),
            database_url: "sqlite://data/console.db".into(),
            catalog_dir: None,
            site_root: "target/site".into(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
        }
    }
}

/// Every key with its meaning, for `console --help` and the README.
pub const KEYS: &[(&str, &str)] = &[
    ("listen", "address to listen on (default 127.0.0.1:3000)"),
    ("database_url", "sqlite://path (default sqlite://data/console.db) or postgres://user@host/db"),
    ("catalog_dir", "directory of catalog-info.yaml descriptors imported at start (default: none)"),
    ("site_root", "compiled site assets (default target/site)"),
    ("log_format", "text or json (default text)"),
    ("log_level", "tracing filter (default info)"),
];

impl Config {
    /// Loads the file at `path` (if any), applies `env` overrides, and validates.
    pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let mut table = match path {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax { path: path.to_path_buf(), message: e.to_string() })?
            }
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix("CONSOLE_") else { continue };
            if key == "CONFIG" || key.starts_with("TEST_") {
                continue;
            }
            let path: Vec<String> = key.to_lowercase().split("__").map(str::to_string).collect();
            insert(&mut table, &path, env_value(&value));
        }
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().message().to_string();
            ConfigError::Invalid { key, message }
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| Err(ConfigError::Invalid { key: key.into(), message });
        let url = &self.database_url;
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return invalid("database_url", format!("must start with sqlite: or postgres://, not {url:?}"));
        }
        if let Some(dir) = &self.catalog_dir {
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                return invalid("catalog_dir", format!("{} is not a directory", dir.display()));
            }
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return invalid("log_level", e.to_string());
        }
        Ok(())
    }

    /// The catalog directory, if one is configured.
    pub fn catalog_dir(&self) -> Option<&Path> {
        self.catalog_dir.as_deref().filter(|d| !d.as_os_str().is_empty())
    }
}

/// An environment value as TOML if it reads as a number or boolean, else as a string.
fn env_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) if !matches!(t.get("v"), Some(toml::Value::String(_))) => t.remove("v").unwrap(),
        _ => toml::Value::String(raw.to_string()),
    }
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [key] => {
            table.insert(key.clone(), value);
        }
        [section, rest @ ..] => {
            let entry = table.entry(section.clone()).or_insert_with(|| toml::Value::Table(Default::default()));
            if let toml::Value::Table(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\ndatabase_url = \"sqlite://x.db\"\ncatalog_dir = \"\"\n").unwrap();
        let config = Config::load(Some(&path), env(&[("CONSOLE_DATABASE_URL", "postgres://db/console"), ("OTHER", "x")])).unwrap();
        assert_eq!(config.listen.port(), 4000);
        assert_eq!(config.database_url, "postgres://db/console");
        assert_eq!(config.catalog_dir(), None);
    }

    #[test]
    fn errors_name_the_key() {
        let err = |pairs: &[(&str, &str)]| Config::load(None, env(pairs)).unwrap_err().to_string();
        assert!(err(&[("CONSOLE_LISTEN", "nowhere")]).starts_with("config key `listen`:"));
        assert!(err(&[("CONSOLE_DATABASE_URL", "mysql://x")]).contains("`database_url`: must start with"));
        assert!(err(&[("CONSOLE_LOG_FORMAT", "xml")]).starts_with("config key `log_format`:"));
        assert!(err(&[("CONSOLE_CATALOG_DIR", "/no/such/dir")]).contains("`catalog_dir`"));
        assert!(err(&[("CONSOLE_NO_SUCH_KEY", "1")]).contains("no_such_key"));
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "listen = ").unwrap();
        assert!(Config::load(Some(&path), vec![]).unwrap_err().to_string().contains("bad.toml is not valid TOML"));
        let missing = dir.path().join("missing.toml");
        assert!(Config::load(Some(&missing), vec![]).unwrap_err().to_string().contains("cannot read config file"));
    }
}
