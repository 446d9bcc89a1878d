#!/usr/bin/env bash
# Benchmark: mcast relay against a kernel VXLAN mesh between the same VMs,
# in one run, in a cloud lab of three VMs (namespaces only; built here and
# removed on exit). Both paths carry one group from a sender on vm1 to
# receivers on vm2 and vm3, fed by the same `mcast send --rate` (UDP_SEGMENT
# sends; NO_GSO=1 makes it send sendmmsg batches instead).
#
# Throughput: the highest rate with loss <= 0.1 % on both receivers, found by
# trials (first --rate max, then a search around what it delivered). The kernel counts: delivered =
# Udp InDatagrams in the receiving VM's namespace minus the tunnel's own
# datagrams (the relay's underlay reads from `mcast relay status`, where
# frames coalesced by UDP_GRO count once as in the kernel, VXLAN packets from
# vx0's rx_packets); loss = 1 - delivered / sent.
# Latency: one-way p50/p99 from `mcast recv --json` (the lab's clocks agree)
# at a moderate rate; added latency = relay - VXLAN. For reference, the
# latency of two plain socat hops doing the relay's job without crypto or
# batching (when socat is installed).
#
# Usage: sudo bench/relay.sh [SECONDS]   (seconds per trial, default 2). Not a test.
# SOURCE=relay measures the relay's `source relay` re-emission instead of
# the source-preserving raw path.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-2}
gso=""; [ -n "${NO_GSO:-}" ] && gso="--no-gso"
lat_rate=${LAT_RATE:-2000}
. bench/lib.sh
bench_setup rbench
"$bin" lab up cloud --nodes 3 --name "$lab" >/dev/null
ex() { "$bin" lab exec --name "$lab" "$@"; }
vms=(vm1 vm2 vm3)

# The lab's switches are Linux bridges; where br_netfilter is loaded (Docker
# loads it) every bridged frame also runs the host's iptables hooks, which no
# real switch does and which costs per frame on both paths. Off in this lab's
# switches unless BRNF=1.
if [ -z "${BRNF:-}" ]; then
  for i in 1 2 3; do
    ip netns exec "$lab-net$i" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
      net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
  done
fi

# Kernel VXLAN mesh: vx0 on each VM, head-end replication to every peer.
for i in 1 2 3; do
  ex vm$i -- ip link add vx0 type vxlan id 42 dstport 4789 local 10.0.$i.10 dev eth0
  for j in 1 2 3; do
    [ $i = $j ] || ex vm$i -- bridge fdb append 00:00:00:00:00:00 dev vx0 dst 10.0.$j.10
  done
  ex vm$i -- ip addr add 172.16.254.$i/24 dev vx0
  ex vm$i -- ip link set vx0 up
done

# Relays.
head -c 32 /dev/urandom > "$tmp/key"
for i in 1 2 3; do
  (umask 077; "$bin" relay genkey > "$tmp/vm$i.priv")
  "$bin" relay pubkey < "$tmp/vm$i.priv" > "$tmp/vm$i.pub"
done
for i in 1 2 3; do
  {
    echo "node vm$i"; echo "listen 10.0.$i.10:7474"; echo "interface eth0"; echo "key $tmp/key"
    echo "private-key $tmp/vm$i.priv"
    echo "admin $tmp/vm$i.sock"; echo "group 239.1.1.1"; echo "source ${SOURCE:-original}"
    for j in 1 2 3; do [ $i = $j ] || echo "peer vm$j 10.0.$j.10:7474 $(cat "$tmp/vm$j.pub")"; done
  } > "$tmp/vm$i.conf"
  ex vm$i -- "$bin" relay --config "$tmp/vm$i.conf" --log-level warn 2>"$tmp/vm$i.log" &
  pids+=($!)
done

# Long-lived receivers: relay path 239.1.1.1:5001 on eth0, VXLAN path 239.2.2.2:5002 on vx0.
# Without UDP_GRO (--gro=false): a coalesced read counts once in Udp
# InDatagrams, so segmented deliveries (VXLAN's GRO on recent kernels, the
# relay's UDP_SEGMENT re-emissions of `source relay`, looped back whole)
# would count as loss.
for vm in vm2 vm3; do
  ex $vm -- "$bin" recv --iface eth0 --quiet --gro=false 239.1.1.1:5001 >/dev/null 2>&1 &
  pids+=($!)
  ex $vm -- "$bin" recv --iface vx0 --quiet --gro=false 239.2.2.2:5002 >/dev/null 2>&1 &
  pids+=($!)
