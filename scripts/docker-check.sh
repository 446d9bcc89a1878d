#!/usr/bin/env bash
# Prints one line saying why `make up`, `make logs` or `make down` cannot use
# Docker (not installed, no compose, daemon down, no permission), or nothing
# when it can. The Makefile turns a line into a one-line stop.
# Usage: docker-check.sh COMPOSE-COMMAND...
host=${DOCKER_HOST:-unix:///var/run/docker.sock}
if ! command -v docker >/dev/null 2>&1; then
  echo "docker is not installed (Debian: apt-get install docker.io docker-compose)"
  exit 0
fi
if ! "$@" version >/dev/null 2>&1; then
  echo "$* is not installed (Debian: apt-get install docker-compose)"
  exit 0
fi
if ! err=$(docker version --format '{{.Server.Version}}' 2>&1 >/dev/null); then
  case $err in
  *"ermission denied"*)
    echo "no permission to use the Docker daemon at $host: run as root or join the docker group" ;;
  *"Cannot connect"* | *"failed to connect"* | *"connection refused"* | *"no such file"*)
    echo "the Docker daemon is not running (nothing answers at $host): start it, e.g. systemctl start docker" ;;
  *)
    echo "the Docker daemon at $host: $(printf '%s' "$err" | head -n1)" ;;
  esac
fi
exit 0
