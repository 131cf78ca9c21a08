#!/usr/bin/env bash
# Side-by-side benchmark of Rivulet and MLflow 3.17.2 (tracking server) on this machine:
# search-runs, log-batch and server RSS, on SQLite and PostgreSQL. See README.md.
#
# Usage: bench/tracking/run.sh            (everything, ~10-12 minutes)
# Knobs (environment):
#   BACKENDS="sqlite postgres"  DURATION_S=15  WARMUP_S=3  RUNS=10000
#   SEARCH_CONC="4 16"  BATCH_CONC="1 4 16"  SETTLE_S=5  DRIVER_THREADS=1
#   QUIET_MAX_BUSY=0.15 QUIET_TIMEOUT_S=20 (before each measurement, wait until other processes
#                                           use < 15% of the CPUs; the machine may be shared)
#   OUT=<dir>  (default target/bench-results/tracking-<timestamp>)   KEEP_WORK=1 keeps the databases
#   RIVULET=<binary>  VENV=<venv with mlflow==3.17.2 + psycopg2>  PG_URL=postgresql://postgres@127.0.0.1:5432
#   NICE=-5  run both servers and the driver at this nice level (shared machine; PostgreSQL is left as is)
#   MLFLOW_SQLITE_JOURNAL=delete|keep  (MLflow's SQLite copy is switched back from Rivulet's WAL
#                                       to the rollback journal an MLflow-created file has; keep = leave WAL)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TS=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$ROOT/target/bench-results/tracking-$TS}
RIVULET=${RIVULET:-$ROOT/target/release/rivulet}
BACKENDS=${BACKENDS:-"sqlite postgres"}
DURATION_S=${DURATION_S:-15}
WARMUP_S=${WARMUP_S:-3}
RUNS=${RUNS:-10000}
SEARCH_CONC=${SEARCH_CONC:-"4 16"}
BATCH_CONC=${BATCH_CONC:-"1 4 16"}
SETTLE_S=${SETTLE_S:-5}
DRIVER_THREADS=${DRIVER_THREADS:-1}
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432}
PORT_RIV=${PORT_RIV:-5741}
PORT_MLF=${PORT_MLF:-5742}
MLFLOW_SQLITE_JOURNAL=${MLFLOW_SQLITE_JOURNAL:-delete}
NICE=${NICE:-}
RUN=()
if [[ -n "$NICE" ]]; then RUN=(nice -n "$NICE"); fi
QUIET_MAX_BUSY=${QUIET_MAX_BUSY:-0.15}
QUIET_TIMEOUT_S=${QUIET_TIMEOUT_S:-20}
MLFLOW_VERSION=3.17.2
WORK="$OUT/work"
DBPREFIX="bench_tracking_$(date +%s)_$$"
TL_TARGET="$ROOT/target/bench"
TL="$TL_TARGET/release/tracking-load"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/run.log") 2>&1
log "results -> $OUT"

# ---------------------------------------------------------------- tools
if [[ ! -x "$RIVULET" ]]; then
    log "building rivulet (release)"
    (cd "$ROOT" && cargo build --release -p rivulet)
fi
log "building the load driver"
CARGO_TARGET_DIR="$TL_TARGET" cargo build --release --quiet --manifest-path "$HERE/Cargo.toml"

venv_ok() {
    [[ -x "$1/bin/python" && -x "$1/bin/mlflow" ]] &&
        (cd / && "$1/bin/python" -c "import mlflow, psycopg2, sys; sys.exit(mlflow.__version__ != '$MLFLOW_VERSION')") 2>/dev/null
}
if [[ -z "${VENV:-}" ]]; then
    if venv_ok /tmp/mlflow-venv; then VENV=/tmp/mlflow-venv; else VENV="$ROOT/target/bench-venv"; fi
fi
if ! venv_ok "$VENV"; then
    log "creating venv $VENV with mlflow==$MLFLOW_VERSION"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "mlflow==$MLFLOW_VERSION" psycopg2-binary
    venv_ok "$VENV" || die "venv $VENV does not import mlflow $MLFLOW_VERSION + psycopg2"
fi
PY="$VENV/bin/python"
log "mlflow venv: $VENV"

PG_HOST=127.0.0.1
PG_PORT=5432
pg() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [[ " $BACKENDS " == *" postgres "* ]]; then
    if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q; then
        log "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
        for _ in $(seq 50); do pg_isready -h "$PG_HOST" -p "$PG_PORT" -q && break; sleep 0.2; done
    fi
    pg -d postgres -c "select 1" >/dev/null || die "cannot connect to PostgreSQL as postgres@$PG_HOST:$PG_PORT"
    # The postmaster's pid, so the driver can report the database's CPU next to the server's.
    PG_PID=$(head -1 "$(pg -d postgres -c 'show data_directory')/postmaster.pid" 2>/dev/null || true)
    log "PostgreSQL postmaster pid: ${PG_PID:-unknown (DB CPU not reported)}"
fi
PG_PID=${PG_PID:-}

for p in "$PORT_RIV" "$PORT_MLF"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use"; fi
done

