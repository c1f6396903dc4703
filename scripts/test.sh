#!/usr/bin/env bash
# npm test: installs and starts everything the tests need, then runs every test file under test/
# with node's test runner, one file at a time (they share one Docker engine on a 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "node dependencies"
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
step "system packages (Docker engine, debootstrap, Chromium)"
bash scripts/system-deps.sh test
step "typecheck"
npm run --silent typecheck
step "web bundle"
node scripts/build-web.mjs
step "Docker engine and sandbox images"
node --import tsx scripts/prepare.ts
step "lab format (npm run labs -- validate)"
npm run --silent labs -- validate

step "lab proofs: every step's check fails before its solution and passes after (npm run labs -- test)"
npm run --silent labs -- test

step "tests"
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
