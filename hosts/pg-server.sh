# shellcheck shell=bash
# Sourced by hosts/*/ci.sh (issue 22): a private PostgreSQL server for one host's run — the
# testkit's pg-server as a coprocess (testkit/src/bin/pg-server.rs). `start_pg` exports its
# URL (the first line it prints) as FORGE_AUTHZ_PG_URL; `stop_pg` closes its stdin, which
# stops the server and removes its data; `start_pg` also arranges that on EXIT, so the
# server never outlives the script (and pg-server itself stops when its parent dies).
#   FORGE_AUTHZ_SKIP_PG=1, or no PostgreSQL server binaries: SKIPPED, no URL (the tests
#   that need one print SKIPPED too, and never count as a pass);
#   FORGE_AUTHZ_PG_URL already set: that database, nothing started;
#   pg-server failing otherwise: the run fails.
# Needs the repository root as the current directory (cargo runs the bin from there).

pg_pid=

start_pg() {
  if [ "${FORGE_AUTHZ_SKIP_PG:-}" = 1 ]; then
    unset FORGE_AUTHZ_PG_URL
    echo "SKIPPED: PostgreSQL tests (FORGE_AUTHZ_SKIP_PG=1)"
    return 0
  fi
  if [ -n "${FORGE_AUTHZ_PG_URL:-}" ]; then
    echo "PostgreSQL: given (${FORGE_AUTHZ_PG_URL%%\?*})"
    return 0
  fi
  coproc PG { exec cargo run --locked -q -p forge-authz-testkit --bin pg-server; }
  pg_pid=$PG_PID
  IFS= read -r FORGE_AUTHZ_PG_URL <&"${PG[0]}" || FORGE_AUTHZ_PG_URL=
  if [ -n "$FORGE_AUTHZ_PG_URL" ]; then
    export FORGE_AUTHZ_PG_URL
    echo "PostgreSQL: ${FORGE_AUTHZ_PG_URL%%\?*}"
    trap stop_pg EXIT
  elif wait "$pg_pid"; then
    pg_pid=
    unset FORGE_AUTHZ_PG_URL
    echo "SKIPPED: PostgreSQL tests (pg-server: no server binaries)"
  else
    echo "pg-server failed" >&2
    exit 1
  fi
}

stop_pg() {
  if [ -n "$pg_pid" ]; then
    exec {PG[1]}>&-
    wait "$pg_pid" || true
    pg_pid=
  fi
}
