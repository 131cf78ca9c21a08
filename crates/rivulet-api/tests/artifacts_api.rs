//! The artifact routes end to end through the router: MLflow's wire shapes and headers, every
//! traversal vector of `security-history.md` answered 400 on every verb, streamed uploads past
//! the JSON body limit, interrupted uploads leaving nothing, and both backends (a local
//! directory and an object store) behind the same routes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use rivulet_api::{ApiSettings, AppState};
use rivulet_artifacts::{ArtifactPath, ArtifactStore, Artifacts};
use rivulet_store::{Store, StoreSettings, StoreUri};
use serde_json::{json, Value};
use tower::ServiceExt;

const A: &str = "/api/2.0/mlflow-artifacts/artifacts";

struct TestApi {
    router: axum::Router,
    dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    bytes: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.bytes).into_owned()))
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
}

enum Backend {
    Local,
    Memory,
    Disabled,
}

async fn api_with(backend: Backend, tweak: impl FnOnce(&mut ApiSettings)) -> TestApi {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite { path: Some(dir.path().join("mlflow.db")) };
    let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
    let artifacts = match backend {
        Backend::Local => {
            let root = dir.path().join("artifacts");
            Artifacts::new(Some(ArtifactStore::local(root.to_string_lossy(), &root).unwrap()), Vec::new())
        }
        Backend::Memory => Artifacts::new(
            Some(ArtifactStore::object_store(
                "s3://bucket/prefix",
                Arc::new(object_store::memory::InMemory::new()),
                ArtifactPath::parse("prefix").unwrap(),
            )),
            Vec::new(),
        ),
        Backend::Disabled => Artifacts::disabled(),
    };
    let mut settings = ApiSettings { artifacts: Arc::new(artifacts), ..ApiSettings::default() };
    tweak(&mut settings);
    let state = AppState::new(store, None, settings);
    TestApi { router: rivulet_api::router(state), dir }
}

async fn api(backend: Backend) -> TestApi {
    api_with(backend, |_| {}).await
}

impl TestApi {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Reply { status, headers, bytes }
    }

    async fn request(&self, method: &str, uri: &str, body: impl Into<Body>) -> Reply {
        self.send(Request::builder().method(method).uri(uri).body(body.into()).unwrap()).await
    }

    async fn put(&self, uri: &str, body: impl Into<Body>) -> Reply {
        self.request("PUT", uri, body).await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.request("GET", uri, Body::empty()).await
    }

    async fn ok_post(&self, uri: &str, body: Value) -> Value {
        let request =
            Request::post(uri).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
        let reply = self.send(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.json());
        reply.json()
    }

    /// A new run; returns (experiment id, run id).
    async fn new_run(&self, artifact_location: Option<&str>) -> (String, String) {
        let mut create = json!({"name": format!("e-{}", uuid_like())});
        if let Some(location) = artifact_location {
            create["artifact_location"] = location.into();
        }
        let experiment = self.ok_post("/api/2.0/mlflow/experiments/create", create).await;
        let experiment_id = experiment["experiment_id"].as_str().unwrap().to_string();
        let run = self.ok_post("/api/2.0/mlflow/runs/create", json!({"experiment_id": experiment_id, "start_time": 1})).await;
        (experiment_id, run["run"]["info"]["run_id"].as_str().unwrap().to_string())
    }
}

fn uuid_like() -> String {
    format!("{:?}", std::time::Instant::now()).chars().filter(char::is_ascii_digit).collect()
}

fn assert_error(reply: &Reply, status: u16, code: &str, message_part: &str) {
    let body = reply.json();
    assert_eq!(reply.status.as_u16(), status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(message_part), "message {message:?} lacks {message_part:?}");
}

