#!/usr/bin/env bash
# make demo: two NICs of one host (a sender and a receiver on each NIC) in the twonic lab, run twice: with default
# sysctls, and with net.ipv4.conf.enX1.accept_local=1. Prints the receivers'
# logs and the verdict, then removes the lab. Needs root; every packet stays
# inside the lab's namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
LAB=${LAB:-demo}
[ "$(id -u)" = 0 ] || { echo "make demo: needs root (it creates network namespaces)" >&2; exit 1; }
[ -x "$BIN/mcast" ] || { echo "make demo: run make build first" >&2; exit 1; }
mcast() { "$BIN/mcast" "$@"; }
logs=$(mktemp -d)
cleanup() { mcast lab down --name "$LAB" >/dev/null 2>&1 || true; rm -rf "$logs"; }
trap cleanup EXIT
cleanup_stale() { mcast lab ls | grep -q "^$LAB " && mcast lab down --name "$LAB" >/dev/null || true; }
cleanup_stale

export MULTICAST_ADDR=224.0.0.1 MULTICAST_PORT=28000
on() { node=$1; shift; mcast lab exec --name "$LAB" "$node" -- "$@"; }

run_scenario() {
  local title=$1 tag=$2
  echo
  echo "=== $title ==="
  on host "$BIN/receiver" --iface enX0 --timeout 3s > "$logs/$tag-receiver01.log" 2>&1 &
  r1=$!
  on host "$BIN/receiver" --iface enX1 --timeout 3s > "$logs/$tag-receiver02.log" 2>&1 &
  r2=$!
  on peer "$BIN/receiver" --iface eth0 --timeout 3s > "$logs/$tag-peer.log" 2>&1 &
  r3=$!
  for f in receiver01 receiver02 peer; do
    until grep -q "use interface" "$logs/$tag-$f.log" 2>/dev/null; do sleep 0.1; done
  done
  echo "--- sender (on host, run as the classic pair runs it: sender) ---"
  on host "$BIN/sender"
  wait $r1 $r2 $r3
  for f in receiver01 receiver02 peer; do
    case $f in receiver01) where="host, receiver --iface enX0";; receiver02) where="host, receiver --iface enX1";; peer) where="peer, receiver --iface eth0";; esac
    echo "--- $f ($where) ---"
    cat "$logs/$tag-$f.log"
  done
  wire1=$(grep -c 'on enX1 \[wire' "$logs/$tag-receiver02.log" || true)
  loop0=$(grep -c 'on enX0 \[loopback copy\]' "$logs/$tag-receiver01.log" || true)
  peer=$(grep -c 'on eth0 \[wire\]' "$logs/$tag-peer.log" || true)
  echo "--- verdict ---"
  echo "enX0 saw $loop0 of 10, all looped back inside the host; the other host (peer) got $peer of 10 across the wire."
  if [ "$wire1" -gt 0 ]; then
    echo "enX1 got $wire1 of 10 across the wire: multicast sent out of enX0 DOES cross the LAN into enX1 of the same host."
  else
    echo "enX1 got 0 of 10: the datagrams crossed the LAN (peer got them) but enX1 dropped them, because their source is the host's own address (accept_local=0)."
  fi
}

echo "=== bringing up the twonic lab: host (enX0 10.0.0.12, enX1 10.0.0.13) and peer (10.0.0.20) on one LAN ==="
mcast lab up twonic --name "$LAB"
run_scenario "run 1: default sysctls" default
on host sysctl -w net.ipv4.conf.enX1.accept_local=1
run_scenario "run 2: net.ipv4.conf.enX1.accept_local=1" acceptlocal
echo
echo "=== does multicast cross between two NICs of one host? ==="
echo "Multicast sent from one NIC of a host crosses the LAN to its other NIC, but Linux drops it there unless"
echo "accept_local=1 (and rp_filter is not strict) on the receiving NIC. A plain receiver on enX1 still prints every message: the"
echo "kernel's loopback copy (IP_MULTICAST_ALL=1 delivers it to every socket on the port), not a copy that crossed enX1."