done
for _ in $(seq 100); do
  st=$(ex vm1 -- "$bin" relay status --admin "$tmp/vm1.sock" --json 2>/dev/null || true)
  n=$(echo "$st" | grep -c '"239.1.1.1"' || true)
  [ "$n" -ge 3 ] && break   # joined, and wanted by vm2 and vm3
  sleep 0.2
done

indgrams() { ip netns exec "$lab-$1" awk '/^Udp:/ { if (h) { print $2 } else h=1 }' /proc/net/snmp; }
tunnel() { # the tunnel's own datagrams received by VM $2 for path $1
  if [ "$1" = vxlan ]; then
    ip netns exec "$lab-$2" cat /sys/class/net/vx0/statistics/rx_packets
  else
    ex "$2" -- "$bin" relay status --admin "$tmp/$2.sock" --json | awk -F'[:,]' '/"underlay_reads"/ { s += $2 } END { print s + 0 }'
  fi
}
target() { if [ "$1" = vxlan ]; then echo "239.2.2.2:5002 --iface vx0"; else echo "239.1.1.1:5001 --iface eth0"; fi; }

# settle waits until the receiving VMs' counters stop moving (the previous
# trial's backlog drained), so that it is not counted in the next one.
settle() {
  local x y
  for _ in $(seq 50); do
    x="$(indgrams vm2) $(indgrams vm3)"; sleep 0.3; y="$(indgrams vm2) $(indgrams vm3)"
    [ "$x" = "$y" ] && return
  done
}

# trial PATH SIZE RATE: prints "sent delivered2 delivered3".
trial() {
  local path=$1 size=$2 rate=$3 a2 a3 t2 t3
  settle
  a2=$(indgrams vm2); a3=$(indgrams vm3); t2=$(tunnel $path vm2); t3=$(tunnel $path vm3)
  local out
  out=$(ex vm1 -- "$bin" send $(target $path) --rate "$rate" --size "$size" --duration "${secs}s" $gso 2>&1)
  settle
  local b2 b3 u2 u3
  b2=$(indgrams vm2); b3=$(indgrams vm3); u2=$(tunnel $path vm2); u3=$(tunnel $path vm3)
  local sent
  sent=$(echo "$out" | sed -n 's/^sent \([0-9]*\) datagrams.*/\1/p' | head -1)
  # The sender's three end markers arrive too.
  echo "${sent:-0} $((b2 - a2 - (u2 - t2) - 3)) $((b3 - a3 - (u3 - t3) - 3))"
}

# best PATH SIZE: the highest rate with loss <= 0.1 % on both receivers.
# A first trial at --rate max bounds it; then up to TRIALS (default 7)
# trials search: up by 15 % from a rate that passed until one fails, down to
# 85 % of what the slower receiver got when one fails, then halving the gap
# between the highest pass and the lowest failure; it stops early when a
# pass sent less than asked (the sender is the limit). The same search for
# both paths.
best() {
  local path=$1 size=$2 i sent d2 d3 ok lo=0 hi=0 rate
  read -r sent d2 d3 < <(trial $path $size max)
  echo "  trial $path ${size}B rate=max: sent $sent, delivered vm2 $d2 vm3 $d3" >&2
  rate=$(awk -v a=$d2 -v b=$d3 -v t=$secs 'BEGIN { m = a < b ? a : b; r = 0.9 * m / t; if (r < 1000) r = 1000; printf "%.0f", r }')
  for i in $(seq "${TRIALS:-7}"); do
    read -r sent d2 d3 < <(trial $path $size $rate)
    ok=$(awk -v s=$sent -v a=$d2 -v b=$d3 'BEGIN { m = a < b ? a : b; print (s > 0 && (s - m) / s <= 0.001) ? 1 : 0 }')
    echo "  trial $path ${size}B rate=$rate: sent $sent, delivered vm2 $d2 vm3 $d3, $([ $ok = 1 ] && echo pass || echo fail)" >&2
    if [ "$ok" = 1 ]; then
      # What was sent (the sender may fall short of the rate asked).
      lo=$(awk -v s=$sent -v t=$secs -v l=$lo 'BEGIN { r = s / t; printf "%.0f", (r > l ? r : l) }')
    else
      hi=$rate
    fi
    if [ "$ok" = 1 ] && awk -v s=$sent -v t=$secs -v r=$rate 'BEGIN { exit !(s / t < 0.97 * r) }'; then
      break # all it sent arrived, and the sender could not go faster
    fi
    if [ "$hi" = 0 ]; then
      rate=$(awk -v r=$lo 'BEGIN { printf "%.0f", 1.15 * r }')
    elif [ "$lo" = 0 ]; then
      rate=$(awk -v a=$d2 -v b=$d3 -v t=$secs 'BEGIN { m = a < b ? a : b; r = 0.85 * m / t; if (r < 1000) r = 1000; printf "%.0f", r }')
    else
      rate=$(( (lo + hi) / 2 ))
      # Within 2 % of each other: found.
      awk -v l=$lo -v h=$hi 'BEGIN { exit !(h - l < 0.02 * h) }' && break
    fi
  done
  echo $lo
}

