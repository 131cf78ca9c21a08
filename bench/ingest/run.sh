#!/usr/bin/env bash
# Trace-ingest benchmark: Rivulet against the database's own bulk-insert limit, side by side in
# one run, on SQLite and PostgreSQL, with the shared load generator (../shared/bench/otlp-load)
# and raw-insert script (../shared/bench/limit/raw_insert.py). After the highest-concurrency run,
# bench/ingest/replay_limit.py bulk-inserts that run's own rows (every table span ingest writes,
# at their real size) into a fresh store: the limit for exactly what the server wrote, where the
# raw script's synthetic spans are smaller and skip tags, metadata, rollups and span services.
# Then the read side: search traces and get-trace on an experiment holding READ_SPANS spans.
# With MLFLOW_VENV set (a venv holding mlflow==3.17.2, e.g. target/compat-venv, which the compat
# suite creates), MLflow's own `mlflow server` takes the same ingest runs in the same session,
# on a store it creates itself, so the comparison is side by side.
#
# Usage: bench/ingest/run.sh
# Knobs: BACKENDS="sqlite postgresql"  CONCURRENCIES="8 32"  DURATION=15  RAW_TRACES=10000
#        TRACES_PER_REQUEST=1 (Collector-style batches: e.g. 800 traces = 8,000 spans per export)
#        READ_SPANS=1000000 (0 skips the read side)  PG_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres
#        SHARED=<the shared bench folder>  RIVULET_BIN=<binary>  OUT=<dir>  MLFLOW_VENV=<venv>
# Every step prints what it measures; raw JSON lands in OUT (default target/bench-results/ingest-<time>).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SHARED=${SHARED:-$REPO/../shared/bench}
BACKENDS=${BACKENDS:-sqlite postgresql}
CONCURRENCIES=${CONCURRENCIES:-8 32}
DURATION=${DURATION:-15}
TRACES_PER_REQUEST=${TRACES_PER_REQUEST:-1}
RAW_TRACES=${RAW_TRACES:-10000}
READ_SPANS=${READ_SPANS:-1000000}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
RIVULET_BIN=${RIVULET_BIN:-$REPO/target/release/rivulet}
OUT=${OUT:-$REPO/target/bench-results/ingest-$(date +%Y%m%d-%H%M%S)}
LOAD_TARGET=${LOAD_TARGET:-$REPO/target/otlp-load}
PORT=${PORT:-5321}
MLFLOW_VENV=${MLFLOW_VENV:-}
TOP_CONCURRENCY=$(printf '%s\n' $CONCURRENCIES | sort -n | tail -1)
BASE=http://127.0.0.1:$PORT
mkdir -p "$OUT"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> load generator (built outside the shared folder, which may be read-only)"
CARGO_TARGET_DIR="$LOAD_TARGET" cargo build --quiet --release --manifest-path "$SHARED/otlp-load/Cargo.toml"
LOAD="$LOAD_TARGET/release/otlp-load"
if [[ ! -x "$WORK/venv/bin/python" ]]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet psycopg2-binary
fi
PY="$WORK/venv/bin/python"

pg_database() { # name -> fresh database URL
  psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  echo "${PG_ADMIN_URL%/*}/$1"
}

start_server() { # store URI
  "$RIVULET_BIN" server --port "$PORT" --backend-store-uri "$1" --artifacts-destination "$WORK/artifacts" \
    --otlp-grpc-port 0 >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  "$LOAD" wait-ready --url "$BASE/ready" --since-epoch-ms "$(date +%s%3N)" --pid "$SERVER_PID" >/dev/null 2>&1
}

stop_server() {
  kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

fresh_store() { # backend tag -> store URI with MLflow's schema, created by Rivulet
  case $1 in
    sqlite) rm -f "$WORK/$2.db"*; echo "sqlite:///$WORK/$2.db" ;;
    postgresql) pg_database "rivulet_bench_$2" ;;
  esac
}

