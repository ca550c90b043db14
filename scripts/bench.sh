#!/usr/bin/env bash
# Benchmarks the BFF's hot paths against a floor (bench/floor: the same Redis round trip and
# nothing else) and a peer (bench/peer-node: Express + ioredis), all on one Redis started here,
# and writes the results into BENCHMARKS.md between its "bench:results" markers.
#
# Everything it starts (redis-server, the BFF, the floor, the peer, wrk) listens on or talks to
# 127.0.0.1 only, on free ports, and is stopped on exit. It never touches another Redis.
# After the build the fixed part takes about 8 minutes (9.5 with BENCH_LONG=1; from a fresh clone on
# a 2-core machine the build takes about 6 more); the memory soak then gets what is left
# of BENCH_BUDGET seconds (counted from the start, build included) and the report says how many
# callbacks it reached.
#
# Tunables (environment), with their defaults:
#   BENCH_DURATION=4 (s per round of a case)   BENCH_ROUNDS=3      BENCH_WARMUP=2 (s)
#   BENCH_CONNECTIONS=32   BENCH_THREADS=2      BENCH_POOL=5000 (sessions per case)
#   BENCH_SOAK_TARGET=1000000 (callbacks)      BENCH_COUNT=500 (requests per command count)
#   BENCH_BUDGET=720 (s)   BENCH_OUT=BENCHMARKS.md   BENCH_FUNNEL_RUNS=10 (page loads)
#   BENCH_LONG=0: 1 runs the long cases too (10,000 waiting long-polls from 1,000 users, about
#                 a minute more; by default the long-poll case runs 2,000, 200 users x 10) and
#                 the comparisons no issue target reads (the Express + ioredis peer, the BFF at
#                 log level info: about a minute more), so that a default run from a fresh
#                 clone, build included, stays within 15 minutes on a 2-core machine
#   BENCH_CREATE_LATENCY=300ms (the standalone emulator's emulator.latency for the realistic
#                 session-creation case)   BENCH_CREATE_CLIENTS=200   BENCH_CREATE_SECONDS=10
#   BENCH_FIRST_POOL=40000 (first successes prepared, a share per round)
#   BENCH_DELIVERY_SESSIONS=20000 (sessions finished at once for the event delivery case)
#
# `scripts/bench.sh funnel` runs only the funnel page case (see funnel_case) and prints it;
# `scripts/bench.sh bytes` only the bytes table (see redis_report), in under a minute after the
# build.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-4}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
POOL=${BENCH_POOL:-5000}
SOAK_TARGET=${BENCH_SOAK_TARGET:-1000000}
COUNT=${BENCH_COUNT:-500}
BUDGET=${BENCH_BUDGET:-720}
OUT=${BENCH_OUT:-BENCHMARKS.md}
LONG=${BENCH_LONG:-0}
# The peer and the BFF at log level info run with BENCH_LONG=1 only.
PEER=""
[ "$LONG" = 1 ] && PEER=1
PEER_URL="" PEER_PID="" INFO_URL="" INFO_PID=""
CREATE_LATENCY=${BENCH_CREATE_LATENCY:-300ms}
CREATE_CLIENTS=${BENCH_CREATE_CLIENTS:-200}
CREATE_SECONDS=${BENCH_CREATE_SECONDS:-10}
FIRST_POOL=${BENCH_FIRST_POOL:-40000}
DELIVERY_SESSIONS=${BENCH_DELIVERY_SESSIONS:-20000}
PREFIX=bench
USER_SUB=bench-user@example.com
WEBHOOK_TOKEN=bench-webhook-token

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
BFF_BIN=$CARGO_TARGET_DIR/release/belvo-bff
FLOOR_BIN=$CARGO_TARGET_DIR/release/bench-floor

