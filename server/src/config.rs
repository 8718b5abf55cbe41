//! Configuration: defaults, then one TOML file, then `CONSOLE_*` environment variables.
//!
//! Every key can be set by an environment variable named `CONSOLE_` + the key in capitals,
//! with `__` between a section and its key (`CONSOLE_DATABASE_URL`). Errors name the key.
//!
//! Not every `CONSOLE_` variable is configuration, and those that are not never stop the console:
//! - `CONSOLE_CONFIG` names the file;
//! - `CONSOLE_REPLICA_…` are replica credentials (and `CONSOLE_REPLICA_CREDENTIALS_DIR` their
//!   directory), read only by the replica that names them;
//! - the service links Kubernetes injects into every pod of a namespace with a Service named
//!   `console` or `console-…` (`CONSOLE_SERVICE_HOST`, `CONSOLE_PORT=tcp://…`,
//!   `CONSOLE_PORT_80_TCP_ADDR`, `CONSOLE_METRICS_SERVICE_PORT_HTTP`, …).
//!
//! Any other `CONSOLE_` variable is a key, so a misspelt one is refused by name at start.

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
    /// Address of the `/metrics` listener (never the public one); empty: no metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// On SIGTERM, keep serving this long with readiness false (the pre-stop delay).
    pub drain_delay_seconds: u64,
    /// Then exit within this long, whatever is still open.
    pub drain_timeout_seconds: u64,
    /// `sqlite://path` (default, created if missing) or `postgres://…` (HA).
    pub database_url: String,
    /// Directory of Backstage `catalog-info.yaml` descriptors imported at start. Empty: none.
    pub catalog_dir: Option<PathBuf>,
    /// An import (at start, by an SRE, or `console import` without `--prune`) that would remove
    /// more than this share of the stored services is refused.
    pub catalog_max_removed_percent: u32,
    /// The tier of a Component whose descriptor names none (Backstage's own name none).
    pub catalog_default_tier: u8,
    /// Template of a descriptor file's URL (`{path}`, `{line}`), for "the file to change".
    pub catalog_source_url: String,
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
    /// Watch only these namespaces (a Role in each is enough); empty: the whole cluster (a
    /// ClusterRole). Pages name a service's namespace the console does not watch.
    pub namespaces: Vec<String>,
    /// Start the sandbox cluster on this address and write its kubeconfig to `kubeconfig`
    /// (default data/sandbox.kubeconfig).
    pub sandbox: Option<SocketAddr>,
    /// Let the sandbox listen on a non-loopback address (it has no authentication).
    pub sandbox_public: bool,
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
    /// Offer a sign-in that picks a demo user (an SRE without a password). Off unless set;
    /// refused unless both `listen` and `public_url` are loopback.
    pub dev_sign_in: bool,
    /// The key that seals pending sign-ins and the providers' refresh tokens: the name of an
    /// environment variable, or a file. Required with a provider; the same on every replica.
    pub secret_key_env: Option<String>,
    pub secret_key_file: Option<PathBuf>,
    /// Squads and SRE are asked of the provider again when older than this.
    pub recheck_minutes: u32,
    /// When the provider cannot confirm them for this long after that, sessions and tokens stop.
    pub recheck_grace_minutes: u32,
    pub oidc: Option<OidcConfig>,
    pub github: Option<GithubConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            public_url: String::new(),
            session_idle_minutes: 8 * 60,
            session_max_hours: 24,
            dev_sign_in: false,
            secret_key_env: None,
            secret_key_file: None,
            recheck_minutes: 15,
            recheck_grace_minutes: 60,
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
    /// Groups with this prefix become squads (prefix removed). Never empty: that would make
    /// every group a squad.
    #[serde(default)]
    pub squad_prefix: Option<String>,
    /// Groups that become the squad named (`{ "eng-payments" = "payments" }`).
    #[serde(default)]
    pub squad_map: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub sre_group: String,
    /// Link a sign-in to a catalog person by its `email` claim when `email_verified` is true.
    #[serde(default = "yes")]
    pub trust_email: bool,
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
    /// Teams that become the squad named, keyed `id:<team id>` or `slug:<team slug>`.
    #[serde(default)]
    pub team_map: std::collections::BTreeMap<String, String>,
    /// Teams with this slug prefix become squads (prefix removed); never empty.
    #[serde(default)]
    pub team_prefix: Option<String>,
    #[serde(default)]
    pub sre_team: String,
    /// Link a sign-in to a catalog person by the account's verified e-mail addresses.
    #[serde(default = "yes")]
    pub trust_email: bool,
    #[serde(default = "default_github_web")]
    pub web_url: String,
    #[serde(default = "default_github_api")]
    pub api_url: String,
}

