#!/usr/bin/env bash
# Belvo's own SDKs against the emulator, unmodified (SPEC §15, issue 18):
#   - belvo-python (PyPI, pinned) in a venv of its own under the user's cache;
#   - belvo (npm, pinned) installed with `npm install --prefix` into the same cache;
# each runs its script in tests/sdk/ (login, the four products' tokens, links MX/BR/CO, detail,
# list, delete, owners, employment records and metrics, BR/CO employments followed page by page,
# open-finance accounts and transactions, the IMSS error rows, forbidden_by_host, Belvo-shaped
# 404/405) against two live emulators: `belvo-bff emulator` (standalone, at the root) and the one
# embedded in `belvo-bff serve` (under /emulator). Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh

BELVO_PYTHON_VERSION=0.39.1
BELVO_JS_VERSION=0.28.0

need curl curl
need node nodejs
need npm npm

cache="${XDG_CACHE_HOME:-$HOME/.cache}/belvo-bff"
venv="$cache/sdk-venv"
if [ ! -e "$venv/.pinned-$BELVO_PYTHON_VERSION" ]; then
  log "installing belvo-python $BELVO_PYTHON_VERSION in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "belvo-python==$BELVO_PYTHON_VERSION"
  touch "$venv/.pinned-$BELVO_PYTHON_VERSION"
fi
npm_dir="$cache/sdk-npm-$BELVO_JS_VERSION"
if [ ! -e "$npm_dir/.pinned" ]; then
  log "installing belvo (npm) $BELVO_JS_VERSION in $npm_dir"
  rm -rf "$npm_dir"
  mkdir -p "$npm_dir"
  npm install --silent --no-audit --no-fund --prefix "$npm_dir" "belvo@$BELVO_JS_VERSION"
  touch "$npm_dir/.pinned"
fi

log "cargo build (the belvo-bff binary)"
cargo build --quiet --bin belvo-bff
bin=target/debug/belvo-bff

workdir=$(mktemp -d -t belvo-bff-sdk.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

export BELVO_SECRET_ID=dev-secret-id BELVO_SECRET_PASSWORD=dev-secret-password

# start NAME URL COMMAND...: runs COMMAND in the background, waits until URL/api/ accepts the
# credentials.
start() {
  local name=$1 url=$2
  shift 2
  env -u REDIS_URL -u REDIS_CLUSTER_URLS -u BFF_CONFIG BELVO_ENV=embedded "$@" >"$workdir/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fs -u "$BELVO_SECRET_ID:$BELVO_SECRET_PASSWORD" "$url/api/" >/dev/null 2>&1 && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start" >&2
  cat "$workdir/$name.log" >&2
  exit 1
}

standalone_port=$(free_port)
start standalone "http://127.0.0.1:$standalone_port" "$bin" emulator --port "$standalone_port"
embedded_port=$(free_port)
start embedded "http://127.0.0.1:$embedded_port/emulator" env PORT="$embedded_port" "$bin" serve

status=0
for url in "http://127.0.0.1:$standalone_port" "http://127.0.0.1:$embedded_port/emulator"; do
  log "belvo-python $BELVO_PYTHON_VERSION against $url"
  BELVO_EMULATOR_URL="$url" "$venv/bin/python" tests/sdk/belvo_python_check.py || status=1
  log "belvo (npm) $BELVO_JS_VERSION against $url"
  BELVO_EMULATOR_URL="$url" NODE_PATH="$npm_dir/node_modules" node tests/sdk/belvo_js_check.js || status=1
done
exit "$status"