log() { printf '==> [%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
# The server's key of a session or link (KIND ID): its shard tag, as src/store/keys.rs names it.
key() { bench/keys.py "$PREFIX" "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
# Tools, build, processes
# ---------------------------------------------------------------------------------------------

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 from Debian's packages"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

build() {
  local what="the BFF and the floor"
  [ -z "$PEER" ] || what="$what, and the peer's node_modules"
  log "building release binaries ($what)"
  # One build for both: the floor's dependencies are the BFF's (one workspace), compiled once.
  cargo build --release --locked --quiet -p belvo-bff -p bench-floor
  # npm ci only when the lock file changed since the last install, to keep reruns fast.
  if [ -n "$PEER" ] && { [ ! -f bench/peer-node/node_modules/.package-lock.json ] ||
    [ bench/peer-node/package-lock.json -nt bench/peer-node/node_modules/.package-lock.json ]; }; then
    (cd bench/peer-node && npm ci --no-audit --no-fund --silent)
  fi
}

workdir=$(mktemp -d -t belvo-bff-bench.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

# start NAME COMMAND...: runs a server in the background, output in $workdir/NAME.log.
# Sets LAST_PID (a plain variable: $(...) would lose the pid list in a subshell).
start() {
  local name=$1
  shift
  "$@" >"$workdir/$name.log" 2>&1 &
  LAST_PID=$!
  pids+=("$LAST_PID")
}

# wait_http NAME URL: until URL answers at all (any status), or the server died.
wait_http() {
  local name=$1 url=$2 _
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$url" && return 0
    sleep 0.1
  done
  cat "$workdir/$name.log" >&2
  die "$name did not start"
}

start_redis() {
  REDIS_PORT=$(free_port)
  start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$workdir"
  local _
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "redis-server did not start"
}

# start_bff NAME LOG_LEVEL KEY_PREFIX [VAR=VALUE...]: the BFF on Redis, embedded emulator (or
# the one at $BFF_BELVO_URL when set), with the extra environment given. The benchmark user
# opens far more sessions than one person may (limits.token_requests_*), so those are lifted.
# No outbound events unless an endpoint is configured: the embedded demo's own receiver
# (notify.demo_receiver, an events endpoint on the BFF itself) is off, as it is in production.
# Sets LAST_PID and LAST_URL.
start_bff() {
  local port
  port=$(free_port)
  start "$1" env -u RUST_LOG REDIS_URL="redis://127.0.0.1:$REDIS_PORT" PORT="$port" \
    BFF__LIMITS__TOKEN_REQUESTS_PER_MINUTE=1000000000 BFF__LIMITS__TOKEN_REQUESTS_PER_DAY=1000000000 \
    BFF__STORE__KEY_PREFIX="$3" BFF__LOG__LEVEL="$2" BFF_WEBHOOK_TOKEN="$WEBHOOK_TOKEN" \
    BFF__NOTIFY__DEMO_RECEIVER=false \
    ${BFF_BELVO_URL:+BFF__BELVO__BASE_URL=$BFF_BELVO_URL} "${@:4}" "$BFF_BIN"
  LAST_URL="http://127.0.0.1:$port"
  wait_http "$1" "$LAST_URL/healthz"
}

# A bench/floor process named $1 on a free port, ready once $2 answers: sets LAST_PID, LAST_URL.
start_floor_process() {
  local port
  port=$(free_port)
  start "$1" env REDIS_URL="redis://127.0.0.1:$REDIS_PORT" PORT="$port" KEY_PREFIX=$PREFIX \
    "$FLOOR_BIN"
  LAST_URL="http://127.0.0.1:$port"
  wait_http "$1" "$LAST_URL$2"
}

start_floor() {
  start_floor_process floor /
  FLOOR_PID=$LAST_PID FLOOR_URL=$LAST_URL
}

start_peer() {
  local port
  port=$(free_port)
  start peer env REDIS_URL="redis://127.0.0.1:$REDIS_PORT" PORT="$port" KEY_PREFIX=$PREFIX \
    NODE_ENV=production node bench/peer-node/server.js
  PEER_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$port"
  wait_http peer "$PEER_URL/"
}

# The events receiver: a second floor process (bench/floor: POST /events answers 204 and
# records each event's delay from its state change; GET /events/stats; DELETE /events).
start_receiver() {
  start_floor_process receiver /events/stats
  RECEIVER_PID=$LAST_PID RECEIVER_URL=$LAST_URL
}

# The BFF of the events and first-success cases: one [[notify.endpoints]] (the receiver, every
# event, its whsec_ secret in the environment) and Belvo played by the emulator in its own
# process (`belvo-bff emulator`, answering at once), so the BFF's link verification after a
# first success is a real HTTP call whose cost is not the BFF's own.
start_events_bff() {
  local emu_port
  emu_port=$(free_port)
  start emulator env -u RUST_LOG BFF__LOG__LEVEL=warn "$BFF_BIN" emulator --port "$emu_port"
  EMU_PID=$LAST_PID
  EMU_URL="http://127.0.0.1:$emu_port"
  wait_http emulator "$EMU_URL/api/"
  start_receiver
  printf '[[notify.endpoints]]\nurl = "%s/events"\nevents = ["*"]\nsecret_env = "BFF_BENCH_NOTIFY_SECRET"\n' \
    "$RECEIVER_URL" >"$workdir/notify.toml"
  BFF_BELVO_URL=$EMU_URL start_bff bff-events warn "$PREFIX-events" BFF_CONFIG="$workdir/notify.toml" \
    BFF_BENCH_NOTIFY_SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
  EVENTS_PID=$LAST_PID EVENTS_URL=$LAST_URL
}

# receiver_stats: the receiver's counts so far (JSON).
receiver_stats() { curl -sf "$RECEIVER_URL/events/stats"; }

# received TYPE: events of TYPE the receiver has counted.
received() { field "$(receiver_stats)" "types.get('$1', 0)"; }

# wait_events WANT SECONDS TYPE: until the receiver has counted WANT events of TYPE, or
# SECONDS passed. Prints the seconds waited.
wait_events() {
  local want=$1 limit=$2 type=$3 start=$SECONDS
  until [ "$(received "$type")" -ge "$want" ]; do
    [ $((SECONDS - start)) -lt "$limit" ] || break
    sleep 0.1
  done
  echo $((SECONDS - start))
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# CPU time (user + system, all threads) a process has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# pid_of URL: the server behind one of our URLs.
pid_of() {
  case $1 in
    "$BFF_URL") echo "$BFF_PID" ;;
    "$FLOOR_URL") echo "$FLOOR_PID" ;;
    "$PEER_URL") echo "$PEER_PID" ;;
    "$INFO_URL") echo "$INFO_PID" ;;
    "$EVENTS_URL") echo "$EVENTS_PID" ;;
    *) die "no server at $1" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

# Results, one line per case (see run_case).
results=$workdir/results.tsv
: >"$results"

# wrk_json URL SCRIPT SECONDS CONNECTIONS THREADS ARGS...: prints wrk's summary line (JSON).
wrk_json() {
  local url=$1 script=$2 seconds=$3 conns=$4 threads=$5
  shift 5
  local raw
  raw=$(mktemp "$workdir/wrk.XXXXXX")
  wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -s "bench/wrk/$script" "$url" -- "$@" \
    >"$raw" 2>&1 || { cat "$raw" >&2; die "wrk failed on $url"; }
  cat "$raw" >>"$workdir/wrk.log"
  grep '^BENCH_JSON ' "$raw" | tail -1 | cut -d' ' -f2-
}

field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, d))' "$1" "$2"; }

# redis_cpu_us: Redis's own CPU time so far (INFO cpu, user + system), in microseconds.
redis_cpu_us() {
  redis-cli -p "$REDIS_PORT" info cpu |
    awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%d", s * 1e6 }'
}
# redis_cmd_us: microseconds Redis spent executing commands so far (INFO commandstats, every
# command's usec; a script's own commands count inside its EVALSHA).
redis_cmd_us() {
  redis-cli -p "$REDIS_PORT" info commandstats |
    awk -F'usec=' '/^cmdstat_/ && !/^cmdstat_(info|evalsha_ro)/ { split($2, a, ","); s += a[1] } END { printf "%d", s }'
}

