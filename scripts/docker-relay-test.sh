#!/usr/bin/env bash
# Tests multicast into and out of a Docker bridge network through one
# `mcast relay` on the Docker host (docs/scenario-docker.md), against a real
# dockerd with its own iptables rules in place:
#
#   LAN namespace              Docker host namespace (own containerd, dockerd)
#   eth0 192.168.77.2 ------- lan0 192.168.77.1     br-media (docker network)
#   mcast send 239.10.0.1           mcast relay:          |
#   mcast recv 239.10.0.2           lan0 <-> br-media     container rx: mcast recv 239.10.0.1
#                                                         container tx: mcast send 239.10.0.2
#
# The relay starts before the Docker network exists (`interface br-media
# wait`), as on a host where it starts before dockerd, and with a second
# bridge that never appears (br-later): it serves what is there. Asserts: the container
# receives every datagram the LAN sender sent, once each, from the sender's
# own address and port; the container's sends reach the LAN the same way, but
# not its sends to the LAN's group (the allow lines carry that one only into
# the bridge), nor a rogue host's on the bridge that claims a LAN address; the bridge's IGMP snooping holds the container's join; Docker's FORWARD policy
# DROP and its chains were in place; after `docker network rm` the relay
# still serves lan0. Everything lives in two namespaces made
# here (nothing reaches the root namespace, which is checked) and is removed
# on exit, also on failure. Needs root, Go and Debian's docker.io
# (scripts/install-deps.sh). Takes about 15 s; bounded to 90 s.
set -euo pipefail
cd "$(dirname "$0")/.."

# The whole run is bounded: after 90 s timeout sends SIGTERM to the run's
# process group, and the EXIT trap below removes everything (KILL 60 s later
# if that hangs; the next run then removes the leftovers).
limit=90
if [ -z "${MCAST_DOCKER_RELAY_BOUNDED:-}" ]; then
  MCAST_DOCKER_RELAY_BOUNDED=1 exec timeout -k 60 "$limit" bash "$0" "$@"
fi

log() { echo "docker-relay-test: $*"; }
die() { echo "docker-relay-test: FAIL: $*" >&2; exit 1; }

for b in python3 bridge iptables-save timeout; do
  command -v "$b" >/dev/null || die "$b is not installed (run scripts/install-deps.sh)"
done
# shellcheck source=docker-netns.sh
. scripts/docker-netns.sh
dn_setup

lan=mcastlan-$$
rogue=mcastrogue-$$
bridge=br-media
relay_pid="" lanrecv_pid=""
start=$(date +%s)

