#!/bin/sh
# Creates the mcast system user that mcast-relay.service runs as, and makes
# systemd see the units. Enables and starts nothing: the relay needs a
# config first (/usr/share/doc/mcast/examples).
set -e
if ! getent passwd mcast >/dev/null; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers /usr/lib/sysusers.d/mcast.conf
	else
		useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mcast
	fi
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
