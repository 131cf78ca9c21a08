#!/usr/bin/env bash
# Artifact streaming benchmark: upload and download one large file through Rivulet's proxied
# artifact service on a local directory, next to `cp` of the same file on the same disk, while
# sampling the server's resident memory from /proc.
#
# Usage: bench/artifacts/run.sh
#
# Environment:
#   RIVULET_BIN   server binary (default: $REPO/target/release/rivulet)
#   SIZE_MIB      file size in MiB (default: 2048, i.e. 2 GiB)
#   BENCH_DIR     scratch directory; its disk is the one measured (default: a new dir in /var/tmp)
#   KEEP          1: keep the scratch directory
#
# Each timed step ends with `sync`, so `cp`, the upload and the download all pay for getting their
# bytes to disk. When the kernel allows it, page caches are dropped before each step (cold reads);
# otherwise the report says the source file was read warm. Prints a Markdown summary and a final
# JSON line.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${RIVULET_BIN:-$REPO/target/release/rivulet}"
SIZE_MIB="${SIZE_MIB:-2048}"
WORK="${BENCH_DIR:-$(mktemp -d /var/tmp/rivulet-artifacts-bench.XXXXXX)}"
mkdir -p "$WORK"
[[ -x "$BIN" ]] || { echo "run.sh: no server binary at $BIN (build with cargo build --release -p rivulet or set RIVULET_BIN)" >&2; exit 2; }
command -v curl >/dev/null || { echo "run.sh: curl is needed" >&2; exit 2; }

SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log() { printf '==> %s\n' "$*" >&2; }

drop_caches() {
  sync
  if echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then CACHE="cold"; else CACHE="warm"; fi
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Samples the server's RSS every 50 ms into $WORK/rss.log as "<phase> <KiB>".
PHASE_FILE="$WORK/phase"
start_sampler() {
  echo idle > "$PHASE_FILE"
  (
    while kill -0 "$SERVER_PID" 2>/dev/null; do
      printf '%s %s\n' "$(cat "$PHASE_FILE")" "$(rss_kib "$SERVER_PID")"
      sleep 0.05
    done
  ) > "$WORK/rss.log" &
  SAMPLER_PID=$!
}
peak_mib() { awk -v p="$1" '$1 == p && $2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$WORK/rss.log"; }

log "creating a ${SIZE_MIB} MiB file in $WORK"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/source.bin"
BYTES=$(stat -c %s "$WORK/source.bin")

log "cp baseline"
drop_caches
t0=$(now); cp "$WORK/source.bin" "$WORK/copy.bin"; sync; t1=$(now)
CP_S=$(elapsed "$t0" "$t1")
rm -f "$WORK/copy.bin"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
EXTRA=()
if "$BIN" server --help 2>/dev/null | grep -q -- '--otlp-grpc-port'; then EXTRA+=(--otlp-grpc-port 0); fi
log "starting $BIN on port $PORT"
"$BIN" server --host 127.0.0.1 --port "$PORT" \
  --backend-store-uri "sqlite:///$WORK/mlflow.db" \
  --artifacts-destination "$WORK/artifacts" "${EXTRA[@]}" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
IDLE_MIB=$(awk -v k="$(rss_kib "$SERVER_PID")" 'BEGIN { printf "%.1f", k / 1024 }')
start_sampler
URL="http://127.0.0.1:$PORT/api/2.0/mlflow-artifacts/artifacts/bench/run/artifacts/source.bin"

log "upload (PUT)"
drop_caches
echo upload > "$PHASE_FILE"
t0=$(now); curl -sS -f -X PUT --upload-file "$WORK/source.bin" -o /dev/null "$URL"; sync; t1=$(now)
echo idle > "$PHASE_FILE"
PUT_S=$(elapsed "$t0" "$t1")
STORED=$(stat -c %s "$WORK/artifacts/bench/run/artifacts/source.bin")
[[ "$STORED" == "$BYTES" ]] || { echo "stored $STORED bytes, expected $BYTES" >&2; exit 1; }

log "download (GET)"
drop_caches
echo download > "$PHASE_FILE"
t0=$(now); curl -sS -f -o "$WORK/download.bin" "$URL"; sync; t1=$(now)
echo idle > "$PHASE_FILE"
GET_S=$(elapsed "$t0" "$t1")
sleep 0.2

log "verifying the downloaded bytes"
cmp "$WORK/source.bin" "$WORK/download.bin"
PEAK_UP=$(peak_mib upload)
PEAK_DOWN=$(peak_mib download)
HWM_MIB=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status")

mibps() { awk -v b="$BYTES" -v s="$1" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }
ratio() { awk -v a="$1" -v b="$CP_S" 'BEGIN { printf "%.2f", a / b }'; }

cat <<EOF

## Artifact streaming, ${SIZE_MIB} MiB, $(nproc) cores, page cache: ${CACHE}

| step | seconds | MiB/s | × cp | server peak RSS (MiB) |
|---|---:|---:|---:|---:|
| cp (same disk) | $CP_S | $(mibps "$CP_S") | 1.00 | — |
| upload (curl PUT) | $PUT_S | $(mibps "$PUT_S") | $(ratio "$PUT_S") | $PEAK_UP |
| download (curl GET) | $GET_S | $(mibps "$GET_S") | $(ratio "$GET_S") | $PEAK_DOWN |

Server RSS: ${IDLE_MIB} MiB idle, high-water mark ${HWM_MIB} MiB over the whole run (VmHWM).
EOF
printf '{"size_mib": %s, "cache": "%s", "cp_s": %s, "put_s": %s, "get_s": %s, "put_vs_cp": %s, "get_vs_cp": %s, "idle_rss_mib": %s, "peak_rss_upload_mib": %s, "peak_rss_download_mib": %s, "rss_hwm_mib": %s}\n' \
  "$SIZE_MIB" "$CACHE" "$CP_S" "$PUT_S" "$GET_S" "$(ratio "$PUT_S")" "$(ratio "$GET_S")" "$IDLE_MIB" "$PEAK_UP" "$PEAK_DOWN" "$HWM_MIB"
