#!/usr/bin/env bash
# Builds one image (offline: base image + host wheelhouse) and shows where it is as it goes:
# each Dockerfile step that is really run, with the seconds spent so far; cached steps are
# counted, not shown. Ends with "built" or "up to date" (same image id as before), so a warm
# `make local-up` says that it changed nothing. A failed build prints the end of its output.
#   ci/build-image.sh <dockerfile> <tag> <base image>
set -euo pipefail
dockerfile=$1 tag=$2 base=$3
top=$(cd "$(dirname "$0")/.." && pwd)
before=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$SECONDS
step=""
set +e
DOCKER_BUILDKIT=0 docker build -f "$top/$dockerfile" --build-arg "BASE_IMAGE=$base" -t "$tag" "$top" 2>&1 |
  tee "$log" | while IFS= read -r line; do
    case $line in
      "Step "*) step=${line#Step } ;;
      *"Running in "*) printf '  %s: step %.70s (%ds)\n' "$tag" "$step" $((SECONDS - start)) ;;
    esac
  done
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "error: building $tag failed; the end of its output:" >&2
  tail -n 40 "$log" >&2
  exit "$status"
fi
after=$(docker image inspect -f '{{.Id}}' "$tag")
cached=$(grep -c 'Using cache' "$log" || true)
if [ "$after" = "$before" ]; then
  echo "$tag is up to date ($cached cached steps, $((SECONDS - start)) s)"
else
  echo "built $tag in $((SECONDS - start)) s ($cached steps from cache)"
fi
