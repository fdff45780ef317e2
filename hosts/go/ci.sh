#!/usr/bin/env bash
# CI for the Go host (hosts/go), run from the repository root:
#   bash hosts/go/ci.sh
# Installs Debian's Go (and gcc, for cgo), git, minisign (trust_test.go), and the database drivers of the forge-schema
# example (golang-github-mattn-go-sqlite3-dev, golang-github-lib-pq-dev) if missing, builds
# the C ABI library and the policy module (no-ops when cargo finds them fresh), expands the
# scenario corpus unless FORGE_AUTHZ_CORPUS names one, starts a private PostgreSQL server
# (testkit's pg-server, as a coprocess: FORGE_AUTHZ_PG_URL), then gofmt, go vet, go test
# (with the race detector when it builds here) of the core module and of example/forgedb,
# and one short benchmark pass. Prints the module digest the corpus ran on and the scenario
# counts. Exits non-zero on any failure.
#
# Environment:
#   FORGE_AUTHZ_PROFILE=release  link target/release (cargo --release, -tags forgeauthz_release);
#                                also builds and runs testdata/cabi_bench.c (the C ABI's cost)
#   FORGE_AUTHZ_CORPUS=DIR       an expanded corpus to replay as it is (default: a fresh one in
#                                target/go-host/corpus-expanded)
#   FORGE_AUTHZ_WASM=FILE        the module the corpus and hot-swap tests run (default: what
#                                `cargo policy` builds, target/wasm32-wasip2/policy/)
#   FORGE_AUTHZ_SKIP_HOSTS=1     the corpus replay reports SKIPPED (nothing expanded)
#   FORGE_AUTHZ_BENCHTIME=D      go test -benchtime of the benchmark pass (default 200ms)
#   FORGE_AUTHZ_SKIP_PG=1        no PostgreSQL server: its tests print SKIPPED
#   FORGE_AUTHZ_PG_URL=URL       a PostgreSQL database to use instead of starting one
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

