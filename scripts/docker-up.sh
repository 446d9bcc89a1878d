#!/usr/bin/env bash
# `make up`: builds the image, starts receiver01 and receiver02, waits until
# both have joined the group (they print "use interface:" after the join),
# then starts the sender, so no message is sent before anyone listens.
# Usage: docker-up.sh COMPOSE-COMMAND...
set -euo pipefail
compose=("$@")
# The three services share one image (mcast:local); building it once is enough.
"${compose[@]}" build receiver01
"${compose[@]}" up -d receiver01 receiver02
for _ in $(seq 1 150); do
  joined=$("${compose[@]}" logs --no-color receiver01 receiver02 2>/dev/null | grep -c 'use interface:' || true)
  [ "$joined" -ge 2 ] && break
  sleep 0.2
done
if [ "$joined" -lt 2 ]; then
  echo "make up: the receivers did not join within 30 s; see make logs" >&2
  exit 1
fi
"${compose[@]}" up -d --no-deps --force-recreate sender
echo "started receiver01, receiver02 and sender; follow them with: make logs"
