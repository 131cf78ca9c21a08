#!/usr/bin/env bash
# Measures the release binary's memory and CPU idle and under load, for the resource requests and
# limits of deploy/kubernetes (the figures are recorded in docs/kubernetes.md, "Resources").
# Not part of run.sh: it takes a few minutes and its numbers depend on the machine.
#
# Usage: tests/deploy/measure-resources.sh [sqlite|postgres]...   (default: sqlite, and postgres
#        when RIVULET_TEST_POSTGRES_URL is set)
# Environment:
#   RIVULET_BIN   server binary (default: $REPO/target/release/rivulet)
#   LOAD          the shared load generator (default: built from ../shared/bench/otlp-load into
#                 $REPO/target/otlp-load)
#   RIVULET_TEST_POSTGRES_URL  e.g. postgresql://postgres@127.0.0.1:5432/postgres
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RIVULET_BIN="${RIVULET_BIN:-$REPO/target/release/rivulet}"
LOAD="${LOAD:-}"
if [[ -z "$LOAD" ]]; then
  manifest="$REPO/../shared/bench/otlp-load/Cargo.toml"
  [[ -f "$manifest" ]] || { echo "measure: set LOAD to an otlp-load binary" >&2; exit 2; }
  CARGO_TARGET_DIR="$REPO/target/otlp-load" cargo build --quiet --release --manifest-path "$manifest"
  LOAD="$REPO/target/otlp-load/release/otlp-load"
fi
backends=("$@")
if [[ ${#backends[@]} -eq 0 ]]; then
  backends=(sqlite)
  [[ -n "${RIVULET_TEST_POSTGRES_URL:-}" ]] && backends+=(postgres)
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/rivulet-measure.XXXXXX")"
PID=""
PG_DB=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [[ -n "$PG_DB" ]] && psql "$RIVULET_TEST_POSTGRES_URL" -X -q -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

mib() { awk '{printf "%.1f", $1 / 1024}'; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status" | mib; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$PID/status" | mib; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$PID/stat"; }
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { python3 -c 'import json, sys; d = json.loads(sys.stdin.read().strip().splitlines()[-1]); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }

for backend in "${backends[@]}"; do
  case "$backend" in
    sqlite) uri="sqlite:///$WORK/mlflow.db" ;;
    postgres)
      PG_DB="rivulet_measure_$$"
      psql "$RIVULET_TEST_POSTGRES_URL" -X -q -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
      uri="$(python3 -c 'import sys; from urllib.parse import urlsplit, urlunsplit
p = urlsplit(sys.argv[1]); print(urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], "", "")))' "$RIVULET_TEST_POSTGRES_URL" "$PG_DB")" ;;
    *) echo "measure: unknown backend $backend" >&2; exit 2 ;;
  esac
  P="$(port)"
  B="http://127.0.0.1:$P"
  "$RIVULET_BIN" server --host 127.0.0.1 --port "$P" --otlp-grpc-port 0 --log-format json \
    --backend-store-uri "$uri" --artifacts-destination "$WORK/artifacts-$backend" 2> "$WORK/server-$backend.log" &
  PID=$!
  "$LOAD" wait-ready --url "$B/health" --pid "$PID" >/dev/null
  sleep 10
  echo "## $backend"
  echo "idle after start: RSS $(rss) MiB"
  exp="$("$LOAD" create-experiment --base-url "$B" --name measure | field 'd["experiment_id"]')"
  cpu0="$(cpu_s)"; t0=$(date +%s.%N)
  out="$("$LOAD" ingest --base-url "$B" --experiment-id "$exp" --traces 3000 --concurrency 8 --verify 2>/dev/null)"
  t1=$(date +%s.%N); cpu1="$(cpu_s)"
  echo "ingest, one trace (10 spans) per request, 8 in flight: $(echo "$out" | field 'round(d["spans_per_s"])') spans/s, lost $(echo "$out" | field 'd["verify"]["lost"]'), RSS after $(rss) MiB, peak $(hwm) MiB, CPU $(python3 -c "print(round(($cpu1 - $cpu0) / ($t1 - $t0), 2))") cores"
  cpu0="$(cpu_s)"; t0=$(date +%s.%N)
  out="$("$LOAD" ingest --base-url "$B" --experiment-id "$exp" --traces 6000 --traces-per-request 200 --concurrency 10 --verify 2>/dev/null)"
  t1=$(date +%s.%N); cpu1="$(cpu_s)"
  echo "ingest, Collector-style batches of 200 traces (2,000 spans, ~2.8 MB) x 10 in flight: $(echo "$out" | field 'round(d["spans_per_s"])') spans/s, lost $(echo "$out" | field 'd["verify"]["lost"]'), RSS after $(rss) MiB, peak $(hwm) MiB, CPU $(python3 -c "print(round(($cpu1 - $cpu0) / ($t1 - $t0), 2))") cores"
  "$LOAD" read --base-url "$B" --experiment-id "$exp" --requests 200 --concurrency 8 >/dev/null 2>&1
  echo "after reads (200 each of 4 request kinds, 8 in flight): RSS $(rss) MiB, peak $(hwm) MiB"
  sleep 10
  echo "idle after load: RSS $(rss) MiB, peak $(hwm) MiB"
  # Large prompts: 8 KB prompts, 4 KB completions and tool results make 14.6 MB per batch.
  for inflight in 4 10; do
    out="$("$LOAD" ingest --base-url "$B" --experiment-id "$exp" --traces $((inflight * 300)) --traces-per-request 200 \
      --concurrency "$inflight" --prompt-bytes 8192 --completion-bytes 4096 --tool-bytes 4096 2>/dev/null)"
    echo "ingest, batches of 200 traces with 8 KB prompts (~$(echo "$out" | field 'round(d["bytes"]["raw_per_request"] / 1e6, 1)') MB) x $inflight in flight: $(echo "$out" | field 'round(d["spans_per_s"])') spans/s, RSS after $(rss) MiB, peak $(hwm) MiB"
  done
  kill "$PID"; wait "$PID" || true; PID=""
done
