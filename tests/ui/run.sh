#!/usr/bin/env bash
# Browser tests of the web UI: installs Debian's Chromium and playwright-core (no browser
# download), then runs ui.test.cjs with node's test runner against a freshly started server.
#
# Environment: RIVULET_BIN (default target/release/rivulet), UI_SCREENSHOTS (default
# target/ui-screenshots), CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
  echo "==> installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
if ! command -v node >/dev/null; then
  echo "==> installing node.js"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
cd "$HERE"
# playwright-core ships no browser and downloads none; the lockfile pins it.
wanted=$(node -p "require('./package.json').dependencies['playwright-core']")
installed=$(node -p "try { require('./node_modules/playwright-core/package.json').version } catch (e) { '' }")
if [[ "$installed" != "$wanted" ]]; then
  echo "==> npm ci (playwright-core)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

export RIVULET_BIN="${RIVULET_BIN:-$REPO/target/release/rivulet}"
export UI_SCREENSHOTS="${UI_SCREENSHOTS:-$REPO/target/ui-screenshots}"
mkdir -p "$UI_SCREENSHOTS"
echo "==> browser tests ($(/usr/bin/chromium --version 2>/dev/null || echo chromium)); screenshots in $UI_SCREENSHOTS"
node --test --test-concurrency=1 --test-reporter=spec ui.test.cjs
