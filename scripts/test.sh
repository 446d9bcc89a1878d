#!/usr/bin/env bash
# Runs every test. Integration tests need root; they build and remove their
# own network namespaces. Labs left by an interrupted earlier run are removed
# first and last.
set -euo pipefail
cd "$(dirname "$0")/.."
cleanup() {
  # Labs of integration-test processes that are gone (t<pid>x<n>), left by an
  # interrupted run; labs of test runs still going are left alone.
  if [ "$(id -u)" = 0 ] && [ -d /run/mcast/lab ]; then
    for f in /run/mcast/lab/t[0-9]*x*.json; do
      [ -e "$f" ] || continue
      name=$(basename "$f" .json)
      pid=${name#t}; pid=${pid%%x*}
      [ -d "/proc/$pid" ] && continue
      go run ./cmd/mcast lab down --name "$name" || true
    done
  fi
}
cleanup
trap cleanup EXIT
go vet ./...
go test -count=1 -timeout 30m ./... 2>&1 | tee /tmp/mcast-test.log
