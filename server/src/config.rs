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
    /// SQLite file of the demo replica for `payments-api`, created at start; empty: none.
    pub demo_replica: Option<PathBuf>,
    pub auth: AuthConfig,
    pub kubernetes: KubernetesConfig,
}

/// Where the clusters come from: kubeconfig contexts, the console's own cluster, or the
/// built-in sandbox (which writes a kubeconfig that is then read like any other).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesConfig {
    /// A kubeconfig file: each of its contexts becomes a cluster.
    pub kubeconfig: Option<PathBuf>,
    /// Only these contexts of the kubeconfig (empty: all).
    pub contexts: Vec<String>,
    /// Also watch the cluster the console runs in (its service account).
    pub in_cluster: bool,
    /// Start the sandbox cluster on this address and write its kubeconfig to `kubeconfig`
    /// (default data/sandbox.kubeconfig).
    pub sandbox: Option<SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The URL browsers use to reach the console; empty: `http://<listen>`.
    pub public_url: String,
    /// Sign out after this long without a request.
    pub session_idle_minutes: u32,
    /// Sign out this long after sign-in, active or not.
    pub session_max_hours: u32,
    /// Offer a sign-in that picks a demo user. Default: on when no provider is configured.
    /// Refused on a non-loopback address.
    pub dev_sign_in: Option<bool>,
    pub oidc: Option<OidcConfig>,
    pub github: Option<GithubConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            public_url: String::new(),
            session_idle_minutes: 8 * 60,
            session_max_hours: 24,
            dev_sign_in: None,
            oidc: None,
            github: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Shown on the sign-in button.
    #[serde(default = "default_oidc_name")]
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// Name of the environment variable holding the client secret (never the secret itself).
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Path of a file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    #[serde(default)]
    pub squad_prefix: String,
    #[serde(default)]
    pub sre_group: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    pub client_id: String,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    pub org: String,
    #[serde(default)]
    pub sre_team: String,
    #[serde(default = "default_github_web")]
    pub web_url: String,
    #[serde(default = "default_github_api")]
    pub api_url: String,
}

fn default_oidc_name() -> String {
    "single sign-on".into()
}
fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "groups"].map(String::from).to_vec()
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_github_web() -> String {
    "https://github.com".into()
}
fn default_github_api() -> String {
    "https://api.github.com".into()
}

