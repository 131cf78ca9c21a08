#!/usr/bin/env bash
# Deployment checks, offline: the Kubernetes manifests under deploy/kubernetes, the commands of
# docs/kubernetes.md against a local server, and (optionally) the static build the Dockerfile
# relies on.
#
#   1. render every kustomization (base, overlays, migrate-from-mlflow) with `kubectl kustomize`;
#   2. validate the output with kubernetes-validate --strict against Kubernetes 1.29 and 1.37
#      (custom resources: against vendored CRDs, in step 3);
#   3. policy checks over the rendered output (check_manifests.py);
#   4. negative controls: broken copies of the output must fail steps 2 and 3;
#   5. start the Rivulet binary as the Deployment does and run the verification commands of
#      docs/kubernetes.md, an OTLP export as the Collector sends it, Host-header variants,
#      probes, JSON logs, graceful stop; PostgreSQL with credentials from PGUSER/PGPASSWORD
#      when RIVULET_TEST_POSTGRES_URL is set;
#   6. static build: the Dockerfile's build command, on the Docker build context alone, gives a
#      static binary that serves; with buildah installed, it is also packed into an OCI image
#      FROM scratch whose server must become ready as uid 65532.
#
# Usage: tests/deploy/run.sh
# Environment:
#   RIVULET_BIN               server binary (default: $REPO/target/release/rivulet)
#   DEPLOY_VENV               venv for kubernetes-validate (default: $REPO/target/deploy-venv),
#                             created with the pins of tests/deploy/requirements.txt, reused when complete
#   DEPLOY_PYTHON             interpreter that creates the venv (default: python3)
#   DEPLOY_STATIC_BUILD       1: run step 6 (a full release build with other RUSTFLAGS, 10-25
#                             minutes the first time on 2 cores; incremental afterwards, in
#                             DEPLOY_STATIC_TARGET_DIR, default $REPO/target/deploy-static);
#                             0 (default): skip it
#   RIVULET_DEPLOY_PENDING    server features the manifests use that may be missing for now,
#                             space-separated from: ready metrics db-upgrade; their checks then
#                             report SKIP instead of failing. Empty by default: everything required.
#   RIVULET_TEST_POSTGRES_URL e.g. postgresql://postgres@127.0.0.1:5432/postgres
#   DEPLOY_KEEP_WORKDIR       1: keep the scratch directory
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$REPO/tests/deploy"
K8S="$REPO/deploy/kubernetes"
VENV="${DEPLOY_VENV:-$REPO/target/deploy-venv}"
PYTHON="${DEPLOY_PYTHON:-python3}"
RIVULET_BIN="${RIVULET_BIN:-$REPO/target/release/rivulet}"
PENDING=" ${RIVULET_DEPLOY_PENDING:-} "
K8S_VERSIONS=(1.29.0 1.37.0)
# Custom resources kubernetes-validate has no schema for; check_manifests.py validates them.
CRD_KINDS='Database|ServiceMonitor'

PASSED=0
FAILED=0
SKIPPED=0
log() { printf '==> %s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf '  SKIP  %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }
# check DESCRIPTION COMMAND...: one pass or fail from a command's exit status (output shown on failure).
check() {
  local what="$1" out
  shift
  if out="$("$@" 2>&1)"; then ok "$what"; else fail "$what"; printf '%s\n' "$out" | tail -n 20 | sed 's/^/        /'; fi
}
# pending FEATURE DESCRIPTION COMMAND...: like check, but a SKIP when FEATURE is listed as pending.
pending() {
  local feature="$1" what="$2" out
  shift 2
  if out="$("$@" 2>&1)"; then ok "$what"
  elif [[ "$PENDING" == *" $feature "* ]]; then skip "$what (RIVULET_DEPLOY_PENDING has $feature)"
  else fail "$what"; printf '%s\n' "$out" | tail -n 20 | sed 's/^/        /'; fi
}

