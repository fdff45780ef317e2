#!/usr/bin/env bash
# The Python host's CI: run from the repository root as `bash hosts/python/ci.sh`.
#
# Installs what is missing (python3-venv from Debian; git for the served example; maturin,
# pytest, ruff and psycopg[binary] (pinned) from PyPI into a venv under target/, never into
# the system), builds the policy module and the wheel, installs the wheel into the venv,
# lints the Python, starts a private PostgreSQL server (the testkit's pg-server, as a
# coprocess: FORGE_AUTHZ_PG_URL; FORGE_AUTHZ_SKIP_PG=1 skips it), replays the expanded
# corpus (expanded here only when FORGE_AUTHZ_CORPUS is unset) through the world, through
# fact callbacks and through the forge schema (SQLite, PostgreSQL), runs the other tests
# (the fault table, the served example with real git) and one short benchmark pass. Exits non-zero on any failure. (The Rust side is formatted and linted by
# the workspace's `cargo fmt` / `cargo clippy` in .ci/run: the crate is a member.)
#
#   FORGE_AUTHZ_PROFILE=debug    (default) the wheel in the dev profile: it shares the
#                                workspace's compiled dependencies (wasmtime at opt-level 1),
#                                so CI does not build wasmtime a second time
#   FORGE_AUTHZ_PROFILE=release  `maturin build --release`: the build the README's and
#                                BENCHMARKS.md's figures come from
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HOST=hosts/python
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export PYTHONDONTWRITEBYTECODE=1
VENV="$CARGO_TARGET_DIR/python-venv"
OUT="$CARGO_TARGET_DIR/python-host"
mkdir -p "$OUT"

step() { printf '\n== python host: %s\n' "$*"; }

# --- toolchain -----------------------------------------------------------------------------
step "toolchain"
apt_install() {
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
command -v python3 >/dev/null || apt_install python3 python3-venv
command -v git >/dev/null || apt_install git
command -v minisign >/dev/null || apt_install minisign   # tests/test_trust.py signs modules
if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
fi
PY="$VENV/bin/python"
need=()
"$PY" -c 'import pytest' 2>/dev/null || need+=(pytest)
[ -x "$VENV/bin/maturin" ] || need+=('maturin>=1.16,<2')
[ -x "$VENV/bin/ruff" ] || need+=(ruff)
# The forge schema's PostgreSQL driver (examples/forge_schema.py): psycopg 3 with its
# bundled libpq (the pyenv Python cannot see Debian's python3-psycopg).
"$PY" -c 'import psycopg; assert psycopg.__version__ == "3.3.9"' 2>/dev/null \
    || need+=('psycopg[binary]==3.3.9')
if [ ${#need[@]} -gt 0 ]; then
    "$PY" -m pip install -q --disable-pip-version-check "${need[@]}"
fi
"$PY" --version
"$VENV/bin/maturin" --version

# --- build -----------------------------------------------------------------------------------
step "policy module"
cargo build -q --locked -p forge-authz-guest --target wasm32-wasip2 --profile policy
export FORGE_AUTHZ_WASM="${FORGE_AUTHZ_WASM:-$CARGO_TARGET_DIR/wasm32-wasip2/policy/forge_authz_guest.wasm}"
echo "module: $FORGE_AUTHZ_WASM sha256 $(sha256sum "$FORGE_AUTHZ_WASM" | cut -d' ' -f1)"

profile="${FORGE_AUTHZ_PROFILE:-debug}"
case "$profile" in
    debug) maturin_profile=() ;;
    release) maturin_profile=(--release) ;;
    *) echo "FORGE_AUTHZ_PROFILE must be debug or release, not $profile" >&2; exit 2 ;;
esac
step "wheel (maturin build, $profile)"
rm -rf "$OUT/wheels"
"$VENV/bin/maturin" build "${maturin_profile[@]}" --locked --quiet -m "$HOST/Cargo.toml" -i "$PY" -o "$OUT/wheels"
WHEEL="$(ls "$OUT"/wheels/forge_authz-*.whl)"
"$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
"$PY" - "$WHEEL" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for want in ("forge_authz/__init__.pyi", "forge_authz/py.typed"):
    assert want in names, f"{want} missing from the wheel: {names}"
print("wheel:", sys.argv[1].rsplit("/", 1)[-1], "with the stub and py.typed")
EOF

# --- lint ------------------------------------------------------------------------------------
step "lint (ruff)"
"$VENV/bin/ruff" check --no-cache "$HOST"

# --- tests -----------------------------------------------------------------------------------
if [ -z "${FORGE_AUTHZ_CORPUS:-}" ]; then
    step "expanded corpus"
    rm -rf "$OUT/corpus-expanded"
    cargo run -q --locked -p forge-authz-tests --bin expand-corpus -- "$OUT/corpus-expanded"
    export FORGE_AUTHZ_CORPUS="$OUT/corpus-expanded"
fi
echo "corpus: $FORGE_AUTHZ_CORPUS ($(ls "$FORGE_AUTHZ_CORPUS"/*.json | wc -l) families)"

step "PostgreSQL (testkit pg-server)"
# A private server for this run (the corpus and the served example on PostgreSQL).
# shellcheck source=../pg-server.sh
source "$ROOT/hosts/pg-server.sh"
start_pg

step "pytest"
# Run from the package directory so `import forge_authz` is the installed wheel.
(cd "$HOST" && "$PY" -m pytest -p no:cacheprovider -q -rs tests)
stop_pg

# --- benchmark -------------------------------------------------------------------------------
step "benchmark (short pass)"
"$PY" "$HOST/bench/bench_decide.py" --runs 3 --seconds 0.2
