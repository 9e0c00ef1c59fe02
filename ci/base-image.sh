#!/usr/bin/env bash
# Makes sure the local base image `cial-base:bookworm` exists: Debian bookworm with python3,
# python3-venv, tini, gosu and ca-certificates. No container registry is reachable here, so
# it comes from `python:3.11-slim-bookworm` only where that image is already present (or can
# be pulled); otherwise from a debootstrap of bookworm imported with `docker import`.
# The image carries the hash of this recipe as a label; a rebuild happens only when it changes.
set -euo pipefail

TAG=${CIAL_BASE_TAG:-cial-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-venv,tini,gosu,ca-certificates
here=$(cd "$(dirname "$0")" && pwd)
recipe=$( { cat "$0"; echo "$MIRROR $PACKAGES"; } | sha256sum | cut -c1-16)

have=$(docker image inspect -f '{{ index .Config.Labels "cial.recipe" }}' "$TAG" 2>/dev/null || true)
if [ "$have" = "$recipe" ]; then
  echo "base image $TAG is up to date (recipe $recipe)"
  exit 0
fi

slim=python:3.11-slim-bookworm
if docker image inspect "$slim" >/dev/null 2>&1 || timeout 20 docker pull -q "$slim" >/dev/null 2>&1; then
  # A container (not `docker build`) adds tini and gosu from Debian's mirror over HTTP.
  echo "building $TAG from $slim"
  cid=$(docker create "$slim" sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends tini gosu ca-certificates && rm -rf /var/lib/apt/lists/*')
  trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
  docker start -a "$cid"
  docker commit --change "LABEL cial.recipe=$recipe" --change 'CMD ["python3"]' "$cid" "$TAG" >/dev/null
  echo "built $TAG"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing debootstrap from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  else
    echo "error: no $slim image and no debootstrap; install debootstrap (apt-get install debootstrap) or load $slim" >&2
    exit 1
  fi
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: building the base image with debootstrap needs root (or load $slim into Docker)" >&2
  exit 1
fi

work=$(mktemp -d /var/tmp/cial-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "debootstrapping bookworm into $work (about a minute)"
start=$(date +%s)
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$work/root" "$MIRROR" >"$work/log" 2>&1 || {
  tail -30 "$work/log" >&2
  echo "error: debootstrap failed (log above)" >&2
  exit 1
}
chroot "$work/root" apt-get clean
rm -rf "$work/root"/var/lib/apt/lists/* "$work/root"/usr/share/doc/* "$work/root"/usr/share/man/* \
  "$work/root"/usr/share/locale/* "$work/root"/var/cache/apt/*.bin
tar -C "$work/root" --numeric-owner -c . | docker import \
  --change "LABEL cial.recipe=$recipe" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$TAG" >/dev/null
echo "built $TAG in $(( $(date +%s) - start ))s ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%d MB", $1/1e6}'))"