ingest_run() { # label, result file: a timed ingest run against the server at $BASE, then a count check
  local id
  id=$("$LOAD" create-experiment --base-url "$BASE" --name bench | tail -1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
  "$LOAD" ingest --base-url "$BASE" --experiment-id "$id" --duration-s "$DURATION" --concurrency "$concurrency" \
    --traces-per-request "$TRACES_PER_REQUEST" --server-pid "$SERVER_PID" --verify --label "$1" 2>"$WORK/load.log" | tail -1 >"$2"
  "$PY" - "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
lat, srv = d["latency"], d.get("server") or {}
print(f"    {d['spans_per_s']:.0f} spans/s  p50 {lat.get('p50_ms')} ms  p99 {lat.get('p99_ms')} ms  errors {d['errors']['total']}"
      f"  lost {d.get('verify', {}).get('lost')}  server peak RSS {srv.get('peak_rss_mb')} MiB  server CPU {srv.get('cpu_s')} s")
EOF
}

start_mlflow() { # store URI: MLflow 3.17.2's own server, as `mlflow server` starts by default
  "$MLFLOW_VENV/bin/mlflow" server --host 127.0.0.1 --port "$PORT" --backend-store-uri "$1" \
    --default-artifact-root "$WORK/mlflow-artifacts" >"$WORK/mlflow.log" 2>&1 &
  SERVER_PID=$!
  "$LOAD" wait-ready --url "$BASE/health" --since-epoch-ms "$(date +%s%3N)" --pid "$SERVER_PID" --timeout-s 180 >/dev/null 2>&1
}

for backend in $BACKENDS; do
  echo "==> $backend: raw bulk-insert limit ($RAW_TRACES traces x 10 spans into a fresh MLflow schema)"
  uri=$(fresh_store "$backend" raw)
  start_server "$uri"; stop_server
  case $backend in
    sqlite) "$PY" "$SHARED/limit/raw_insert.py" sqlite "$WORK/raw.db" "$RAW_TRACES" | tee "$OUT/$backend-raw.txt" ;;
    postgresql) "$PY" "$SHARED/limit/raw_insert.py" postgresql "$uri" "$RAW_TRACES" | tee "$OUT/$backend-raw.txt" ;;
  esac
  for concurrency in $CONCURRENCIES; do
    echo "==> $backend: Rivulet ingest, concurrency $concurrency, ${DURATION}s, then a count check"
    uri=$(fresh_store "$backend" "c$concurrency")
    start_server "$uri"
    ingest_run "rivulet-$backend-c$concurrency" "$OUT/$backend-c$concurrency.json"
    stop_server
    if [[ $concurrency == "$TOP_CONCURRENCY" ]]; then
      echo "==> $backend: replay limit (this run's own rows, bulk-inserted into a fresh store in one transaction)"
      target=$(fresh_store "$backend" replay)
      start_server "$target"; stop_server
      case $backend in
        sqlite) "$PY" "$HERE/replay_limit.py" sqlite "$WORK/c$concurrency.db" "$WORK/replay.db" | tee "$OUT/$backend-replay.txt" ;;
        postgresql) "$PY" "$HERE/replay_limit.py" postgresql "$uri" "$target" | tee "$OUT/$backend-replay.txt" ;;
      esac
    fi
  done
  if [[ -n "$MLFLOW_VENV" ]]; then
    for concurrency in $CONCURRENCIES; do
      echo "==> $backend: MLflow 3.17.2 ingest, concurrency $concurrency, ${DURATION}s, then a count check"
      case $backend in
        sqlite) rm -f "$WORK/mlflow-c$concurrency.db"*; uri="sqlite:///$WORK/mlflow-c$concurrency.db" ;;
        postgresql) uri=$(pg_database "mlflow_bench_c$concurrency") ;;
      esac
      start_mlflow "$uri"
      ingest_run "mlflow-$backend-c$concurrency" "$OUT/mlflow-$backend-c$concurrency.json"
      stop_server
    done
  fi
  if [[ "$READ_SPANS" -gt 0 ]]; then
    echo "==> $backend: read side on an experiment holding $READ_SPANS spans"
    uri=$(fresh_store "$backend" read)
    start_server "$uri"
    id=$("$LOAD" create-experiment --base-url "$BASE" --name reads | tail -1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
    "$LOAD" ingest --base-url "$BASE" --experiment-id "$id" --traces $((READ_SPANS / 10)) --concurrency 16 \
      --traces-per-request 20 2>"$WORK/load.log" | tail -1 >"$OUT/$backend-read-fill.json"
    # Planner statistics, as autovacuum would have gathered them by now on a normal cluster
    # (this benchmark's cluster may run with autovacuum off).
    [[ $backend == postgresql ]] && psql -q "$uri" -c ANALYZE
    "$LOAD" read --base-url "$BASE" --experiment-id "$id" --requests 300 --concurrency 1 2>"$WORK/read.log" | tail -1 >"$OUT/$backend-read.json"
    "$PY" - "$OUT/$backend-read.json" <<'EOF'
import json, sys
for name, e in json.load(open(sys.argv[1]))["endpoints"].items():
    print(f"    {name:20} p50 {e['p50_ms']} ms  p99 {e['p99_ms']} ms  errors {e['errors']['total']}")
EOF
    stop_server
  fi
done
echo "==> raw results in $OUT"
