#!/usr/bin/env bash
# Runs whichever Compose is here: the `docker compose` plugin, else Debian's docker-compose 1.29.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if docker compose version >/dev/null 2>&1; then
  exec docker compose -f "$top/compose.yml" -p cial "$@"
elif command -v docker-compose >/dev/null 2>&1; then
  exec docker-compose -f "$top/compose.yml" -p cial "$@"
fi
echo "error: neither 'docker compose' nor 'docker-compose' is installed (apt-get install docker-compose)" >&2
exit 1
