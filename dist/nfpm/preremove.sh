#!/bin/sh
# Stops the relay before its binary goes; the mcast user stays (files under
# /etc/mcast may belong to it).
set -e
if [ -d /run/systemd/system ]; then
	systemctl stop mcast-relay.service >/dev/null 2>&1 || true
fi
