#!/usr/bin/env bash
# Benchmark: mcast send -> mcast recv against iperf2's multicast client ->
# server, in one run, in a two-node lab (namespaces only, removed at exit).
#
# Tools: iperf2; mcast (recv with UDP_GRO, its default); mcast-nogro (recv
# --gro=false: one datagram per socket buffer, as iperf2 reads).
# For each tool and payload size (64 and 1400 bytes) it measures two rows:
#   max       the sender as fast as it goes (iperf2 -b 100G, mcast --rate max)
#   lossless  the highest paced rate (iperf2 -b Npps, mcast --rate N) whose
#             loss stays at most 0.1 %, found by a short search
#             (first 0.9 x what max delivered, then halving the interval)
#
# The kernel grades both tools, in the receiving namespace n2:
#   sent        what the sender says it sent (iperf2's "Sent N datagrams",
#               mcast's "sent N datagrams")
#   delivered   datagrams the kernel handed to the receiving socket:
#               Udp InDatagrams of /proc/net/snmp for a plain socket. mcast
#               recv asks for UDP_GRO (its default), and then the kernel hands
#               over a sender's UDP_SEGMENT batch as one datagram and counts
#               it once in InDatagrams; so for mcast the datagrams are counted
#               by an nftables rule on n2's input hook (udp dport 5001):
#               (bytes - 28 x packets) / payload size, less the receive
#               buffer drops (RcvbufErrors, counted per coalesced datagram and
#               so weighted by the average datagrams per packet: an estimate,
#               exact whenever there were no drops)
#   drops       RcvbufErrors (per coalesced datagram for mcast with GRO)
#   loss        1 - delivered / sent
#   cpu         user + system time of sender and receiver per delivered
#               datagram (bash's time)
#   recv says/s what the receiving tool counted itself, per second (a
#               cross-check, not the grade): mcast recv's total, iperf2
#               server's total - lost
# Both receivers get big socket buffers: mcast recv 8 MiB (SO_RCVBUFFORCE,
# its default as root), iperf2 -w 4M (SO_RCVBUF, which net.core.rmem_max
# caps).
#
# Usage: sudo bench/send-recv.sh [SECONDS] [STEPS]   (defaults 3 and 5)
# RECV_FLAGS=... passes more flags to mcast recv. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
steps=${2:-5}
maxloss=0.1
bin=$(mktemp -d)/mcast
CGO_ENABLED=0 go build -o "$bin" ./cmd/mcast
lab=bench$$
"$bin" lab up lan --nodes 2 --name "$lab" >/dev/null
trap '"$bin" lab down --name "$lab" >/dev/null' EXIT
ex() { "$bin" lab exec --name "$lab" "$@"; }
n2() { ip netns exec "$lab-n2" "$@"; }
n2 nft add table ip bench
n2 nft add chain ip bench input '{ type filter hook input priority 0; }'
n2 nft add rule ip bench input udp dport 5001 counter
n2 nft add rule ip bench input udp dport 5002 counter
recv_flags=${RECV_FLAGS:-}
gro=1
case " $recv_flags " in *" --gro=false "*) gro=0 ;; esac

# counters PORT: InDatagrams RcvbufErrors nft-packets nft-bytes
counters() {
  local snmp nft
  snmp=$(n2 awk '/^Udp:/ { if (h) { print $2, $6 } else h=1 }' /proc/net/snmp)
  nft=$(n2 nft list chain ip bench input | awk -v p="$1" '$3 == p { print $6, $8 }')
  echo "$snmp $nft"
}
cpu() { awk '{print $1+$2}' "$1"; }

# measure TOOL SIZE RATE: one run (RATE: max or datagrams/s); sets $row
# (a table row) and $loss, $sent_ps, $delivered_ps.
measure() {
  local tool=$1 size=$2 rate=$3 t port recv send
  t=$(mktemp -d)
  local g=0
  if [ "$tool" != iperf2 ]; then
    port=5001
    local flags=$recv_flags
    g=$gro
    if [ "$tool" = mcast-nogro ]; then flags="$flags --gro=false" g=0; fi
    recv="$bin recv 239.1.1.1:$port --iface eth0 --quiet --timeout 2s $flags"
    send="$bin send 239.1.1.1:$port --iface eth0 --rate $rate --size $size --duration ${secs}s --no-loop"
  else
    port=5002
    local b=100G
    [ "$rate" = max ] || b=${rate}pps
    recv="timeout $((secs + 3)) iperf -s -u -B 239.1.1.1 -p $port -l $size -w 4M"
    send="iperf -c 239.1.1.1 -u -T 1 -p $port -l $size -b $b -t $secs"
  fi
  ex n2 -- bash -c "TIMEFORMAT='%U %S'; { time $recv >$t/recv.out 2>&1 ; } 2>$t/recv.cpu" &
  local rp=$!
  sleep 1
  local in0 err0 pk0 by0 in1 err1 pk1 by1
  read -r in0 err0 pk0 by0 < <(counters $port)
  ex n1 -- bash -c "TIMEFORMAT='%U %S'; { time $send >$t/send.out 2>&1 ; } 2>$t/send.cpu"
  sleep 0.5
  read -r in1 err1 pk1 by1 < <(counters $port)
  wait $rp || true
  local sent own
  if [ "$tool" != iperf2 ]; then
    sent=$(sed -n 's/^sent \([0-9]*\) datagrams.*/\1/p' $t/send.out)
    own=$(sed -n 's/^  total: \([0-9]*\) received.*/\1/p' $t/recv.out | tail -1)
  else
    sent=$(sed -n 's/.*Sent \([0-9]*\) datagrams.*/\1/p' $t/send.out | tail -1)
    # the server's "lost/total (pct%)": what it says it received
    own=$(sed -n 's/.* \([0-9]*\)\/\([0-9]*\) *(.*/\1 \2/p' $t/recv.out | tail -1 | awk '{ print $2 - $1 }')
  fi
  local c
  c=$(awk -v a="$(cpu $t/send.cpu)" -v b="$(cpu $t/recv.cpu)" 'BEGIN { print a + b }')
  local out
  out=$(awk -v tool="$tool" -v size="$size" -v rate="$rate" -v sent="${sent:-0}" -v secs="$secs" -v c="$c" -v gro=$g -v own="${own:-0}" \
    -v din=$((in1 - in0)) -v drops=$((err1 - err0)) -v pk=$((pk1 - pk0)) -v by=$((by1 - by0)) 'BEGIN {
    if (gro) {
      arrived = pk > 0 ? (by - 28 * pk) / size : 0
      d = arrived - (pk > 0 ? drops * arrived / pk : 0)
    } else d = din
    d = int(d + 0.5)
    loss = sent > 0 ? 100 * (sent - d) / sent : 100; if (loss < 0) loss = 0
    asked = rate == "max" ? "max" : sprintf("%d", rate)
    printf "%.4f %.0f %.0f | %-11s | %5d | %9s | %10.0f | %11.0f | %7.3f %% | %8d | %12.0f | %10.0f |\n",
      loss, sent / secs, d / secs, tool, size, asked, sent / secs, d / secs, loss, drops, (d > 0 ? 1e9 * c / d : 0), own / secs }')
  read -r loss sent_ps delivered_ps row <<<"$out"
  rm -rf "$t"
}

