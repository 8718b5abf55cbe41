//! Shared set-up for route tests: the real router over a fresh store holding the demo catalog,
//! with dev sign-in, driven in-process.
#![allow(dead_code)] // each test binary uses a part

pub mod idp;
pub mod process;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use console::auth::Auth;
use console::{router, AppState};
use console_core::catalog::ingest;
use console_core::store::{testing, Store};
use console_sandbox::Sandbox;
use tower::ServiceExt;

pub const PUBLIC_URL: &str = "http://127.0.0.1:3000";

pub struct TestApp {
    pub router: Router,
    /// The metrics listener's router.
    pub metrics: Router,
    pub store: Store,
    /// A console started from a configuration: what must live while it serves.
    _console: Option<console::start::Console>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
    /// The `name=value` part of the session cookie set by this reply, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("console_session")
    }
    /// The `name=value` part of the cookie `name` (or `__Host-name`, over HTTPS) set by this
    /// reply, if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name).map(|c| c.split(';').next().unwrap().to_string())
    }
    /// The whole `Set-Cookie` header of the cookie `name` (or `__Host-name`), attributes too.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| {
                c.starts_with(&format!("{name}=")) || c.starts_with(&format!("__Host-{name}="))
            })
            .map(str::to_string)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub fn demo_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/catalog")
}

/// Writes every descriptor file of the demo catalog into `into`, each through `edit`: the demo
/// organisation as Git would hold it after a change.
pub fn write_demo_catalog(into: &std::path::Path, edit: impl Fn(String) -> String) {
    for entry in std::fs::read_dir(demo_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::write(
            into.join(path.file_name().unwrap()),
            edit(std::fs::read_to_string(&path).unwrap()),
        )
        .unwrap();
    }
}

impl TestApp {
    /// The demo organisation from `demo/catalog`, on in-memory SQLite.
    pub async fn demo() -> TestApp {
        Self::build(testing::sqlite().await, Auth::dev(PUBLIC_URL)).await
    }

    pub async fn with_store(store: Store) -> TestApp {
        Self::build(store, Auth::dev(PUBLIC_URL)).await
    }

    pub async fn build(store: Store, auth: Auth) -> TestApp {
        ingest::import_dir(&store, &demo_dir()).await.expect("demo catalog imports");
        Self::serve(store, auth, Default::default())
    }

    fn serve(store: Store, auth: Auth, clusters: console_core::k8s::Clusters) -> TestApp {
        let state =
            AppState::new(store.clone(), auth, "target/site", "127.0.0.1:0".parse().unwrap())
                .with_catalog_dir(Some(demo_dir()))
                .with_clusters(clusters)
                // Open streams re-check access this often (30 s in production).
                .with_access_check(std::time::Duration::from_millis(200));
        TestApp {
            metrics: console::metrics_router(state.clone()),
            router: router(state),
            store,
            _console: None,
        }
    }

    /// [`TestApp::from_config`] on the demo catalog, with `settings` (TOML) after that.
    pub async fn configured(settings: &str) -> TestApp {
        let toml = format!(
            "catalog_dir = {:?}\nsite_root = \"target/site\"\n{settings}\n",
            demo_dir().display().to_string()
        );
        Self::from_config(&toml).await.unwrap_or_else(|e| panic!("{e}\n{toml}"))
    }

