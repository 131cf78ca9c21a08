//! The security layers end to end through `rivulet_api::app` (API + UI + OTLP, as the binary serves them): the Host check matrix, CORS and cross-origin blocking, security headers, and authentication proven on every route of the router and on OTLP/gRPC.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use http_body_util::BodyExt;
use rivulet_api::security::auth::{hash_password, hash_token};
use rivulet_api::security::{Authenticator, CorsPolicy, FrameOptions, HostPolicy, SecurityFlags, SecuritySettings};
use rivulet_api::{ApiSettings, AppState};
use rivulet_store::{Store, StoreSettings, StoreUri};
use serde_json::Value;
use tower::ServiceExt;

struct TestApp {
    app: Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn test_app(configure: impl FnOnce(&mut ApiSettings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite { path: Some(dir.path().join("mlflow.db")) };
    let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
    let mut settings = ApiSettings::default();
    configure(&mut settings);
    let state = AppState::new(store, None, settings);
    // Exactly what the binary serves: the API and the UI under one set of layers.
    let app = rivulet_api::app(state.clone(), rivulet_ui::router(state.clone()));
    TestApp { app, state, _dir: dir }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl TestApp {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&self, path: &str, host: Option<&str>) -> Reply {
        let mut request = Request::get(path);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post_json(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut request = Request::post(path).header("host", "localhost:5000").header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap()).await
    }
}

fn hosts(list: &str) -> impl FnOnce(&mut ApiSettings) + '_ {
    move |settings| settings.security.allowed_hosts = HostPolicy::parse(list).unwrap()
}

const SERVER_INFO: &str = "/api/3.0/mlflow/server-info";

#[tokio::test]
async fn host_check_matrix() {
    let t = test_app(hosts("mlflow.example.com, api.example.com:8443, *.corp.example")).await;
    let admitted = [
        // A listed name without a port: any port (MLflow demands every host:port pair).
        "mlflow.example.com",
        "mlflow.example.com:443",
        "mlflow.example.com:5000",
        "MLflow.Example.com.",
        // A listed name with a port: that port (and no port only for 80/443 entries).
        "api.example.com:8443",
        // Wildcard subdomains.
        "x.corp.example",
        "a.b.corp.example:1234",
        // Always: loopback, private addresses, single-label and in-cluster names.
        "localhost",
        "localhost:5000",
        "127.0.0.1:5000",
        "[::1]:5000",
        "10.1.2.3:5000",
        "172.20.0.4",
        "192.168.0.5:80",
        "[fd00::5]:5000",
        "rivulet",
        "rivulet:5000",
        "rivulet.mlops.svc",
        "rivulet.mlops.svc.cluster.local:5000",
    ];
    for host in admitted {
        let reply = t.get(SERVER_INFO, Some(host)).await;
        assert_eq!(reply.status, StatusCode::OK, "{host} should be admitted: {}", reply.body);
    }
    let refused = [
        "evil.com",
        "evil.com:5000",
        "api.example.com",
        "api.example.com:9000",
        "corp.example",
        "mlflow.example.com.evil.com",
        "10.evil.com",
        "172.15.0.1",
        "8.8.8.8:5000",
        "rivulet.mlops",
        "bad host",
    ];
    for host in refused {
        let reply = t.get(SERVER_INFO, Some(host)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{host} should be refused");
    }
    let reply = t.get(SERVER_INFO, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "no Host at all");
    assert!(reply.body.contains("Missing Host header"), "{}", reply.body);
}

#[tokio::test]
async fn host_check_message_covers_every_route_and_exempts_probes() {
    let t = test_app(hosts("mlflow.example.com")).await;
    let reply = t.get("/api/2.0/mlflow/experiments/search?max_results=1", Some("evil.com:5000")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.header("content-type").starts_with("text/plain"));
    assert!(reply.body.contains("'evil.com:5000'") && reply.body.contains("--allowed-hosts evil.com") && reply.body.contains("MLFLOW_SERVER_ALLOWED_HOSTS"), "{}", reply.body);
    // Uniform: UI pages, its assets, OTLP, artifacts, metrics, readiness and unknown paths too.
    for path in ["/", "/ui/experiments/0", "/ui/static/app.js", "/v1/traces", "/api/2.0/mlflow-artifacts/artifacts", "/metrics", "/ready", "/no/such/route"] {
        assert_eq!(t.get(path, Some("evil.com")).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let request = Request::post("/v1/traces").header("host", "evil.com").header("content-type", "application/x-protobuf").body(Body::empty()).unwrap();
    assert_eq!(t.send(request).await.status, StatusCode::FORBIDDEN, "OTLP export");
    // Probes pass whatever Host they use.
    for path in ["/health", "/version"] {
        let reply = t.get(path, Some("evil.com")).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    // `*` turns the check off.
    let open = test_app(hosts("*")).await;
    assert_eq!(open.get(SERVER_INFO, Some("evil.com")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn host_check_under_a_static_prefix() {
    let t = test_app(|settings| settings.static_prefix = Some("/mlflow".to_string())).await;
    assert_eq!(t.get("/mlflow/health", Some("evil.com")).await.status, StatusCode::OK);
    assert_eq!(t.get("/mlflow/api/3.0/mlflow/server-info", Some("evil.com")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.get("/mlflow/api/3.0/mlflow/server-info", Some("localhost:5000")).await.status, StatusCode::OK);
}

fn cors(list: &str) -> impl FnOnce(&mut ApiSettings) + '_ {
    move |settings| settings.security.cors = CorsPolicy::parse(list).unwrap()
}

fn preflight(path: &str, origin: &str) -> Request<Body> {
    Request::options(path)
        .header("host", "localhost:5000")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cors_preflight_and_blocked_cross_origin_writes() {
    let t = test_app(|s| {
        hosts("mlflow.example.com")(s);
        cors("https://app.example.com")(s);
    })
    .await;
    let create = "/api/2.0/mlflow/experiments/create";

    let reply = t.send(preflight(create, "https://app.example.com")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), "https://app.example.com");
    assert_eq!(reply.header("access-control-allow-credentials"), "true");
    assert!(reply.header("access-control-allow-methods").contains("POST"));
    assert_eq!(reply.header("access-control-allow-headers"), "content-type,authorization");

    let reply = t.send(preflight(create, "https://evil.com")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body, "Disallowed CORS origin");
    assert_eq!(reply.header("access-control-allow-origin"), "");

    // A "simple" cross-origin POST (no preflight) is refused before it acts.
    let reply = t.post_json(create, &[("origin", "https://evil.com")], r#"{"name":"stolen"}"#).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("Cross-origin request blocked") && reply.body.contains("--cors-allowed-origins"), "{}", reply.body);
    let lookup = t.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=stolen", Some("localhost")).await;
    assert_eq!(lookup.status, StatusCode::NOT_FOUND, "the blocked request created nothing");
    // The same for the UI's forms, OTLP and artifact uploads.
    let form = Request::post("/ui/experiments")
        .header("host", "localhost:5000")
        .header("origin", "https://evil.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("name=x"))
        .unwrap();
    assert_eq!(t.send(form).await.status, StatusCode::FORBIDDEN);
    let otlp = Request::post("/v1/traces").header("host", "localhost").header("origin", "https://evil.com").body(Body::empty()).unwrap();
    assert_eq!(t.send(otlp).await.status, StatusCode::FORBIDDEN);
    let put = Request::put("/api/2.0/mlflow-artifacts/artifacts/0/a.txt").header("host", "localhost").header("origin", "null").body(Body::from("x")).unwrap();
    assert_eq!(t.send(put).await.status, StatusCode::FORBIDDEN);

    // Allowed: a listed origin, localhost origins, the server's own origin, and no Origin at all.
    let reply = t.post_json(create, &[("origin", "https://app.example.com")], r#"{"name":"from-app"}"#).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("access-control-allow-origin"), "https://app.example.com");
    assert!(reply.header("vary").contains("Origin"));
    assert_eq!(t.post_json(create, &[("origin", "http://localhost:3000")], r#"{"name":"from-dev"}"#).await.status, StatusCode::OK);
    let own = Request::post(create)
        .header("host", "mlflow.example.com")
        .header("origin", "https://mlflow.example.com")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name":"same-origin"}"#))
        .unwrap();
    assert_eq!(t.send(own).await.status, StatusCode::OK, "the server's own pages");
    assert_eq!(t.post_json(create, &[], r#"{"name":"from-client"}"#).await.status, StatusCode::OK);
    // Reads are not blocked, but a foreign page gets no CORS grant to read them.
    let read = Request::get(SERVER_INFO).header("host", "localhost").header("origin", "https://evil.com").body(Body::empty()).unwrap();
    let reply = t.send(read).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), "");

    // `*`: anyone, without credentials, and nothing blocked.
    let open = test_app(cors("*")).await;
    let reply = open.post_json(create, &[("origin", "https://evil.com")], r#"{"name":"anyone"}"#).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    assert_eq!(reply.header("access-control-allow-credentials"), "");
}

#[tokio::test]
async fn json_only_post_stays_enforced() {
    let t = test_app(|_| {}).await;
    let request = Request::post("/api/2.0/mlflow/experiments/create")
        .header("host", "localhost")
        .header("content-type", "text/plain")
        .body(Body::from(r#"{"name":"csrf"}"#))
        .unwrap();
    assert_eq!(t.send(request).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn security_headers_on_ui_and_api_responses() {
    let t = test_app(|_| {}).await;
    let page = t.get("/", Some("localhost:5000")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    let csp = page.header("content-security-policy");
    for directive in ["default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'self'", "base-uri 'self'"] {
        assert!(csp.contains(directive), "{csp} lacks {directive}");
    }
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "no inline script: {csp}");
    assert_eq!(page.header("x-frame-options"), "SAMEORIGIN");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "same-origin");
    let api = t.get(SERVER_INFO, Some("localhost")).await;
    assert_eq!(api.header("x-content-type-options"), "nosniff");
    assert!(!api.header("content-security-policy").is_empty());
    // Refusals carry them too.
    assert_eq!(t.get(SERVER_INFO, Some("evil.com")).await.header("x-content-type-options"), "nosniff");

    let deny = test_app(|s| s.security.frame_options = FrameOptions::Deny).await;
    let page = deny.get("/", Some("localhost")).await;
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert!(page.header("content-security-policy").contains("frame-ancestors 'none'"));
    let none = test_app(|s| s.security.frame_options = FrameOptions::None).await;
    let page = none.get("/", Some("localhost")).await;
    assert_eq!(page.header("x-frame-options"), "");
    assert!(!page.header("content-security-policy").contains("frame-ancestors"));
}

#[tokio::test]
async fn disabling_the_middleware_and_conflicting_flags() {
    let t = test_app(|s| s.security.middleware = false).await;
    let reply = t.get(SERVER_INFO, Some("evil.com")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-frame-options"), "");

    let conflict = SecuritySettings::from_flags(&SecurityFlags {
        allowed_hosts: Some("mlflow.example.com"),
        disable_security_middleware: true,
        ..SecurityFlags::default()
    })
    .unwrap_err();
    assert!(conflict.contains("--disable-security-middleware") && conflict.contains("--allowed-hosts") && conflict.contains("remove one"), "{conflict}");
    let bad = SecuritySettings::from_flags(&SecurityFlags { allowed_hosts: Some("mlflow*.example.com"), ..SecurityFlags::default() }).unwrap_err();
    assert!(bad.contains("'mlflow*.example.com'") && bad.contains("*.example.com"), "{bad}");
    let bad = SecuritySettings::from_flags(&SecurityFlags { x_frame_options: Some("ALLOW"), ..SecurityFlags::default() }).unwrap_err();
    assert!(bad.contains("DENY, SAMEORIGIN or NONE"), "{bad}");
    let missing = SecuritySettings::from_flags(&SecurityFlags { auth_file: Some(std::path::Path::new("/nonexistent/auth")), ..SecurityFlags::default() }).unwrap_err();
    assert!(missing.contains("--auth-file /nonexistent/auth"), "{missing}");
}

// ---------------------------------------------------------------------------------------------
// Authentication

const PASSWORD: &str = "a long enough password";
const TOKEN: &str = "rvt-test-token-0123456789";

fn auth_file() -> String {
    format!("# test credentials\nuser:alice:{}\ntoken:collector:{}\n", hash_password(PASSWORD).unwrap(), hash_token(TOKEN))
}

fn with_auth(text: String) -> impl FnOnce(&mut ApiSettings) {
    move |settings| settings.security.auth = Some(Arc::new(Authenticator::parse(&text, "test auth file").unwrap()))
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// Every route template of the served router, read from the router itself (its `Debug` output
/// lists each registered path), so a route added anywhere is walked without being listed here.
fn route_templates(app: &Router) -> BTreeSet<String> {
    let debug = format!("{app:?}");
    let mut paths = BTreeSet::new();
    let mut rest = debug.as_str();
    while let Some(start) = rest.find("\"/") {
        let after = &rest[start + 1..];
        let end = after.find('"').unwrap();
        paths.insert(after[..end].to_string());
        rest = &after[end + 1..];
    }
    paths
}

/// A request path for a template: `{param}` → a value, `{*rest}` → a nested path.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str(if rest[open + 1..].starts_with('*') { "dir/file.txt" } else { "x1" });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn probe(method: &Method, path: &str, authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::builder().method(method.clone()).uri(path).header("host", "localhost:5000");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS {
        request.body(Body::empty()).unwrap()
    } else {
        request.header("content-type", "application/json").body(Body::from("{}")).unwrap()
    }
}

#[tokio::test]
async fn every_route_requires_authentication() {
    let t = test_app(with_auth(auth_file())).await;
    let templates = route_templates(&t.app);
    for expected in [
        "/api/2.0/mlflow/runs/get",
        "/ajax-api/2.0/mlflow/runs/log-batch",
        "/api/3.0/mlflow/server-info",
        "/v1/traces",
        "/get-artifact",
        "/api/2.0/mlflow-artifacts/artifacts/{*path}",
        "/ui/runs/{run_id}",
        "/ui/static/{name}",
        "/",
        "/metrics",
        "/ready",
        "/health",
    ] {
        assert!(templates.contains(expected), "the router walk missed {expected}: {templates:?}");
    }
    assert!(templates.len() > 80, "only {} routes found: {templates:?}", templates.len());

    // Listed here, not taken from the code, so widening the public set fails this test.
    let public: BTreeSet<&str> = ["/health", "/version", "/ready"].into_iter().collect();
    assert_eq!(rivulet_api::security::PUBLIC_PATHS.iter().copied().collect::<BTreeSet<_>>(), public);
    let methods = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];
    let good_basic = basic("alice", PASSWORD);
    let good_bearer = format!("Bearer {TOKEN}");
    // Wrong passwords cost an argon2 check each, so they are tried with one method per route.
    let wrong_passwords = [basic("alice", "wrong password"), basic("mallory", PASSWORD)];
    let mut walked = 0;
    // Unknown paths reach the fallback, which is covered too.
    for template in templates.iter().map(String::as_str).chain(["/no/such/route", "/health/", "/api/2.0/mlflow/no-such"]) {
        let path = concrete(template);
        if public.contains(path.as_str()) {
            continue;
        }
        for method in &methods {
            let wrong = if *method == Method::GET { &wrong_passwords[..] } else { &[] };
            let refusals = [None, Some("Bearer wrong"), Some("Digest x")].into_iter().chain(wrong.iter().map(|w| Some(w.as_str())));
            for authorization in refusals {
                let reply = t.send(probe(method, &path, authorization)).await;
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path} with {authorization:?}: {}", reply.body);
                assert_eq!(reply.header("www-authenticate"), "Basic realm=\"rivulet\"", "{method} {path}");
            }
            for authorization in [&good_basic, &good_bearer] {
                let reply = t.send(probe(method, &path, Some(authorization))).await;
                assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path} with valid credentials: {}", reply.body);
            }
            walked += 1;
        }
    }
    assert!(walked > 400, "walked {walked} route/method pairs");
    eprintln!("walked {walked} route/method pairs over {} route templates", templates.len());

    // The probes stay public.
    for path in ["/health", "/version", "/ready"] {
        let reply = t.get(path, Some("localhost")).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
}

#[tokio::test]
async fn unauthenticated_answers_in_mlflow_and_otlp_shapes() {
    let t = test_app(with_auth(auth_file())).await;
    let reply = t.get(SERVER_INFO, Some("localhost")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error_code"], "UNAUTHENTICATED");
    assert!(reply.json()["message"].as_str().unwrap().contains("MLFLOW_TRACKING_USERNAME"));

    // OTLP exporters get google.rpc.Status, JSON or protobuf like the request.
    let request = Request::post("/v1/traces").header("host", "localhost").header("content-type", "application/json").body(Body::from("{}")).unwrap();
    let reply = t.send(request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["code"], 16);
    let request = Request::post("/v1/traces").header("host", "localhost").header("content-type", "application/x-protobuf").body(Body::empty()).unwrap();
    let reply = t.send(request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("content-type"), "application/x-protobuf");

    // An exporter sending the header (OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer …) gets in.
    let request = Request::post("/v1/traces")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(t.send(request).await.status, StatusCode::OK, "an empty export is a success");

    // CORS preflights carry no credentials and are answered before authentication.
    let reply = t.send(preflight("/api/2.0/mlflow/runs/create", "http://localhost:3000")).await;
    assert_eq!(reply.status, StatusCode::OK);

    // The reflected-XSS vector of CVE-2023-6568: nothing sent is echoed.
    let request = Request::get(SERVER_INFO).header("host", "localhost").header("content-type", "text/html<script>alert(1)</script>").body(Body::empty()).unwrap();
    assert!(!t.send(request).await.body.contains("<script>"));
}

#[tokio::test]
async fn authentication_under_a_static_prefix() {
    let text = auth_file();
    let t = test_app(move |s| {
        s.static_prefix = Some("/mlflow".to_string());
        with_auth(text)(s);
    })
    .await;
    assert_eq!(t.get("/mlflow/health", Some("localhost")).await.status, StatusCode::OK);
    assert_eq!(t.get("/mlflow/ready", Some("localhost")).await.status, StatusCode::OK);
    assert_eq!(t.get("/mlflow/api/3.0/mlflow/server-info", Some("localhost")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get("/mlflow/", Some("localhost")).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn grpc_receiver_requires_the_same_credentials() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    let t = test_app(with_auth(auth_file())).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = rivulet_api::security::grpc_trace_service(t.state.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    let mut client = TraceServiceClient::connect(format!("http://{address}")).await.unwrap();

    let status = client.export(tonic::Request::new(ExportTraceServiceRequest::default())).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let mut wrong = tonic::Request::new(ExportTraceServiceRequest::default());
    wrong.metadata_mut().insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(client.export(wrong).await.unwrap_err().code(), tonic::Code::Unauthenticated);

    for authorization in [format!("Bearer {TOKEN}"), basic("alice", PASSWORD)] {
        let mut request = tonic::Request::new(ExportTraceServiceRequest::default());
        request.metadata_mut().insert("authorization", authorization.parse().unwrap());
        client.export(request).await.expect("authenticated export");
    }
}
