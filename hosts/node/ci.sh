#!/usr/bin/env bash
# The Node host's CI, run from the repository root:
#   bash hosts/node/ci.sh
# Installs node/npm and git if missing (Debian), `npm ci` (jco, and sql.js for the forge-schema
# example, pinned by package-lock.json), builds the policy module if FORGE_AUTHZ_WASM is unset
# and it is missing, transpiles that module with jco
# into hosts/node/generated/ (gitignored), expands the corpus if FORGE_AUTHZ_CORPUS is unset,
# lints (node --check, tsc over index.d.ts and the TypeScript example), runs the tests (the
# whole corpus replayed: the world, callbacks, the forge schema on SQLite and, with the testkit's
# pg-server started here as a coprocess, on PostgreSQL) and one short benchmark pass. Exits
# non-zero on any failure.
#
# FORGE_AUTHZ_WASM: the policy component (default target/wasm32-wasip2/policy/forge_authz_guest.wasm).
# FORGE_AUTHZ_CORPUS: the expanded corpus (default: expanded here into target/node-host/corpus).
# FORGE_AUTHZ_SKIP_HOSTS=1: with FORGE_AUTHZ_CORPUS unset, no corpus is expanded and its replay
# reports SKIPPED (the other tests still run).
# FORGE_AUTHZ_PG_URL: a PostgreSQL database to use (default: a private pg-server is started);
# FORGE_AUTHZ_SKIP_PG=1: none (the PostgreSQL replay reports SKIPPED).
set -euo pipefail

root=$(pwd)
here="$root/hosts/node"
[ -f "$here/package.json" ] || { echo "hosts/node/ci.sh: run it from the repository root" >&2; exit 2; }
step() { printf '\n== node host: %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "node and npm"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm
fi
echo "node $(node --version), npm $(npm --version)"
# The served example's test runs real `git clone` / `git push` through `git http-backend`.
if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path)/git-http-backend" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends git
fi
echo "$(git --version), http-backend $(git --exec-path)/git-http-backend"
# Module trust's tests sign with the real minisign (test/trust.test.js).
if ! command -v minisign >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends minisign >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq --no-install-recommends minisign; }
fi
echo "$(minisign -v)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || { echo "node $major is too old: 18 or later is needed" >&2; exit 1; }

if [ -z "${FORGE_AUTHZ_WASM:-}" ]; then
  export FORGE_AUTHZ_WASM="$root/target/wasm32-wasip2/policy/forge_authz_guest.wasm"
  if [ ! -s "$FORGE_AUTHZ_WASM" ]; then
    step "policy module (cargo policy)"
    cargo build -p forge-authz-guest --target wasm32-wasip2 --profile policy
  fi
fi
[ -s "$FORGE_AUTHZ_WASM" ] || { echo "FORGE_AUTHZ_WASM=$FORGE_AUTHZ_WASM: no such module" >&2; exit 1; }
FORGE_AUTHZ_WASM=$(cd "$(dirname "$FORGE_AUTHZ_WASM")" && pwd)/$(basename "$FORGE_AUTHZ_WASM")
export FORGE_AUTHZ_WASM
echo "module: $FORGE_AUTHZ_WASM sha256 $(sha256sum "$FORGE_AUTHZ_WASM" | cut -d' ' -f1)"

step "npm ci"
if [ -f "$here/node_modules/.package-lock.json" ] && cmp -s "$here/package-lock.json" "$here/node_modules/.forge-authz-lock"; then
  echo "node_modules is up to date with package-lock.json"
else
  (cd "$here" && npm ci --no-audit --no-fund)
  cp "$here/package-lock.json" "$here/node_modules/.forge-authz-lock"
fi

step "transpile with jco"
(cd "$here" && node scripts/transpile.js "$FORGE_AUTHZ_WASM")

if [ -z "${FORGE_AUTHZ_CORPUS:-}" ] && [ "${FORGE_AUTHZ_SKIP_HOSTS:-}" != 1 ]; then
  step "expanded corpus"
  export FORGE_AUTHZ_CORPUS="$root/target/node-host/corpus"
  rm -rf "$FORGE_AUTHZ_CORPUS"
  cargo run -q -p forge-authz-tests --bin expand-corpus -- "$FORGE_AUTHZ_CORPUS"
fi
echo "corpus: ${FORGE_AUTHZ_CORPUS:-(none: FORGE_AUTHZ_SKIP_HOSTS=1)}"

step "lint (node --check, tsc: index.d.ts, examples/forge.ts)"
(cd "$here" && for f in index.js bench.js lib/*.js scripts/*.js test/*.js examples/*.js; do node --check "$f"; done)
(cd "$here" && npx --no-install tsc -p tsconfig.json)

step "PostgreSQL (testkit pg-server)"
# A private server for this run (the corpus and the served example on PostgreSQL).
# shellcheck source=../pg-server.sh
source "$root/hosts/pg-server.sh"
start_pg

step "tests (node --test)"
(cd "$here" && node --test test/*.test.js)
stop_pg

step "benchmark (short pass; README.md has the figure)"
(cd "$here" && node bench.js 3 20000)