/// Reads a client secret from the environment variable or file named in the config.
pub fn read_secret(key: &str, env: &Option<String>, file: &Option<PathBuf>) -> Result<Option<String>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid { key: key.to_string(), message };
    match (env, file) {
        (Some(var), _) => std::env::var(var)
            .map(|v| Some(v.trim().to_string()))
            .map_err(|_| invalid(format!("environment variable {var} is not set"))),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|v| Some(v.trim().to_string()))
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display()))),
        (None, None) => Ok(None),
    }
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
            demo_replica: None,
            auth: AuthConfig::default(),
            kubernetes: KubernetesConfig::default(),
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
    ("demo_replica", "SQLite file of a demo read replica for payments-api, created at start (default: none)"),
    ("kubernetes.kubeconfig", "kubeconfig file whose contexts are the clusters (default: none)"),
    ("kubernetes.contexts", "only these contexts (default: all)"),
    ("kubernetes.in_cluster", "also watch the cluster the console runs in (default false)"),
    ("kubernetes.sandbox", "start the sandbox cluster on this address and write its kubeconfig (default: off)"),
    ("auth.public_url", "URL browsers use (default http://<listen>); Origin of every POST must match"),
    ("auth.session_idle_minutes", "sign out after this long idle (default 480)"),
    ("auth.session_max_hours", "sign out this long after sign-in (default 24)"),
    ("auth.dev_sign_in", "pick a demo user to sign in (default: on when no provider; loopback only)"),
    ("auth.oidc.*", "issuer, client_id, client_secret_env | client_secret_file, scopes, groups_claim, squad_prefix, sre_group, name"),
    ("auth.github.*", "client_id, client_secret_env | client_secret_file, org, sre_team, web_url, api_url"),
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
        let public = self.public_url();
        if !(public.starts_with("http://") || public.starts_with("https://")) {
            return invalid("auth.public_url", format!("must be an http(s) URL, not {public:?}"));
        }
        if self.dev_sign_in() && !self.listen.ip().is_loopback() {
            return invalid(
                "auth.dev_sign_in",
                format!("dev sign-in lets anyone pick a user; refused on the non-loopback address {}", self.listen),
            );
        }
        // A public URL elsewhere means the console is reached through a proxy or a port-forward:
        // a loopback listen address then proves nothing about who can reach it.
        if self.dev_sign_in() && !is_loopback_url(&public) {
            return invalid(
                "auth.dev_sign_in",
                format!("dev sign-in lets anyone pick a user; refused when browsers reach the console at {public} (configure a provider, or set auth.dev_sign_in = false)"),
            );
        }
        if let Some(oidc) = &self.auth.oidc {
            if !(oidc.issuer.starts_with("https://") || oidc.issuer.starts_with("http://")) {
                return invalid("auth.oidc.issuer", format!("must be an http(s) URL, not {:?}", oidc.issuer));
            }
            read_secret("auth.oidc.client_secret_env", &oidc.client_secret_env, &oidc.client_secret_file)?;
        }
        if let Some(github) = &self.auth.github {
            if read_secret("auth.github.client_secret_env", &github.client_secret_env, &github.client_secret_file)?.is_none() {
                return invalid("auth.github.client_secret_env", "GitHub needs a client secret (client_secret_env or client_secret_file)".into());
            }
        }
        Ok(())
    }

    /// The URL browsers use, without a trailing slash.
    pub fn public_url(&self) -> String {
        if self.auth.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.auth.public_url.trim_end_matches('/').to_string()
        }
    }

    pub fn dev_sign_in(&self) -> bool {
        self.auth.dev_sign_in.unwrap_or(self.auth.oidc.is_none() && self.auth.github.is_none())
    }

    /// The catalog directory, if one is configured.
    pub fn catalog_dir(&self) -> Option<&Path> {
        self.catalog_dir.as_deref().filter(|d| !d.as_os_str().is_empty())
    }
}

/// `http(s)://localhost…`, `127.x.x.x` or `[::1]`.
fn is_loopback_url(url: &str) -> bool {
    let Some(host) = url.parse::<axum::http::Uri>().ok().and_then(|u| u.host().map(str::to_string)) else { return false };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
    fn secrets_never_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.toml");
        std::fs::write(&path, "[auth.oidc]\nissuer = \"http://idp\"\nclient_id = \"c\"\nclient_secret = \"s3cret\"\n").unwrap();
        let err = Config::load(Some(&path), vec![]).unwrap_err().to_string();
        assert!(err.contains("auth.oidc") && err.contains("unknown field `client_secret`"), "{err}");
        assert!(!err.contains("s3cret"));
        let err = Config::load(None, env(&[("CONSOLE_AUTH__OIDC__ISSUER", "http://idp"), ("CONSOLE_AUTH__OIDC__CLIENT_ID", "c"), ("CONSOLE_AUTH__OIDC__CLIENT_SECRET_ENV", "NO_SUCH_VAR_X")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("NO_SUCH_VAR_X is not set"), "{err}");
    }

    #[test]
    fn dev_sign_in_is_refused_off_loopback() {
        let err = Config::load(None, env(&[("CONSOLE_LISTEN", "0.0.0.0:3000")])).unwrap_err().to_string();
        assert!(err.contains("auth.dev_sign_in"), "{err}");
        let ok = Config::load(None, env(&[("CONSOLE_LISTEN", "0.0.0.0:3000"), ("CONSOLE_AUTH__DEV_SIGN_IN", "false")]));
        assert!(ok.is_ok());
        // Behind a proxy or a port-forward: loopback listen, a real public URL, a misspelt provider.
        for public in ["https://console.example.com", "http://10.0.0.5:3000"] {
            let err = Config::load(None, env(&[("CONSOLE_AUTH__PUBLIC_URL", public)])).unwrap_err().to_string();
            assert!(err.contains("auth.dev_sign_in") && err.contains(public), "{err}");
        }
        for local in ["http://127.0.0.1:3000", "http://localhost:3100", "http://[::1]:3000"] {
            assert!(Config::load(None, env(&[("CONSOLE_AUTH__PUBLIC_URL", local)])).is_ok(), "{local}");
        }
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
