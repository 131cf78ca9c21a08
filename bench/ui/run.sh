#!/usr/bin/env bash
# UI benchmarks: generates (once) a SQLite database with a 1,000,000-trace experiment and
# 5,000/30,000-span traces, then measures the traces page and trace opening in Chromium.
#
# Usage: bench/ui/run.sh      Knobs: TRACES=1000000  REPEAT=15  RIVULET_BIN=<binary>
#        OUT=<dir> (default target/bench-results/ui-<timestamp>)  REGENERATE=1
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TRACES=${TRACES:-1000000}
OUT=${OUT:-$REPO/target/bench-results/ui-$(date +%Y%m%d-%H%M%S)}
DATA=${DATA:-$REPO/target/bench-data/ui-$TRACES}
export RIVULET_BIN="${RIVULET_BIN:-$REPO/target/release/rivulet}"
mkdir -p "$OUT" "$DATA"

# The browser tests' installer brings Chromium and playwright-core.
if [[ ! -x /usr/bin/chromium || ! -d "$REPO/tests/ui/node_modules/playwright-core" ]]; then
  (cd "$REPO/tests/ui" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  [[ -x /usr/bin/chromium ]] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
fi
if [[ ! -f "$DATA/ids.json" || -n "${REGENERATE:-}" ]]; then
  echo "==> generating $TRACES traces into $DATA/bench.db"
  cargo build --release --manifest-path "$HERE/Cargo.toml" --target-dir "${CARGO_TARGET_DIR:-$REPO/target}"
  "${CARGO_TARGET_DIR:-$REPO/target}/release/ui-bench-data" "$DATA/bench.db" "$TRACES" > "$DATA/ids.json.tmp"
  mv "$DATA/ids.json.tmp" "$DATA/ids.json"
fi
echo "==> measuring (results in $OUT/results.json)"
node "$HERE/bench.cjs" "$DATA/bench.db" "$DATA/ids.json" "$OUT/results.json"
