#!/usr/bin/env bash
# Benchmark: fleet membership convergence of mcast relays (gossip on
# hashicorp/memberlist) at N = 4, 8, 16, 32 relays, in a cloud lab of N VMs
# (namespaces only; built here and removed on exit). Each relay has no peer
# line: it joins the seeds vm1 and vm2, with the default timing (gossip-profile
# lan: probe 1s, probe timeout 500ms, suspicion-mult 4) unless TIMING gives
# other lines (e.g. TIMING="probe-interval 500ms;probe-timeout 250ms;suspicion-mult 3").
#
# Per run, from the relays' own event timestamps (relay status --json,
# fleet.events, millisecond resolution):
#   form:   all N relays started at once -> every relay has seen N-1 members join
#   detect: vmN killed (SIGKILL) -> every other relay has recorded it failed
#   rejoin: vmN restarted, same config -> every other relay has seen it join
# Gossip cost, over WINDOW seconds (default 65: two push/pull rounds of the
# lan profile) once formed: the UDP bytes and packets each relay sends per
# second (probes, acks), the push/pull bytes per relay per second (both
# directions, counted once), the bytes of one push/pull exchange (both
# directions), and the resident memory of vm1's relay.
# The table gives the median of RUNS runs (default 3) and the detection bound
# the timing gives (config.DetectionBound, in `relay status`).
#
# Usage: sudo bench/fleet.sh [SIZES...]   (default: 4 8 16 32). Not a test.
# Run it on a quiet machine: the relays share its cores.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@"); [ ${#sizes[@]} -eq 0 ] && sizes=(4 8 16 32)
runs=${RUNS:-3}
. bench/lib.sh
bench_setup fbench

now() { date +%s.%N; }
status() { "$bin" relay status --admin "$tmp/$1.sock" --json 2>/dev/null || echo '{}'; }

# events FROM KIND MEMBER... : prints the latest time (unix seconds) at which
# each relay in FROM recorded KIND for one of MEMBERs ("*": any), or nothing
# if one of them has not yet recorded all of them.
events() {
  local kind=$1; shift; local from=$1; shift
  for n in $from; do status "$n"; echo; done | python3 -c '
import json, sys
from datetime import datetime
kind, members, n, since = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), float(sys.argv[5])
last, done = 0.0, 0
text, dec, i, docs = sys.stdin.read(), json.JSONDecoder(), 0, []
while True:
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    d, i = dec.raw_decode(text, i)
    docs.append(d)
for st in docs:
    f = st.get("fleet", {})
    want = set(members) if members != ["*"] else None
    seen = {}
    for e in f.get("events", []):
        at = datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
        if e["event"] == kind and (want is None or e["member"] in want) and at >= since:
            seen[e["member"]] = at
    need = len(want) if want is not None else n
    if len(seen) >= need:
        done += 1
        last = max(last, max(seen.values()))
print("%.3f" % last if done == len(sys.argv[4].split()) else "")
' "$kind" "$*" "${N_OTHERS}" "$from" "${SINCE}"
}

# await KIND FROM MEMBERS... : polls events until every relay of FROM has them; prints the time.
await() {
  local deadline=$(( $(date +%s) + 120 )) t
  while [ "$(date +%s)" -lt "$deadline" ]; do
    t=$(events "$@")
    [ -n "$t" ] && { echo "$t"; return; }
    sleep 0.2
  done
  echo "timed out waiting for $1" >&2; exit 1
}

conf() {
  local i=$1
  printf 'node vm%d\nlisten 10.0.%d.10:7474\ninterface eth0\nadmin %s\nprivate-key %s\ngossip-key %s\njoin 10.0.1.10 10.0.2.10\ngroup 239.1.1.1\n' \
    "$i" "$i" "$tmp/vm$i.sock" "$tmp/vm$i.priv" "$tmp/gossip.key"
  tr ';' '\n' <<<"${TIMING:-}"; echo
}

start() {
  ip netns exec "$lab-vm$1" "$bin" relay --config "$tmp/vm$1.conf" --log-level warn 2>>"$tmp/vm$1.log" &
  pids[$1]=$!
}

