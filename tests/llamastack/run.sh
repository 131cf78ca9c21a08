#!/usr/bin/env bash
# End-to-end test of the reference deployment's trace path: real LLaMA Stack 0.7.3 (pip) exporting
# OTLP/HTTP straight into a Rivulet server, checked through the REST API and in Chromium.
# Owns its Python 3.12 venv; skips (exit 0) where no Python 3.12 exists, since LLaMA Stack
# requires it and the project's machines only promise 3.11.
#
# Usage: tests/llamastack/run.sh [extra pytest args]
#
# Environment:
#   RIVULET_BIN             server binary (default: $REPO/target/release/rivulet)
#   LLAMASTACK_PYTHON       a Python 3.12 interpreter (default: python3.12, then pyenv's 3.12.x)
#   LLAMASTACK_VENV         venv location (default: $REPO/target/llamastack-venv), reused when
#                           complete for exactly this requirements.txt + constraints.txt
#   LLAMASTACK_SCREENSHOTS  where the UI check saves PNGs (default: $REPO/target/llamastack-screenshots)
#   LLAMASTACK_KEEP_WORKDIR 1: keep the scratch directory (process logs, databases) even on success
#   CHROMIUM                browser binary (default: /usr/bin/chromium; installed from Debian if missing)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${LLAMASTACK_VENV:-$REPO/target/llamastack-venv}"
export RIVULET_BIN="${RIVULET_BIN:-$REPO/target/release/rivulet}"
export LLAMASTACK_SCREENSHOTS="${LLAMASTACK_SCREENSHOTS:-$REPO/target/llamastack-screenshots}"

log() { printf '==> %s\n' "$*"; }
die() { printf 'tests/llamastack/run.sh: %s\n' "$*" >&2; exit 2; }

is_python312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

# A pyenv shim named python3.12 exists even where pyenv's selected version is not 3.12, so each
# candidate is run, not just looked up.
find_python() {
  local candidate pyenv_root
  pyenv_root="$(pyenv root 2>/dev/null || true)"
  for candidate in python3.12 ${pyenv_root:+"$pyenv_root"/versions/3.12*/bin/python3.12}; do
    if is_python312 "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if [[ -n "${LLAMASTACK_PYTHON:-}" ]]; then
  is_python312 "$LLAMASTACK_PYTHON" || die "LLAMASTACK_PYTHON=$LLAMASTACK_PYTHON is not a working Python 3.12"
  PYTHON="$LLAMASTACK_PYTHON"
elif ! PYTHON="$(find_python)"; then
  echo "SKIP: tests/llamastack: no Python 3.12 interpreter found (LLaMA Stack 0.7.3 requires it; set LLAMASTACK_PYTHON)"
  exit 0
fi
[[ -x "$RIVULET_BIN" ]] || die "Rivulet binary not found or not executable: $RIVULET_BIN (build it or set RIVULET_BIN)"

# ---------------------------------------------------------------------------------------------
# Python venv: llama-stack and its pins (about 800 MB; minutes on a cold pip cache)
# ---------------------------------------------------------------------------------------------
stamp="$VENV/.llamastack-venv-complete"
want="$(cat "$HERE/requirements.txt" "$HERE/constraints.txt"; "$PYTHON" --version 2>&1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/python" ]]; then
  log "reusing venv $VENV"
else
  log "creating venv $VENV with $("$PYTHON" --version 2>&1) (pip install llama-stack==0.7.3 ...)"
  rm -f "$stamp"
  "$PYTHON" -m venv --clear "$VENV" || die "venv creation failed"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$HERE/requirements.txt" -c "$HERE/constraints.txt" || die "pip install failed"
  printf '%s' "$want" > "$stamp"
fi

# ---------------------------------------------------------------------------------------------
# Browser: Debian's Chromium, node, and playwright-core from the browser suite's own lockfile
# ---------------------------------------------------------------------------------------------
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}
[[ -x "${CHROMIUM:-/usr/bin/chromium}" ]] || { log "installing Debian's chromium"; apt_install chromium fonts-dejavu-core; }
command -v node >/dev/null || { log "installing node.js"; apt_install nodejs npm; }
UI_DIR="$REPO/tests/ui"
wanted=$(cd "$UI_DIR" && node -p "require('./package.json').dependencies['playwright-core']")
installed=$(cd "$UI_DIR" && node -p "try { require('./node_modules/playwright-core/package.json').version } catch (e) { '' }")
if [[ "$installed" != "$wanted" ]]; then
  log "npm ci in tests/ui (playwright-core $wanted, no browser download)"
  (cd "$UI_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rivulet-llamastack.XXXXXX")"
mkdir -p "$LLAMASTACK_SCREENSHOTS"
log "LLaMA Stack 0.7.3 -> Rivulet ($RIVULET_BIN); scratch $WORK; screenshots in $LLAMASTACK_SCREENSHOTS"
rc=0
(
  cd "$HERE" && LLAMASTACK_WORK_DIR="$WORK" "$VENV/bin/python" -m pytest "$HERE/test_llamastack.py" \
    --rootdir "$HERE" -p no:cacheprovider -r fEs --tb=short "$@"
) || rc=$?
if [[ $rc -ne 0 || "${LLAMASTACK_KEEP_WORKDIR:-0}" == 1 ]]; then
  log "kept scratch directory $WORK (process logs, databases)"
else
  rm -rf "$WORK"
fi
exit $rc