ok() { awk -v l="$1" -v m=$maxloss 'BEGIN { exit !(l <= m) }'; }

# search TOOL SIZE: prints the max row and the lossless row; the search's
# own runs go to stderr. Sets best_ps (lossless delivered/s) and max_ps.
search() {
  local tool=$1 size=$2
  measure "$tool" "$size" max
  echo "$row max"
  max_ps=$delivered_ps
  if ok "$loss"; then
    best_ps=$delivered_ps
    echo "$row lossless (= max)"
    return
  fi
  local lo=0 hi=${sent_ps%.*} best="" r
  r=$(awk -v d="$delivered_ps" 'BEGIN { printf "%d", 0.9 * d }')
  best_ps=0
  for _ in $(seq "$steps"); do
    measure "$tool" "$size" "$r"
    echo "  search: $row" >&2
    if ok "$loss"; then
      lo=$r best=$row best_ps=$delivered_ps
    else
      hi=$r
    fi
    if [ "$lo" = 0 ]; then
      r=$(awk -v r="$r" 'BEGIN { printf "%d", r * 0.6 }')
    else
      awk -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(hi - lo < 0.03 * hi) }' && break
      r=$(( (lo + hi) / 2 ))
    fi
  done
  if [ -n "$best" ]; then
    echo "$best lossless"
  else
    echo "| $tool | $size | no paced rate with loss <= $maxloss % in $steps tries | | | | | | | lossless |"
  fi
}

echo "kernel $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${secs}s per run, mcast recv flags: ${recv_flags:-(none: UDP_GRO on)}"
echo "| tool        | bytes | asked/s   | sent/s     | delivered/s | loss      | drops    | cpu ns/dgram | recv says/s | run |"
echo "|-------------|-------|-----------|------------|-------------|-----------|----------|--------------|-------------|-----|"
declare -A lossless maxrate
for size in 64 1400; do
  for tool in iperf2 mcast mcast-nogro; do
    while read -r line; do
      echo "$line" | sed 's/ max$/ max |/; s/ lossless$/ lossless |/; s/ lossless (= max)$/ lossless (= max) |/'
    done < <(search $tool $size)
  done
done | tee /tmp/bench-send-recv.$$
for size in 64 1400; do
  for tool in iperf2 mcast mcast-nogro; do
    maxrate[$tool$size]=$(awk -F'|' -v t=$tool -v s=$size '$2 ~ ("^ *" t " *$") && $3+0 == s && $11 ~ /max/ { print $6+0 }' /tmp/bench-send-recv.$$ | head -1)
    lossless[$tool$size]=$(awk -F'|' -v t=$tool -v s=$size '$2 ~ ("^ *" t " *$") && $3+0 == s && $11 ~ /lossless/ { print $6+0 }' /tmp/bench-send-recv.$$ | head -1)
  done
  awk -v a="${lossless[mcast$size]:-0}" -v b="${lossless[iperf2$size]:-0}" -v c="${maxrate[mcast$size]:-0}" -v d="${maxrate[iperf2$size]:-0}" \
    -v e="${lossless[mcast-nogro$size]:-0}" -v f="${maxrate[mcast-nogro$size]:-0}" -v s=$size 'BEGIN {
    printf "%d B: lossless (loss <= 0.1 %%) mcast/iperf2 %.1fx (without GRO %.1fx); max delivered mcast/iperf2 %.1fx (without GRO %.1fx)\n",
      s, (b > 0 ? a / b : 0), (b > 0 ? e / b : 0), (d > 0 ? c / d : 0), (d > 0 ? f / d : 0) }'
done
rm -f /tmp/bench-send-recv.$$
