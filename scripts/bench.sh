#!/usr/bin/env bash
# npm run bench [-- --quick]: prepares like the tests do (Chromium, nginx and the images too), then prints the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
bash scripts/system-deps.sh test
node --import tsx scripts/prepare.ts >/dev/null
exec node --expose-gc --import tsx scripts/bench.ts "$@"
