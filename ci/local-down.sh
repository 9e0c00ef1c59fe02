#!/usr/bin/env bash
# Stops the control plane and removes the tenant containers this App instance created
# (label-selected), so nothing keeps running once local mode is down. Named volumes (Postgres
# data, tenant data) are kept: `make local-up` brings everything back as it was, the App's
# reconciler re-creating each tenant on its volume.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOCKER_GID=${DOCKER_GID:-$(stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)}
instance=${CIAL_INSTANCE:-local}
if [ ! -f "$("$here/secrets.sh" --path)" ]; then
  # No secrets generated yet (or removed): nothing below starts anything, but compose.yml must
  # still interpolate for `stop` and `down`, and it has no defaults for secrets.
  export CIAL_POSTGRES_PASSWORD=${CIAL_POSTGRES_PASSWORD:-unused} \
    CIAL_APP_DB_PASSWORD=${CIAL_APP_DB_PASSWORD:-unused} CIAL_SSO_SECRET=${CIAL_SSO_SECRET:-unused}
fi

# The App first: its reconciler would otherwise re-create the tenants removed below. Tenant
# networks stay with the volumes; the next local-up attaches the new router to them.
"$here/compose.sh" stop app-api >/dev/null 2>&1 || true
tenants=$(docker ps -aq --filter label=cial.tenant --filter "label=cial.instance=$instance")
if [ -n "$tenants" ]; then
  echo "removing $(echo "$tenants" | wc -l) tenant container(s) (their volumes stay)"
  docker rm -f $tenants >/dev/null
fi
# Tenants still attached to the network would make removing it fail.
"$here/compose.sh" down --remove-orphans