# counters FROM: sums over the relays of FROM: UDP gossip bytes sent, UDP
# packets sent, stream bytes sent and received, streams.
counters() {
  for n in $1; do status "$n"; echo; done | python3 -c '
import json, sys
text, dec, i, tot = sys.stdin.read(), json.JSONDecoder(), 0, [0, 0, 0, 0]
while True:
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    d, i = dec.raw_decode(text, i)
    c = d.get("fleet", {}).get("counters", {})
    tot[0] += c.get("gossip_bytes_sent", 0); tot[1] += c.get("gossip_packets_sent", 0)
    tot[2] += c.get("gossip_stream_bytes_sent", 0) + c.get("gossip_stream_bytes_received", 0); tot[3] += c.get("gossip_streams", 0)
print(*tot)'
}

# stop_all stops every relay (SIGTERM, then SIGKILL after 5 s).
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

median() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "timing: ${TIMING:-gossip-profile lan (probe 1s, timeout 500ms, suspicion-mult 4)}; runs per size: $runs"
window=${WINDOW:-65}
printf '| relays | form (s) | detect a kill (s) | rejoin (s) | detection bound (s) | UDP gossip per relay (B/s, pkt/s) | push/pull per relay (B/s) | bytes per push/pull | RSS of a relay (MiB) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
(umask 077; "$bin" relay genkey >"$tmp/gossip.key")
for n in "${sizes[@]}"; do
  forms=(); detects=(); rejoins=(); bound=""; bps=(); pps=(); perstream=(); spps=(); rss=()
  for ((r = 1; r <= runs; r++)); do
    "$bin" lab up cloud --nodes "$n" --name "$lab" >/dev/null
    all=""; others=""
    for ((i = 1; i <= n; i++)); do
      (umask 077; "$bin" relay genkey >"$tmp/vm$i.priv")
      conf "$i" >"$tmp/vm$i.conf"
      all="$all vm$i"; [ "$i" -lt "$n" ] && others="$others vm$i"
    done
    N_OTHERS=$((n - 1))
    t0=$(now); SINCE=$t0
    for ((i = 1; i <= n; i++)); do start "$i"; done
    t=$(await joined "$all" '*'); forms+=("$(python3 -c "print($t - $t0)")")
    read -r b1 p1 sb1 s1 < <(counters "$all"); sleep "$window"; read -r b2 p2 sb2 s2 < <(counters "$all")
    bps+=("$(python3 -c "print(($b2 - $b1) / $n / $window)")"); pps+=("$(python3 -c "print(($p2 - $p1) / $n / $window)")")
    # Streams in the window are push/pulls (the joins are over); each one
    # is counted at both ends, so bytes per exchange = bytes / (streams / 2) / 2.
    perstream+=("$(python3 -c "print(($sb2 - $sb1) / max(1, $s2 - $s1))")")
    spps+=("$(python3 -c "print(($sb2 - $sb1) / 2 / $n / $window)")")
    rss+=("$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/${pids[1]}/status")")
    bound=$(status vm1 | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["fleet"]["timing"]["detection_bound_seconds"])')
    tk=$(now); SINCE=$tk; kill -KILL "${pids[$n]}"; wait "${pids[$n]}" 2>/dev/null || true
    t=$(await failed "$others" "vm$n"); detects+=("$(python3 -c "print($t - $tk)")")
    tr0=$(now); SINCE=$tr0; start "$n"
    # joined events after the restart: the latest per relay is the rejoin.
    t=$(await joined "$others" "vm$n"); rejoins+=("$(python3 -c "print($t - $tr0)")")
    stop_all
    "$bin" lab down --name "$lab" >/dev/null
  done
  printf '| %d | %s | %s | %s | %s | %s, %s | %s | %s | %s |\n' "$n" "$(median "${forms[@]}")" "$(median "${detects[@]}")" "$(median "${rejoins[@]}")" "$bound" \
    "$(median "${bps[@]}")" "$(median "${pps[@]}")" "$(median "${spps[@]}")" "$(median "${perstream[@]}")" "$(median "${rss[@]}")"
done
