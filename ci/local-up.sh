#!/usr/bin/env bash
# Brings the control plane up with Compose (images already built by `make images`) and waits
# until the App answers, showing progress, then prints where to go.
#
# First the local secrets (generated once, ci/secrets.sh), then Postgres alone: once it is
# healthy the App's database role is ensured (the image's init script, idempotent) before the App
# starts, so a data volume from before that role existed is brought in line too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOCKER_GID=${DOCKER_GID:-$(stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)}
port=${CIAL_APP_PORT:-3100}

"$here/secrets.sh" >/dev/null
"$here/compose.sh" up -d --remove-orphans postgres
printf 'waiting for Postgres '
for _ in $(seq 1 120); do
  cid=$("$here/compose.sh" ps -q postgres)
  health=$(docker inspect -f '{{ .State.Health.Status }}' "$cid" 2>/dev/null || true)
  [ "$health" = healthy ] && break
  printf '.'
  sleep 1
done
echo
if [ "$health" != healthy ]; then
  echo "error: Postgres is not healthy after 120 s ($health); its last log lines:" >&2
  "$here/compose.sh" logs --tail 40 postgres >&2 || true
  exit 1
fi
"$here/compose.sh" exec -T postgres /docker-entrypoint-initdb.d/10-cial-app-role.sh

"$here/compose.sh" up -d --remove-orphans
printf 'waiting for the App on http://localhost:%s and the router ' "$port"
for _ in $(seq 1 120); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null \
    && curl -fsS -o /dev/null -H "Host: localhost" "http://127.0.0.1:${CIAL_ROUTER_PORT:-8080}/" 2>/dev/null; then
    printf '\n\n  → http://localhost:%s/admin\n' "$port"
    printf '    tenants appear at http://{slug}.localhost:%s\n\n' "${CIAL_ROUTER_PORT:-8080}"
    echo "logs: ci/compose.sh logs -f    stop: make local-down    secrets: $("$here/secrets.sh" --path)"
    exit 0
  fi
  printf '.'
  sleep 1
done
echo
echo "error: the App or the router did not answer within 120 s; their last log lines:" >&2
"$here/compose.sh" logs --tail 40 app-api router >&2 || true
exit 1
