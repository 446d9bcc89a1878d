#!/usr/bin/env bash
# Benchmark: fan-out through reflectors against direct fan-out, in cloud
# labs of N VMs (namespaces only; built here and removed on exit), one
# relay per VM with static peer lines. A sender on vm1 sends one group at a
# fixed rate; every other VM has a receiver. Per N and mode:
#   direct:  `fanout 64`: vm1's relay seals and sends each datagram to
#            every other relay (N-1 frames);
#   reflect: `fanout F` (FANOUT, default 2): vm1's relay sends it to F
#            reflectors, which pass it on.
# Measured: the origin relay's CPU (utime+stime from /proc/PID/stat, the
# relay process itself) per datagram carried, the CPU of all relays
# together per datagram, and the delivered rate at every receiver (from
# `mcast recv --json`: the lowest and the mean over the N-1 receivers).
#
# Usage: sudo bench/fanout.sh [N ...]   (default 4 8 16). Not a test.
# RATE (datagrams/s, default 5000), SECS (default 4), SIZE (bytes, 256).
# Run it on a quiet machine: it prints the load average it started with.
set -euo pipefail
cd "$(dirname "$0")/.."
ns=("$@"); [ ${#ns[@]} -gt 0 ] || ns=(4 8 16)
rate=${RATE:-5000}; secs=${SECS:-4}; size=${SIZE:-256}; fan=${FANOUT:-2}
. bench/lib.sh
bench_setup fobench
# Background jobs call lab exec directly (not through ex), so that $! is
# its PID and a signal to it reaches the process it runs.
ex() { "$bin" lab exec --name "$lab" "$@"; }
hz=$(getconf CLK_TCK)
load=$(cut -d' ' -f1-3 /proc/loadavg)

# relaypid CONF: the relay process running with CONF (not the lab exec
# wrapper that started it).
relaypid() {
  local p
  for _ in $(seq 100); do
    for p in /proc/[0-9]*; do
      if { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -q "^$bin relay --config $1 "; then
        echo "${p#/proc/}"; return
      fi
    done
    sleep 0.05
  done
  echo "no relay with $1" >&2; exit 1
}
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run N MODE: writes "origin_us_per_dgram all_us_per_dgram min_rate
# mean_rate sent" to $tmp/result (run in this shell, not in a command
# substitution: the relays it starts must not hold its output open).
run() {
  local n=$1 mode=$2 f i j
  f=64; [ "$mode" = reflect ] && f=$fan
  for i in $(seq "$n"); do
    {
      echo "node vm$i"; echo "listen 10.0.$i.10:7474"; echo "interface eth0"; echo "key $tmp/key"
      echo "private-key $tmp/vm$i.priv"; echo "admin $tmp/vm$i.sock"; echo "group 239.1.1.1"
      echo "fanout $f"; echo "keepalive 500ms"; echo "peer-timeout 2s"
      for j in $(seq "$n"); do [ "$i" = "$j" ] || echo "peer vm$j 10.0.$j.10:7474 $(cat "$tmp/vm$j.pub")"; done
    } > "$tmp/vm$i.conf"
    "$bin" lab exec --name "$lab" vm$i -- "$bin" relay --config "$tmp/vm$i.conf" --log-level warn >/dev/null 2>"$tmp/vm$i.log" &
    pids+=($!)
  done
  local rpids=()
  for i in $(seq 2 "$n"); do
    "$bin" lab exec --name "$lab" vm$i -- "$bin" recv --iface eth0 --quiet --json 239.1.1.1:5001 > "$tmp/recv$i.json" 2>/dev/null &
    rpids+=($!)
  done
  # Every other relay wants the group at vm1.
  for _ in $(seq 300); do
    w=$(ex vm1 -- "$bin" relay status --admin "$tmp/vm1.sock" --json 2>/dev/null | grep -c '^ *"239.1.1.1"$' || true)
    [ "$w" -ge $((n - 1)) ] && break
    sleep 0.2
  done
  local pid all=() a0 b0 before=0 after=0 p
  pid=$(relaypid "$tmp/vm1.conf")
  for i in $(seq "$n"); do all+=("$(relaypid "$tmp/vm$i.conf")"); done
  a0=$(ticks "$pid"); for p in "${all[@]}"; do before=$((before + $(ticks "$p"))); done
  local out sent
  out=$(ex vm1 -- "$bin" send 239.1.1.1:5001 --iface eth0 --rate "$rate" --size "$size" --duration "${secs}s" 2>&1)
  sleep 1 # the last frames through the reflectors
  b0=$(ticks "$pid"); for p in "${all[@]}"; do after=$((after + $(ticks "$p"))); done
  sent=$(echo "$out" | sed -n 's/^sent \([0-9]*\) datagrams.*/\1/p' | head -1)
  # The receivers print their summaries when stopped (lab exec passes
  # SIGTERM on; a background job of a script ignores SIGINT).
  kill -TERM "${rpids[@]}" 2>/dev/null || true
  wait "${rpids[@]}" 2>/dev/null || true
  local got=()
  for i in $(seq 2 "$n"); do
    got+=("$(grep '"type":"recv.summary"' "$tmp/recv$i.json" | sed -n 's/.*"totals":{[^}]*"received":\([0-9]*\).*/\1/p' | head -1)")
  done
  bench_kill_pids
  printf '%s\n' "${got[@]}" | awk -v s="${sent:-0}" -v t="$secs" -v hz="$hz" -v o=$((b0 - a0)) -v a=$((after - before)) '
    { r = $1 + 0; if (NR == 1 || r < m) m = r; sum += r; k++ }
    END { d = s > 0 ? s : 1; printf "%.1f %.1f %.0f %.0f %d\n", o / hz * 1e6 / d, a / hz * 1e6 / d, m / t, sum / k / t, s }' > "$tmp/result"
}

echo "load average at start: $load"
declare -A res
for n in "${ns[@]}"; do
  "$bin" lab up cloud --nodes "$n" --name "$lab" >/dev/null
  for i in $(seq "$n"); do
    ip netns exec "$lab-net$i" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 2>/dev/null || true
  done
  head -c 32 /dev/urandom > "$tmp/key"
  for i in $(seq "$n"); do
    (umask 077; "$bin" relay genkey > "$tmp/vm$i.priv")
    "$bin" relay pubkey < "$tmp/vm$i.priv" > "$tmp/vm$i.pub"
  done
  for mode in direct reflect; do
    run "$n" "$mode"
    res[$n$mode]=$(cat "$tmp/result")
    echo "  N=$n $mode: ${res[$n$mode]}" >&2
  done
  "$bin" lab down --name "$lab" >/dev/null
done

echo
echo "| relays N | mode | origin CPU µs/dgram | all relays CPU µs/dgram | delivered dgram/s (lowest / mean of N-1) |"
echo "|--:|:--|--:|--:|--:|"
for n in "${ns[@]}"; do
  for mode in direct reflect; do
    read -r o a m avg s <<< "${res[$n$mode]}"
    label="direct (fanout 64)"; [ "$mode" = reflect ] && label="reflectors (fanout $fan)"
    echo "| $n | $label | $o | $a | $m / $avg |"
  done
done
echo "(sent $rate dgram/s of $size B for ${secs}s from vm1; load average at start $load; $(nproc) CPUs)"
echo "(load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
