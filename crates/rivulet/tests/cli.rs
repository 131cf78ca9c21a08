//! The binary as an operator meets it: what it prints when it cannot start.

use std::process::Command;

/// A misconfiguration is logged in the chosen log format, so a collector reading JSON logs
/// sees why the pod is crash-looping, and the process exits with a failure.
#[test]
fn startup_errors_are_logged_as_json_when_asked() {
    let output = Command::new(env!("CARGO_BIN_EXE_rivulet"))
        .args(["server", "--log-format", "json", "--port", "0", "--backend-store-uri", "mysql://db/mlflow"])
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("running rivulet");
    assert!(!output.status.success(), "a bad store URI must fail the start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    let line: serde_json::Value = serde_json::from_str(first).unwrap_or_else(|e| panic!("not JSON ({e}): {first}"));
    assert_eq!(line["level"], "ERROR", "{line}");
    let message = line["fields"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("unsupported backend store URI scheme 'mysql'") && message.contains("--backend-store-uri"), "{message}");
}
