#!/usr/bin/env bash
# Brings the control plane up with Compose (images already built by `make images`), waits until
# every service's healthcheck passes, showing progress, then prints where to go.
#
# First the local secrets (generated once, ci/secrets.sh), then Postgres alone: once it is
# healthy the App's database role is ensured (the image's init script, idempotent) before the App
# starts, so a data volume from before that role existed is brought in line too. Run again with
# nothing changed, it recreates nothing and says so. A service that does not become healthy is
# named, with the end of its log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOCKER_GID=${DOCKER_GID:-$(stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)}
app_port=${CIAL_APP_PORT:-3100}
router_port=${CIAL_ROUTER_PORT:-8080}
services=(postgres orchestrator app-api router)
compose() { "$here/compose.sh" "$@"; }
start=$SECONDS
step() { printf '[%s/4] %s (%d s)\n' "$1" "$2" $((SECONDS - start)); }

container_ids() {
  local service
  for service in "${services[@]}"; do
    printf '%s=%s ' "$service" "$(compose ps -q "$service" 2>/dev/null || true)"
  done
}

# Waits for the healthchecks of the given services; on failure names the first unhealthy one
# and prints the end of its log.
wait_healthy() {
  local deadline=$((SECONDS + 180)) service cid health pending
  while :; do
    pending=()
    for service in "$@"; do
      cid=$(compose ps -q "$service")
      health=$(docker inspect -f '{{ if .State.Health }}{{ .State.Health.Status }}{{ else }}{{ .State.Status }}{{ end }}' "$cid" 2>/dev/null || echo missing)
      case $health in
        healthy) ;;
        unhealthy | exited | dead | missing)
          echo
          echo "error: $service is $health; the end of its log:" >&2
          compose logs --no-color --tail 40 "$service" >&2 || true
          exit 1
          ;;
        *) pending+=("$service") ;;
      esac
    done
    if [ ${#pending[@]} -eq 0 ]; then
      [ -t 1 ] && echo
      return 0
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo
      echo "error: ${pending[*]} not healthy after 180 s; the end of the log of ${pending[0]}:" >&2
      compose logs --no-color --tail 40 "${pending[0]}" >&2 || true
      exit 1
    fi
    # On a terminal one line, rewritten each second; in a log, a line every 5 s.
    if [ -t 1 ]; then
      printf '\r\033[K      waiting for %s to be healthy (%d s)' "${pending[*]}" $((SECONDS - start))
    elif [ $(((SECONDS - start) % 5)) -eq 0 ]; then
      printf '      waiting for %s to be healthy (%d s)\n' "${pending[*]}" $((SECONDS - start))
    fi
    sleep 1
  done
}

before=$(container_ids)
step 1 "local secrets: $("$here/secrets.sh")"
step 2 "Postgres"
compose up -d --remove-orphans postgres 2>&1 | grep -v 'is up-to-date' | sed 's/^/      /' || true
wait_healthy postgres
step 3 "the App's database role"
compose exec -T postgres /docker-entrypoint-initdb.d/10-cial-app-role.sh | sed 's/^/      /'
step 4 "the orchestrator, the App and the router"
compose up -d --remove-orphans 2>&1 | grep -v 'is up-to-date' | sed 's/^/      /' || true
wait_healthy "${services[@]}"
after=$(container_ids)

if [ "$before" = "$after" ]; then
  echo "nothing changed: ${services[*]} were already up and healthy ($((SECONDS - start)) s)"
else
  echo "up in $((SECONDS - start)) s"
fi
# While nobody has signed up, the sign-up page answers 200 (after that it redirects to sign-in):
# then the owner needs the setup token, since the App sees this machine's browser as Docker's
# gateway, not as loopback. Asked from inside the App's container, where 127.0.0.1 is the App.
signup_open() {
  compose exec -T app-api python3 -c "import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', 3100, timeout=5)
c.request('GET', '/admin/signup')
sys.exit(0 if c.getresponse().status == 200 else 1)" >/dev/null 2>&1
}
setup_token() { sed -n 's/^CIAL_SETUP_TOKEN=//p' "$("$here/secrets.sh" --path)"; }
printf '\n  → http://localhost:%s/admin\n' "$app_port"
if signup_open; then
  printf '    no owner yet: create the account at this link, which carries the setup token (keep it to yourself):\n'
  printf '    http://localhost:%s/admin/signup?setup=%s\n' "$app_port" "$(setup_token)"
  printf '    (API: POST /api/auth/sign-up/email with the header X-Cial-Setup-Token: <CIAL_SETUP_TOKEN>)\n'
fi
printf '    tenants appear at http://{slug}.localhost:%s\n\n' "$router_port"
echo "logs: make logs    status: make status    stop: make local-down    secrets: $("$here/secrets.sh" --path)"
