#!/usr/bin/env bash
# Runs every test. Integration tests need root; they build and remove their
# own network namespaces. Labs left by an interrupted earlier run are removed
# first and last.
set -euo pipefail
cd "$(dirname "$0")/.."
cleanup() {
  if [ "$(id -u)" = 0 ] && [ -d /run/mcast/lab ]; then
    for f in /run/mcast/lab/t[0-9]*.json; do
      [ -e "$f" ] || continue
      go run ./cmd/mcast lab down --name "$(basename "$f" .json)" || true
    done
  fi
}
cleanup
trap cleanup EXIT
go vet ./...
go test -count=1 -timeout 30m ./... 2>&1 | tee /tmp/mcast-test.log
