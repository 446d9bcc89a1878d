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

[ "$(id -u)" = 0 ] || die "needs root (it makes a network namespace and runs its own dockerd)"
for b in ip dockerd containerd containerd-shim-runc-v2 runc docker; do
  command -v "$b" >/dev/null || die "$b is not installed (run scripts/install-deps.sh)"
done
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 ||
  die "docker-compose is not installed (run scripts/install-deps.sh)"

RUNBASE=/run/mcast-docker
DATABASE=/var/lib/mcast-docker
NSPREFIX=mcastdock

# Leftovers of an earlier run that was killed outright (no trap ran): remove
# them when none of their daemons is alive. A live one may be a run in
# progress and is left alone.
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
for d in "$RUNBASE"/*/; do
  [ -d "$d" ] || continue
  old=$(basename "$d")
  if ! alive "$d/docker.pid" && ! alive "$d/containerd.pid"; then
    log "removing leftovers of run $old"
    ip netns del "$NSPREFIX-$old" 2>/dev/null || true
    rm -rf "${d:?}" "${DATABASE:?}/$old"
  fi
done

id=$$
ns=$NSPREFIX-$id
run=$RUNBASE/$id
data=$DATABASE/$id
sock=$run/docker.sock
csock=$run/containerd/containerd.sock
export DOCKER_HOST=unix://$sock
export COMPOSE_PROJECT_NAME=mcast
dockerd_pid=""
containerd_pid=""
logs_pid=""
ok=0
# containerd's shims put their sockets below /run/containerd/s whatever the
# configuration; remove those directories after if this run made them.
had_run_containerd=0
[ -e /run/containerd ] && had_run_containerd=1

# stop PID waits up to $2 seconds for it to end after SIGTERM, then kills it.
stop() {
  local pid=$1 wait=$2
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((wait * 5))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  [ -n "$logs_pid" ] && stop "$logs_pid" 5
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    if [ "$ok" != 1 ]; then
      timeout 60 make --no-print-directory down >/dev/null 2>&1
    fi
    stop "$dockerd_pid" 30
  fi
  [ -n "$containerd_pid" ] && stop "$containerd_pid" 15
  # Shims of this run's containerd (matched by its unique socket path).
  for p in $(pgrep -f -- "-address $csock" 2>/dev/null); do stop "$p" 5; done
  ip netns del "$ns" 2>/dev/null
  rmdir /sys/fs/cgroup/*/mcast-docker-test /sys/fs/cgroup/mcast-docker-test 2>/dev/null
  if [ "$rc" != 0 ] && [ -d "$run" ]; then
    echo "--- containerd log (last 5 lines) ---" >&2
    tail -n 5 "$run/containerd.log" >&2 2>/dev/null
    echo "--- dockerd log (last 20 lines) ---" >&2
    tail -n 20 "$run/dockerd.log" >&2 2>/dev/null
  fi
  rm -rf "${run:?}" "${data:?}"
  [ "$had_run_containerd" = 1 ] || rmdir /run/containerd/s /run/containerd 2>/dev/null
  rmdir "$RUNBASE" "$DATABASE" 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Docker-made links in the root namespace before the test: the test's own
# bridge and veths must not be among them afterwards.
root_links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
root_before=$(root_links)

mkdir -p "$run/containerd" "$data"
echo '{}' >"$run/daemon.json"
cat >"$run/containerd.toml" <<EOF
version = 2
root = "$data/containerd"
state = "$run/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$csock"
[ttrpc]
  address = ""
[debug]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$data/opt"
EOF

ip netns add "$ns"
ip -n "$ns" link set lo up

# containerd and dockerd must share one mount namespace (dockerd mounts the
# container root file systems, containerd's runc uses them), so one
# `ip netns exec` starts both: containerd in the background, then dockerd in
# its place. $! is therefore dockerd's PID. `ip netns exec` gives them a
# private mount namespace with a fresh /sys (so /sys/class/net shows the
# namespace's links), which drops the cgroup mounts below /sys/fs/cgroup;
# they are mounted again there, as they are in the root namespace. (securityfs
# is not, so this daemon sees no AppArmor and needs no apparmor_parser.)
grep -E '^[^ ]+ /sys/fs/cgroup[/ ]' /proc/self/mounts >"$run/cgroup-mounts" ||
  die "no cgroup file system is mounted below /sys/fs/cgroup"
log "starting containerd and dockerd in network namespace $ns"
ip netns exec "$ns" bash -c '
  while read -r src target type opts _; do
    mkdir -p "$target" && mount -t "$type" -o "$opts" "$src" "$target" ||
      { echo "mounting $type at $target failed" >&2; exit 1; }
  done <"$2/cgroup-mounts"
  containerd --config "$1" >"$2/containerd.log" 2>&1 &
  echo $! >"$2/containerd.pid"
  for _ in $(seq 1 150); do [ -S "$3" ] && break; sleep 0.2; done
  shift 3
  exec dockerd "$@"
' _ "$run/containerd.toml" "$run" "$csock" \
  --host "unix://$sock" \
  --containerd "$csock" \
  --data-root "$data" \
  --exec-root "$run/exec" \
  --pidfile "$run/docker.pid" \
  --config-file "$run/daemon.json" \
  --bridge none \
  --iptables=false --ip-masq=false \
  --userland-proxy=false \
  --cgroup-parent mcast-docker-test \
  >"$run/dockerd.log" 2>&1 &
dockerd_pid=$!

for _ in $(seq 1 300); do
  [ -s "$run/containerd.pid" ] && containerd_pid=$(cat "$run/containerd.pid")
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then
    err=$(grep -E 'level=(fatal|error)|failed to start daemon' "$run/dockerd.log" | tail -n 1)
    [ -n "$err" ] || err=$(tail -n 1 "$run/dockerd.log")
    die "dockerd did not start: ${err:-no output}"
  fi
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
  sleep 0.2
done
server=$(docker version --format '{{.Server.Version}}' 2>&1) ||
  die "dockerd did not answer at $DOCKER_HOST within 60 s: $server"
log "dockerd $server (pid $dockerd_pid) answers at $DOCKER_HOST"

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
new_links=$(comm -13 <(echo "$root_before") <(root_links))
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
