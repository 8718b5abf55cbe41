//! docs/openapi.yaml against the live router: it documents exactly the routes the API serves
//! (both name forms, with their methods), and every answer the router gives to valid, anonymous,
//! malformed, forbidden and unknown requests has a documented status and a JSON body that
//! validates against the documented schema (a small JSON-Schema checker below: type, enum,
//! required, properties, items, bounds, $ref).

mod common;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::TestApp;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn doc() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("local $ref");
            resolve(
                doc,
                doc.pointer(pointer).unwrap_or_else(|| panic!("{r} is not in the document")),
            )
        }
        None => v,
    }
}

/// Checks `value` against `schema`; the error names where it failed.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
        if !ok {
            return Err(format!("{at}: {actual}, documented {allowed:?}"));
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        if !choices.contains(value) {
            return Err(format!("{at}: {value} is not one of {choices:?}"));
        }
    }
    if let (Some(n), Some(min)) = (value.as_f64(), schema.get("minimum").and_then(Value::as_f64)) {
        if n < min {
            return Err(format!("{at}: {n} < {min}"));
        }
    }
    if let (Some(n), Some(max)) = (value.as_f64(), schema.get("maximum").and_then(Value::as_f64)) {
        if n > max {
            return Err(format!("{at}: {n} > {max}"));
        }
    }
    for key in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        let key = key.as_str().unwrap();
        if value.get(key).is_none() {
            return Err(format!("{at}: required {key} is missing"));
        }
    }
    if let (Some(props), Some(object)) =
        (schema.get("properties").and_then(Value::as_object), value.as_object())
    {
        for (key, sub) in props {
            if let Some(v) = object.get(key) {
                validate(doc, sub, v, &format!("{at}.{key}"))?;
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            validate(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The documented operations: (path, method).
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((path.clone(), method.clone()));
        }
    }
    out
}

#[test]
fn the_document_lists_exactly_the_routes_the_api_serves() {
    let mut served = BTreeSet::new();
    for (path, _) in console::api::ROUTES {
        let method = if path.ends_with("/query") { "post" } else { "get" };
        served.insert((path.to_string(), method.to_string()));
        if path.contains("{name}") {
            served.insert((path.replacen("{name}", "{namespace}/{name}", 1), method.to_string()));
        }
    }
    assert_eq!(operations(&doc()), served);
}

struct Api {
    app: TestApp,
    doc: Value,
    _dir: tempfile::TempDir,
}

impl Api {
    /// Sends `request` and checks the answer is documented for `(path, method)`: its status, a
    /// JSON content type, and its body against the status's schema. Returns the status.
    async fn check(&self, path: &str, method: &str, request: Request<Body>) -> StatusCode {
        let uri = request.uri().to_string();
        let reply = self.app.send(request).await;
        let operation = &self.doc["paths"][path][method];
        let status = reply.status.as_u16().to_string();
        let documented = resolve(&self.doc, &operation["responses"][&status]);
        assert!(
            !documented.is_null(),
            "{method} {uri}: {status} is not documented: {}",
            reply.body
        );
        let content_type = reply.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/json"), "{method} {uri} ({status})");
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        let schema = &documented["content"]["application/json"]["schema"];
        validate(&self.doc, schema, &body, "body")
            .unwrap_or_else(|e| panic!("{method} {uri}: {e}"));
        reply.status
    }
}

fn request(method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method.to_uppercase().as_str()).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// `path` with its path parameters filled from `value` (or the documented examples).
fn fill(doc: &Value, path: &str, name: Option<&str>) -> String {
    let operation = doc["paths"][path].as_object().unwrap().values().next().unwrap();
    let mut out = path.to_string();
    for p in operation["parameters"].as_array().into_iter().flatten() {
        let p = resolve(doc, p);
        if p["in"] == "path" {
            let key = p["name"].as_str().unwrap();
            let value = match (key, name) {
                ("name", Some(name)) => name.to_string(),
                _ => p["example"].as_str().unwrap().to_string(),
            };
            out = out.replace(&format!("{{{key}}}"), &value);
        }
    }
    out
}

/// The documented query parameters' examples, as a query string.
fn examples(doc: &Value, path: &str) -> String {
    let operation = &doc["paths"][path]["get"];
    let pairs: Vec<String> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p))
        .filter(|p| p["in"] == "query" && !p["example"].is_null())
        .map(|p| {
            let value = match &p["example"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{}={value}", p["name"].as_str().unwrap())
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

#[tokio::test]
async fn every_answer_of_the_live_router_is_documented() {
    let app = TestApp::demo().await;
    let dir = tempfile::tempdir().unwrap();
    console::demo::ensure(&app.store, &dir.path().join("demo.db")).await.unwrap();
    let (version, mut defaults) = console_core::defaults::repo::current(&app.store).await.unwrap();
    defaults.tokens.allow_query_scope = true;
    let toml = toml::to_string(&defaults).unwrap();
    console_core::defaults::actions::save_as(
        &app.store,
        version,
        &toml,
        "sre",
        "scripts may query",
    )
    .await
    .unwrap();
    let maria = app.sign_in("maria").await;
    let token = |form: &'static str| {
        let (app, maria) = (&app, maria.clone());
        async move {
            let reply = app.post_form("/api/tokens/create", Some(&maria), form).await;
            serde_json::from_str::<String>(&reply.body).unwrap()
        }
    };
    let read = token("name=read").await;
    let query = token("name=query&scope=query").await;
    let api = Api { app, doc: doc(), _dir: dir };

    let mut seen = BTreeSet::new();
    for (path, method) in operations(&api.doc) {
        let base = format!("/api/v1{}", fill(&api.doc, &path, None));
        let mut check = |status: StatusCode| {
            seen.insert(status.as_u16());
        };
        // Anonymous: 401 everywhere.
        let status = api.check(&path, &method, request(&method, &base, None, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {base}");
        check(status);
        if method == "get" {
            let ok = format!("{base}{}", examples(&api.doc, &path));
            let status = api.check(&path, &method, request("get", &ok, Some(&read), None)).await;
            assert_eq!(status, StatusCode::OK, "{ok}");
            check(status);
            if path.contains("{name}") {
                let unknown = format!("/api/v1{}", fill(&api.doc, &path, Some("no-such-entity")));
                let status =
                    api.check(&path, &method, request("get", &unknown, Some(&read), None)).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
                check(status);
            }
            if path == "/services" {
                for bad in ["?page=0", "?tier=9", "?lifecycle=forever"] {
                    let uri = format!("{base}{bad}");
                    let status =
                        api.check(&path, &method, request("get", &uri, Some(&read), None)).await;
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
                    check(status);
                }
            }
        } else {
            // The query endpoint, on the demo replica of payments-api.
            let uri = base.replace("/ledger/", "/payments-api/");
            let good = json!({"replica": "payments-demo", "sql": "SELECT id, email FROM customers ORDER BY id LIMIT 2"});
            for (token, body, expected) in [
                (&query, good.clone(), StatusCode::OK),
                (&read, good.clone(), StatusCode::FORBIDDEN),
                (&query, json!({"sql": 1}), StatusCode::BAD_REQUEST),
                (
                    &query,
                    json!({"replica": "payments-demo", "sql": "DELETE FROM customers"}),
                    StatusCode::BAD_REQUEST,
                ),
                (&query, json!({"replica": "no-such", "sql": "SELECT 1"}), StatusCode::NOT_FOUND),
            ] {
                let status = api
                    .check(&path, &method, request("post", &uri, Some(token), Some(body.clone())))
                    .await;
                assert_eq!(status, expected, "{uri} {body}");
                check(status);
            }
            // A browser's cookie sent from another site: refused, as JSON too.
            let mut forged = request("post", &uri, None, Some(good.clone()));
            forged.headers_mut().insert(header::COOKIE, maria.parse().unwrap());
            forged.headers_mut().insert(header::ORIGIN, "https://evil.example".parse().unwrap());
            assert_eq!(api.check(&path, &method, forged).await, StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(seen, BTreeSet::from([200, 400, 401, 403, 404]));
}