cleanup() {
  local rc=$?
  set +e
  trap '' INT TERM # a signal now (the time bound's) must not cut the cleanup short
  [ -n "$lanrecv_pid" ] && dn_stop_pid "$lanrecv_pid" 5
  if [ -n "$relay_pid" ]; then
    dn_stop_pid "$relay_pid" 10
    [ "$rc" != 0 ] && { echo "--- relay log (last 20 lines) ---" >&2; tail -n 20 "$run/relay.log" >&2; }
  fi
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    timeout 30 docker rm -f rx tx >/dev/null 2>&1
    timeout 30 docker network rm media >/dev/null 2>&1
  fi
  [ "$rc" != 0 ] && dn_logs
  ip netns del "$lan" 2>/dev/null
  ip netns del "$rogue" 2>/dev/null
  dn_stop
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS WHAT CMD... runs CMD until it succeeds, for at most
# SECONDS (and never past the test's limit), else fails naming WHAT.
wait_for() {
  local secs=$1 what=$2 end
  shift 2
  end=$(($(date +%s) + secs))
  [ "$end" -le $((start + limit)) ] || end=$((start + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || die "$what (waited ${secs} s)"
    sleep 0.1
  done
}
in_host() { ip netns exec "$ns" "$@"; }
in_lan() { ip netns exec "$lan" "$@"; }

root_before=$(dn_root_links)
# Docker's own firewall stays on (no --iptables=false): its rules are part of
# what is tested.
dn_start

# The LAN: a namespace joined to the Docker host by a veth pair.
ip netns add "$lan"
ip -n "$lan" link set lo up
ip -n "$ns" link add lan0 type veth peer name eth0 netns "$lan"
ip -n "$ns" addr add 192.168.77.1/24 dev lan0
ip -n "$ns" link set lan0 up
ip -n "$lan" addr add 192.168.77.2/24 dev eth0
ip -n "$lan" link set eth0 up

# The image: the static binary alone (Dockerfile), nothing pulled.
make --no-print-directory build >"$run/build.log" 2>&1 || die "make build failed: $(tail -n 5 "$run/build.log")"
docker build -q -t mcast:local . >"$run/build.log" 2>&1 || die "docker build failed: $(tail -n 5 "$run/build.log")"

# One relay on the Docker host, started before the bridge network exists.
bin/mcast relay genkey >"$run/relay.priv"
chmod 600 "$run/relay.priv"
cat >"$run/relay.conf" <<EOF
node dockerhost
listen 127.0.0.1:7474
private-key $run/relay.priv
admin $run/relay.sock
metrics 127.0.0.1:9474
interface lan0
interface $bridge wait allow 172.28.0.0/24
interface br-later wait
group 239.10.0.1
group 239.10.0.2
allow 239.10.0.1 from lan0 to $bridge
allow 239.10.0.2 from $bridge to lan0
EOF
status() { in_host bin/mcast relay status --admin "$run/relay.sock" --json; }
in_host bin/mcast relay --config "$run/relay.conf" --check >"$run/check.log" 2>&1 ||
  die "relay --check refused the config while $bridge is missing: $(cat "$run/check.log")"
# ip netns exec runs the command in its own place: $! is the relay's PID.
ip netns exec "$ns" bin/mcast relay --config "$run/relay.conf" >"$run/relay.log" 2>&1 &
relay_pid=$!
wait_for 10 "the relay did not answer status while waiting for $bridge" status
# status_has TEXT: the relay's JSON status, without blanks, contains TEXT.
status_has() { status | tr -d ' \n' | grep -qF "$1"; }
status_has '"interface_up":true,' && status_has '"interfaces_down":["'"$bridge"'","br-later"]' ||
  die "the relay does not serve lan0 while $bridge and br-later are missing: $(status)"
text=$(in_host bin/mcast relay status --admin "$run/relay.sock")
echo "$text" | grep -q "^interface $bridge, br-later is missing or down: not served until it is up\$" ||
  die "relay status does not say it waits for $bridge and br-later: $text"
log "the relay (pid $relay_pid) serves lan0 and waits for $bridge and br-later"

# The user-defined Docker network, its bridge named for the relay config.
docker network create --driver bridge --subnet 172.28.0.0/24 \
  -o com.docker.network.bridge.name="$bridge" media >/dev/null
wait_for 10 "the relay did not serve $bridge once it appeared" status_has '"interfaces_down":["br-later"]'
metrics=$(in_host python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9474/metrics").read().decode())')
for want in "mcast_relay_interface_served{interface=\"$bridge\"} 1" 'mcast_relay_interface_served{interface="br-later"} 0' \
  'mcast_relay_interface_served{interface="lan0"} 1'; do
  echo "$metrics" | grep -qF "$want" || die "no $want in the relay's metrics: $(echo "$metrics" | grep interface_served)"
done
log "$bridge appeared (state $(ip -n "$ns" -br link show "$bridge" | awk '{print $2}'): no port yet, so no carrier); the relay serves it, br-later still missing"

# Docker's firewall in the host namespace: FORWARD policy DROP and its chains.
rules=$(in_host iptables-save)
echo "$rules" | grep -q '^:FORWARD DROP' || die "Docker did not set the FORWARD policy to DROP: $rules"
echo "$rules" | grep -q -- "-A DOCKER-ISOLATION-STAGE-1 -i $bridge" ||
  die "Docker installed no isolation rule for $bridge: $rules"
log "Docker's firewall is on: FORWARD policy DROP, $(echo "$rules" | grep -c '^-A') rules"

# LAN -> container. The receiver joins (printing "use interface:" after the
# join), then the bridge's snooping must hold that join on its port.
docker run -d --name rx --network media mcast:local \
  mcast recv -I eth0 -c 10 -T 15s 239.10.0.1 >/dev/null
wait_for 20 "the container rx did not join 239.10.0.1" bash -c "docker logs rx 2>&1 | grep -q 'use interface:'"
rx_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' rx)
wait_for 10 "the bridge's IGMP snooping has no entry for rx's join of 239.10.0.1" bash -c \
  "bridge -n $ns mdb show dev $bridge | grep -qE 'port veth[0-9a-f]+ grp 239\.10\.0\.1 '"
# (The entry on port $bridge itself is the relay's own join, not rx's.)
log "container rx ($rx_ip) joined 239.10.0.1: $(bridge -n "$ns" mdb show dev "$bridge" | grep -E 'port veth[0-9a-f]+ grp 239\.10\.0\.1 ' | head -n 1)"

in_lan bin/mcast send -I eth0 -c 10 -i 20ms 239.10.0.1 >"$run/lansend.log" 2>&1 ||
  die "mcast send on the LAN failed: $(cat "$run/lansend.log")"
lan_from=$(grep -oE 'from 192\.168\.77\.2:[0-9]+' "$run/lansend.log" | head -n 1 | sed 's/from //')
[ -n "$lan_from" ] || die "the LAN sender printed no 'from ADDR:PORT': $(cat "$run/lansend.log")"
code=$(timeout 30 docker wait rx) || die "the container rx did not end within 30 s"
docker logs rx >"$run/rx.log" 2>&1
[ "$code" = 0 ] || die "the container rx exited $code: $(cat "$run/rx.log")"

# check_recv FILE FROM WHO: messages 0-9 each exactly once, all from FROM.
check_recv() {
  local f=$1 from=$2 who=$3 n c
  for n in $(seq 0 9); do
    c=$(grep -cE "^received: message $n from ${from//./\\.} " "$f" || true)
    [ "$c" = 1 ] || die "$who got message $n from $from $c times, want 1: $(cat "$f")"
  done
  c=$(grep -c '^received: ' "$f" || true)
  [ "$c" = 10 ] || die "$who printed $c received lines, want 10: $(cat "$f")"
  grep -qE "^  [0-9.]+ from ${from//./\\.} on eth0 .*: 10 received, .*, 0 duplicates, 0 reordered" "$f" ||
    die "$who's flow summary is not 10 received, 0 duplicates, 0 reordered from $from: $(cat "$f")"
}
check_recv "$run/rx.log" "$lan_from" "container rx"
log "container rx got messages 0-9 once each from the LAN sender $lan_from"

# Container -> LAN. The container also sends to the LAN's group 239.10.0.1,
# which the allow lines carry only from the LAN to the bridge: a container
# must not inject it into the LAN. And a rogue host on the bridge (what a
# container with NET_RAW or NET_ADMIN can be) claims the LAN address
# 192.168.77.99: the interface line's allow 172.28.0.0/24 keeps it out. The
# LAN receiver listens to both groups and ends 6 s after the last datagram.
ip netns add "$rogue"
ip -n "$ns" link add rogue0 type veth peer name eth0 netns "$rogue"
ip -n "$ns" link set rogue0 master "$bridge" up
ip -n "$rogue" addr add 192.168.77.99/24 dev eth0
ip -n "$rogue" link set eth0 up
ip netns exec "$lan" bin/mcast recv -I eth0 -T 6s 239.10.0.2,239.10.0.1 >"$run/lanrecv.log" 2>&1 &
lanrecv_pid=$!
wait_for 10 "the LAN receiver did not join 239.10.0.2 and 239.10.0.1" grep -q 'use interface:' "$run/lanrecv.log"
docker run --name tx --network media mcast:local \
  mcast send -I eth0 -c 10 -i 20ms 239.10.0.2,239.10.0.1 >"$run/tx.log" 2>&1 ||
  die "mcast send in the container tx failed: $(cat "$run/tx.log")"
ip netns exec "$rogue" bin/mcast send -I eth0 -c 10 -i 20ms 239.10.0.2 >"$run/rogue.log" 2>&1 ||
  die "mcast send on the rogue host failed: $(cat "$run/rogue.log")"
tx_from=$(grep -oE 'from 172\.28\.0\.[0-9]+:[0-9]+' "$run/tx.log" | head -n 1 | sed 's/from //')
[ -n "$tx_from" ] || die "the container tx printed no 'from ADDR:PORT': $(cat "$run/tx.log")"
wait_for 30 "the LAN receiver did not end" bash -c "! kill -0 $lanrecv_pid"
wait "$lanrecv_pid" || die "the LAN receiver exited non-zero: $(cat "$run/lanrecv.log")"
lanrecv_pid=""
check_recv "$run/lanrecv.log" "$tx_from" "the LAN receiver"
! grep -qE '^  239\.10\.0\.1 from' "$run/lanrecv.log" ||
  die "the container's sends to 239.10.0.1 reached the LAN, against allow 239.10.0.1 from lan0 to $bridge: $(cat "$run/lanrecv.log")"
! grep -q '192\.168\.77\.99' "$run/lanrecv.log" ||
  die "the rogue host's datagrams from 192.168.77.99 reached the LAN: $(cat "$run/lanrecv.log")"
log "the LAN receiver got messages 0-9 once each from container tx $tx_from, none of its sends to 239.10.0.1, none from the rogue 192.168.77.99"

# The relay's own counts: each datagram a sender put on the wire (10
# messages and the end markers) re-emitted once; the container's sends to
# 239.10.0.1 captured on the bridge and not re-emitted; the rogue's dropped
# as spoofed-source.
status >"$run/status.json"
python3 - "$run/status.json" <<'PY' || die "the relay's counts are wrong: $(cat "$run/status.json")"
import json, sys
st = json.load(open(sys.argv[1]))
cap, emit = st["captured"], st["emitted"]
a, b = "239.10.0.1", "239.10.0.2"
spoofed = st["drops"]["spoofed-source"]
ok = (emit[a] >= 10 and emit[b] == emit[a] and cap[b] == emit[b] and cap[a] == 2 * emit[a]
      and st["reflected"] == emit[a] + emit[b] and spoofed == emit[b])
print("docker-relay-test: relay captured %s, emitted %s, reflected %d, dropped %d as spoofed-source"
      % (cap, emit, st["reflected"], spoofed))
sys.exit(0 if ok else 1)
PY

# The network removed (its bridge deleted): the relay goes on serving lan0
# and waits for the bridge again.
docker rm -f rx tx >/dev/null
docker network rm media >/dev/null
wait_for 10 "the relay does not report $bridge missing after docker network rm" \
  status_has '"interfaces_down":["'"$bridge"'","br-later"]'
status_has '"interface_up":true,' || die "the relay stopped serving lan0 when $bridge went: $(status)"
log "docker network rm: the relay serves lan0 and waits for $bridge again"

# Nothing of this test reached the root namespace.
new_links=$(comm -13 <(echo "$root_before") <(dn_root_links))
if echo "$new_links" | grep -qE "^($bridge|lan0|veth[0-9a-f]{7})\$"; then
  die "links of the test appeared in the root network namespace: $(echo $new_links)"
fi
# The relay stops on SIGTERM, at once and with status 0.
kill -TERM "$relay_pid"
wait_for 10 "the relay did not stop on SIGTERM" bash -c "! kill -0 $relay_pid"
wait "$relay_pid" || die "the relay exited $? on SIGTERM: $(tail -n 5 "$run/relay.log")"
relay_pid=""
grep -E 'msg="(interface|relay stopped)' "$run/relay.log" | sed 's/^/relay: /'
log "PASS in $(($(date +%s) - start)) s"
