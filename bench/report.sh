#!/usr/bin/env bash
# Benchmark: how big the HTML reports of large runs are and how long
# Chromium takes to render them. The pages are the unit tests' large
# cases (internal/report: 10,000 recv flows; a 32-host ping matrix, every
# host's report), written to a temporary directory; the Go side is timed by
# `go test -bench Render ./internal/report`. Chromium runs headless in a
# network namespace of its own (unshare --net: nothing leaves it); each
# page is rendered RUNS times (default 3) to a screenshot, and the time of
# an empty page's render is subtracted, so that what is left is the page's
# own layout and paint. Needs root (unshare) and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
MCAST_REPORT_BENCH="$dir" go test -count=1 -run TestLargeRunsStaySmall ./internal/report >/dev/null
printf '<!DOCTYPE html><html><body>empty</body></html>\n' > "$dir/empty.html"

render() { # page -> seconds for one headless render to a screenshot
  local prof; prof=$(mktemp -d -p "$dir")
  local t0 t1
  t0=$(date +%s.%N)
  unshare --net chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$prof" --window-size=1200,900 --screenshot="$prof/shot.png" "file://$1" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

best() { # page -> the fastest of $runs renders
  local b=999 s
  for _ in $(seq "$runs"); do
    s=$(render "$1")
    b=$(echo "if ($s < $b) $s else $b" | bc -l)
  done
  echo "$b"
}

base=$(best "$dir/empty.html")
printf '%-14s %10s %12s %12s\n' page bytes "render s" "less empty s"
printf '%-14s %10s %12.2f %12s\n' empty "$(stat -c %s "$dir/empty.html")" "$base" -
for p in flows-10000 matrix-32; do
  s=$(best "$dir/$p.html")
  printf '%-14s %10s %12.2f %12.2f\n' "$p" "$(stat -c %s "$dir/$p.html")" "$s" "$(echo "$s - $base" | bc -l)"
done