fn yes() -> bool {
    true
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
pub fn read_secret(
    key: &str,
    env: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
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
            metrics_listen: None,
            drain_delay_seconds: 5,
            drain_timeout_seconds: 10,
            database_url: "sqlite://data/console.db".into(),
            catalog_dir: None,
            catalog_max_removed_percent: 10,
            catalog_default_tier: 4,
            catalog_source_url: String::new(),
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
    ("drain_delay_seconds", "on SIGTERM, serve this long with readiness false before closing (default 5)"),
    ("drain_timeout_seconds", "then exit within this long: streams end, running queries are abandoned (default 10)"),
    ("metrics_listen", "address of the /metrics listener, e.g. 0.0.0.0:9090; never the public one (default: none)"),
    ("database_url", "sqlite://path (default sqlite://data/console.db) or postgres://user@host/db"),
    ("catalog_dir", "directory of catalog-info.yaml descriptors imported at start (default: none)"),
    ("catalog_max_removed_percent", "refuse an import that would remove more than this share of services, unless --prune (default 10)"),
    ("catalog_default_tier", "tier of a Component without console.dev/tier, with a warning (default 4)"),
    ("catalog_source_url", "URL of a descriptor file, {path} and {line} filled in, e.g. https://git.example.com/org/catalog/blob/main/{path}#L{line}"),
    ("site_root", "compiled site assets (default target/site)"),
    ("log_format", "text or json (default text)"),
    ("log_level", "tracing filter (default info)"),
    ("demo_replica", "SQLite file of a demo read replica for payments-api, created at start (default: none)"),
    ("kubernetes.kubeconfig", "kubeconfig file whose contexts are the clusters (default: none)"),
    ("kubernetes.contexts", "only these contexts (default: all)"),
    ("kubernetes.in_cluster", "also watch the cluster the console runs in (default false)"),
    ("kubernetes.namespaces", "watch only these namespaces, e.g. [\"shop\", \"pay\"] (default: the whole cluster)"),
    ("kubernetes.sandbox", "start the sandbox cluster on this address and write its kubeconfig (default: off)"),
    ("kubernetes.sandbox_public", "let the sandbox listen on a non-loopback address; it has no authentication (default false)"),
    ("auth.public_url", "URL browsers use (default http://<listen>); Origin of every POST must match"),
    ("auth.session_idle_minutes", "sign out after this long idle (default 480)"),
    ("auth.session_max_hours", "sign out this long after sign-in (default 24)"),
    ("auth.dev_sign_in", "pick a demo user to sign in (default false; only with loopback listen and public_url)"),
    ("auth.secret_key_env | auth.secret_key_file", "key sealing pending sign-ins and refresh tokens (required with a provider; same on every replica)"),
    ("auth.recheck_minutes", "ask the provider for squads and SRE again after this long (default 15)"),
    ("auth.recheck_grace_minutes", "stop sessions and tokens whose roles could not be re-checked for this long after that (default 60)"),
    ("auth.oidc.*", "issuer, client_id, client_secret_env | client_secret_file, scopes, groups_claim, squad_prefix, squad_map, sre_group, trust_email, name"),
    ("auth.github.*", "client_id, client_secret_env | client_secret_file, org, team_map, team_prefix, sre_team, trust_email, web_url, api_url"),
];

impl Config {
    /// Loads the file at `path` (if any), applies `env` overrides, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = match path {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
                text.parse::<toml::Table>().map_err(|e| ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix("CONSOLE_") else { continue };
            if !is_config_variable(key, &value) {
                continue;
            }
            let path: Vec<String> = key.to_lowercase().split("__").map(str::to_string).collect();
            insert(&mut table, &path, env_value(&value));
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let message = e.inner().message().to_string();
                ConfigError::Invalid { key, message }
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |key: &str, message: String| Err(ConfigError::Invalid { key: key.into(), message });
        if self.metrics_listen.is_some_and(|m| m.port() == self.listen.port()) {
            return invalid(
                "metrics_listen",
                "must not share the public listener's port: /metrics is not public".into(),
            );
        }
        let url = &self.database_url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return invalid(
                "database_url",
                format!("must start with sqlite: or postgres://, not {url:?}"),
            );
        }
        if !(1..=4).contains(&self.catalog_default_tier) {
            return invalid(
                "catalog_default_tier",
                format!("must be 1 to 4, not {}", self.catalog_default_tier),
            );
        }
        if !self.catalog_source_url.is_empty()
            && (console_core::catalog::safe_href(&self.catalog_source_url).is_none()
                || !self.catalog_source_url.contains("{path}"))
        {
            return invalid(
                "catalog_source_url",
                "must be an http(s) URL with {path} (and optionally {line}) in it".to_string(),
            );
        }
        if self.catalog_max_removed_percent > 100 {
            return invalid(
                "catalog_max_removed_percent",
                format!("must be 0 to 100, not {}", self.catalog_max_removed_percent),
            );
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
                format!(
                    "dev sign-in lets anyone pick a user; refused on the non-loopback address {}",
                    self.listen
                ),
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
        if (self.auth.oidc.is_some() || self.auth.github.is_some())
            && read_secret(
                "auth.secret_key_env",
                &self.auth.secret_key_env,
                &self.auth.secret_key_file,
            )?
            .is_none_or(|k| k.len() < 32)
        {
            return invalid(
                "auth.secret_key_env",
                "a sign-in provider needs a key of at least 32 characters (secret_key_env or secret_key_file), the same on every replica".into(),
            );
        }
        if self.auth.recheck_minutes == 0 {
            return invalid("auth.recheck_minutes", "must be at least 1".into());
        }
        if let Some(oidc) = &self.auth.oidc {
            // Keys and tokens come from there: plain HTTP only on this machine.
            if !(oidc.issuer.starts_with("https://")
                || (oidc.issuer.starts_with("http://") && is_loopback_url(&oidc.issuer)))
            {
                return invalid(
                    "auth.oidc.issuer",
                    format!("must be an https URL (http only on loopback), not {:?}", oidc.issuer),
                );
            }
            read_secret(
                "auth.oidc.client_secret_env",
                &oidc.client_secret_env,
                &oidc.client_secret_file,
            )?;
            if oidc.squad_prefix.as_deref() == Some("") {
                return invalid("auth.oidc.squad_prefix", "an empty prefix would make every group of the provider a squad: set a prefix such as \"squad-\", or map groups in squad_map".into());
            }
            if let Some(squad) = oidc.squad_map.values().find(|s| s.trim().is_empty()) {
                return invalid(
                    "auth.oidc.squad_map",
                    format!("maps a group to the empty squad {squad:?}"),
                );
            }
        }
        if let Some(github) = &self.auth.github {
            for (key, url) in
                [("auth.github.web_url", &github.web_url), ("auth.github.api_url", &github.api_url)]
            {
                if !(url.starts_with("https://")
                    || (url.starts_with("http://") && is_loopback_url(url)))
                {
                    return invalid(
                        key,
                        format!("must be an https URL (http only on loopback), not {url:?}"),
                    );
                }
            }
            if github.org.trim().is_empty() {
                return invalid(
                    "auth.github.org",
                    "only members of this organisation may sign in: it cannot be empty".into(),
                );
            }
            for key in github.team_map.keys() {
                if let Some(problem) = console_core::auth::github::github_team_key_problem(key) {
                    return invalid("auth.github.team_map", problem);
                }
            }
            if let Some(problem) = Some(&github.sre_team)
                .filter(|t| !t.is_empty())
                .and_then(|t| console_core::auth::github::github_team_key_problem(t))
            {
                return invalid("auth.github.sre_team", problem);
            }
            if github.team_prefix.as_deref() == Some("") {
                return invalid("auth.github.team_prefix", "an empty prefix would make every team of the organisation a squad: set a prefix, or map teams in team_map".into());
            }
            if read_secret(
                "auth.github.client_secret_env",
                &github.client_secret_env,
                &github.client_secret_file,
            )?
            .is_none()
            {
                return invalid(
                    "auth.github.client_secret_env",
                    "GitHub needs a client secret (client_secret_env or client_secret_file)".into(),
                );
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
        self.auth.dev_sign_in
    }

    /// The catalog directory, if one is configured.
    pub fn catalog_dir(&self) -> Option<&Path> {
        self.catalog_dir.as_deref().filter(|d| !d.as_os_str().is_empty())
    }
}

/// `http(s)://localhost…`, `127.x.x.x` or `[::1]`.
fn is_loopback_url(url: &str) -> bool {
    let Some(host) = url.parse::<axum::http::Uri>().ok().and_then(|u| u.host().map(str::to_string))
    else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An environment value as TOML if it reads as a number or boolean, else as a string.
fn env_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) if !matches!(t.get("v"), Some(toml::Value::String(_))) => t.remove("v").unwrap(),
        _ => toml::Value::String(raw.to_string()),
    }
}

/// Whether `CONSOLE_<key>` is configuration (see the module comment for what is not).
fn is_config_variable(key: &str, value: &str) -> bool {
    !(key == "CONFIG"
        || key.starts_with("REPLICA_")
        || is_service_link(&format!("CONSOLE_{key}"), value))
}

/// The variables Kubernetes' service links define for a Service `NAME` (upper case, `-` as `_`):
/// `NAME_SERVICE_HOST`, `NAME_SERVICE_PORT`, `NAME_SERVICE_PORT_<PORT NAME>`,
/// `NAME_PORT=<proto>://ip:port` and `NAME_PORT_<port>_<PROTO>` with `_ADDR`, `_PORT`, `_PROTO`.
fn is_service_link(name: &str, value: &str) -> bool {
    let proto = |p: &str| matches!(p, "TCP" | "UDP" | "SCTP");
    if name.ends_with("_SERVICE_HOST") || name.ends_with("_SERVICE_PORT") {
        return true;
    }
    if name.contains("_SERVICE_PORT_") {
        return true;
    }
    // NAME_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO]
    let parts: Vec<&str> = name.rsplit('_').collect();
    let port_and_proto = match parts.as_slice() {
        [last, p, port, "PORT", ..] if matches!(*last, "ADDR" | "PORT" | "PROTO") => {
            Some((*port, *p))
        }
        [p, port, "PORT", ..] => Some((*port, *p)),
        _ => None,
    };
    if let Some((port, p)) = port_and_proto {
        if proto(p) && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            return true;
        }
    }
    // NAME_PORT=tcp://ip:port
    name.ends_with("_PORT") && ["tcp://", "udp://", "sctp://"].iter().any(|p| value.starts_with(p))
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [key] => {
            table.insert(key.clone(), value);
        }
        [section, rest @ ..] => {
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()));
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

    /// What Kubernetes and the replicas put in a pod's environment is not configuration; a
    /// misspelt key still is, and is refused by name.
    #[test]
    fn environment_that_is_not_configuration_is_left_alone() {
        let pod = [
            ("CONSOLE_REPLICA_LEDGER_PASSWORD", "x"),
            ("CONSOLE_REPLICA_CREDENTIALS_DIR", "/etc/console/replica-credentials"),
            ("CONSOLE_SERVICE_HOST", "10.0.0.7"),
            ("CONSOLE_SERVICE_PORT", "80"),
            ("CONSOLE_SERVICE_PORT_HTTP", "80"),
            ("CONSOLE_PORT", "tcp://10.0.0.7:80"),
            ("CONSOLE_PORT_80_TCP", "tcp://10.0.0.7:80"),
            ("CONSOLE_PORT_80_TCP_ADDR", "10.0.0.7"),
            ("CONSOLE_PORT_80_TCP_PORT", "80"),
            ("CONSOLE_PORT_80_TCP_PROTO", "tcp"),
            ("CONSOLE_METRICS_SERVICE_HOST", "10.0.0.8"),
            ("CONSOLE_METRICS_PORT_9090_UDP_ADDR", "10.0.0.8"),
            ("CONSOLE_CONFIG", "/etc/console/console.toml"),
        ];
        let config = Config::load(None, env(&pod)).unwrap();
        assert_eq!(config.listen, Config::default().listen);
        for (name, key) in [
            ("CONSOLE_DATABSE_URL", "databse_url"),
            ("CONSOLE_PORT", "port"),
            ("CONSOLE_PORT_80_TCP_ADDRESS", "port_80_tcp_address"),
            ("CONSOLE_SERVICE", "service"),
            ("CONSOLE_AUTH__SESSION_IDLE_MINUTE", "session_idle_minute"),
        ] {
            let mut with = env(&pod);
            // CONSOLE_PORT with a value that is not a service link is a misspelt key.
            with.retain(|(n, _)| n != name);
            with.push((name.to_string(), "8080".to_string()));
            let err = Config::load(None, with).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains("unknown field"), "{name}: {err}");
        }
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:4000\"\ndatabase_url = \"sqlite://x.db\"\ncatalog_dir = \"\"\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&path),
            env(&[("CONSOLE_DATABASE_URL", "postgres://db/console"), ("OTHER", "x")]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 4000);
        assert_eq!(config.database_url, "postgres://db/console");
        assert_eq!(config.catalog_dir(), None);
    }

    #[test]
    fn errors_name_the_key() {
        let err = |pairs: &[(&str, &str)]| Config::load(None, env(pairs)).unwrap_err().to_string();
        assert!(err(&[("CONSOLE_LISTEN", "nowhere")]).starts_with("config key `listen`:"));
        assert!(err(&[("CONSOLE_DATABASE_URL", "mysql://x")])
            .contains("`database_url`: must start with"));
        assert!(err(&[("CONSOLE_LOG_FORMAT", "xml")]).starts_with("config key `log_format`:"));
        assert!(err(&[("CONSOLE_CATALOG_DIR", "/no/such/dir")]).contains("`catalog_dir`"));
        assert!(err(&[("CONSOLE_CATALOG_SOURCE_URL", "javascript:alert(1)//{path}")])
            .contains("`catalog_source_url`: must be an http(s) URL"));
        assert!(err(&[("CONSOLE_CATALOG_SOURCE_URL", "https://git.example.com/catalog")])
            .contains("with {path}"));
        assert!(Config::load(
            None,
            env(&[(
                "CONSOLE_CATALOG_SOURCE_URL",
                "https://git.example.com/c/blob/main/{path}#L{line}"
            )])
        )
        .is_ok());
        assert!(err(&[("CONSOLE_NO_SUCH_KEY", "1")]).contains("no_such_key"));
        // No prefix is silently ignored: a misspelt or test-only variable is an error too.
        assert!(err(&[("CONSOLE_TEST_POSTGRES_URL", "postgres://x")]).contains("test_postgres_url"));
    }

    /// GitHub team ids and slugs are separate key spaces: a bare key (the old form) is refused
    /// at start with a message that says how to write it.
    #[test]
    fn github_team_keys_say_whether_they_are_ids_or_slugs() {
        std::env::set_var("CONFIG_TEST_GITHUB_SECRET", "s");
        std::env::set_var("CONFIG_TEST_GITHUB_SEALING_KEY", "k".repeat(32));
        let github = |extra: &str| {
            format!(
                "[auth]\nsecret_key_env = \"CONFIG_TEST_GITHUB_SEALING_KEY\"\n[auth.github]\nclient_id = \"c\"\nclient_secret_env = \"CONFIG_TEST_GITHUB_SECRET\"\norg = \"acme\"\n{extra}\n"
            )
        };
        let load = |text: String| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("console.toml");
            std::fs::write(&path, text).unwrap();
            Config::load(Some(&path), vec![]).map(|_| ()).map_err(|e| e.to_string())
        };
        let err = load(github("[auth.github.team_map]\n4521387 = \"payments\"")).unwrap_err();
        assert!(err.contains("auth.github.team_map") && err.contains("\"id:4521387\""), "{err}");
        let err = load(github("[auth.github.team_map]\npayments-team = \"payments\"")).unwrap_err();
        assert!(err.contains("\"slug:payments-team\""), "{err}");
        let err = load(github("sre_team = \"platform-sre\"")).unwrap_err();
        assert!(
            err.contains("auth.github.sre_team") && err.contains("\"slug:platform-sre\""),
            "{err}"
        );
        load(github("sre_team = \"id:77\"\n[auth.github.team_map]\n\"id:4521387\" = \"payments\"\n\"slug:data-eng\" = \"data\"")).unwrap();
    }

    #[test]
    fn secrets_never_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.toml");
        std::fs::write(
            &path,
            "[auth.oidc]\nissuer = \"http://idp\"\nclient_id = \"c\"\nclient_secret = \"s3cret\"\n",
        )
        .unwrap();
        std::env::set_var("CONFIG_TEST_SEALING_KEY", "s".repeat(32));
        let err = Config::load(Some(&path), vec![]).unwrap_err().to_string();
        assert!(
            err.contains("auth.oidc") && err.contains("unknown field `client_secret`"),
            "{err}"
        );
        assert!(!err.contains("s3cret"));
        let err = Config::load(
            None,
            env(&[
                ("CONSOLE_AUTH__SECRET_KEY_ENV", "CONFIG_TEST_SEALING_KEY"),
                ("CONSOLE_AUTH__OIDC__ISSUER", "https://idp"),
                ("CONSOLE_AUTH__OIDC__CLIENT_ID", "c"),
                ("CONSOLE_AUTH__OIDC__CLIENT_SECRET_ENV", "NO_SUCH_VAR_X"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("NO_SUCH_VAR_X is not set"), "{err}");
    }

    #[test]
    fn dev_sign_in_is_refused_off_loopback() {
        // Off unless asked for: a misspelt provider variable leaves no sign-in, not a dev one.
        let plain =
            Config::load(None, env(&[("CONSOLE_AUTH__OIDC_ISSUER", "https://idp.example.com")]));
        assert!(plain.is_err(), "unknown keys are refused");
        assert!(!Config::load(None, env(&[("CONSOLE_LISTEN", "0.0.0.0:3000")]))
            .unwrap()
            .dev_sign_in());
        let dev = ("CONSOLE_AUTH__DEV_SIGN_IN", "true");
        let err = Config::load(None, env(&[("CONSOLE_LISTEN", "0.0.0.0:3000"), dev]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.dev_sign_in"), "{err}");
        // Behind a proxy or a port-forward: loopback listen, a real public URL.
        for public in ["https://console.example.com", "http://10.0.0.5:3000"] {
            let err = Config::load(None, env(&[("CONSOLE_AUTH__PUBLIC_URL", public), dev]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("auth.dev_sign_in") && err.contains(public), "{err}");
        }
        for local in ["http://127.0.0.1:3000", "http://localhost:3100", "http://[::1]:3000"] {
            assert!(
                Config::load(None, env(&[("CONSOLE_AUTH__PUBLIC_URL", local), dev]))
                    .unwrap()
                    .dev_sign_in(),
                "{local}"
            );
        }
    }

    #[test]
    fn providers_that_would_make_any_group_a_squad_are_refused() {
        std::env::set_var("CONFIG_TEST_KEY", "k".repeat(40));
        let base = [
            ("CONSOLE_AUTH__SECRET_KEY_ENV", "CONFIG_TEST_KEY"),
            ("CONSOLE_AUTH__OIDC__ISSUER", "https://idp.example.com"),
            ("CONSOLE_AUTH__OIDC__CLIENT_ID", "console"),
        ];
        assert!(Config::load(None, env(&base)).is_ok());
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            Config::load(None, env(&pairs)).unwrap_err().to_string()
        };
        assert!(with(("CONSOLE_AUTH__OIDC__SQUAD_PREFIX", ""))
            .contains("`auth.oidc.squad_prefix`: an empty prefix would make every group"));
        // Keys over plain HTTP from another host could be forged on the way.
        let mut plain = base.to_vec();
        plain[1].1 = "http://idp.example.com";
        assert!(Config::load(None, env(&plain))
            .unwrap_err()
            .to_string()
            .contains("`auth.oidc.issuer`: must be an https URL"));
        plain[1].1 = "http://127.0.0.1:3190";
        assert!(
            Config::load(None, env(&plain)).is_ok(),
            "a provider on this machine (tests) may be plain HTTP"
        );
        // Without the sealing key, or with a short one.
        let err = Config::load(None, env(&base[1..])).unwrap_err().to_string();
        assert!(err.contains("`auth.secret_key_env`"), "{err}");
        std::env::set_var("CONFIG_TEST_SHORT_KEY", "short");
        let mut short = base.to_vec();
        short[0].1 = "CONFIG_TEST_SHORT_KEY";
        assert!(Config::load(None, env(&short))
            .unwrap_err()
            .to_string()
            .contains("at least 32 characters"));
        let github = [
            ("CONSOLE_AUTH__SECRET_KEY_ENV", "CONFIG_TEST_KEY"),
            ("CONSOLE_AUTH__GITHUB__CLIENT_ID", "gh"),
            ("CONSOLE_AUTH__GITHUB__CLIENT_SECRET_ENV", "CONFIG_TEST_KEY"),
            ("CONSOLE_AUTH__GITHUB__ORG", "acme"),
        ];
        assert!(Config::load(None, env(&github)).is_ok());
        let mut prefix = github.to_vec();
        prefix.push(("CONSOLE_AUTH__GITHUB__TEAM_PREFIX", ""));
        assert!(Config::load(None, env(&prefix))
            .unwrap_err()
            .to_string()
            .contains("`auth.github.team_prefix`"));
        let mut no_org = github.to_vec();
        no_org[3].1 = " ";
        assert!(Config::load(None, env(&no_org))
            .unwrap_err()
            .to_string()
            .contains("`auth.github.org`"));
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "listen = ").unwrap();
        assert!(Config::load(Some(&path), vec![])
            .unwrap_err()
            .to_string()
            .contains("bad.toml is not valid TOML"));
        let missing = dir.path().join("missing.toml");
        assert!(Config::load(Some(&missing), vec![])
            .unwrap_err()
            .to_string()
            .contains("cannot read config file"));
    }
}
