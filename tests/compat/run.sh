#!/usr/bin/env bash
# MLflow-client compatibility suite: drives the real, unmodified mlflow==3.17.2 Python client
# against a running server, once per backend (SQLite; PostgreSQL when configured).
#
# Usage: tests/compat/run.sh [extra pytest args, e.g. -k search -x]
#
# Environment:
#   COMPAT_TARGET             rivulet (default) | mlflow  (mlflow: run the suite against a real
#                             `mlflow server` from the venv, to validate the tests themselves)
#   RIVULET_BIN               server binary (default: $REPO/target/release/rivulet)
#   COMPAT_VENV               venv location (default: $REPO/target/compat-venv); created with
#                             Python 3.11 and the pins of tests/compat/requirements.txt, reused
#                             when already complete
#   COMPAT_PYTHON             interpreter used to create the venv (default: python3.11)
#   RIVULET_TEST_POSTGRES_URL e.g. postgresql://postgres@127.0.0.1:5432/postgres; enables the
#                             PostgreSQL run (a fresh database is created and dropped)
#   RIVULET_REQUIRE_POSTGRES  1: fail unless the PostgreSQL run happened
#   COMPAT_KEEP_WORKDIR       1: keep the scratch directory (server logs, SQLite files)
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
COMPAT_DIR="$REPO/tests/compat"
VENV="${COMPAT_VENV:-$REPO/target/compat-venv}"
TARGET="${COMPAT_TARGET:-rivulet}"
RIVULET_BIN="${RIVULET_BIN:-$REPO/target/release/rivulet}"
PYTHON="${COMPAT_PYTHON:-python3.11}"
PG_URL="${RIVULET_TEST_POSTGRES_URL:-}"
REQUIRE_PG="${RIVULET_REQUIRE_POSTGRES:-0}"

log() { printf '==> %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }

case "$TARGET" in
  rivulet) [[ -x "$RIVULET_BIN" ]] || die "Rivulet binary not found or not executable: $RIVULET_BIN (build it or set RIVULET_BIN)" ;;
  mlflow) ;;
  *) die "COMPAT_TARGET must be 'rivulet' or 'mlflow', got '$TARGET'" ;;
esac

# ---------------------------------------------------------------------------------------
# Virtualenv (reused when complete for exactly these requirements)
# ---------------------------------------------------------------------------------------
ensure_venv() {
  local stamp="$VENV/.compat-venv-complete"
  local want
  want="$(cat "$COMPAT_DIR/requirements.txt"; "$PYTHON" --version 2>&1)" || die "cannot run $PYTHON"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/python" ]]; then
    log "reusing venv $VENV"
    return
  fi
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$PYTHON is not Python 3.11 (set COMPAT_PYTHON)"
  log "creating venv $VENV"
  rm -f "$stamp"
  "$PYTHON" -m venv --clear "$VENV" || die "venv creation failed"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$COMPAT_DIR/requirements.txt" || die "pip install failed"
  printf '%s' "$want" > "$stamp"
}
ensure_venv
PY="$VENV/bin/python"

# ---------------------------------------------------------------------------------------
# Scratch space and cleanup
# ---------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rivulet-compat.XXXXXX")"
PG_DB=""
pg_admin() { psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -At -c "$1"; }
cleanup() {
  if [[ -n "$PG_DB" ]]; then
    # The run's database plus any leftover per-test databases (named "${PG_DB}_...").
    local db
    for db in $(pg_admin "SELECT datname FROM pg_database WHERE datname = '$PG_DB' OR datname LIKE '${PG_DB}\\_%'" 2>/dev/null); do
      pg_admin "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 \
        || echo "run.sh: warning: could not drop database $db" >&2
    done
  fi
  if [[ "${COMPAT_KEEP_WORKDIR:-0}" == 1 ]]; then
    log "kept scratch directory $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------
# One pytest run per backend
# ---------------------------------------------------------------------------------------
declare -a SUMMARY=()
FAILED=0

run_suite() {  # backend, backend URI, [extra env assignments...]
  local backend="$1" uri="$2"
  shift 2
  local dir="$WORK/$backend"
  mkdir -p "$dir"
  log "target=$TARGET backend=$backend store=$uri"
  local rc=0
  # (conftest.py moves into COMPAT_WORK_DIR once the session starts)
  (
    cd "$COMPAT_DIR" && env \
      COMPAT_TARGET="$TARGET" RIVULET_BIN="$RIVULET_BIN" \
      COMPAT_BACKEND="$backend" COMPAT_BACKEND_URI="$uri" COMPAT_WORK_DIR="$dir" \
      "$@" \
      "$PY" -m pytest "$COMPAT_DIR" -p no:cacheprovider -r fEs --tb=short --durations=5 "${PYTEST_ARGS[@]}"
  ) || rc=$?
  if [[ $rc -eq 0 ]]; then
    SUMMARY+=("$backend: passed")
  else
    SUMMARY+=("$backend: FAILED (pytest exit code $rc; logs in $dir)")
    FAILED=1
    COMPAT_KEEP_WORKDIR=1
  fi
}

PYTEST_ARGS=("$@")

run_suite sqlite "sqlite:///$WORK/sqlite/main.db"

PG_RAN=0
if [[ -n "$PG_URL" ]]; then
  command -v psql >/dev/null || die "psql is needed for the PostgreSQL run"
  PG_DB="rivulet_compat_$(date +%Y%m%d%H%M%S)_$$"
  if pg_admin "CREATE DATABASE \"$PG_DB\"" >/dev/null; then
    PG_DB_URL="$("$PY" -c 'import sys; from urllib.parse import urlsplit, urlunsplit
p = urlsplit(sys.argv[1]); print(urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], p.query, "")))' "$PG_URL" "$PG_DB")"
    run_suite postgres "$PG_DB_URL" COMPAT_POSTGRES_URL="$PG_URL" COMPAT_DB_PREFIX="$PG_DB"
    PG_RAN=1
  else
    SUMMARY+=("postgres: could not create database $PG_DB via $PG_URL")
    FAILED=1
  fi
else
  SUMMARY+=("postgres: skipped (RIVULET_TEST_POSTGRES_URL not set)")
fi

if [[ "$REQUIRE_PG" == 1 && $PG_RAN -eq 0 ]]; then
  SUMMARY+=("postgres: REQUIRED by RIVULET_REQUIRE_POSTGRES=1 but did not run")
  FAILED=1
fi

log "summary (target=$TARGET)"
printf '    %s\n' "${SUMMARY[@]}"
exit $FAILED
