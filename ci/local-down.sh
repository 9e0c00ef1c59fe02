#!/usr/bin/env bash
# Stops the control plane and removes the tenant containers this App instance created
# (label-selected), so nothing keeps running once local mode is down. Named volumes (Postgres
# data, tenant data) and tenant networks are kept: `make local-up` brings everything back as it
# was, the App's reconciler re-creating each tenant on its volume.
#
# PURGE=1 also removes the data: the database volume, every tenant volume and network of this
# instance, and the generated secrets (the next local-up starts from nothing). It asks nothing
# and prints what it removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOCKER_GID=${DOCKER_GID:-$(stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)}
instance=${CIAL_INSTANCE:-local}
purge=${PURGE:-0}
secrets=$("$here/secrets.sh" --path)
if [ ! -f "$secrets" ]; then
  # No secrets generated yet (or removed): nothing below starts anything, but compose.yml must
  # still interpolate for `stop` and `down`, and it has no defaults for secrets.
  export CIAL_POSTGRES_PASSWORD=${CIAL_POSTGRES_PASSWORD:-unused} \
    CIAL_APP_DB_PASSWORD=${CIAL_APP_DB_PASSWORD:-unused} CIAL_SSO_SECRET=${CIAL_SSO_SECRET:-unused}
fi
# The same for a secrets file from before the setup token or the orchestrator's or router's token
# existed (the next local-up adds them).
grep -q '^CIAL_SETUP_TOKEN=.' "$secrets" 2>/dev/null || export CIAL_SETUP_TOKEN=${CIAL_SETUP_TOKEN:-unused}
grep -q '^CIAL_ORCHESTRATOR_TOKEN=.' "$secrets" 2>/dev/null ||
  export CIAL_ORCHESTRATOR_TOKEN=${CIAL_ORCHESTRATOR_TOKEN:-unused}
grep -q '^CIAL_ROUTER_TOKEN=.' "$secrets" 2>/dev/null || export CIAL_ROUTER_TOKEN=${CIAL_ROUTER_TOKEN:-unused}
mine="label=cial.instance=$instance"

# The App first: its reconciler would otherwise re-create the tenants removed below.
"$here/compose.sh" stop app-api >/dev/null 2>&1 || true
tenants=$(docker ps -aq --filter label=cial.tenant --filter "$mine")
if [ -n "$tenants" ]; then
  echo "removed $(echo "$tenants" | wc -l) tenant container(s)$([ "$purge" = 1 ] || echo ' (their volumes stay)')"
  docker rm -f $tenants >/dev/null
fi
if [ "$purge" != 1 ]; then
  # Tenants' networks stay with their volumes; the next local-up attaches the new router to them.
  "$here/compose.sh" down --remove-orphans 2>&1 | sed 's/^/  /'
  exit 0
fi

"$here/compose.sh" down --volumes --remove-orphans 2>&1 | sed 's/^/  /'
echo "removed the database volume"
volumes=$(docker volume ls -q --filter "$mine")
if [ -n "$volumes" ]; then
  docker volume rm $volumes >/dev/null
  echo "removed $(echo "$volumes" | wc -l) tenant volume(s): $(echo $volumes)"
fi
networks=$(docker network ls -q --filter "$mine")
if [ -n "$networks" ]; then
  docker network rm $networks >/dev/null
  echo "removed $(echo "$networks" | wc -l) tenant network(s)"
fi
if [ -f "$secrets" ]; then
  rm -f "$secrets"
  echo "removed the local secrets ($secrets)"
fi