# run_case NAME URL SCRIPT CONNECTIONS THREADS ARGS...: one round of a case (after a warm-up
# the first time), recorded as a line of $results:
#   name rps p50_us p99_us requests errors warmup_requests server_cpu_us_per_request
#   redis_cpu_us_per_request redis_command_us_per_request
# The server's CPU per request is less sensitive than requests/s to other work on the machine.
# Redis's CPU per request (INFO cpu and INFO commandstats deltas around the round) counts
# everything Redis did meanwhile: only the case's server is loaded then, the others idle.
run_case() {
  local name=$1 url=$2 script=$3 conns=$4 threads=$5
  shift 5
  local warm='{"requests":0}' json pid ticks rcpu rcmd
  pid=$(pid_of "$url")
  # WARM=0 run_case ...: no warm-up (requests that cannot be repeated, bench/wrk/once.lua).
  if [ "${WARM:-1}" = 1 ] && ! awk -v n="$name" '$1 == n { found = 1 } END { exit !found }' "$results"; then
    warm=$(wrk_json "$url" "$script" "$WARMUP" "$conns" "$threads" "$@")
  fi
  ticks=$(cpu_ticks "$pid") rcpu=$(redis_cpu_us) rcmd=$(redis_cmd_us)
  json=$(wrk_json "$url" "$script" "$DURATION" "$conns" "$threads" "$@")
  ticks=$(($(cpu_ticks "$pid") - ticks)) rcpu=$(($(redis_cpu_us) - rcpu)) rcmd=$(($(redis_cmd_us) - rcmd))
  [ "$(field "$json" 'errors["status"]')" -eq 0 ] ||
    die "$name: the server answered errors (wrk output in $workdir/wrk.log): fix before measuring"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(field "$json" 'round(rps)')" \
    "$(field "$json" 'p50_us')" "$(field "$json" 'p99_us')" "$(field "$json" 'requests')" \
    "$(field "$json" 'sum(errors.values())')" "$(field "$warm" 'requests')" \
    "$(field "$json" "round($ticks * 1e6 / $CLK_TCK / requests, 1)")" \
    "$(field "$json" "round($rcpu / requests, 1)")" "$(field "$json" "round($rcmd / requests, 1)")" >>"$results"
  log "  $name: $(tail -1 "$results" | cut -f2) req/s"
}

# served NAME...: requests (warm-up included) the named cases sent.
served() {
  local names
  names=$(printf '%s ' "$@")
  awk -v names=" $names" 'index(names, " " $1 " ") { n += $5 + $7 } END { print n + 0 }' "$results"
}

# pool NAME URL COUNT [--succeed]: opens sessions through a BFF's API, ids in $workdir/NAME.ids.
pool() {
  python3 bench/client.py create "$2" "$TOKEN" "$3" "${@:4}" >"$workdir/$1.ids"
}

# expect_status WANT URL [CURL ARGS...]: one request, which must answer WANT.
expect_status() {
  local want=$1 url=$2 got
  shift 2
  got=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url")
  [ "$got" = "$want" ] || die "$url answered $got, expected $want"
}

# count_commands LABEL KIND IDS [TOKEN]: sends COUNT requests of KIND to the BFF one by one (on
# the sessions or links of $workdir/IDS), twice, and appends "LABEL round_trips client_commands
# script_commands" (per request) to $workdir/commands.txt.
# - Round trips: Redis's own count of the socket reads it processed (INFO total_reads_processed)
#   around the first COUNT. A pipeline arrives in one read, so it counts once. The two INFO
#   calls add two reads (the second's own, the first's disconnect).
# - Commands: MONITOR around the second COUNT; those a Lua script runs show as "[0 lua]".
count_commands() {
  local label=$1 kind=$2 ids=$workdir/$3 token=${4:-$TOKEN} monitor=$workdir/monitor-$1.txt
  local before after mon_pid
  before=$(reads_processed)
  python3 bench/client.py hit "$BFF_URL" "$token" "$kind" "$ids" "$COUNT"
  after=$(reads_processed)
  redis-cli -p "$REDIS_PORT" monitor >"$monitor" &
  mon_pid=$!
  sleep 0.3
  python3 bench/client.py hit "$BFF_URL" "$token" "$kind" "$ids" "$COUNT"
  sleep 0.3
  kill "$mon_pid" 2>/dev/null || true
  wait "$mon_pid" 2>/dev/null || true
  awk -v n="$COUNT" -v label="$label" -v reads=$((after - before - 2)) '
    / \[0 lua\] / { script++; next }
    / \[[0-9]+ [0-9.:]+\] / && $4 != "\"monitor\"" { client++ }
    END { printf "%s %.2f %.2f %.2f\n", label, reads / n, client / n, script / n }
  ' "$monitor" >>"$workdir/commands.txt"
  # What the BFF and anything else sent meanwhile, by command and key kind (the key's name
  # without its ids), so a count above what the path sends says where the rest came from.
  log "  $label: $(awk -v n="$COUNT" '
    / \[[0-9]+ [0-9.:]+\] / && $4 != "\"monitor\"" && !/ \[0 lua\] / {
      key = $5
      gsub(/[0-9a-f]+-[0-9a-f-]+|[0-9][0-9][0-9][0-9][0-9][0-9]+/, "#", key)
      gsub(/[{]sh:[0-9]+[}]/, "{sh}", key)
      count[$4 " " key]++
    }
    END { for (c in count) printf "%.2f %s\n", count[c] / n, c }
  ' "$monitor" | sort -rn | head -6 | tr '\n' ';' | tr -d '"')"
}

reads_processed() {
  redis-cli -p "$REDIS_PORT" info stats | awk -F: '/^total_reads_processed:/ { print $2 }' | tr -d '\r'
}