    /// The console as `main` starts it ([`console::start::start`]) from this configuration file,
    /// with none of the tests' own settings: for the sign-in, session and cookie tests. No
    /// environment variables are read, so the machine's cannot change what is tested.
    pub async fn from_config(toml: &str) -> Result<TestApp, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.toml");
        std::fs::write(&path, toml).unwrap();
        let config = console::config::Config::load(Some(&path), std::iter::empty())
            .map_err(|e| e.to_string())?;
        let console = console::start::start(&config).await?;
        let store = console.state.store.clone();
        Ok(TestApp {
            router: router(console.state.clone()),
            metrics: console::metrics_router(console.state.clone()),
            store,
            _console: Some(console),
        })
    }

    /// The demo organisation with the sandbox cluster running its workloads (life ticks every
    /// 100 ms), connected through a kubeconfig like a real cluster, caches warm.
    pub async fn with_sandbox() -> (TestApp, Sandbox) {
        Self::with_sandbox_and(vec![]).await
    }

    /// [`TestApp::with_sandbox`], the sandbox also running `extra` workloads.
    pub async fn with_sandbox_and(extra: Vec<console_sandbox::Workload>) -> (TestApp, Sandbox) {
        let options = console_sandbox::Options {
            tick: std::time::Duration::from_millis(100),
            ..Default::default()
        };
        Self::with_sandbox_options(extra, options).await
    }

    /// [`TestApp::with_sandbox_and`] with the sandbox's `options`.
    pub async fn with_sandbox_options(
        extra: Vec<console_sandbox::Workload>,
        options: console_sandbox::Options,
    ) -> (TestApp, Sandbox) {
        Self::with_sandbox_auth(extra, options, Auth::dev(PUBLIC_URL)).await
    }

    /// [`TestApp::with_sandbox_options`] signing in with `auth`.
    pub async fn with_sandbox_auth(
        extra: Vec<console_sandbox::Workload>,
        options: console_sandbox::Options,
        auth: Auth,
    ) -> (TestApp, Sandbox) {
        Self::with_sandbox_scope(extra, options, auth, Default::default()).await
    }

    /// [`TestApp::with_sandbox_auth`] watching only what `scope` says.
    pub async fn with_sandbox_scope(
        extra: Vec<console_sandbox::Workload>,
        options: console_sandbox::Options,
        auth: Auth,
        scope: console_core::k8s::Scope,
    ) -> (TestApp, Sandbox) {
        let store = testing::sqlite().await;
        ingest::import_dir(&store, &demo_dir()).await.expect("demo catalog imports");
        let mut workloads = console::kubernetes::demo_workloads(&store).await.unwrap();
        workloads.extend(extra);
        let sandbox =
            Sandbox::start("127.0.0.1:0".parse().unwrap(), workloads, options).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, sandbox.kubeconfig("sandbox")).unwrap();
        let clusters = console_core::k8s::Clusters::from_kubeconfig(&path, &[], &scope)
            .await
            .expect("kubeconfig reads");
        tokio::time::timeout(std::time::Duration::from_secs(20), clusters.ready())
            .await
            .expect("caches sync");
        (Self::serve(store, auth, clusters), sandbox)
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.unwrap();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// GET as `cookie` (None: anonymous).
    pub async fn get_as(&self, uri: &str, cookie: Option<&str>) -> Reply {
        let mut request = Request::get(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A same-origin POST, as the console's own pages send it.
    pub async fn post_as(
        &self,
        uri: &str,
        cookie: Option<&str>,
        content_type: &str,
        body: String,
    ) -> Reply {
        let mut request = Request::post(uri)
            .header(header::ORIGIN, PUBLIC_URL)
            .header(header::CONTENT_TYPE, content_type);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    pub async fn post_json(
        &self,
        uri: &str,
        cookie: Option<&str>,
        body: serde_json::Value,
    ) -> Reply {
        self.post_as(uri, cookie, "application/json", body.to_string()).await
    }

    pub async fn post_form(&self, uri: &str, cookie: Option<&str>, body: &str) -> Reply {
        self.post_as(uri, cookie, "application/x-www-form-urlencoded", body.to_string()).await
    }

    /// Signs in through dev sign-in; returns the session cookie.
    pub async fn sign_in(&self, login: &str) -> String {
        let reply = self.post_form("/auth/dev", None, &format!("login={login}")).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "dev sign-in as {login}: {}", reply.body);
        reply.session_cookie().expect("session cookie")
    }

    /// A page as a signed-in developer (`maria`, of the payments squad).
    pub async fn get(&self, uri: &str) -> (StatusCode, String) {
        let cookie = self.sign_in("maria").await;
        let reply = self.get_as(uri, Some(&cookie)).await;
        (reply.status, reply.body)
    }

    pub async fn json(&self, uri: &str) -> (StatusCode, serde_json::Value) {
        let (status, body) = self.get(uri).await;
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri}: {e}: {body}")))
    }
}