async fn proxy_round_trip(api: &TestApi) {
    let reply = api.put(&format!("{A}/1/run/artifacts/notes.txt"), "hello").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
    assert_eq!(reply.json(), json!({}));
    api.put(&format!("{A}/1/run/artifacts/dir/sub/data.bin"), vec![7u8; 3000]).await;
    api.put(&format!("{A}/1/run/artifacts/r%C3%A9sum%C3%A9%20final.json"), "{}").await;

    let reply = api.get(&format!("{A}/1/run/artifacts/notes.txt")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.bytes, "hello");
    assert_eq!(reply.header("content-type"), "text/plain");
    assert_eq!(reply.header("content-length"), "5");
    assert_eq!(reply.header("content-disposition"), "attachment; filename=\"notes.txt\"");
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    let reply = api.get(&format!("{A}/1/run/artifacts/r%C3%A9sum%C3%A9%20final.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-disposition").contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20final.json"));
    // The ajax-api mirror serves the same files.
    assert_eq!(api.get("/ajax-api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/dir/sub/data.bin").await.bytes.len(), 3000);

    let listing = api.get(&format!("{A}?path=1/run/artifacts")).await.json();
    assert_eq!(
        listing,
        json!({"files": [
            {"path": "dir", "is_dir": true},
            {"path": "notes.txt", "is_dir": false, "file_size": 5},
            {"path": "résumé final.json", "is_dir": false, "file_size": 2},
        ]})
    );
    assert_eq!(api.get(&format!("{A}?path=1%2Frun%2Fartifacts%2Fdir")).await.json(), json!({"files": [{"path": "sub", "is_dir": true}]}));
    assert_eq!(api.get(&format!("{A}?path=1/nothing")).await.json(), json!({}));
    assert_eq!(api.get(&format!("{A}?path=1/run/artifacts/notes.txt")).await.json(), json!({}));
    assert_eq!(api.get(A).await.json(), json!({"files": [{"path": "1", "is_dir": true}]}));

    assert_error(&api.get(&format!("{A}/1/run/artifacts/missing.txt")).await, 404, "RESOURCE_DOES_NOT_EXIST", "No such artifact");
    assert_error(&api.get(&format!("{A}/1/run/artifacts/dir")).await, 400, "INVALID_PARAMETER_VALUE", "refers to a directory");
    assert_error(&api.put(&format!("{A}/1/run/artifacts/dir/"), "x").await, 400, "INVALID_PARAMETER_VALUE", "must include a filename");
    assert_error(&api.put(&format!("{A}/"), "x").await, 400, "INVALID_PARAMETER_VALUE", "must include a filename");

    let reply = api.request("DELETE", &format!("{A}/1/run/artifacts/dir"), Body::empty()).await;
    assert_eq!((reply.status, reply.json()), (StatusCode::OK, json!({})));
    assert_error(&api.get(&format!("{A}/1/run/artifacts/dir/sub/data.bin")).await, 404, "RESOURCE_DOES_NOT_EXIST", "");
    assert_eq!(api.request("DELETE", &format!("{A}/1/run/artifacts/gone"), Body::empty()).await.status, StatusCode::OK);
    assert_error(&api.request("DELETE", &format!("{A}/"), Body::empty()).await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
}

#[tokio::test]
async fn proxied_round_trip_on_a_local_directory() {
    let api = api(Backend::Local).await;
    proxy_round_trip(&api).await;
    assert_eq!(std::fs::read(api.dir.path().join("artifacts/1/run/artifacts/notes.txt")).unwrap(), b"hello");
}

#[tokio::test]
async fn proxied_round_trip_on_an_object_store() {
    proxy_round_trip(&api(Backend::Memory).await).await;
}

/// Every vector of security-history.md §6 (rows 1–5, 9, 10, plus `;`, `?` and bad UTF-8), as the
/// text after `A/`. Sent without any client-side normalisation.
const VECTORS: &[&str] = &[
    "../x",
    "a/../../x",
    "..",
    "x/..",
    "%2e%2e/x",
    ".%2e/x",
    "..%2fx",
    "%252e%252e/x",
    "%25252e%25252e%25252fetc%25252fpasswd",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "C:%2Fx",
    "file:%2F%2F%2Fetc%2Fpasswd",
    "a%23b",
    "a%2523b",
    "a%5C..%5Cb",
    "%5C..%5C..%5Cx",
    "a%00b",
    "a%2500b",
    "a%3Fb",
    "a;x=1/../../b",
    "a%3B..%2F..%2Fb",
    "%ff",
    "%c0%ae%c0%ae/x",
];

#[tokio::test]
async fn every_traversal_vector_is_a_400_on_every_verb() {
    let api = api(Backend::Local).await;
    // Canaries outside the artifact root: nothing may read, replace or delete them.
    let outside = api.dir.path().join("x");
    std::fs::write(&outside, b"canary").unwrap();
    std::fs::write(api.dir.path().join("b"), b"canary").unwrap();
    api.put(&format!("{A}/a/keep.txt"), "keep").await;
    for vector in VECTORS {
        for prefix in [A, "/ajax-api/2.0/mlflow-artifacts/artifacts"] {
            let uri = format!("{prefix}/{vector}");
            assert_error(&api.get(&uri).await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
            assert_error(&api.put(&uri, "pwned").await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
            assert_error(&api.request("DELETE", &uri, Body::empty()).await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
            let list = format!("{prefix}?path={}", vector.replace(';', "%3B"));
            assert_error(&api.get(&list).await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
        }
        let mpu = format!("/api/2.0/mlflow-artifacts/mpu/create/{vector}");
        assert_error(&api.request("POST", &mpu, "{}").await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"canary");
    assert_eq!(std::fs::read(api.dir.path().join("b")).unwrap(), b"canary");
    assert_eq!(api.get(&format!("{A}/a/keep.txt")).await.bytes, "keep");
    // Nothing was written anywhere but the one file.
    let written: Vec<_> = walk(&api.dir.path().join("artifacts"));
    assert_eq!(written, vec!["a/keep.txt".to_string()]);
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_out_of_the_root_are_refused() {
    let api = api(Backend::Local).await;
    let outside = api.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
    let root = api.dir.path().join("artifacts");
    std::fs::create_dir_all(root.join("1")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("1/link")).unwrap();
    let message = "resolved path is outside the artifact directory";
    assert_error(&api.get(&format!("{A}/1/link/secret.txt")).await, 400, "INVALID_PARAMETER_VALUE", message);
    assert_error(&api.put(&format!("{A}/1/link/new.txt"), "x").await, 400, "INVALID_PARAMETER_VALUE", message);
    assert_error(&api.request("DELETE", &format!("{A}/1/link/secret.txt"), Body::empty()).await, 400, "INVALID_PARAMETER_VALUE", message);
    assert_error(&api.get(&format!("{A}?path=1/link")).await, 400, "INVALID_PARAMETER_VALUE", message);
    assert_eq!(api.get(&format!("{A}?path=1")).await.json(), json!({}), "the link is not listed");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
}

#[tokio::test]
async fn uploads_stream_past_the_json_body_limit() {
    let api = api_with(Backend::Local, |settings| settings.max_request_bytes = 1024).await;
    let big = vec![42u8; 200_000];
    let reply = api.put(&format!("{A}/big.bin"), big.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
    assert_eq!(api.get(&format!("{A}/big.bin")).await.bytes, big);
}

#[tokio::test]
async fn an_interrupted_upload_leaves_nothing() {
    for backend in [Backend::Local, Backend::Memory] {
        let api = api(backend).await;
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from(vec![1u8; 100_000])),
            Ok(Bytes::from(vec![2u8; 100_000])),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away")),
        ];
        let reply = api.put(&format!("{A}/1/partial.bin"), Body::from_stream(futures::stream::iter(chunks))).await;
        assert_error(&reply, 400, "BAD_REQUEST", "Upload interrupted");
        assert_error(&api.get(&format!("{A}/1/partial.bin")).await, 404, "RESOURCE_DOES_NOT_EXIST", "");
        assert_eq!(api.get(&format!("{A}?path=1")).await.json(), json!({}));
    }
}

#[tokio::test]
async fn serving_disabled_answers_503() {
    let api = api(Backend::Disabled).await;
    for (method, uri) in [
        ("GET", format!("{A}/x.txt")),
        ("PUT", format!("{A}/x.txt")),
        ("DELETE", format!("{A}/x.txt")),
        ("GET", format!("{A}?path=x")),
        ("POST", "/api/2.0/mlflow-artifacts/mpu/create/x.txt".to_string()),
    ] {
        let reply = api.request(method, &uri, Body::empty()).await;
        assert_error(&reply, 503, "TEMPORARILY_UNAVAILABLE", "Artifact serving is disabled");
    }
}

#[tokio::test]
async fn multipart_is_declined_so_the_client_falls_back() {
    let api = api(Backend::Local).await;
    let reply = api.request("POST", "/api/2.0/mlflow-artifacts/mpu/create/1/x.bin", r#"{"path": "../../x", "num_parts": 2}"#).await;
    assert_error(&reply, 501, "NOT_IMPLEMENTED", "Multipart upload is not supported for the current artifact repository");
    let info = api.get("/api/3.0/mlflow/server-info").await.json();
    assert_eq!(info["multipart_uploads_enabled"], false);
    assert_eq!(info["multipart_downloads_enabled"], false);
}

#[tokio::test]
async fn run_artifacts_through_the_tracking_api() {
    let api = api(Backend::Local).await;
    let (experiment_id, run_id) = api.new_run(None).await;
    let base = format!("{A}/{experiment_id}/{run_id}/artifacts");
    api.put(&format!("{base}/model/MLmodel"), "flavors: {}").await;
    api.put(&format!("{base}/model/data/weights.bin"), vec![0u8; 10]).await;
    api.put(&format!("{base}/plot.png"), vec![0x89u8, b'P', b'N', b'G']).await;

    for prefix in ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] {
        let listing = api.get(&format!("{prefix}/artifacts/list?run_id={run_id}")).await.json();
        assert_eq!(listing["root_uri"], format!("mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"));
        assert_eq!(
            listing["files"],
            json!([{"path": "model", "is_dir": true}, {"path": "plot.png", "is_dir": false, "file_size": 4}])
        );
    }
    let listing = api.get(&format!("/api/2.0/mlflow/artifacts/list?run_uuid={run_id}&path=model")).await.json();
    assert_eq!(
        listing["files"],
        json!([{"path": "model/MLmodel", "is_dir": false, "file_size": 11}, {"path": "model/data", "is_dir": true}])
    );
    let empty = api.get(&format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=nothing")).await.json();
    assert_eq!(empty, json!({"root_uri": format!("mlflow-artifacts:/{experiment_id}/{run_id}/artifacts")}));

    let reply = api.get(&format!("/get-artifact?run_id={run_id}&path=model/MLmodel")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.bytes, "flavors: {}");
    assert_eq!(reply.header("content-type"), "text/plain");
    assert_eq!(reply.header("content-disposition"), "attachment; filename=\"MLmodel\"");
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    assert_eq!(api.get(&format!("/get-artifact?run_uuid={run_id}&path=plot.png")).await.header("content-type"), "image/png");

    for vector in ["../x", "..%2F..%2Fx", "%252e%252e/x", "/etc/passwd", "a%00b", "a%23b"] {
        assert_error(&api.get(&format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path={vector}")).await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
        assert_error(&api.get(&format!("/get-artifact?run_id={run_id}&path={vector}")).await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
        assert_error(
            &api.get(&format!("/model-versions/get-artifact?name=m&version=1&path={vector}")).await,
            400,
            "INVALID_PARAMETER_VALUE",
            "Invalid path",
        );
    }
    assert_error(&api.get(&format!("/get-artifact?run_id={run_id}")).await, 400, "INVALID_PARAMETER_VALUE", "'path'");
    assert_error(&api.get("/get-artifact?run_id=nope&path=x").await, 404, "RESOURCE_DOES_NOT_EXIST", "");
    assert_error(&api.get(&format!("/get-artifact?run_id={run_id}&path=missing")).await, 404, "RESOURCE_DOES_NOT_EXIST", "No such artifact");
    assert_error(&api.get("/model-versions/get-artifact?name=m&version=1&path=x").await, 404, "RESOURCE_DOES_NOT_EXIST", "");

    // The UI's upload route: raw body, any content type, at most 10 MB, never empty.
    let upload = format!("/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run_id}&path=uploads/note.txt");
    let reply = api.send(Request::post(&upload).header("content-type", "text/plain").body(Body::from("from the UI")).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
    assert_eq!(api.get(&format!("/get-artifact?run_id={run_id}&path=uploads/note.txt")).await.bytes, "from the UI");
    assert_error(&api.request("POST", &upload, Body::empty()).await, 400, "INVALID_PARAMETER_VALUE", "must specify data");
    let too_big = format!("/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run_id}&path=big.bin");
    assert_error(&api.request("POST", &too_big, vec![0u8; 10 * 1024 * 1024 + 1]).await, 400, "INVALID_PARAMETER_VALUE", "too large");
    assert_error(&api.get(&format!("/get-artifact?run_id={run_id}&path=big.bin")).await, 404, "RESOURCE_DOES_NOT_EXIST", "");
    let traversal = format!("/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run_id}&path=..%2F..%2Fx");
    assert_error(&api.request("POST", &traversal, "x").await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
}

#[tokio::test]
async fn logged_model_artifacts() {
    let api = api(Backend::Local).await;
    let (experiment_id, _) = api.new_run(None).await;
    let model = api.ok_post("/api/2.0/mlflow/logged-models", json!({"experiment_id": experiment_id, "name": "m"})).await;
    let model_id = model["model"]["info"]["model_id"].as_str().unwrap().to_string();
    let location = model["model"]["info"]["artifact_uri"].as_str().unwrap().to_string();
    let proxied = location.strip_prefix("mlflow-artifacts:/").unwrap();
    api.put(&format!("{A}/{proxied}/MLmodel"), "artifact_path: model").await;

    let listing = api.get(&format!("/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories")).await.json();
    assert_eq!(listing, json!({"root_uri": location, "files": [{"path": "MLmodel", "is_dir": false, "file_size": 20}]}));
    let file = api.get(&format!("/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files?artifact_file_path=MLmodel")).await;
    assert_eq!(file.bytes, "artifact_path: model");
    assert_error(
        &api.get(&format!("/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files")).await,
        400,
        "BAD_REQUEST",
        "artifact_file_path",
    );
    assert_error(
        &api.get(&format!("/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files?artifact_file_path=../../x")).await,
        400,
        "INVALID_PARAMETER_VALUE",
        "Invalid path",
    );
}

#[tokio::test]
async fn storage_the_server_was_not_given_is_never_opened() {
    let api = api(Backend::Local).await;
    // A client-chosen artifact location elsewhere on the server's disk (CVE-2023-1177 pattern).
    let elsewhere = api.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("secret.txt"), b"secret").unwrap();
    let location = elsewhere.to_string_lossy().to_string();
    let (_, run_id) = api.new_run(Some(&location)).await;
    let reply = api.get(&format!("/get-artifact?run_id={run_id}&path=../secret.txt")).await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
    let reply = api.get(&format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}")).await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE", "not served by this server");
    assert!(!reply.bytes.windows(6).any(|w| w == b"secret"));
}

#[tokio::test]
async fn artifact_routes_move_under_the_static_prefix() {
    let api = api_with(Backend::Local, |settings| settings.static_prefix = Some("/mlflow".into())).await;
    assert_eq!(api.put(&format!("/mlflow{A}/x.txt"), "x").await.status, StatusCode::OK);
    assert_eq!(api.get(&format!("/mlflow{A}/x.txt")).await.bytes, "x");
    assert_error(&api.get(&format!("/mlflow{A}/..%2Fx")).await, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
}

#[tokio::test]
async fn runs_under_the_default_artifact_root_are_served_without_the_proxy() {
    // --no-serve-artifacts --default-artifact-root <dir>: clients write the directory themselves,
    // and the UI's routes read it through the server.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = ArtifactStore::local(root.to_string_lossy(), &root).unwrap();
    let api = api_with(Backend::Disabled, |settings| settings.artifacts = Arc::new(Artifacts::new(None, vec![store]))).await;
    let location = format!("{}/7", root.display());
    let (_, run_id) = api.new_run(Some(&location)).await;
    std::fs::create_dir_all(root.join(format!("7/{run_id}/artifacts/d"))).unwrap();
    std::fs::write(root.join(format!("7/{run_id}/artifacts/d/x.txt")), b"direct").unwrap();
    let listing = api.get(&format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=d")).await.json();
    assert_eq!(listing["files"], json!([{"path": "d/x.txt", "is_dir": false, "file_size": 6}]));
    assert_eq!(api.get(&format!("/get-artifact?run_id={run_id}&path=d/x.txt")).await.bytes, "direct");
    assert_error(&api.get(&format!("{A}/7/x")).await, 503, "TEMPORARILY_UNAVAILABLE", "disabled");
    // A proxied run root while the proxy is off is a clear 400, not a retried 503.
    let (_, proxied_run) = api.new_run(None).await;
    let reply = api.get(&format!("/api/2.0/mlflow/artifacts/list?run_id={proxied_run}")).await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE", "--no-serve-artifacts");
}
