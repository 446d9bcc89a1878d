#!/usr/bin/env bash
# Tests the local try with Docker for real: `make up`, `make logs`, `make down`
# against a Docker daemon of its own, and asserts that receiver01 and
# receiver02 each got all 10 messages from the sender container's address.
#
# Isolation: Docker's bridges and the containers' multicast must not reach the
# machine's root network namespace. So the test makes a network namespace,
# runs its own containerd and dockerd inside it (own socket, data root, exec
# root, config file; no other daemon is touched), and points DOCKER_HOST at
# that socket. The compose bridge and every veth live in that namespace; the
# test checks that none of them shows up in the root namespace. Daemons,
# namespace and directories are removed on exit, also on failure.
#
# Needs root, and Debian's docker.io and docker-compose (scripts/install-deps.sh).
# Where dockerd cannot start, the test fails with the daemon's own error.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "docker-test: $*"; }
die() { echo "docker-test: FAIL: $*" >&2; exit 1; }

command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 ||
  die "docker-compose is not installed (run scripts/install-deps.sh)"

# shellcheck source=docker-netns.sh
. scripts/docker-netns.sh
dn_setup
export COMPOSE_PROJECT_NAME=mcast
logs_pid=""
ok=0

cleanup() {
  local rc=$?
  set +e
  trap '' INT TERM # a second signal must not cut the cleanup short
  [ -n "$logs_pid" ] && dn_stop_pid "$logs_pid" 5
  if [ "$ok" != 1 ] && [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    timeout 60 make --no-print-directory down >/dev/null 2>&1
  fi
  [ "$rc" != 0 ] && dn_logs
  dn_stop
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Docker-made links in the root namespace before the test: the test's own
# bridge and veths must not be among them afterwards.
root_before=$(dn_root_links)

dn_start --iptables=false --ip-masq=false

# What a user types: make up && make logs. `make logs` follows until stopped,
# so it runs in the background and is stopped once the sender has finished.
log "make up"
make --no-print-directory up
out=$run/make-logs.txt
log "make logs (in the background, until the sender has finished)"
timeout 150 make --no-print-directory logs >"$run/make-logs.raw" 2>&1 &
logs_pid=$!

compose() { if command -v docker-compose >/dev/null; then docker-compose "$@"; else docker compose "$@"; fi; }
sender_id=$(compose ps -q sender)
[ -n "$sender_id" ] || die "make up started no sender container"
sender_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$sender_id")
[ -n "$sender_ip" ] || die "the sender container has no address (did it end already?)"
log "sender container ${sender_id:0:12} has address $sender_ip"

# The bridge and veths are in the test's namespace and not in the root one.
net_id=$(docker network ls -q --no-trunc --filter "name=${COMPOSE_PROJECT_NAME}_default")
[ -n "$net_id" ] || net_id=$(docker network ls -q --no-trunc --filter "name=${COMPOSE_PROJECT_NAME}-default")
[ -n "$net_id" ] || die "no compose network ${COMPOSE_PROJECT_NAME}_default"
bridge=br-${net_id:0:12}
ip -n "$ns" link show "$bridge" >/dev/null || die "bridge $bridge is not in namespace $ns"
ports=$(ip -n "$ns" -o link show master "$bridge" | awk -F': ' '{print $2}' | sed 's/@.*//')
[ "$(echo "$ports" | grep -c .)" -ge 3 ] || die "bridge $bridge has fewer than 3 ports: $ports"
for l in $bridge $ports; do
  ! ip link show "$l" >/dev/null 2>&1 || die "$l is in the root network namespace"
done
new_links=$(comm -13 <(echo "$root_before") <(dn_root_links))
if echo "$new_links" | grep -qE '^(docker0|br-[0-9a-f]{12}|veth[0-9a-f]{7})$'; then
  die "Docker-made links appeared in the root network namespace: $(echo $new_links)"
fi
log "bridge $bridge and its ports ($(echo $ports)) are only in namespace $ns"

log "waiting for the sender to finish"
code=$(timeout 120 docker wait "$sender_id") || die "the sender did not finish within 120 s"
[ "$code" = 0 ] || die "the sender exited with status $code"
sleep 2
kill -TERM "$logs_pid" 2>/dev/null || true
wait "$logs_pid" 2>/dev/null || true
sed 's/\x1b\[[0-9;]*m//g' "$run/make-logs.raw" >"$out"
cat "$out"

sender_port=$(grep -oE 'sending to [^ ]+ from [0-9.]+:[0-9]+' "$out" | sed 's/.*://' | head -n 1)
[ -n "$sender_port" ] || die "the sender's log has no 'sending to ... from ADDR:PORT' line"
[ "$(grep -cE '^sender[-_]1 +\| [^ ]+ send successful: message [0-9]+$' "$out")" = 10 ] ||
  die "the sender did not report 10 successful sends"
from="${sender_ip//./\\.}:$sender_port"
for r in receiver01 receiver02; do
  for n in $(seq 0 9); do
    c=$(grep -cE "^${r}[-_]1 +\| [^ ]+ received: message $n from $from( |\$)" "$out" || true)
    [ "$c" = 1 ] || die "$r got message $n from $sender_ip:$sender_port $c times, want 1"
  done
  total=$(grep -cE "^${r}[-_]1 +\| [^ ]+ received: " "$out" || true)
  [ "$total" = 10 ] || die "$r printed $total received lines, want 10"
  log "$r got messages 0-9 from $sender_ip:$sender_port"
done

log "make down"
make --no-print-directory down
[ -z "$(docker ps -aq)" ] || die "containers left after make down: $(docker ps -aq | tr '\n' ' ')"
ok=1
log "PASS"