command -v kubectl >/dev/null || die "kubectl is needed (kubectl kustomize renders the manifests)"
command -v curl >/dev/null || die "curl is needed"
[[ -x "$RIVULET_BIN" ]] || die "Rivulet binary not found: $RIVULET_BIN (cargo build --release -p rivulet, or set RIVULET_BIN)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/rivulet-deploy.XXXXXX")"
declare -a PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  if [[ -n "${PG_DB:-}" ]]; then
    psql "$RIVULET_TEST_POSTGRES_URL" -X -q -At -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [[ "${DEPLOY_KEEP_WORKDIR:-0}" == 1 || $FAILED -gt 0 ]]; then log "scratch directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
log "venv with kubernetes-validate ($VENV)"
stamp="$VENV/.deploy-venv-complete"
want="$(cat "$HERE/requirements.txt"; "$PYTHON" --version 2>&1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/kubernetes-validate" ]]; then
  echo "    reusing it"
else
  rm -f "$stamp"
  "$PYTHON" -m venv --clear "$VENV" || die "venv creation failed"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" || die "pip install failed"
  printf '%s' "$want" > "$stamp"
fi
PY="$VENV/bin/python"
KV="$VENV/bin/kubernetes-validate"

# ---------------------------------------------------------------------------------------------
log "1. render every kustomization"
RENDERED="$WORK/rendered"
mkdir -p "$RENDERED"
declare -a TARGETS=()
for dir in "$K8S/base" "$K8S"/overlays/* "$K8S/migrate-from-mlflow"; do
  [[ -f "$dir/kustomization.yaml" ]] || continue
  name="$(basename "$dir")"
  if kubectl kustomize "$dir" > "$RENDERED/$name.yaml" 2> "$WORK/render-$name.err"; then
    ok "kubectl kustomize ${dir#"$REPO"/} ($(grep -c '^kind:' "$RENDERED/$name.yaml") resources)"
    TARGETS+=("$name")
  else
    fail "kubectl kustomize ${dir#"$REPO"/}"; sed 's/^/        /' "$WORK/render-$name.err"
  fi
done
# docs/kubernetes.md promises kubectl 1.27 (Kustomize v5.0): same output with it, when present.
KUBECTL_MIN="${DEPLOY_KUBECTL_MIN:-$(command -v kubectl.1.27 || ls /usr/lib/google-cloud-sdk/bin/kubectl.1.27 2>/dev/null || true)}"
if [[ -n "$KUBECTL_MIN" ]]; then
  same_with_min() {
    local t dir
    for t in "${TARGETS[@]}"; do
      dir="$K8S/$t"; [[ -d "$dir" ]] || dir="$K8S/overlays/$t"
      "$KUBECTL_MIN" kustomize "$dir" | cmp -s - "$RENDERED/$t.yaml" || { echo "$t renders differently"; return 1; }
    done
  }
  check "$("$KUBECTL_MIN" version --client 2>/dev/null | grep -o 'Kustomize Version.*'): same output for every target" same_with_min
else
  skip "kubectl 1.27 not found (set DEPLOY_KUBECTL_MIN to compare with the oldest supported kubectl)"
fi
# A component that no overlay uses would never be rendered, so never checked.
for comp in "$K8S"/components/*/; do
  comp="$(basename "$comp")"
  check "component $comp is used by an overlay" grep -rqs -- "components/$comp\$" "$K8S"/overlays/*/kustomization.yaml
done

# ---------------------------------------------------------------------------------------------
log "2. kubernetes-validate --strict (offline schemas)"
validate() {  # version, files...: fails on invalid resources and on kinds without a schema other than the CRDs
  local version="$1" out rc=0
  shift
  out="$("$KV" --strict -k "$version" "$@" 2>&1)" || rc=$?
  local unknown
  unknown="$(printf '%s\n' "$out" | grep "Couldn't find schema" | grep -Ev "for kind ($CRD_KINDS) with" || true)"
  [[ $rc -eq 0 && -z "$unknown" ]] || { printf '%s\n' "$out" | grep -v '^INFO'; return 1; }
}
for version in "${K8S_VERSIONS[@]}"; do
  files=()
  for t in "${TARGETS[@]}"; do files+=("$RENDERED/$t.yaml"); done
  check "Kubernetes $version: ${TARGETS[*]}" validate "$version" "${files[@]}"
done

# ---------------------------------------------------------------------------------------------
log "3. policy checks (check_manifests.py)"
args=()
for t in "${TARGETS[@]}"; do args+=("$t=$RENDERED/$t.yaml"); done
if "$PY" "$HERE/check_manifests.py" --crds "$HERE/crds" "${args[@]}" > "$WORK/policy.out" 2>&1; then
  ok "$(tail -n 1 "$WORK/policy.out")"
else
  fail "$(tail -n 1 "$WORK/policy.out")"; grep -E 'FAIL|Error|Traceback|  File' "$WORK/policy.out" | sed 's/^/        /'
fi

# ---------------------------------------------------------------------------------------------
log "4. negative controls: broken manifests must be caught"
CL="$RENDERED/catalyst-lab.yaml"
mutate() {  # name, python expression over `s` (the rendered text) -> mutated file path
  local out="$WORK/mutant-$1.yaml"
  "$PY" -c 'import sys; s = open(sys.argv[1]).read(); r = eval(sys.argv[2]); assert r != s, "mutation did not apply"; open(sys.argv[3], "w").write(r)' "$CL" "$2" "$out" || return 1
  echo "$out"
}
expect_policy_failure() {  # description, mutation name, expression, text expected in the failure
  local m
  m="$(mutate "$2" "$3")" || { fail "$1 (mutation did not apply)"; return; }
  if "$PY" "$HERE/check_manifests.py" --crds "$HERE/crds" "catalyst-lab=$m" > "$WORK/mutant-$2.out" 2>&1; then
    fail "$1: not caught"
  elif grep -q "FAIL.*$4" "$WORK/mutant-$2.out"; then ok "$1"
  else fail "$1: failed for another reason"; grep FAIL "$WORK/mutant-$2.out" | sed 's/^/        /'; fi
}
if m="$(mutate typo 's.replace("readinessProbe:", "readinessProb:", 1)')" && ! validate 1.37.0 "$m" >/dev/null 2>&1; then
  ok "kubernetes-validate --strict rejects a misspelled field (readinessProb)"
else
  fail "kubernetes-validate --strict accepted a misspelled field"
fi
expect_policy_failure "a second store URI (MLFLOW_TRACKING_URI, the reference's workaround)" tracking \
  's.replace("        env:\n        - name: PGUSER", "        env:\n        - name: MLFLOW_TRACKING_URI\n          value: postgresql://u:p@h/mlflow\n        - name: PGUSER", 1)' \
  "no second copy of the store URI"
expect_policy_failure "readiness probe on /health like liveness" probes 's.replace("path: /ready", "path: /health")' "split probes"
expect_policy_failure "a misspelled field in the CloudNativePG Database" crd 's.replace("databaseReclaimPolicy:", "databaseReclaimPolicyy:")' "valid against its CRD"
expect_policy_failure "the Collector sending x-mlflow-experiment-id" header 's.replace("x-mlflow-experiment-name: llamastack-traces", "x-mlflow-experiment-id: \"1\"")' "x-mlflow-experiment-name"
expect_policy_failure "a root container" root 's.replace("runAsUser: 65532", "runAsUser: 0", 1)' "non-root"

# ---------------------------------------------------------------------------------------------
log "5. the server as the Deployment runs it, and the verification commands of docs/kubernetes.md"
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
GRPC_PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
SRV="$WORK/server"
mkdir -p "$SRV/data" "$SRV/run"

# The container's arguments, with the listen address and ports of this machine.
mapfile -t SERVER_ARGS < <("$PY" - "$RENDERED/base.yaml" "$PORT" "$GRPC_PORT" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
c = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
for a in c["args"]:
    a = {"--host=0.0.0.0": "--host=127.0.0.1", "--port=5000": f"--port={sys.argv[2]}", "--otlp-grpc-port=4317": f"--otlp-grpc-port={sys.argv[3]}"}.get(a, a)
    print(a)
EOF
)
# The ConfigMap's environment, with /mlflow moved to the scratch directory. The allowed hosts
# come from the catalyst-lab overlay, whose Ingress host must be accepted.
declare -a SERVER_ENV=()
while IFS= read -r line; do SERVER_ENV+=("${line//\/mlflow\//$SRV\/data\/}"); done < <("$PY" "$HERE/check_manifests.py" --server-env "$RENDERED/base.yaml")
ALLOWED="$("$PY" "$HERE/check_manifests.py" --server-env "$RENDERED/catalyst-lab.yaml" | sed -n 's/^MLFLOW_SERVER_ALLOWED_HOSTS=//p')"
SERVER_ENV+=("MLFLOW_SERVER_ALLOWED_HOSTS=$ALLOWED")
# What service links would inject for a Service named mlflow, were they on: --port must win.
SERVER_ENV+=("MLFLOW_PORT=tcp://10.96.0.10:5000")

launch_server() {  # log file, extra args... ; sets SERVER_PID, returns once /health answers (1 if the server died)
  local logfile="$1"
  shift
  (cd "$SRV/run" && exec env "${SERVER_ENV[@]}" "$RIVULET_BIN" "${SERVER_ARGS[@]}" "$@") > "$logfile.out" 2> "$logfile" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  local _
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$BASE/health" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
wait_ready() {  # seconds: 0 once /ready says 200 (or does not exist: 404), 1 on timeout or exit
  local code _
  for _ in $(seq 1 $(( $1 * 10 ))); do
    code="$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/ready" 2>/dev/null)"
    [[ "$code" == 200 || "$code" == 404 ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
reap_server() {  # a server that exited by itself: its exit status
  local rc=0
  wait "$SERVER_PID" || rc=$?
  PIDS=("${PIDS[@]/$SERVER_PID}")
  return $rc
}
start_server() {  # log file, extra args... ; launched, and ready within 60 s (a server that fails is stopped)
  launch_server "$@" || { kill -0 "$SERVER_PID" 2>/dev/null && stop_server; reap_server 2>/dev/null; return 1; }
  wait_ready 60 || { kill -0 "$SERVER_PID" 2>/dev/null && stop_server; reap_server 2>/dev/null; return 1; }
}
stop_server() {  # SIGTERM as the kubelet sends it; sets STOP_SECS to the time until exit
  local start end rc
  start=$(date +%s.%N)
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  rc=$?
  end=$(date +%s.%N)
  PIDS=("${PIDS[@]/$SERVER_PID}")
  STOP_SECS="$("$PY" -c "print(f'{$end - $start:.2f}')")"
  return $rc
}

echo "    rivulet ${SERVER_ARGS[*]}"
if ! start_server "$SRV/server.log"; then
  fail "server started with the Deployment's arguments and ConfigMap"
  tail -n 20 "$SRV/server.log" | sed 's/^/        /'
else
  ok "server started with the Deployment's arguments and ConfigMap (service-link MLFLOW_PORT ignored thanks to --port)"

  # The verification commands of docs/kubernetes.md, as written there: every ```bash block
  # that follows a `<!-- verify [FEATURE] [expect: TEXT, TEXT] -->` line, run in order with
  # MLFLOW pointing at this server. A block passes when it exits 0 and its output contains
  # every expected TEXT. FEATURE names a server feature that RIVULET_DEPLOY_PENDING may excuse.
  "$PY" - "$REPO/docs/kubernetes.md" "$WORK/verify" <<'EOF'
import re, sys, pathlib
text = pathlib.Path(sys.argv[1]).read_text()
out = pathlib.Path(sys.argv[2]); out.mkdir()
blocks = re.findall(r"<!-- verify(?: ([a-z-]+))?(?: expect: (.*?))? -->\s*\n```bash\n(.*?)```", text, re.S)
for i, (feature, expect, body) in enumerate(blocks):
    (out / f"{i:02d}-{feature or 'core'}.sh").write_text(body)
    (out / f"{i:02d}-{feature or 'core'}.expect").write_text("".join(e.strip() + "\n" for e in expect.split(", ") if e.strip()))
EOF
  n_blocks=$(ls "$WORK/verify"/*.sh | wc -l)
  check "docs/kubernetes.md has verification blocks ($n_blocks)" test "$n_blocks" -ge 5
  run_block() {  # block file: run it, then look for each expected text in its output
    local out expected
    out="$(MLFLOW="$BASE" bash -euo pipefail "$1" 2>&1)" || { printf '%s\n' "$out"; return 1; }
    while IFS= read -r expected; do
      [[ "$out" == *"$expected"* ]] || { printf 'expected %s in:\n%s\n' "$expected" "$out"; return 1; }
    done < "${1%.sh}.expect"
  }
  for block in "$WORK/verify"/*.sh; do
    feature="$(basename "$block" .sh)"; feature="${feature#*-}"
    title="docs: $(grep -m1 -v '^#' "$block" | cut -c1-80)"
    if [[ "$feature" == core ]]; then check "$title" run_block "$block"; else pending "$feature" "$title" run_block "$block"; fi
  done

  # The Collector's export: protobuf + gzip, the headers of the rendered exporter config.
  mapfile -t HEADERS < <("$PY" "$HERE/check_manifests.py" --collector-headers "$RENDERED/catalyst-lab.yaml")
  hargs=()
  for h in "${HEADERS[@]}"; do hargs+=(--header "$h"); done
  check "Collector headers found in the rendered config: ${HEADERS[*]}" test "${#HEADERS[@]}" -ge 1
  export_and_find() {
    local trace exp
    trace="$("$PY" "$HERE/otlp_export.py" "$BASE" "${hargs[@]}")" || return 1
    exp="$(curl -fsS "$BASE/api/2.0/mlflow/experiments/get-by-name?experiment_name=llamastack-traces" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment"]["experiment_id"])')" || return 1
    curl -fsS "$BASE/api/3.0/mlflow/traces/tr-$trace" | grep -q "\"experiment_id\": *\"$exp\"" || { echo "trace tr-$trace not in experiment $exp"; return 1; }
  }
  check "OTLP/HTTP export as the Collector sends it (protobuf, gzip, x-mlflow-experiment-name) lands in llamastack-traces" export_and_find
  check "OTLP/gRPC receiver listens on --otlp-grpc-port" "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $GRPC_PORT), 2)"

  # Host headers the Ingress, the Service and port-forwards send, with and without ports (pain P1).
  host_ok() {
    local h code
    for h in ${ALLOWED//,/ } localhost; do
      for suffix in "" ":5000" ":80"; do
        code="$(curl -sS -o /dev/null -w '%{http_code}' -H "Host: $h$suffix" -X POST "$BASE/ajax-api/2.0/mlflow/experiments/search" \
          -H 'Content-Type: application/json' -d '{"max_results": 1}')"
        [[ "$code" == 200 ]] || { echo "Host: $h$suffix -> $code"; return 1; }
      done
    done
  }
  check "API answers every allowed Host, with or without a port (no --allowed-hosts=*)" host_ok
  # Control: the check above means something only if other public names are refused.
  code="$(curl -sS -o /dev/null -w '%{http_code}' -H 'Host: mlflow.attacker.example' -X POST "$BASE/ajax-api/2.0/mlflow/experiments/search" \
    -H 'Content-Type: application/json' -d '{"max_results": 1}')"
  case "$code" in
    403) ok "an unlisted public Host is refused (403): the host check is on" ;;
    200) skip "an unlisted public Host is accepted: this binary has no host check" ;;
    *) fail "an unlisted public Host got $code (expected 403)" ;;
  esac
  json_logs() { "$PY" -c 'import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no log lines"
for l in lines: json.loads(l)
print(len(lines), "lines")' "$1"; }
  check "--log-format=json: every log line is a JSON object" json_logs "$SRV/server.log"
  if stop_server; then
    check "SIGTERM: clean exit in ${STOP_SECS}s (terminationGracePeriodSeconds: 30)" "$PY" -c "assert $STOP_SECS < 25"
  else
    fail "SIGTERM: exit status non-zero"
  fi

  # --no-migrate (the replicas of overlays/s3-replicas) on the schema created above, and the
  # migration Job's command on an empty database.
  if start_server "$SRV/no-migrate.log" --no-migrate; then
    ok "--no-migrate starts on an up-to-date schema"; stop_server
  else
    fail "--no-migrate starts on an up-to-date schema"; tail -n 5 "$SRV/no-migrate.log" | sed 's/^/        /'
  fi
  # ... and on an empty database it must not serve: exit with the reason, or stay unready.
  refuses_empty() {
    local rc=0
    if launch_server "$SRV/no-migrate-empty.log" --no-migrate --backend-store-uri "sqlite:///$SRV/empty.db" && wait_ready 5; then
      stop_server
      echo "ready on an empty database"; return 1
    fi
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      stop_server   # alive but not ready: what the readiness probe keeps out of the Service
    else
      reap_server || rc=$?
      [[ $rc -ne 0 ]] && grep -qi "schema" "$SRV/no-migrate-empty.log" || { echo "exit $rc"; tail -n 5 "$SRV/no-migrate-empty.log"; return 1; }
    fi
  }
  check "--no-migrate on an empty database refuses to serve (exits with the reason, or is never ready)" refuses_empty
  db_upgrade() {
    env "${SERVER_ENV[@]}" MLFLOW_BACKEND_STORE_URI="sqlite:///$SRV/fresh.db" "$RIVULET_BIN" db upgrade
  }
  pending db-upgrade "\`rivulet db upgrade\` (the migration Job) creates the schema from MLFLOW_BACKEND_STORE_URI" db_upgrade
fi

# PostgreSQL as components/cnpg-database configures it: no credentials in the URI, PGUSER and
# PGPASSWORD beside it.
if [[ -n "${RIVULET_TEST_POSTGRES_URL:-}" ]]; then
  PG_DB="rivulet_deploy_$(date +%s)_$$"
  if psql "$RIVULET_TEST_POSTGRES_URL" -X -q -At -c "CREATE DATABASE \"$PG_DB\"" >/dev/null 2>"$WORK/pg.err"; then
    mapfile -t PG < <("$PY" -c 'import sys; from urllib.parse import urlsplit
u = urlsplit(sys.argv[1]); print(u.hostname or "127.0.0.1"); print(u.port or 5432); print(u.username or ""); print(u.password or "")' "$RIVULET_TEST_POSTGRES_URL")
    SERVER_ENV+=("MLFLOW_BACKEND_STORE_URI=postgresql://${PG[0]}:${PG[1]}/$PG_DB" "PGUSER=${PG[2]}" "PGPASSWORD=${PG[3]}")
    if start_server "$SRV/postgres.log"; then
      check "PostgreSQL: store URI without credentials + PGUSER/PGPASSWORD: API answers" \
        curl -fsS -X POST "$BASE/api/2.0/mlflow/experiments/search" -H 'Content-Type: application/json' -d '{"max_results": 1}'
      pending ready "PostgreSQL: /ready" curl -fsS "$BASE/ready"
      stop_server
    else
      fail "PostgreSQL: server starts with PGUSER/PGPASSWORD"; tail -n 5 "$SRV/postgres.log" | sed 's/^/        /'
    fi
  else
    fail "PostgreSQL: create database $PG_DB"; sed 's/^/        /' "$WORK/pg.err"
  fi
else
  skip "PostgreSQL credentials from PGUSER/PGPASSWORD (RIVULET_TEST_POSTGRES_URL not set)"
fi

# ---------------------------------------------------------------------------------------------
log "6. static build from the Docker build context"
if [[ "${DEPLOY_STATIC_BUILD:-0}" != 1 ]]; then
  skip "static build (set DEPLOY_STATIC_BUILD=1; a full release build the first time)"
else
  # The build context as .dockerignore leaves it: Cargo.toml, Cargo.lock, crates/. Copied to
  # a fixed place with the files' times kept, so a second run only rebuilds what changed.
  STATIC_TARGET_DIR="${DEPLOY_STATIC_TARGET_DIR:-$REPO/target/deploy-static}"
  CTX="$STATIC_TARGET_DIR/context"
  rm -rf "$CTX" && mkdir -p "$CTX"
  (cd "$REPO" && tar --exclude='crates/*/target' -cf - Cargo.toml Cargo.lock crates) | tar -xf - -C "$CTX"
  check ".dockerignore admits exactly Cargo.toml, Cargo.lock and crates/" \
    "$PY" -c 'import sys; lines = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
