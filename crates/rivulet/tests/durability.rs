//! The running binary when the disk fails a sync: writes stop and liveness fails, so nothing is
//! reported stored that a restart could lose.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Builds the LD_PRELOAD library that makes fsync of one file fail (tests/fixtures).
fn failing_fsync_library(dir: &Path) -> std::path::PathBuf {
    let library = dir.join("libfailing_fsync.so");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/failing_fsync.c");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl")
        .status()
        .expect("running cc, which builds the failing-fsync library these tests need");
    assert!(status.success(), "cc could not build {}", source.display());
    library
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.1 request on a fresh connection: the status and the raw body.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    Some((status, body))
}

fn wait_for_health(port: u16, wanted: u16, within: Duration) -> (u16, String) {
    let deadline = Instant::now() + within;
    loop {
        let answer = http(port, "GET", "/health", &[], "");
        if let Some((status, body)) = &answer {
            if *status == wanted || Instant::now() > deadline {
                return (*status, body.clone());
            }
        } else if Instant::now() > deadline {
            panic!("the server did not answer /health");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A checkpoint that cannot sync the database file has copied pages the disk may have lost,
/// while SQLite already counts pages of earlier partial checkpoints as safe: the server must
/// stop reporting writes as stored and ask for a restart, rather than retry the checkpoint
/// until a sync succeeds over the lost pages and the WAL starts over without them.
#[test]
fn a_checkpoint_that_cannot_sync_the_database_ends_writes_and_fails_liveness() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let library = failing_fsync_library(&dir_path);
    let database = dir_path.join("mlflow.db");
    let fail_now = dir_path.join("fail-now");
    let port = free_port();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_rivulet"))
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--otlp-grpc-port", "0"])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", database.display()))
            .arg("--artifacts-destination")
            .arg(dir_path.join("artifacts"))
            .env("LD_PRELOAD", &library)
            .env("FAILING_FSYNC_PATH", &database)
            .env("FAILING_FSYNC_AFTER", &fail_now)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting rivulet"),
    );
    assert_eq!(wait_for_health(port, 200, Duration::from_secs(20)).0, 200, "the server starts healthy");

    // From now on the database file cannot be synced; the WAL still can, so the export commits.
    std::fs::write(&fail_now, b"").unwrap();
    let export = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8aa5a2d2c872e8321cf37308d69df2","spanId":"051581bf3cb55c13",
        "name":"agent","startTimeUnixNano":"1764000000000000000","endTimeUnixNano":"1764000001000000000"}]}]}]}"#;
    let headers = [("content-type", "application/json"), ("x-mlflow-experiment-id", "0")];
    let (status, body) = http(port, "POST", "/v1/traces", &headers, export).expect("exporting");
    assert_eq!(status, 200, "{body}");

    // The background checkpoint copies that commit back and fails to sync the database file.
    let (status, text) = wait_for_health(port, 503, Duration::from_secs(10));
    assert_eq!(status, 503, "the liveness probe must ask for a restart: {text}");
    assert!(text.contains("restart needed") && text.contains("could not sync the SQLite database"), "{text}");
    let create = [("content-type", "application/json")];
    let (status, body) = http(port, "POST", "/api/2.0/mlflow/experiments/create", &create, r#"{"name":"after-the-failure"}"#).expect("creating");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("TEMPORARILY_UNAVAILABLE") && body.contains("restart the server"), "{body}");
    let (status, body) = http(port, "POST", "/v1/traces", &headers, export).expect("exporting again");
    assert_eq!(status, 503, "the Collector keeps the batch and retries after the restart: {body}");
    drop(server);
}
