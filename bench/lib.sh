# Sourced by the relay benchmarks (relay.sh, fanout.sh, fleet.sh):
# bench_setup PREFIX builds mcast into a temporary directory ($tmp, $bin),
# names the lab PREFIX and this shell's PID ($lab), starts an empty list of
# background PIDs ($pids), and on exit ends those processes, takes the lab
# down and removes the directory.

# bench_kill_pids ends the background processes in pids (by PID) and
# empties the list.
bench_kill_pids() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

bench_cleanup() {
  bench_kill_pids
  "$bin" lab down --name "$lab" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}

bench_setup() {
  tmp=$(mktemp -d)
  bin=$tmp/mcast
  CGO_ENABLED=0 go build -o "$bin" ./cmd/mcast
  lab=$1$$
  pids=()
  trap bench_cleanup EXIT
}
