#!/usr/bin/env bash
# Stops the control plane and removes every tenant container the App created (label-selected),
# so nothing keeps running once local mode is down. Named volumes (Postgres data, tenant data)
# are kept: `make local-up` brings everything back as it was.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOCKER_GID=${DOCKER_GID:-$(stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)}
"$here/compose.sh" down --remove-orphans
tenants=$(docker ps -aq --filter label=cial.tenant)
if [ -n "$tenants" ]; then
  echo "removing $(echo "$tenants" | wc -l) tenant container(s)"
  docker rm -f $tenants >/dev/null
fi
