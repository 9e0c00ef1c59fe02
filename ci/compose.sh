#!/usr/bin/env bash
# Runs whichever Compose is here: the `docker compose` plugin, else Debian's docker-compose 1.29.
# The local secrets (ci/secrets.sh) are exported for compose.yml's interpolation; a variable
# already set in the environment wins, as with compose's own env files. compose.yml has no
# default for them: without the file (before the first `make local-up`) compose says what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
secrets=$("$here/secrets.sh" --path)
if [ -f "$secrets" ]; then
  while IFS='=' read -r name value; do
    case $name in
      CIAL_*) [ -n "${!name:-}" ] || export "$name=$value" ;;
    esac
  done <"$secrets"
fi
# A router on another port than 8080: the App's Open links and tenant URLs must name that port.
if [ -n "${CIAL_ROUTER_PORT:-}" ] && [ -z "${CIAL_TENANT_URL_TEMPLATE:-}" ]; then
  export CIAL_TENANT_URL_TEMPLATE="http://{slug}.localhost:$CIAL_ROUTER_PORT"
fi
# CIAL_PROJECT: another compose project beside the developer's own `cial` (the L6 smoke runs one).
project=${CIAL_PROJECT:-cial}
if docker compose version >/dev/null 2>&1; then
  exec docker compose -f "$top/compose.yml" -p "$project" "$@"
elif command -v docker-compose >/dev/null 2>&1; then
  exec docker-compose -f "$top/compose.yml" -p "$project" "$@"
fi
echo "error: neither 'docker compose' nor 'docker-compose' is installed (apt-get install docker-compose)" >&2
exit 1