say() { printf '== hosts/go: %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

# --- toolchain: Debian's golang-go (no Go proxy is reachable; this module needs none) ---
apt_install() {
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; then
		apt-get update >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null
	fi
}
if ! command -v go >/dev/null 2>&1; then
	say "installing golang-go (apt-get)"
	apt_install golang-go
fi
if ! command -v gcc >/dev/null 2>&1; then
	say "installing gcc (cgo)"
	apt_install gcc libc6-dev
fi
if ! command -v git >/dev/null 2>&1; then
	say "installing git (the served example's clones and pushes)"
	apt_install git
fi
if ! command -v minisign >/dev/null 2>&1; then
	say "installing minisign (trust_test.go signs modules with it)"
	apt_install minisign
fi
# example/forgedb's drivers: Debian's sources (with their go.mod), named by replace
# directives in its go.mod (no Go proxy is reachable).
gocode=/usr/share/gocode/src/github.com
if [ ! -f "$gocode/mattn/go-sqlite3/go.mod" ] || [ ! -f "$gocode/lib/pq/go.mod" ]; then
	say "installing golang-github-mattn-go-sqlite3-dev golang-github-lib-pq-dev (apt-get)"
	apt_install golang-github-mattn-go-sqlite3-dev golang-github-lib-pq-dev
fi
export CGO_ENABLED=1 GOPROXY=off GO111MODULE=on
say "$(go version)"

# --- the C ABI library, the module and the corpus ---
profile="${FORGE_AUTHZ_PROFILE:-debug}"
tags=()
cargo_profile=()
if [ "$profile" = release ]; then
	tags=(-tags forgeauthz_release)
	cargo_profile=(--release)
elif [ "$profile" != debug ]; then
	echo "FORGE_AUTHZ_PROFILE must be debug or release, not $profile" >&2
	exit 2
fi
say "building libforge_authz ($profile)"
cargo build -q -p forge-authz-ffi "${cargo_profile[@]}"
test -f "target/$profile/libforge_authz.a"
# Go's build cache does not hash a library named in #cgo LDFLAGS: a define carrying its
# digest makes a rebuilt library relink the package (CGO_CFLAGS is part of the cache key).
lib_sum="$(sha256sum "target/$profile/libforge_authz.a" | cut -c1-16)"
export CGO_CFLAGS="${CGO_CFLAGS:--g -O2} -DFORGE_AUTHZ_LIB_SHA256_PREFIX=$lib_sum"

if [ -z "${FORGE_AUTHZ_WASM:-}" ]; then
	FORGE_AUTHZ_WASM="$root/target/wasm32-wasip2/policy/forge_authz_guest.wasm"
	if [ ! -s "$FORGE_AUTHZ_WASM" ]; then
		say "building the policy module (cargo policy)"
		cargo build -q -p forge-authz-guest --target wasm32-wasip2 --profile policy
	fi
fi
case "$FORGE_AUTHZ_WASM" in /*) ;; *) FORGE_AUTHZ_WASM="$root/$FORGE_AUTHZ_WASM" ;; esac
test -s "$FORGE_AUTHZ_WASM" || { echo "FORGE_AUTHZ_WASM=$FORGE_AUTHZ_WASM: no such module" >&2; exit 1; }
export FORGE_AUTHZ_WASM
say "module $FORGE_AUTHZ_WASM: sha256 $(sha256sum "$FORGE_AUTHZ_WASM" | cut -d' ' -f1)"

if [ "${FORGE_AUTHZ_SKIP_HOSTS:-}" != 1 ]; then
	if [ -z "${FORGE_AUTHZ_CORPUS:-}" ]; then
		# Token ids differ between runs: expanded fresh, into this host's own directory
		# (other hosts' CI may be reading target/corpus-expanded at the same time).
		say "expanding the corpus"
		rm -rf target/go-host/corpus-expanded
		cargo run -q -p forge-authz-tests --bin expand-corpus -- target/go-host/corpus-expanded >/dev/null
		export FORGE_AUTHZ_CORPUS="$root/target/go-host/corpus-expanded"
	fi
	case "$FORGE_AUTHZ_CORPUS" in /*) ;; *) FORGE_AUTHZ_CORPUS="$root/$FORGE_AUTHZ_CORPUS" ;; esac
	export FORGE_AUTHZ_CORPUS
	if ! ls "$FORGE_AUTHZ_CORPUS"/*.json >/dev/null 2>&1; then
		echo "no expanded corpus in $FORGE_AUTHZ_CORPUS" >&2
		exit 1
	fi
fi

# --- PostgreSQL for example/forgedb (testkit's pg-server: its URL on the first line; it
# stops when its stdin, our end of the coprocess, closes) ---
# shellcheck source=../pg-server.sh
source "$root/hosts/pg-server.sh"
if [ "${FORGE_AUTHZ_SKIP_HOSTS:-}" != 1 ]; then
	start_pg
fi

# --- Go ---
cd hosts/go
say "gofmt -l, go vet"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go vet "${tags[@]}" ./...
(cd example/forgedb && go vet "${tags[@]}" ./...)

race=()
if go test "${tags[@]}" -race -count=1 -run '^$' ./... >/dev/null 2>&1; then
	race=(-race)
	say "go test -race"
else
	say "go test (the race detector does not build here)"
fi
log="$root/target/go-host/test.log"
mkdir -p "$(dirname "$log")"
go test "${tags[@]}" "${race[@]}" -count=1 -v ./... 2>&1 | tee "$log"
grep -E '^(corpus|SKIPPED):' "$log" || { echo "the corpus replay printed no result" >&2; exit 1; }
say "example/forgedb: the corpus through the forge schema, real git over HTTP (SQLite, PostgreSQL)"
dblog="$root/target/go-host/forgedb.log"
(cd example/forgedb && go test "${tags[@]}" "${race[@]}" -count=1 -v ./...) 2>&1 | tee "$dblog"
grep -E '^(corpus|SKIPPED):' "$dblog" || { echo "the schema replay printed no result" >&2; exit 1; }

say "benchmark (one short pass; README.md has the figure and the command)"
go test "${tags[@]}" -count=1 -run '^$' -bench DecideTokenPull -benchtime "${FORGE_AUTHZ_BENCHTIME:-200ms}" .
if [ "$profile" = release ]; then
	cc -O2 -I"$root/ffi/include" testdata/cabi_bench.c "$root/target/release/libforge_authz.a" \
		-lpthread -ldl -lm -lrt -lutil -o "$root/target/go-host/cabi_bench"
	"$root/target/go-host/cabi_bench" 1
fi
say "passed"