# ---------------------------------------------------------------- bookkeeping / cleanup
SERVER_PID=""
CREATED_DBS=()
cleanup() {
    set +e
    [[ -n "$SERVER_PID" ]] && stop_server
    for db in "${CREATED_DBS[@]}"; do dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists "$db" 2>/dev/null; done
    if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
    echo "{"
    echo "  \"started\": \"$(date -Is)\","
    echo "  \"host\": \"$(hostname)\", \"nproc\": $(nproc), \"kernel\": \"$(uname -r)\","
    echo "  \"mem_total_kib\": $(awk '/MemTotal/ {print $2}' /proc/meminfo),"
    echo "  \"rivulet\": \"$("$RIVULET" --version 2>/dev/null | head -1)\", \"rivulet_binary\": \"$RIVULET\","
    echo "  \"rivulet_git_rev\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)\","
    echo "  \"mlflow\": \"$(cd / && "$PY" -c 'import mlflow; print(mlflow.__version__)')\","
    echo "  \"postgres\": \"$(pg -d postgres -c 'show server_version' 2>/dev/null || echo n/a)\","
    echo "  \"duration_s\": $DURATION_S, \"warmup_s\": $WARMUP_S, \"runs\": $RUNS, \"driver_threads\": $DRIVER_THREADS,"
    echo "  \"search_concurrency\": \"$SEARCH_CONC\", \"batch_concurrency\": \"$BATCH_CONC\","
    echo "  \"nice\": \"$NICE\", \"loadavg_at_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
    echo "  \"mlflow_sqlite_journal\": \"$MLFLOW_SQLITE_JOURNAL\""
    echo "}"
} > "$OUT/meta.json"

# ---------------------------------------------------------------- server control
# start_server <rivulet|mlflow> <store uri> <port> <tag>: sets SERVER_PID; writes <tag>-ready.json
start_server() {
    local kind=$1 uri=$2 port=$3 tag=$4
    mkdir -p "$WORK/$tag"
    log "start $kind on ${uri%%\?*} (port $port)"
    case $kind in
        rivulet)
            (cd "$WORK/$tag" && exec "${RUN[@]}" "$RIVULET" server --host 127.0.0.1 --port "$port" \
                --backend-store-uri "$uri" --artifacts-destination "$WORK/$tag/mlartifacts") \
                >"$OUT/$tag.server.log" 2>&1 &
            ;;
        mlflow)
            (cd "$WORK/$tag" && exec "${RUN[@]}" "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$port" \
                --backend-store-uri "$uri" --artifacts-destination "$WORK/$tag/mlartifacts") \
                >"$OUT/$tag.server.log" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    SERVER_PORT=$port
    if ! "$TL" wait-ready --url "http://127.0.0.1:$port/health" --pid "$SERVER_PID" --timeout-s 240 \
        --json-out "$OUT/$tag-ready.json" >/dev/null; then
        tail -30 "$OUT/$tag.server.log" >&2
        die "$kind did not become ready (log: $OUT/$tag.server.log)"
    fi
}

# Every process of the server's tree, root first.
tree_pids() { "$TL" rss --pid "$1" 2>/dev/null | (cd / && "$PY" -c 'import json,sys; print(" ".join(str(p["pid"]) for p in json.load(sys.stdin)["per_process"]))') || true; }

