#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests, then the real `mlflow` client against a
# running server. PostgreSQL parts run when RIVULET_TEST_POSTGRES_URL is set
# (e.g. postgresql://postgres@127.0.0.1:5432/postgres); RIVULET_REQUIRE_POSTGRES=1 makes their
# absence a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

echo "== benchmarks build and run once (criterion's test mode: no timing)"
cargo bench -p rivulet-api --bench otlp_request -- --test

echo "== mlflow client compatibility suite"
cargo build --release -p rivulet
RIVULET_BIN="$PWD/target/release/rivulet" tests/compat/run.sh

echo "== Kubernetes manifests, rendered and validated offline, and the deployment guide's commands"
RIVULET_BIN="$PWD/target/release/rivulet" tests/deploy/run.sh

echo "== web UI in Chromium"
RIVULET_BIN="$PWD/target/release/rivulet" tests/ui/run.sh

echo "== LLaMA Stack 0.7.3 -> Rivulet end to end (skips without Python 3.12)"
RIVULET_BIN="$PWD/target/release/rivulet" tests/llamastack/run.sh