# latency PATH SIZE: "p50 p99" in microseconds at lat_rate, receiver on vm2.
# PATH socat is a reference: the plainest userspace relay of two hops, one
# socat on vm1 that takes the group and sends each datagram by unicast to
# vm2, and one there that sends it to the group again (no crypto, no
# batching).
latency() {
  local path=$1 size=$2 port grp ifc sport
  if [ $path = vxlan ]; then grp=239.2.2.2; port=5012; ifc=vx0; else grp=239.1.1.1; port=5011; ifc=eth0; fi
  sport=$port
  if [ $path = socat ]; then grp=239.3.3.3; sport=5021; port=5022; fi
  ex vm2 -- "$bin" recv --iface $ifc --quiet --json --timeout 2s $grp:$port > "$tmp/lat.json" 2>/dev/null &
  local rp=$!
  sleep 1.5
  ex vm1 -- "$bin" send $grp:$sport --iface $ifc --rate $lat_rate --size $size --duration 1s $gso >/dev/null 2>&1
  wait $rp || true
  grep '"type":"recv.summary"' "$tmp/lat.json" | tail -1 |
    sed -n 's/.*"latency_ms":{"min":[^,]*,"avg":[^,]*,"p50":\([^,]*\),"p99":\([^,]*\),.*/\1 \2/p' |
    awk '{ printf "%.0f %.0f\n", $1 * 1000, $2 * 1000 }'
}

declare -A thr p50 p99
for size in 64 1400; do
  for path in vxlan relay; do
    thr[$path$size]=$(best $path $size)
    read -r p50[$path$size] p99[$path$size] < <(latency $path $size)
  done
done

# The socat reference (latency only), if socat is installed.
if command -v socat >/dev/null; then
  ip netns exec "$lab-vm1" socat -u UDP4-RECV:5021,ip-add-membership=239.3.3.3:eth0,reuseaddr UDP4-SENDTO:10.0.2.10:6000 &
  pids+=($!)
  ip netns exec "$lab-vm2" socat -u UDP4-RECV:6000 UDP4-DATAGRAM:239.3.3.3:5022,ip-multicast-if=10.0.2.10,ip-multicast-ttl=1 &
  pids+=($!)
  sleep 0.5
  for size in 64 1400; do
    read -r p50[socat$size] p99[socat$size] < <(latency socat $size)
  done
fi

echo
echo "| bytes | kernel VXLAN dgram/s | relay dgram/s | relay/VXLAN | VXLAN p50/p99 µs | relay p50/p99 µs | added p50/p99 µs |"
echo "|------:|-----:|-----:|-----:|-----:|-----:|-----:|"
for size in 64 1400; do
  awk -v s=$size -v v=${thr[vxlan$size]} -v r=${thr[relay$size]} -v v5=${p50[vxlan$size]:-0} -v v9=${p99[vxlan$size]:-0} \
      -v r5=${p50[relay$size]:-0} -v r9=${p99[relay$size]:-0} 'BEGIN {
    printf "| %5d | %d | %d | %.2fx | %d / %d | %d / %d | %d / %d |\n", s, v, r, (v > 0 ? r / v : 0), v5, v9, r5, r9, r5 - v5, r9 - v9 }'
done
echo "(loss <= 0.1 % at vm2 and vm3; source ${SOURCE:-original}; sender ${gso:-with UDP_SEGMENT}; br_netfilter ${BRNF:+on}${BRNF:-off}; ${secs}s per trial; latency at $lat_rate dgram/s)"
if [ -n "${p50[socat64]:-}" ]; then
  echo "(reference, two socat hops vm1 -> unicast -> vm2 -> group: p50/p99 µs ${p50[socat64]} / ${p99[socat64]} at 64 B, ${p50[socat1400]} / ${p99[socat1400]} at 1400 B; added over VXLAN $(( p50[socat64] - p50[vxlan64] )) and $(( p50[socat1400] - p50[vxlan1400] )) at p50)"
fi
