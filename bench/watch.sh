#!/usr/bin/env bash
# Benchmark: does mcast watch count every datagram of a fast stream? In a
# two-node lab (namespaces only, removed at exit), n2 sends one group at
# 200k, 500k and 1M datagrams/s (64-byte payload) for SECONDS; on n1, mcast
# watch and tcpdump capture eth0 in the same run. Each rate runs twice:
#   sendmmsg     mcast send --no-gso: each datagram is one packet everywhere
#   UDP_SEGMENT  mcast send's default: the sender hands the kernel batches
#                of datagrams, which cross the lab's veths whole; watch cuts
#                each into its datagrams, tcpdump sees one packet per batch
#
# Columns, per asked rate (datagrams/s):
#   sent/s       what mcast send says it sent, per second
#   delivered/s  datagrams that reached n1's eth0: an nftables counter on
#                its ingress hook (udp dport 5001), (bytes - 28 x packets) /
#                64 per second (a batch counts as its datagrams)
#   watch/s      datagrams mcast watch counted (its summary's total), per
#                second
#   missed       1 - watch / delivered
#   watch drops  the capture's own drop count in watch's summary
#                (PACKET_STATISTICS of its ring)
#   tcpdump      packets tcpdump captured (batches count once), and those
#                it says the kernel dropped ("dropped by kernel"), as the
#                reference
#
# Usage: sudo bench/watch.sh [SECONDS]   (default 3)
# MCAST=/path/to/mcast benchmarks that binary instead of building one.
# Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
if [ -n "${MCAST:-}" ]; then
  bin=$MCAST
else
  bin=$(mktemp -d)/mcast
  CGO_ENABLED=0 go build -o "$bin" ./cmd/mcast
fi
lab=wbench$$
tmp=$(mktemp -d)
"$bin" lab up lan --nodes 2 --name "$lab" >/dev/null
cleanup() {
  for p in ${pids:-}; do kill "$p" 2>/dev/null || true; done
  "$bin" lab down --name "$lab" >/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
n1() { ip netns exec "$lab-n1" "$@"; }
n2() { ip netns exec "$lab-n2" "$@"; }
n1 nft add table netdev bench
n1 nft add chain netdev bench in '{ type filter hook ingress device eth0 priority 0; }'
n1 nft add rule netdev bench in udp dport 5001 counter
# delivered: datagrams of 64 bytes counted at n1's ingress so far.
delivered() { n1 nft list chain netdev bench in | awk '/counter/ { printf "%d\n", ($8 - 28 * $6) / 64 }'; }

# waitfor FILE TEXT: until FILE holds TEXT (at most 10 s).
waitfor() {
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done
  echo "no '$2' in $1" >&2; exit 1
}

printf '%-12s %-9s %10s %12s %10s %7s %11s %9s %15s\n' send rate sent/s delivered/s watch/s missed "watch drops" tcpdump "tcpdump dropped"
for mode in sendmmsg UDP_SEGMENT; do
for rate in 200000 500000 1000000; do
  gso=--no-gso
  [ "$mode" = UDP_SEGMENT ] && gso=''

  d0=$(delivered)
  # ip netns exec execs the command: $! is the capture's own PID.
  ip netns exec "$lab-n1" "$bin" watch --iface eth0 --json --report-interval 0 >"$tmp/watch" 2>&1 &
  wpid=$!
  ip netns exec "$lab-n1" tcpdump -i eth0 -n -q -w /dev/null 'udp port 5001' >"$tmp/tcpdump" 2>&1 &
  tpid=$!
  pids="$wpid $tpid"
  waitfor "$tmp/watch" '"type":"watch.start"'
  waitfor "$tmp/tcpdump" 'listening on'
  sent=$(n2 "$bin" send 239.1.1.1:5001 --iface eth0 --rate "$rate" $gso --size 64 --duration "${secs}s" --no-loop |
    awk '/^sent / { print $2 }')
  sleep 1 # let both captures drain their buffers
  kill -INT "$wpid" "$tpid"
  wait "$wpid" "$tpid" || true
  pids=
  got=$(( $(delivered) - d0 ))
  read -r counted wdrops < <(python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
n = sum(g["packets"] for g in s["groups"] if g["group"] == "239.1.1.1")
print(n, s.get("capture_dropped", 0))' "$tmp/watch")
  tcap=$(awk '/packets captured/ { print $1 }' "$tmp/tcpdump")
  tdrop=$(awk '/dropped by kernel/ { print $1 }' "$tmp/tcpdump")
  awk -v m="$mode" -v r="$rate" -v s="$sent" -v d="$got" -v w="$counted" -v wd="$wdrops" -v tc="$tcap" -v td="$tdrop" -v t="$secs" 'BEGIN {
    printf "%-12s %-9s %10.0f %12.0f %10.0f %6.1f%% %11d %9d %15d\n", m, r, s / t, d / t, w / t, (d && w < d) ? 100 * (1 - w / d) : 0, wd, tc, td }'
done
done
