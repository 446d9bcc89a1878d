#!/usr/bin/env bash
# Benchmark: mcast send --rate max -> mcast recv, against iperf2's multicast
# sender and receiver, in one run, in a two-node lab (namespaces only).
# The kernel grades both: delivered datagrams are Udp InDatagrams in the
# receiving namespace's /proc/net/snmp, drops are its RcvbufErrors.
# Usage: sudo bench/send-recv.sh [SECONDS]   (default 5). Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
bin=$(mktemp -d)/mcast
CGO_ENABLED=0 go build -o "$bin" ./cmd/mcast
lab=bench$$
"$bin" lab up lan --nodes 2 --name "$lab" >/dev/null
trap '"$bin" lab down --name "$lab" >/dev/null' EXIT
ex() { "$bin" lab exec --name "$lab" "$@"; }
snmp() { ip netns exec "$lab-n2" awk '/^Udp:/ { if (h) { print $2, $6 } else h=1 }' /proc/net/snmp; }
cpu() { awk '{print $1+$2}' "$1"; }

# run NAME SIZE RECV-CMD SEND-CMD: prints one table row.
run() {
  local name=$1 size=$2 recv=$3 send=$4 t=$(mktemp -d)
  ex n2 -- bash -c "TIMEFORMAT='%U %S'; { time $recv >$t/recv.out 2>&1 ; } 2>$t/recv.cpu" &
  local rp=$!
  sleep 1
  read -r in0 err0 < <(snmp)
  ex n1 -- bash -c "TIMEFORMAT='%U %S'; { time $send >$t/send.out 2>&1 ; } 2>$t/send.cpu"
  sleep 0.5
  read -r in1 err1 < <(snmp)
  wait $rp || true
  local sent
  if [ "$name" = mcast ]; then
    sent=$(sed -n 's/^sent \([0-9]*\) datagrams.*/\1/p' $t/send.out)
  else
    sent=$(sed -n 's/.*Sent \([0-9]*\) datagrams.*/\1/p' $t/send.out | tail -1)
  fi
  local delivered=$((in1 - in0)) drops=$((err1 - err0))
  local c; c=$(awk -v a="$(cpu $t/send.cpu)" -v b="$(cpu $t/recv.cpu)" 'BEGIN { print a + b }')
  awk -v n="$name" -v s="$size" -v sent="${sent:-0}" -v d="$delivered" -v e="$drops" -v secs="$secs" -v c="$c" 'BEGIN {
    loss = sent > 0 ? 100 * (sent - d) / sent : 0; if (loss < 0) loss = 0
    printf "| %-6s | %5d | %10d | %10d | %12.0f | %8d | %6.2f %% | %8.0f |\n", n, s, sent, d, d / secs, e, loss, (d > 0 ? 1e9 * c / d : 0) }'
  rm -rf "$t"
}

echo "| tool   | bytes | sent       | delivered  | delivered/s  | rcvbuf   | loss     | cpu ns/dgram |"
echo "|--------|-------|------------|------------|--------------|----------|----------|----------|"
declare -A rate
for size in 64 1400; do
  for tool in iperf2 mcast; do
    if [ $tool = mcast ]; then
      row=$(run mcast $size "$bin recv 239.1.1.1:5001 --iface eth0 --quiet --timeout 2s ${RECV_FLAGS:-}" \
        "$bin send 239.1.1.1:5001 --iface eth0 --rate max --size $size --duration ${secs}s --no-loop")
    else
      row=$(run iperf2 $size "timeout $((secs + 4)) iperf -s -u -B 239.1.1.1 -p 5002 -l $size" \
        "iperf -c 239.1.1.1 -u -T 1 -p 5002 -l $size -b 100G -t $secs")
    fi
    echo "$row"
    rate[$tool$size]=$(echo "$row" | awk -F'|' '{print $6}')
  done
done
for size in 64 1400; do
  awk -v a="${rate[mcast$size]}" -v b="${rate[iperf2$size]}" -v s=$size 'BEGIN { printf "ratio mcast/iperf2 at %d B: %.2fx\n", s, (b > 0 ? a / b : 0) }'
done