# mem_usage KEY: Redis's own estimate of the bytes a key takes (0 when absent).
mem_usage() { redis-cli -p "$REDIS_PORT" memory usage "$1" | sed 's/^$/0/'; }
pttl_hours() { redis-cli -p "$REDIS_PORT" pttl "$1" | awk '{ printf "%.1f", $1 / 3600000 }'; }
redis_used() { redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r'; }

# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

main() {
  need wrk wrk
  need redis-server redis-server
  need curl curl
  [ -z "$PEER" ] || command -v node >/dev/null || die "Node.js (20 or later) is needed for the peer"
  command -v python3 >/dev/null || die "python3 is needed for the session helper"
  build
  build_seconds=$SECONDS

  start_redis
  start_bff bff warn "$PREFIX"
  BFF_PID=$LAST_PID BFF_URL=$LAST_URL
  # The same BFF at its default log level (info: a JSON line per callback), to show what
  # production logging costs. Its own key prefix, so it gets none of the main one's pub/sub.
  if [ -n "$PEER" ]; then
    start_bff bff-info info "$PREFIX-info"
    INFO_PID=$LAST_PID INFO_URL=$LAST_URL
    start_peer
  fi
  start_floor
  start_events_bff
  TOKEN=$("$BFF_BIN" token --sub "$USER_SUB" --ttl 2h)
  log "redis :$REDIS_PORT, BFF $BFF_URL (pid $BFF_PID), floor $FLOOR_URL${PEER:+, peer $PEER_URL, BFF at log level info $INFO_URL}"
  log "BFF with one events endpoint $EVENTS_URL (pid $EVENTS_PID), receiver $RECEIVER_URL, emulator $EMU_URL"
  sleep 2
  rss_idle=$(rss_kib "$BFF_PID")

  log "opening session pools through the API ($POOL sessions each)"
  local name
  for name in success-bff success-floor ${PEER:+success-peer} exit-bff exit-floor soak; do
    pool "$name" "$BFF_URL" "$POOL"
  done
  pool status "$BFF_URL" "$POOL" --succeed
  # Pending sessions whose token has ten minutes left: /w/ reuses it (no Belvo call).
  pool widget "$BFF_URL" "$POOL"
  # The sessions' owner (every pool's: one app user), as the BFF keeps it: the external_id.
  OWNER=$(redis-cli -p "$REDIS_PORT" hget "$(key session "$(head -1 "$workdir/status.ids")")" owner)
  # Webhooks name links as production's do: each made at the emulator for the owner and named
  # by its session's success, so the BFF's verification claims it for the product and its
  # webhooks make its resources ready (then each is on a settled link, the commonest kind).
  pool webhook "$BFF_URL" "$POOL" --succeed --verified "$OWNER"
  bench/keys.py "$PREFIX" session <"$workdir/webhook.ids" | sed "s/.*/HGET & link_id/" |
    redis-cli -p "$REDIS_PORT" >"$workdir/webhook.links"
  [ -z "$PEER" ] || pool success-info "$INFO_URL" "$POOL"
  rss_after_pools=$(rss_kib "$BFF_PID")
  pool success-events "$EVENTS_URL" "$POOL"

  check_endpoints

  # Each comparison runs in interleaved rounds (floor, BFF, peer, floor, ...) so that other work
  # on the machine weighs on all of them alike; the report takes medians over the rounds.
  local c=$CONNECTIONS t=$THREADS round
  for round in $(seq "$ROUNDS"); do
    log "success callbacks, round $round of $ROUNDS"
    run_case success-bare "$FLOOR_URL" bare.lua "$c" "$t" "$workdir/success-floor.ids"
    run_case success-floor "$FLOOR_URL" success.lua "$c" "$t" "$workdir/success-floor.ids"
    run_case success-bff "$BFF_URL" success.lua "$c" "$t" "$workdir/success-bff.ids"
    run_case success-events "$EVENTS_URL" success.lua "$c" "$t" "$workdir/success-events.ids"
    if [ -n "$PEER" ]; then
      run_case success-peer "$PEER_URL" success.lua "$c" "$t" "$workdir/success-peer.ids"
      run_case success-bff-info "$INFO_URL" success.lua "$c" "$t" "$workdir/success-info.ids"
    fi
  done
  for round in $(seq "$ROUNDS"); do
    log "exit callbacks, round $round of $ROUNDS"
    run_case exit-floor "$FLOOR_URL" exit.lua "$c" "$t" "$workdir/exit-floor.ids"
    run_case exit-bff "$BFF_URL" exit.lua "$c" "$t" "$workdir/exit-bff.ids"
  done
  for round in $(seq "$ROUNDS"); do
    log "status reads, round $round of $ROUNDS"
    run_case status-floor "$FLOOR_URL" status.lua "$c" "$t" "$workdir/status.ids" "$TOKEN"
    run_case status-bff "$BFF_URL" status.lua "$c" "$t" "$workdir/status.ids" "$TOKEN"
    [ -z "$PEER" ] || run_case status-peer "$PEER_URL" status.lua "$c" "$t" "$workdir/status.ids" "$TOKEN"
  done
  for round in $(seq "$ROUNDS"); do
    log "widget_url openings, round $round of $ROUNDS"
    run_case widget-floor "$FLOOR_URL" widget.lua "$c" "$t" "$workdir/widget.ids"
    run_case widget-bff "$BFF_URL" widget.lua "$c" "$t" "$workdir/widget.ids"
  done
  # Webhooks go to the links of their own pool: each adds a dedupe field to its link's hash,
  # which a status read of that link's session would then fetch too.
  for round in $(seq "$ROUNDS"); do
    log "webhooks, round $round of $ROUNDS"
    run_case webhook-floor "$FLOOR_URL" webhook.lua "$c" "$t" "$workdir/webhook.links" "$WEBHOOK_TOKEN" "$OWNER"
    run_case webhook-bff "$BFF_URL" webhook.lua "$c" "$t" "$workdir/webhook.links" "$WEBHOOK_TOKEN" "$OWNER"
  done
  success_events_check
  delivery_case
  first_success_case
  # The events cases are over: their processes would only add noise to what follows.
  kill "$EVENTS_PID" "$EMU_PID" "$RECEIVER_PID" 2>/dev/null || true

  log "counting Redis commands per request ($COUNT requests of each kind, MONITOR)"
  count_commands success success status.ids
  count_commands exit exit exit-bff.ids
  count_commands status status status.ids
  count_commands status-pending status soak.ids
  count_commands webhook webhook webhook.links "$WEBHOOK_TOKEN"
  # Callbacks the BFF has handled so far: the cases and their warm-ups, the counted ones, the
  # status and webhook pools' one each, the start-up checks.
  bff_callbacks=$(($(served success-bff exit-bff) + 4 * COUNT + 2 * POOL + 2))
  rss_before_soak=$(rss_kib "$BFF_PID")
  soak

  # Session creation last: the embedded emulator keeps every token request it has answered
  # (src/emulator/mod.rs), so these cases grow the process and would blur the figures above.
  # Under load, then one request at a time: the latency the BFF adds, without queueing.
  for round in $(seq "$ROUNDS"); do
    log "session creation, round $round of $ROUNDS"
    run_case token-emulator "$BFF_URL" token.lua "$c" "$t" "$BFF_URL"
    run_case create-bff "$BFF_URL" create.lua "$c" "$t" "$TOKEN"
    run_case token-emulator-c1 "$BFF_URL" token.lua 1 1 "$BFF_URL"
    run_case create-bff-c1 "$BFF_URL" create.lua 1 1 "$TOKEN"
  done
  rss_after_create=$(rss_kib "$BFF_PID")
  count_commands create create status.ids

  redis_report
  create_case
  longpoll_case
  startup_case
  # After the Redis report, so its key and memory counts are the sessions' alone. Logged only.
  funnel_case "$PREFIX" "$BFF_URL"
  log "console sign-in flood (a BFF of its own)"
  python3 bench/sign_in_flood.py "$BFF_BIN" 200 >"$workdir/sign-in-flood.md"
  write_report
  log "done in ${SECONDS}s; results in $OUT"
}

# One request to each endpoint the cases use, which must answer as the benchmark expects: a
# benchmark of error responses would measure nothing.
check_endpoints() {
  log "checking every endpoint answers as the benchmark expects"
  local link=cb65f82c-dc93-4d3e-8270-9a27528397f5 sid
  local query="link=$link&institution=planet_mx_employment"
  sid=$(head -1 "$workdir/success-floor.ids")
  expect_status 302 "$FLOOR_URL/callbacks/$sid/success?$query"
  [ "$(redis-cli -p "$REDIS_PORT" hget "$(key session "$sid")" status)" = succeeded ] ||
    die "the floor's callback did not change the session: does bench/floor still send what src/store/lua/apply_event.lua expects?"
  expect_status 302 "$FLOOR_URL/bare/callbacks/$sid/success?$query"
  expect_status 302 "$BFF_URL/callbacks/$(head -1 "$workdir/success-bff.ids")/success?$query"
  expect_status 302 "$EVENTS_URL/callbacks/$(head -1 "$workdir/success-events.ids")/success?$query"
  if [ -n "$PEER" ]; then
    sid=$(head -1 "$workdir/success-peer.ids")
    expect_status 302 "$PEER_URL/callbacks/$sid/success?$query"
    [ "$(redis-cli -p "$REDIS_PORT" hget "$(key session "$sid")" status)" = succeeded ] ||
      die "the peer's callback did not change the session: does bench/peer-node still send what src/store/lua/apply_event.lua expects?"
    expect_status 302 "$INFO_URL/callbacks/$(head -1 "$workdir/success-info.ids")/success?$query"
  fi
  expect_status 302 "$BFF_URL/callbacks/$(head -1 "$workdir/exit-bff.ids")/exit?meta_data_step=abandon-survey"
  expect_status 302 "$FLOOR_URL/callbacks/$(head -1 "$workdir/exit-floor.ids")/exit?meta_data_step=abandon-survey"
  sid=$(head -1 "$workdir/status.ids")
  expect_status 200 "$BFF_URL/v1/widget-sessions/$sid" -H "Authorization: Bearer $TOKEN"
  expect_status 200 "$FLOOR_URL/v1/widget-sessions/$sid"
  [ -z "$PEER" ] || expect_status 200 "$PEER_URL/v1/widget-sessions/$sid"
  sid=$(head -1 "$workdir/widget.ids")
  expect_status 302 "$BFF_URL/w/$sid"
  expect_status 302 "$FLOOR_URL/w/$sid"
  [ "$(redis-cli -p "$REDIS_PORT" hget "$(key session "$sid")" opens)" = 2 ] ||
    die "/w/ did not count both openings: does bench/floor still send what src/store/lua/open_widget.lua expects?"
  local webhook
  webhook=$(printf '{"webhook_id":"check","webhook_type":"EMPLOYMENT_RECORDS","webhook_code":"historical_update","link_id":"%s","data":{}}' "$(head -1 "$workdir/webhook.links")")
  expect_status 200 "$BFF_URL/webhooks/belvo" -X POST -d "$webhook" \
    -H "Authorization: Bearer $WEBHOOK_TOKEN" -H 'Content-Type: application/json'
  expect_status 200 "$FLOOR_URL/webhooks/belvo" -X POST -d "$webhook" \
    -H 'Content-Type: application/json'
}

# The success callbacks with one events endpoint: the first success of each session of the pool
# wrote its event in the same script (the others are later successes, recorded in the timeline
# only, as on every BFF). Every one of them must reach the receiver. Sets SUCCESS_EVENTS_JSON.
success_events_check() {
  local want waited
  want=$(bench/keys.py "$PREFIX-events" session <"$workdir/success-events.ids" |
    sed 's/.*/HGET & status/' | redis-cli -p "$REDIS_PORT" | grep -c '^succeeded$' || true)
  waited=$(wait_events "$want" 30 session.succeeded)
  SUCCESS_EVENTS_JSON=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(sessions=int(sys.argv[2]), waited_s=int(sys.argv[3])); print(json.dumps(d))' \
    "$(receiver_stats)" "$want" "$waited")
  log "success callbacks with an endpoint: $(received session.succeeded) session.succeeded events delivered for $want sessions succeeded"
  [ "$(received session.succeeded)" -eq "$want" ] ||
    log "  NOT every event was delivered within 30 s (receiver log: $workdir/receiver.log)"
  curl -sf -X DELETE "$RECEIVER_URL/events" >/dev/null
}

# Event delivery: DELIVERY_SESSIONS pending sessions finish with an exit callback each, as fast
# as wrk sends them (bench/wrk/once.lua: each once), while the receiver counts the events:
# events/s from the first arrival to the last, delay from each state change to its arrival, and
# whether every one arrived (waited for, at most 60 s). Sets DELIVERY_JSON.
delivery_case() {
  local rate seconds json once waited
  log "event delivery: opening $DELIVERY_SESSIONS sessions, then they finish at once, one event each"
  python3 bench/load.py sessions "$EVENTS_URL" "$TOKEN" "$DELIVERY_SESSIONS" |
    sed 's|.*|/callbacks/&/exit?meta_data_step=abandon-survey|' >"$workdir/delivery.paths"
  curl -sf -X DELETE "$RECEIVER_URL/events" >/dev/null
  # wrk runs for its -d whatever happens: long enough for the exits at half the rate of this
  # BFF's success callbacks, which write to the outbox as these first exits do (the exit case's
  # replays write nothing and run several times faster; once.lua's own clock gives the
  # callbacks' rate).
  rate=$(awk '$1 == "success-events" { n++; s += $2 } END { print int(s / n) + 1 }' "$results")
  seconds=$((DELIVERY_SESSIONS * 2 / rate + 2))
  json=$(wrk_json "$EVENTS_URL" once.lua "$seconds" "$CONNECTIONS" "$THREADS" \
    "$workdir/delivery.paths" "$THREADS")
  once=$(grep '^BENCH_ONCE ' "$workdir/wrk.log" | tail -1 | cut -d' ' -f2-)
  [ "$(field "$json" 'errors["status"]')" -eq 0 ] ||
    die "event delivery: the BFF answered errors (wrk output in $workdir/wrk.log)"
  waited=$(wait_events "$(field "$once" answered)" 60 session.exited)
  DELIVERY_JSON=$(python3 -c '
import json, sys
stats, once, wrk = (json.loads(a) for a in sys.argv[1:4])
stats.update(sessions=int(sys.argv[4]), callbacks=once["answered"], all_sent=once["finished"],
             callback_rps=round(wrk["rps"]), callback_p99_ms=wrk["p99_us"] / 1000,
             waited_s=int(sys.argv[5]))
print(json.dumps(stats))' "$(receiver_stats)" "$once" "$json" "$DELIVERY_SESSIONS" "$waited")
  log "  $(received session.exited) of $DELIVERY_SESSIONS events delivered, $(field "$DELIVERY_JSON" events_per_s) events/s, delay p50 $(field "$DELIVERY_JSON" p50_ms) ms p99 $(field "$DELIVERY_JSON" p99_ms) ms"
}

# First successes (issue 19, target 0): each a session's first success naming a link the
# emulator made for its owner, so the BFF's verification (GET /api/links/{id}/ at the emulator
# in its own process) succeeds once, as in production; every one also writes its event to the
# outbox, which the BFF delivers to the receiver meanwhile. A share of the prepared callbacks
# per round (bench/wrk/once.lua: each sent once, no warm-up), interleaved with the bare floor;
# then the same callbacks again (replayed successes: counted once, nothing else changes).
first_success_case() {
  local c=$CONNECTIONS t=$THREADS round once
  log "preparing $FIRST_POOL first successes (sessions, and links made at the emulator)"
  python3 bench/load.py first "$EVENTS_URL" "$EMU_URL" "$TOKEN" "$OWNER" "$FIRST_POOL" >"$workdir/first.paths"
  # One share per round: a first success cannot be sent twice.
  awk -v n="$ROUNDS" -v dir="$workdir" '{ print > (dir "/first-" ((NR - 1) % n + 1) ".paths") }' \
    "$workdir/first.paths"
  curl -sf -X DELETE "$RECEIVER_URL/events" >/dev/null
  for round in $(seq "$ROUNDS"); do
    log "first and replayed successes, round $round of $ROUNDS"
    run_case first-bare "$FLOOR_URL" bare.lua "$c" "$t" "$workdir/success-floor.ids"
    # Which commands a first success costs Redis (INFO commandstats around its rounds).
    redis-cli -p "$REDIS_PORT" info commandstats >"$workdir/first-$round.before"
    WARM=0 run_case first-bff "$EVENTS_URL" once.lua "$c" "$t" "$workdir/first-$round.paths" "$t"
    redis-cli -p "$REDIS_PORT" info commandstats >"$workdir/first-$round.after"
    # Either the round ended first (requests/s over the whole round) or its share did
    # (requests/s over the share's own time, the rest of the round idle): both are measured.
    once=$(grep '^BENCH_ONCE ' "$workdir/wrk.log" | tail -1 | cut -d' ' -f2-)
    log "  $(field "$once" answered) of the round's $(field "$once" lines) first successes sent in $(field "$once" seconds) s"
    if [ "$(field "$once" finished)" = True ]; then
      FIRST_SHARE_ENDED=$((${FIRST_SHARE_ENDED:-0} + 1))
    fi
    run_case replay-bff "$EVENTS_URL" paths.lua "$c" "$t" "$workdir/first-1.paths.sent"
  done
  # Each first success sends session.succeeded, then its verification link.verified: as many
  # of each as sessions succeeded.
  local sent waited
  sent=$(sed 's|/callbacks/\([^/]*\)/.*|\1|' "$workdir/first.paths" | bench/keys.py "$PREFIX-events" session |
    sed 's/.*/HGET & status/' | redis-cli -p "$REDIS_PORT" | grep -c '^succeeded$' || true)
  waited=$(($(wait_events "$sent" 30 session.succeeded) + $(wait_events "$sent" 30 link.verified)))
  FIRST_EVENTS_JSON=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(sessions=int(sys.argv[2]), waited_s=int(sys.argv[3])); print(json.dumps(d))' \
    "$(receiver_stats)" "$sent" "$waited")
  log "first successes: $sent sent; events delivered: $(field "$FIRST_EVENTS_JSON" types)"
  FIRST_COMMANDS_JSON=$(python3 - "$workdir" "$ROUNDS" "$(awk '$1 == "first-bff" { n += $5 } END { print n + 0 }' "$results")" <<'PY'
import json, re, sys
workdir, rounds, requests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def stats(path):
    out = {}
    for line in open(path):
        m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
        if m:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out
delta = {}
for r in range(1, rounds + 1):
    before, after = stats(f"{workdir}/first-{r}.before"), stats(f"{workdir}/first-{r}.after")
    for cmd, (calls, usec) in after.items():
        c0, u0 = before.get(cmd, (0, 0))
        d = delta.setdefault(cmd, [0, 0])
        d[0] += calls - c0
        d[1] += usec - u0
top = sorted(delta.items(), key=lambda kv: -kv[1][1])[:10]
print(json.dumps([{"command": cmd, "calls": round(c / max(requests, 1), 2),
                   "usec": round(u / max(requests, 1), 1)} for cmd, (c, u) in top if c > 0]))
PY
)
}

# Success callbacks on a fixed pool until SOAK_TARGET callbacks in all or the time budget runs
# out (keeping time for the creation cases and the report), sampling the BFF's RSS every 5 s
# to show whether it levels off.
soak() {
  local rps left needed seconds
  rps=$(awk '$1 == "success-bff" { n++; s += $2 } END { print int(s / n) + 1 }' "$results")
  # A fifth more than the rate of the cases suggests: the soak runs a little slower.
  needed=$(((SOAK_TARGET - bff_callbacks) * 6 / 5 / rps + 2))
  [ "$needed" -ge 0 ] || needed=0
  # Kept for what follows: the creation rounds, and the load.py cases (about 90 s; 150 s with
  # BENCH_LONG=1).
  local after=$((LONG == 1 ? 150 : 90))
  left=$((BUDGET - SECONDS - 4 * ROUNDS * (DURATION + 2) - 4 * WARMUP - 30 - after))
  seconds=$((needed < left ? needed : left))
  [ "$seconds" -ge 10 ] || seconds=10
  log "soak: success callbacks on $POOL sessions for ${seconds}s (the target needs ~${needed}s more)"
  (
    while kill -0 "$BFF_PID" 2>/dev/null; do
      printf '%s %s\n' "$SECONDS" "$(rss_kib "$BFF_PID")"
      sleep 5
    done
  ) >"$workdir/rss-samples.txt" &
  local sampler=$! json
  json=$(wrk_json "$BFF_URL" success.lua "$seconds" "$CONNECTIONS" "$THREADS" "$workdir/soak.ids")
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  soak_seconds=$seconds
  soak_requests=$(field "$json" 'requests')
  soak_errors=$(field "$json" 'sum(errors.values())')
  bff_callbacks=$((bff_callbacks + soak_requests))
  sleep 2
  rss_after_soak=$(rss_kib "$BFF_PID")
  rss_samples=$(awk '{ printf "%s%d", (NR > 1 ? ", " : ""), $2 / 1024 }' "$workdir/rss-samples.txt")
}

# key_rows GROUP ID: a row per key whose name holds ID (GROUP, the key's kind, MEMORY USAGE,
# OBJECT ENCODING, PTTL in ms), tab-separated, for bench/report.py's bytes table.
key_rows() {
  local group=$1 id=$2 key kind
  for key in $(redis-cli -p "$REDIS_PORT" --scan --pattern "$PREFIX:*$id*"); do
    kind=${key#*\}:}
    kind=${kind%:"$id"}
    printf '%s\t%s\t%s\t%s\t%s\n' "$group" "$kind" "$(mem_usage "$key")" \
      "$(redis-cli -p "$REDIS_PORT" object encoding "$key")" "$(redis-cli -p "$REDIS_PORT" pttl "$key")"
  done
}

# Bytes per session and per link, as Redis counts them, and their TTLs: every key naming a
# session just opened (pending), a session after its success callback (finished) and a link
# after the webhook cases, with the owner's index aside, written to $workdir/bytes.tsv; each TTL
# is checked against its retention rule in bench/report.py.
redis_report() {
  local fresh done_ soak_sid link owner
  fresh=$(python3 bench/client.py create "$BFF_URL" "$TOKEN" 1)
  done_=$(head -1 "$workdir/status.ids")
  link=$(redis-cli -p "$REDIS_PORT" hget "$(key session "$done_")" link_id)
  webhooked=$(head -1 "$workdir/webhook.links")
  owner=$(redis-cli -p "$REDIS_PORT" hget "$(key session "$fresh")" owner)
  {
    key_rows pending "$fresh"
    key_rows finished "$done_"
    key_rows link "$webhooked"
    local index=$PREFIX:{u:$owner}:sessions
    printf 'user\tsessions\t%s\t%s\t%s\n' "$(mem_usage "$index")" \
      "$(redis-cli -p "$REDIS_PORT" object encoding "$index")" "$(redis-cli -p "$REDIS_PORT" pttl "$index")"
  } >"$workdir/bytes.tsv"
  mem_fresh=$(mem_usage "$(key session "$fresh")")
  mem_pending_all=$(awk -F'\t' '$1 == "pending" { s += $3 } END { print s + 0 }' "$workdir/bytes.tsv")
  mem_done_session=$(mem_usage "$(key session "$done_")")
  mem_done_timeline=$(mem_usage "$(key timeline "$done_")")
  mem_link=$(mem_usage "$(key link "$link")")
  mem_webhook_link=$(mem_usage "$(key link "$webhooked")")
  mem_webhook_timeline=$(mem_usage "$(key link-timeline "$webhooked")")
  webhook_fields=$(redis-cli -p "$REDIS_PORT" hlen "$(key link "$webhooked")")
  if [ -s "$workdir/soak.ids" ]; then
    local soak_sid
    soak_sid=$(head -1 "$workdir/soak.ids")
    mem_soak_session=$(mem_usage "$(key session "$soak_sid")")
    mem_soak_timeline=$(mem_usage "$(key timeline "$soak_sid")")
    soak_events=$(redis-cli -p "$REDIS_PORT" hget "$(key session "$soak_sid")" event_count)
  fi
  ttl_session=$(pttl_hours "$(key session "$done_")")
  ttl_timeline=$(pttl_hours "$(key timeline "$done_")")
  ttl_link=$(pttl_hours "$(key link "$link")")
  redis_keys=$(redis-cli -p "$REDIS_PORT" dbsize)
  redis_bytes=$(redis_used)
}

# `scripts/bench.sh bytes`: only the bytes table (a release build, a Redis and a BFF of its own,
# one session of each kind and one webhook), printed.
bytes_only() {
  need redis-server redis-server
  need curl curl
  cargo build --release --locked --quiet --bin belvo-bff
  start_redis
  start_bff bff warn "$PREFIX"
  BFF_URL=$LAST_URL
  TOKEN=$("$BFF_BIN" token --sub "$USER_SUB" --ttl 2h)
  python3 bench/client.py create "$BFF_URL" "$TOKEN" 1 --succeed >"$workdir/status.ids"
  bench/keys.py "$PREFIX" session <"$workdir/status.ids" | sed "s/.*/HGET & link_id/" |
    redis-cli -p "$REDIS_PORT" >"$workdir/webhook.links"
  python3 bench/client.py hit "$BFF_URL" "$WEBHOOK_TOKEN" webhook "$workdir/webhook.links" 1
  redis_report
  BYTES_TSV=$workdir/bytes.tsv python3 bench/report.py --bytes
}

# Session creation against a realistic Belvo: the emulator in its own process answering after
# $CREATE_LATENCY, a BFF of its own using it, $CREATE_CLIENTS clients (each a user of its own)
# opening sessions back to back.
create_case() {
  local emu_port
  emu_port=$(free_port)
  log "session creation against an emulator answering in $CREATE_LATENCY ($CREATE_CLIENTS users at once)"
  start emulator-slow env -u RUST_LOG BFF__EMULATOR__LATENCY="$CREATE_LATENCY" BFF__LOG__LEVEL=warn \
    "$BFF_BIN" emulator --port "$emu_port"
  local emu_pid=$LAST_PID
  wait_http emulator-slow "http://127.0.0.1:$emu_port/api/"
  BFF_BELVO_URL="http://127.0.0.1:$emu_port" start_bff bff-create warn "$PREFIX-create"
  CREATE_JSON=$(python3 bench/load.py create "$LAST_URL" "$BFF_BIN" "$CREATE_CLIENTS" "$CREATE_SECONDS")
  kill "$LAST_PID" "$emu_pid" 2>/dev/null || true
}

# Long-polls: $users users with 10 long-polls each (?wait=30) waiting on one BFF, callbacks
# on another replica (same Redis, same key prefix) waking them.
longpoll_case() {
  local users=200
  [ "$LONG" = 1 ] && users=1000
  log "long-polls: $((users * 10)) waiting from $users users (BENCH_LONG=1: 10,000)"
  start_bff bff-lp-a warn "$PREFIX-lp"
  local a_pid=$LAST_PID a_url=$LAST_URL
  start_bff bff-lp-b warn "$PREFIX-lp"
  local b_pid=$LAST_PID b_url=$LAST_URL
  LONGPOLL_JSON=$(python3 bench/load.py longpoll "$a_url" "$b_url" "$BFF_BIN" "$a_pid" "$users" 10 30)
  kill "$a_pid" "$b_pid" 2>/dev/null || true
}

# Start-up: process start to /readyz 200 with Redis up, 5 times (median).
startup_case() {
  log "start-up time to /readyz"
  STARTUP_JSON=$(python3 bench/load.py startup "$BFF_BIN" "redis://127.0.0.1:$REDIS_PORT" 5)
}

# funnel_case KEY_PREFIX URL: /support/funnel (SPEC §14) over 90 days of counters for four
# products, generated straight into Redis (bench/funnel_counters.py: every shard of every day
# holds every field, about 800 per hash, the most the page ever reads and sums). Target: under
# 200 ms. Sets funnel_ms and funnel_csv_ms (medians of BENCH_FUNNEL_RUNS loads each).
funnel_case() {
  local prefix=$1 url=$2 token from to runs=${BENCH_FUNNEL_RUNS:-10} page
  log "funnel: writing 90 days x 16 shards of counters for four products"
  python3 bench/funnel_counters.py "$prefix" | redis-cli -p "$REDIS_PORT" --pipe >/dev/null
  token=$("$BFF_BIN" token --sub bench-support --role support --ttl 1h)
  to=$(date -u +%F)
  from=$(date -u -d '89 days ago' +%F)
  page="$url/support/funnel?from=$from&to=$to"
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$page")" = 200 ] ||
    die "funnel page did not answer 200"
  median_ms() {
    local target=$1 _
    for _ in $(seq "$runs"); do
      curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$target"
    done | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f", t[int((NR + 1) / 2)] * 1000 }'
  }
  funnel_ms=$(median_ms "$page")
  funnel_csv_ms=$(median_ms "$page&format=csv")
  log "funnel: page ${funnel_ms} ms, csv ${funnel_csv_ms} ms (median of $runs; target < 200 ms)"
}

# Only the funnel case: the BFF alone on a Redis of its own.
funnel_only() {
  need redis-server redis-server
  need curl curl
  cargo build --release --locked --quiet --bin belvo-bff
  start_redis
  start_bff bff warn "$PREFIX"
  funnel_case "$PREFIX" "$LAST_URL"
  printf 'funnel page, 90 days x 4 products: %s ms (csv %s ms), median of %s\n' \
    "$funnel_ms" "$funnel_csv_ms" "${BENCH_FUNNEL_RUNS:-10}"
}

# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

write_report() {
  local section=$workdir/section.md
  MACHINE_CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) \
  MACHINE_NPROC=$(nproc) MACHINE_MEM=$(free -h | awk '/^Mem:/ { print $2 }') \
  MACHINE_LOAD=$(cut -d' ' -f1-3 /proc/loadavg) \
  WRK_VERSION=$(wrk -v 2>&1 | head -1 | cut -d' ' -f2) \
  REDIS_VERSION=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') \
  NODE_VERSION=$(node --version) \
  GIT_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
  DURATION=$DURATION ROUNDS=$ROUNDS WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS THREADS=$THREADS POOL=$POOL \
  COUNT=$COUNT TOTAL_SECONDS=$SECONDS BUILD_SECONDS=$build_seconds \
  RSS_IDLE=$rss_idle RSS_POOLS=$rss_after_pools RSS_BEFORE_SOAK=$rss_before_soak \
  RSS_AFTER_SOAK=$rss_after_soak RSS_AFTER_CREATE=$rss_after_create RSS_SAMPLES=$rss_samples SOAK_SECONDS=$soak_seconds \
  SOAK_REQUESTS=$soak_requests SOAK_ERRORS=$soak_errors BFF_CALLBACKS=$bff_callbacks \
  SOAK_TARGET=$SOAK_TARGET \
  MEM_FRESH=$mem_fresh MEM_DONE_SESSION=$mem_done_session MEM_DONE_TIMELINE=$mem_done_timeline \
  MEM_LINK=$mem_link MEM_WEBHOOK_LINK=$mem_webhook_link MEM_WEBHOOK_TIMELINE=$mem_webhook_timeline \
  WEBHOOK_FIELDS=$webhook_fields MEM_SOAK_SESSION=$mem_soak_session MEM_SOAK_TIMELINE=$mem_soak_timeline \
  SOAK_EVENTS=$soak_events TTL_SESSION=$ttl_session TTL_TIMELINE=$ttl_timeline TTL_LINK=$ttl_link \
  REDIS_KEYS=$redis_keys REDIS_BYTES=$redis_bytes MEM_PENDING_ALL=$mem_pending_all \
  BYTES_TSV=$workdir/bytes.tsv \
  CREATE_JSON=$CREATE_JSON LONGPOLL_JSON=$LONGPOLL_JSON STARTUP_JSON=$STARTUP_JSON \
  CREATE_LATENCY=$CREATE_LATENCY SUCCESS_EVENTS_JSON=$SUCCESS_EVENTS_JSON DELIVERY_JSON=$DELIVERY_JSON \
  FIRST_EVENTS_JSON=$FIRST_EVENTS_JSON FIRST_POOL=$FIRST_POOL FIRST_SHARE_ENDED=${FIRST_SHARE_ENDED:-0} \
  FIRST_COMMANDS_JSON=$FIRST_COMMANDS_JSON \
    python3 bench/report.py "$results" "$workdir/commands.txt" >"$section.body"
  # The sign-in flood's part goes inside the markers, before the closing one (the last line).
  { head -n -1 "$section.body"; cat "$workdir/sign-in-flood.md"; tail -n 1 "$section.body"; } >"$section"
  python3 bench/report.py --splice "$OUT" "$section"
}

if [ "${1:-}" = funnel ]; then
  funnel_only
elif [ "${1:-}" = bytes ]; then
  bytes_only
else
  main "$@"
fi