assert lines == ["*", "!Cargo.toml", "!Cargo.lock", "!crates/", "crates/**/target/"], lines' "$REPO/.dockerignore"
  TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
  static_build() {
    (cd "$CTX" && RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$STATIC_TARGET_DIR" \
      cargo build --release --locked -p rivulet --target "$TRIPLE")
  }
  started=$(date +%s)
  if static_build > "$WORK/static-build.log" 2>&1; then
    ok "cargo build --release --locked, +crt-static, $TRIPLE, from the build context ($(( $(date +%s) - started ))s)"
    SBIN="$WORK/rivulet-static"
    strip -o "$SBIN" "$STATIC_TARGET_DIR/$TRIPLE/release/rivulet"
    is_static() { ldd "$SBIN" 2>&1 | grep -Eq 'statically linked|not a dynamic executable'; }
    check "ldd: $(ldd "$SBIN" 2>&1 | head -n 1 | xargs) ($(( $(stat -c %s "$SBIN") / 1048576 )) MiB stripped)" is_static
    # --host localhost goes through getaddrinfo: name resolution works in the static binary.
    static_serves() {
      local port pid ok=1
      port="$(free_port)"
      (cd "$SRV/run" && exec "$SBIN" server --host localhost --port "$port" --otlp-grpc-port 0 \
        --backend-store-uri "sqlite:///$SRV/static.db" --artifacts-destination "$SRV/static-artifacts") > "$WORK/static.log" 2>&1 &
      pid=$!
      for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null | grep -qx OK && { ok=0; break; }; sleep 0.1; done
      kill -TERM "$pid"; wait "$pid"
      return $ok
    }
    check "the static binary serves /health (listening on --host localhost, resolved by getaddrinfo)" static_serves
    if command -v buildah >/dev/null; then
      # The Dockerfile's final stage, FROM scratch instead of distroless (no registry here): the
      # binary, /mlflow owned by 65532, the same user, environment and entrypoint. Then the
      # server runs inside it (no libc, no NSS modules, nothing but the binary) and must serve.
      BUILDAH=(buildah --storage-driver vfs)
      CTR=""
      oci_image() {
        mkdir -p "$WORK/empty"
        CTR="$("${BUILDAH[@]}" from scratch)" || return 1
        "${BUILDAH[@]}" copy --chown 65532:65532 "$CTR" "$SBIN" /usr/local/bin/rivulet >/dev/null &&
          "${BUILDAH[@]}" copy --chown 65532:65532 "$CTR" "$WORK/empty" /mlflow >/dev/null &&
          "${BUILDAH[@]}" config --user 65532:65532 --workingdir /mlflow --port 5000 --port 4317 \
            --env MLFLOW_BACKEND_STORE_URI=sqlite:////mlflow/mlflow.db --env MLFLOW_ARTIFACTS_DESTINATION=/mlflow/artifacts \
            --entrypoint '["/usr/local/bin/rivulet"]' --cmd 'server --host=0.0.0.0 --port=5000' "$CTR" &&
          "${BUILDAH[@]}" commit --quiet --format oci "$CTR" "oci-archive:$WORK/rivulet-oci.tar" >/dev/null
      }
      image_serves() {
        local port pid path=$1 ok=1
        port="$(free_port)"
        "${BUILDAH[@]}" run --isolation chroot "$CTR" -- /usr/local/bin/rivulet server --host localhost --port "$port" --otlp-grpc-port 0 \
          > "$WORK/container.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$port$path" > "$WORK/container.out" 2>/dev/null && { ok=0; break; }; sleep 0.1; done
        kill -TERM "$pid"; wait "$pid"
        [[ $ok -eq 0 ]] || tail -n 5 "$WORK/container.log"
        return $ok
      }
      if oci_image; then
        ok "buildah: OCI image FROM scratch with the static binary ($(( $(stat -c %s "$WORK/rivulet-oci.tar") / 1048576 )) MiB archive)"
        check "the image's server, as uid 65532 with nothing but the binary, serves /health" image_serves /health
        pending ready "the image's server is ready: SQLite on /mlflow, artifacts writable" image_serves /ready
      else
        fail "buildah: OCI image FROM scratch"
      fi
      [[ -n "$CTR" ]] && "${BUILDAH[@]}" rm "$CTR" >/dev/null
    else
      skip "OCI image with buildah (apt-get install buildah to include it)"
    fi
  else
    fail "static build"; tail -n 20 "$WORK/static-build.log" | sed 's/^/        /'
  fi
fi

# ---------------------------------------------------------------------------------------------
log "summary"
echo "deploy: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[[ $FAILED -eq 0 ]]
