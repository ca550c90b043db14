#!/usr/bin/env bash
# Runs every check and test: the dependency audit (scripts/deny.sh), formatting, lints, unit and
# integration tests, then the live checks of the OpenAPI document and the metrics
# (scripts/live_checks.sh) and Belvo's own SDKs against the emulator (scripts/sdk_checks.sh).
# Starts its own redis-server on a free port, a 3-master Redis Cluster and a TLS-only
# redis-server (certificate from a throwaway CA) on free loopback ports (installing redis-server
# and openssl from Debian's packages when missing), all in one temporary directory, and stops
# them when done; never touches a Redis it did not start.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/common.sh
. scripts/common.sh

need redis-server redis-server
need openssl openssl
need chromium chromium
need chromedriver chromium-driver

workdir=$(mktemp -d -t belvo-bff-test.XXXXXX)
redis_pid=""
tls_pid=""
driver_pid=""
cluster_pids=()
stop() {
  if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi
}
cleanup() {
  stop "$redis_pid"
  stop "$tls_pid"
  for pid in "${cluster_pids[@]}"; do stop "$pid"; done
  stop "$driver_pid"
  rm -rf "$workdir"
}
trap cleanup EXIT

port=$(free_port)
log "starting redis-server on 127.0.0.1:$port (data in $workdir)"
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$workdir" \
  --logfile "$workdir/redis.log" &
redis_pid=$!
for _ in $(seq 1 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { echo "redis-server did not start" >&2; cat "$workdir/redis.log" >&2; exit 1; }
export TEST_REDIS_URL="redis://127.0.0.1:$port"

# A Redis Cluster of three masters (no replicas): every node on its own free port, with its
# cluster bus on another free port (cluster-port), its files in $workdir/cluster-<port>.
cluster_nodes=()
cluster_urls=()
for _ in 1 2 3; do
  node_port=$(free_port)
  bus_port=$(free_port)
  node_dir="$workdir/cluster-$node_port"
  mkdir -p "$node_dir"
  redis-server --port "$node_port" --cluster-port "$bus_port" --bind 127.0.0.1 \
    --cluster-enabled yes --cluster-config-file "$node_dir/nodes.conf" --cluster-node-timeout 5000 \
    --save "" --appendonly no --dir "$node_dir" --logfile "$node_dir/redis.log" &
  cluster_pids+=($!)
  cluster_nodes+=("127.0.0.1:$node_port")
  cluster_urls+=("redis://127.0.0.1:$node_port")
done
log "starting a 3-master Redis Cluster on ${cluster_nodes[*]}"
for node in "${cluster_nodes[@]}"; do
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "${node#*:}" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
done
redis-cli --cluster create "${cluster_nodes[@]}" --cluster-replicas 0 --cluster-yes >"$workdir/cluster-create.log" 2>&1 \
  || { cat "$workdir/cluster-create.log" >&2; exit 1; }
for node in "${cluster_nodes[@]}"; do
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "${node#*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p "${node#*:}" cluster info | grep -q '^cluster_state:ok' \
    || { echo "Redis Cluster node $node is not ready" >&2; exit 1; }
done
TEST_REDIS_CLUSTER_URLS=$(IFS=,; echo "${cluster_urls[*]}")
export TEST_REDIS_CLUSTER_URLS

# A Redis that speaks TLS only (rediss://), its certificate issued by a CA made here.
tls_dir="$workdir/tls"
mkdir -p "$tls_dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=belvo-bff test CA" \
  -keyout "$tls_dir/ca-key.pem" -out "$tls_dir/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$tls_dir/key.pem" -out "$tls_dir/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$tls_dir/ext.cnf"
openssl x509 -req -days 2 -in "$tls_dir/server.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca-key.pem" \
  -CAcreateserial -extfile "$tls_dir/ext.cnf" -out "$tls_dir/cert.pem" 2>/dev/null
tls_port=$(free_port)
log "starting a TLS-only redis-server on 127.0.0.1:$tls_port"
redis-server --port 0 --tls-port "$tls_port" --bind 127.0.0.1 --tls-auth-clients no \
  --tls-cert-file "$tls_dir/cert.pem" --tls-key-file "$tls_dir/key.pem" --tls-ca-cert-file "$tls_dir/ca.pem" \
  --save "" --appendonly no --dir "$tls_dir" --logfile "$tls_dir/redis.log" &
tls_pid=$!
for _ in $(seq 1 50); do
  redis-cli --tls --cacert "$tls_dir/ca.pem" -h localhost -p "$tls_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli --tls --cacert "$tls_dir/ca.pem" -h localhost -p "$tls_port" ping >/dev/null \
  || { echo "the TLS redis-server did not start" >&2; cat "$tls_dir/redis.log" >&2; exit 1; }
export TEST_REDIS_TLS_URL="rediss://localhost:$tls_port"
export TEST_REDIS_TLS_CA="$tls_dir/ca.pem"

driver_port=$(free_port)
log "starting chromedriver on 127.0.0.1:$driver_port (headless Chromium for browser tests)"
chromedriver --port="$driver_port" --allowed-ips=127.0.0.1 >"$workdir/chromedriver.log" 2>&1 &
driver_pid=$!
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$driver_port/status" >/dev/null 2>&1 && break
  sleep 0.1
done
export CHROMEDRIVER_URL="http://127.0.0.1:$driver_port"

# The dependency audit: cargo deny --offline check (advisories, licenses, bans, sources) against
# the live RustSec database when reachable, else ../shared/rustsec-advisory-db.bundle.
log "cargo deny (scripts/deny.sh)"
scripts/deny.sh

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

log "cargo test"
cargo test --all-targets "$@"

# The API as a new user meets it: the live server's OpenAPI document and metrics, checked by
# openapi-spec-validator, Schemathesis and promtool.
scripts/live_checks.sh

# Belvo's official SDKs (belvo-python, belvo on npm), pinned and unmodified, against the
# standalone and the embedded emulator.
scripts/sdk_checks.sh
