#!/usr/bin/env bash
# Installs the Debian packages that mcast's tests, demo and benchmarks use,
# and the Go modules it builds with. Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# chromium: the report tests render the HTML reports in it, headless.
pkgs=(iproute2 iputils-ping nftables strace tcpdump tshark iperf socat ssmping python3-scapy make docker.io docker-compose chromium zsh bash-completion man-db)
missing=()
# systemd (systemd-analyze: the relay unit's security score and system call
# filter), util-linux (setpriv: the relay as an unprivileged uid), lintian
# (the .deb's check), prometheus (promtool: the alert rules' checks and tests).
pkgs+=(systemd util-linux lintian prometheus)
# python3-zeroconf: a real mDNS client (registers and browses services) for the
# relay's reflector tests, run with Debian's /usr/bin/python3.
pkgs+=(python3-zeroconf)
# wireguard-go (userspace WireGuard on TUN) and wireguard-tools (wg): the
# relay on an interface without an Ethernet header.
pkgs+=(wireguard-go wireguard-tools)
# minidlna (a real SSDP responder) and gupnp-tools (gssdp-discover): SSDP
# searches and their unicast answers through the reflector.
pkgs+=(minidlna gupnp-tools)
# avahi-daemon: the reflector bench (bench/reflector.sh) measures the relay
# against avahi's reflector, run in a namespace of its own (installed, not
# started: policy-rc.d below).
pkgs+=(avahi-daemon)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  # tshark asks whether non-root users may capture; answer no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # Start no services while installing (docker.io would start a dockerd in
  # the root namespace); the tests start what they need in namespaces.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}" || { [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
command -v go >/dev/null || { echo "install-deps: go is not installed (expected at /usr/local/go/bin)" >&2; exit 1; }
go mod download