stop_server() {
    local pid=$SERVER_PID pids
    pids=$(tree_pids "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
        local alive=0
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.2
    done
    for p in $pids; do
        if kill -0 "$p" 2>/dev/null; then log "pid $p still alive 30s after SIGTERM: SIGKILL"; kill -KILL "$p" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
    SERVER_PID=""
}

rss() { # rss <tag> <phase>
    "$TL" rss --pid "$SERVER_PID" --label "$1 $2" --json-out "$OUT/$1-rss-$2.json" \
        | (cd / && "$PY" -c 'import json,sys; v=json.load(sys.stdin); print("%.1f MiB RSS (%d processes, anonymous %.1f MiB, Pss %.1f MiB)" % (v["rss_mib"], v["processes"], v["rss_anon_mib"], v["pss_mib"]))') \
        | while read -r line; do log "  RSS $2: $line"; done
}

# Run the driver; a non-zero exit from errors (2) is recorded, not fatal.
drive() {
    local out=$1; shift
    local rc=0
    "$TL" wait-quiet --max-busy "$QUIET_MAX_BUSY" --timeout-s "$QUIET_TIMEOUT_S" --exclude-pid "$SERVER_PID" \
        --json-out "$(dirname "$out")/quiet-$(basename "$out")" >/dev/null || true
    if [[ -n "$DB_PID" ]]; then set -- "$@" --db-pid "$DB_PID"; fi
    "${RUN[@]}" "$TL" --threads "$DRIVER_THREADS" --json-out "$out" "$@" >/dev/null || rc=$?
    if [[ $rc == 1 ]]; then die "driver failed: $*"; fi
    if [[ $rc == 2 ]]; then log "  !! errors recorded in $(basename "$out")"; fi
}

# measure <rivulet|mlflow> <backend> <uri> <port> <search experiment id> <runs expected per page>
measure() {
    local kind=$1 backend=$2 uri=$3 port=$4 exp=$5 expect=$6
    local tag="$backend-$kind" base="http://127.0.0.1:$port"
    DB_PID=""
    if [[ $backend == postgres ]]; then DB_PID=$PG_PID; fi
    start_server "$kind" "$uri" "$port" "$tag"
    sleep "$SETTLE_S"
    rss "$tag" idle-start
    for c in $SEARCH_CONC; do
        drive "$OUT/$tag-search-runs-c$c.json" search-runs --base-url "$base" --experiment-id "$exp" --expect-runs "$expect" \
            --concurrency "$c" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" --server-pid "$SERVER_PID" \
            --label "$kind $backend"
    done
    for c in $BATCH_CONC; do
        drive "$OUT/$tag-log-batch-c$c.json" log-batch --base-url "$base" --experiment-name bench-log-batch \
            --concurrency "$c" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" --server-pid "$SERVER_PID" \
            --label "$kind $backend"
    done
    sleep "$SETTLE_S"
    rss "$tag" idle-after-load
    stop_server
}

sqlite_uri() { echo "sqlite:///$1"; } # $1 is absolute, so this gives sqlite:////abs/path

copy_sqlite() { # copy_sqlite <src> <dst>
    cp "$1" "$2"
    for s in -wal -shm; do [[ -f "$1$s" ]] && cp "$1$s" "$2$s"; done
    return 0
}

# ---------------------------------------------------------------- per backend
for backend in $BACKENDS; do
    log "==== backend: $backend ===="
    case $backend in
        sqlite)
            seed_uri=$(sqlite_uri "$WORK/sqlite-seed.db")
            ;;
        postgres)
            seed_db="${DBPREFIX}_seed"
            createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "$seed_db"
            CREATED_DBS+=("$seed_db")
            seed_uri="$PG_URL/$seed_db"
            ;;
        *) die "unknown backend $backend (sqlite, postgres)" ;;
    esac

    # Seed once, with Rivulet (it writes MLflow's schema); both servers then get an identical copy.
    start_server rivulet "$seed_uri" "$PORT_RIV" "$backend-seed"
    "$TL" --threads 2 --json-out "$OUT/$backend-seed.json" seed --base-url "http://127.0.0.1:$PORT_RIV" \
        --runs "$RUNS" --concurrency 8 >/dev/null || die "seeding failed"
    stop_server
    exp=$(cd / && "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["experiment_id"])' "$OUT/$backend-seed.json")
    # A page holds 100 runs, or all matching runs when fewer match (small RUNS).
    expect=$(cd / && "$PY" -c 'import json,sys; print(min(100, json.load(open(sys.argv[1]))["runs_acc_gt_0_5"]))' "$OUT/$backend-seed.json")

    if [[ $backend == postgres ]]; then
        # This cluster may run with autovacuum off (it does on the dev machines): without
        # statistics the planner picks nested loops and sequential scans that a production
        # database (autovacuum on) would not. Both copies inherit these statistics.
        pg -d "$seed_db" -c "ANALYZE"
        log "ANALYZE done on the seeded PostgreSQL database (autovacuum: $(pg -d postgres -c 'show autovacuum'))"
    fi
    case $backend in
        sqlite)
            copy_sqlite "$WORK/sqlite-seed.db" "$WORK/sqlite-rivulet.db"
            copy_sqlite "$WORK/sqlite-seed.db" "$WORK/sqlite-mlflow.db"
            if [[ $MLFLOW_SQLITE_JOURNAL == delete ]]; then
                (cd / && "$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print("mlflow copy journal_mode:", c.execute("pragma journal_mode=delete").fetchone()[0]); c.close()' "$WORK/sqlite-mlflow.db")
            fi
            riv_uri=$(sqlite_uri "$WORK/sqlite-rivulet.db")
            mlf_uri=$(sqlite_uri "$WORK/sqlite-mlflow.db")
            ;;
        postgres)
            for who in rivulet mlflow; do
                createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres -T "$seed_db" "${DBPREFIX}_$who"
                CREATED_DBS+=("${DBPREFIX}_$who")
            done
            dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "$seed_db"
            riv_uri="$PG_URL/${DBPREFIX}_rivulet"
            # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the venv has psycopg2.
            mlf_uri="${PG_URL/postgresql:\/\//postgresql+psycopg2://}/${DBPREFIX}_mlflow"
            ;;
    esac
    ls -l "$WORK"/*.db 2>/dev/null | sed 's/^/    /' >&2 || true

    measure rivulet "$backend" "$riv_uri" "$PORT_RIV" "$exp" "$expect"
    measure mlflow "$backend" "$mlf_uri" "$PORT_MLF" "$exp" "$expect"

    if [[ $backend == postgres ]]; then
        for who in rivulet mlflow; do dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists "${DBPREFIX}_$who"; done
    fi
done

# ---------------------------------------------------------------- table
(cd / && "$PY" "$HERE/summarize.py" "$OUT") | tee "$OUT/summary.md"
log "done: $OUT/summary.md (raw JSON beside it)"
