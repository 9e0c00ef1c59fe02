#!/usr/bin/env bash
# Makes sure a Docker engine answers. Where none runs and we are root on Debian, start it (and
# install Debian's docker.io first if it is missing); otherwise say clearly what is needed.
set -euo pipefail

answers() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && answers; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: no Docker engine answers, and this is not root on Debian, so it cannot be started here." >&2
  echo "       Start Docker (or give this user access to /var/run/docker.sock) and run again." >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null || true
fi
if ! answers; then
  echo "starting the Docker engine"
  if command -v service >/dev/null 2>&1 && service docker start >/dev/null 2>&1; then :; else
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    answers && break
    sleep 1
  done
fi
if ! answers; then
  echo "error: the Docker engine did not come up within 60 s (see /var/log/dockerd.log)" >&2
  exit 1
fi
echo "Docker engine is up: $(docker version -f '{{.Server.Version}}')"
