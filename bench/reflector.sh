#!/usr/bin/env bash
# Benchmark: the relay as an mDNS reflector against avahi-daemon's reflector
# (enable-reflector=yes), on the same query load, in one run. Not a test.
#
# Lab (network namespaces made here and removed on exit): two VLANs, A and
# B, as two bridges; a router namespace on both (ethA 10.0.10.1, ethB
# 10.0.20.1) that does not route between them; on A a static responder
# (10.0.10.100) and a host for the direct baseline (10.0.10.101); on B the
# load generator (10.0.20.100). bench/mdnsload is both: the responder
# answers every A question under bench.local. by multicast at once, the
# generator sends RATE queries a second from port 5353, each for a new name
# carrying its send time, and counts the distinct answers it hears on B and
# their latency. The same load runs three times: direct (the generator on A,
# no reflector), through `mcast relay` (interface ethA, interface ethB,
# service mdns, no peers) and through avahi-daemon (Debian's, reflector on,
# publishing off, IPv4, D-Bus off, run in the router namespace in a mount
# namespace of its own with /run on a tmpfs, so its pid file and socket
# touch nothing outside).
#
# Throughput: the most distinct answers per second B received at any
# offered rate ("dup": answers heard again, which do not count). Latency:
# p50/p99 at LAT_RATE (default 1000/s, which both carry whole); added
# latency is the reflector's minus the direct run's.
#
# Usage: sudo bench/reflector.sh [SECONDS]   (seconds per trial, default 3)
# RATES="200 1000 ..." sets the offered rates (queries a second).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
rates=${RATES:-200 1000 2000 5000 10000 20000 40000}
lat_rate=${LAT_RATE:-1000}
py=/usr/bin/python3
for t in avahi-daemon "$py" ip unshare; do
  command -v "$t" >/dev/null || { echo "reflector.sh: $t is missing (scripts/install-deps.sh)" >&2; exit 2; }
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d)
bin=$tmp/mcast
CGO_ENABLED=0 go build -o "$bin" ./cmd/mcast
CGO_ENABLED=0 go build -o "$tmp/mdnsload" ./bench/mdnsload
pre=mdnsb$$
pids=()
nss=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
addns() {
  ip netns add "$pre-$1"
  nss+=("$pre-$1")
  ip -n "$pre-$1" link set lo up
}
# in_ns NS CMD...: CMD in namespace NS. A process started in the background
# is started with `ip netns exec` itself, so that $! is its PID (ip execs
# it), never a subshell's.
in_ns() { local n=$1; shift; ip netns exec "$pre-$n" "$@"; }
addns sw
in_ns sw sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
for br in brA brB; do
  ip -n "$pre-sw" link add $br type bridge mcast_snooping 0
  ip -n "$pre-sw" link set $br up
done
# plug PORT BRIDGE NS DEV ADDR
plug() {
  ip -n "$pre-sw" link add "$1" type veth peer name "$4" netns "$pre-$3"
  ip -n "$pre-sw" link set "$1" master "$2" up
  ip -n "$pre-$3" addr add "$5" dev "$4"
  ip -n "$pre-$3" link set "$4" up
}
for h in "a brA 10.0.10.100/24 10.0.10.1" "d brA 10.0.10.101/24 10.0.10.1" "b brB 10.0.20.100/24 10.0.20.1"; do
  set -- $h
  addns "$1"
  plug "h$1" "$2" "$1" eth0 "$3"
  ip -n "$pre-$1" route add default via "$4"
done
addns r
plug ra brA r ethA 10.0.10.1/24
plug rb brB r ethB 10.0.20.1/24
in_ns r sysctl -qw net.ipv4.ip_forward=0

ip netns exec "$pre-a" "$tmp/mdnsload" respond eth0 10.0.10.100 > "$tmp/responder.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q responding "$tmp/responder.log" && break; sleep 0.1; done

# trials NAME HOST: the load at every rate from HOST, one JSON line each,
# after a second at 100/s not counted (the reflector's first packets).
trials() {
  in_ns "$2" "$tmp/mdnsload" load eth0 100 1 >/dev/null
  for rate in $rates; do
    line=$(in_ns "$2" "$tmp/mdnsload" load eth0 "$rate" "$secs")
    echo "{\"via\": \"$1\", ${line#\{}" | tee -a "$tmp/results"
  done
}

