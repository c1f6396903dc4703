#!/usr/bin/env bash
# npm start: dependencies, web bundle, then the server (which brings up Docker and the images).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f node_modules/.package-lock.json ] || npm install --no-audit --no-fund
node scripts/build-web.mjs
exec node --import tsx server/main.ts
