#!/usr/bin/env bash
# Checks belvo-bff as a new user would meet it, against the real binary on a free port
# (embedded defaults, in-memory store):
#   - openapi-spec-validator on GET /openapi.json;
#   - Schemathesis (time-boxed) on every operation, with a real session and link filled in and
#     the app, staff and webhook tokens: no server errors, no undocumented status, no answer
#     outside its schema;
#   - promtool check metrics on GET /metrics.
# The Python tools live in a venv of their own (pinned versions) under the user's cache; promtool
# comes from Debian's prometheus package. Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh

OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
SCHEMATHESIS_VERSION=4.32.5
# Seconds Schemathesis may spend on the whole run.
SCHEMATHESIS_MAX_TIME=${SCHEMATHESIS_MAX_TIME:-120}

need curl curl
need promtool prometheus

venv="${XDG_CACHE_HOME:-$HOME/.cache}/belvo-bff/venv"
stamp="$venv/.pinned-$OPENAPI_SPEC_VALIDATOR_VERSION-$SCHEMATHESIS_VERSION"
if [ ! -e "$stamp" ]; then
  log "installing openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION and schemathesis $SCHEMATHESIS_VERSION in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
  touch "$stamp"
fi

log "cargo build (the belvo-bff binary)"
cargo build --quiet --bin belvo-bff
bin=target/debug/belvo-bff

workdir=$(mktemp -d -t belvo-bff-live.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT

port=$(free_port)
base="http://127.0.0.1:$port"
log "starting $bin on $base (embedded, in-memory)"
# Only what the server reads from the environment is reset: no Redis, embedded Belvo.
env -u REDIS_URL -u REDIS_CLUSTER_URLS -u BFF_CONFIG BELVO_ENV=embedded PORT="$port" \
  "$bin" serve >"$workdir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
curl -fs "$base/readyz" >/dev/null || { echo "the server did not become ready" >&2; cat "$workdir/server.log" >&2; exit 1; }

BFF_APP_TOKEN=$("$bin" token --sub schemathesis)
BFF_STAFF_TOKEN=$("$bin" token --sub schemathesis-admin --role admin)
BFF_WEBHOOK_TOKEN=dev-webhook-token # embedded mode's documented development default
export BFF_APP_TOKEN BFF_STAFF_TOKEN BFF_WEBHOOK_TOKEN

# A real session and a real link of that user, so operations on them get past 404.
post() {
  curl -fsS -X POST "$base$1" -H "Authorization: Bearer $BFF_APP_TOKEN" \
    -H 'Content-Type: application/json' -d "$2"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
BFF_SESSION_ID=$(post /v1/widget-sessions '{"product": "mx_employment", "platform": "ios"}' | field session_id)
BFF_LINK_ID=$(post /v1/links '{"product": "co_employment", "username": "1020304050"}' | field link_id)
export BFF_SESSION_ID BFF_LINK_ID
log "session $BFF_SESSION_ID, link $BFF_LINK_ID"

log "openapi-spec-validator $base/openapi.json"
curl -fsS "$base/openapi.json" >"$workdir/openapi.json"
"$venv/bin/openapi-spec-validator" "$workdir/openapi.json"

log "promtool check metrics $base/metrics"
curl -fsS "$base/metrics" | promtool check metrics

log "schemathesis (at most ${SCHEMATHESIS_MAX_TIME}s)"
# Run from the temporary directory: Schemathesis keeps a cache in its working directory.
config="$PWD/scripts/schemathesis.toml"
(cd "$workdir" && "$venv/bin/schemathesis" --config-file "$config" \
  run "$base/openapi.json" --max-time "$SCHEMATHESIS_MAX_TIME" --seed 1) \
  || { echo "schemathesis found problems (server log follows)" >&2; tail -n 50 "$workdir/server.log" >&2; exit 1; }

log "promtool check metrics (after Schemathesis)"
curl -fsS "$base/metrics" | promtool check metrics