trials direct d

"$bin" relay genkey > "$tmp/relay.priv"
chmod 600 "$tmp/relay.priv"
cat > "$tmp/relay.conf" <<EOF
node r
listen 10.0.10.1:7474
private-key $tmp/relay.priv
admin $tmp/relay.sock
interface ethA
interface ethB
service mdns
EOF
ip netns exec "$pre-r" "$bin" relay --config "$tmp/relay.conf" > "$tmp/relay.log" 2>&1 &
relay=$!
pids+=($relay)
for _ in $(seq 100); do "$bin" relay status --admin "$tmp/relay.sock" >/dev/null 2>&1 && break; sleep 0.1; done
trials mcast b
"$bin" relay status --admin "$tmp/relay.sock" --json > "$tmp/relay-status.json"
kill "$relay"
wait "$relay" 2>/dev/null || true

cat > "$tmp/avahi.conf" <<EOF
[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=ethA,ethB
enable-dbus=no
[wide-area]
enable-wide-area=no
[publish]
disable-publishing=yes
[reflector]
enable-reflector=yes
reflect-ipv=no
EOF
ip netns exec "$pre-r" unshare -m --propagation private sh -c \
  'mount -t tmpfs none /run && exec avahi-daemon -f "$1" --no-chroot --no-drop-root --no-rlimits --no-proc-title' \
  sh "$tmp/avahi.conf" > "$tmp/avahi.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "Server startup complete" "$tmp/avahi.log" && break; sleep 0.1; done
grep -q "Server startup complete" "$tmp/avahi.log" || { echo "avahi-daemon did not start:" >&2; cat "$tmp/avahi.log" >&2; exit 1; }
trials avahi b

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the start: $load0, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" - "$tmp/results" "$lat_rate" "$secs" "$tmp/relay-status.json" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
st = json.loads(open(sys.argv[4]).read())
print(f"relay: reflected {st.get('reflected')}, drops {st.get('drops')}")
lat_rate, secs = float(sys.argv[2]), sys.argv[3]
by = {}
for r in rows:
    by.setdefault(r["via"], []).append(r)
print("| offered/s | " + " | ".join(f"{v}: answers/s (answered/sent), p50/p99 ms, copies" for v in ("direct", "mcast", "avahi")) + " |")
print("|---:|---:|---:|---:|")
for i, r in enumerate(by["direct"]):
    cells = []
    for v in ("direct", "mcast", "avahi"):
        x = by[v][i]
        lat = "-/-" if x["p50_ms"] is None else f"{x['p50_ms']:.3f}/{x['p99_ms']:.3f}"
        cells.append(f"{x['answers_per_s']:.0f} ({x['answered']}/{x['sent']}), {lat}, {x['duplicates']} dup")
    print(f"| {r['offered']:.0f} | " + " | ".join(cells) + " |")
best = {v: max(x["answers_per_s"] for x in by[v]) for v in by}
at = {v: next(x for x in by[v] if x["offered"] == lat_rate) for v in by}
def added(v, k):
    return at[v][k] - at["direct"][k] if at[v][k] is not None and at["direct"][k] is not None else None
print()
print(f"throughput (most answers/s at any rate): mcast {best['mcast']:.0f}, avahi {best['avahi']:.0f}, "
      f"ratio {best['mcast'] / max(best['avahi'], 1e-9):.1f}x")
for k in ("p50_ms", "p99_ms"):
    m, a = added("mcast", k), added("avahi", k)
    ratio = f"{a / m:.1f}x lower with mcast" if m and a and m > 0 and a > 0 else "an added latency <= 0 is within the direct run's noise"
    print(f"{k[:3]} at {lat_rate:.0f}/s: direct {at['direct'][k]:.3f} ms, mcast {at['mcast'][k]:.3f} ms, avahi {at['avahi'][k]:.3f} ms; "
          f"added: mcast {m:.3f} ms, avahi {a:.3f} ms ({ratio})")
EOF
