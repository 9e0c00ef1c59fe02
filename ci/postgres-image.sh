#!/usr/bin/env bash
# Makes sure `cial-postgres:dev` (or CIAL_POSTGRES_IMAGE, the tag compose.yml runs) exists, with
# the init scripts of ci/postgres/initdb (the App's database role) in /docker-entrypoint-initdb.d.
# Where the official `postgres:16` is present it is the base; otherwise a local image is made
# from Debian's `postgresql` package that honours the same POSTGRES_USER / POSTGRES_PASSWORD /
# POSTGRES_DB contract and init scripts. The package is installed by a container (which may reach
# Debian's mirror over HTTP) and committed, so `docker build` itself never needs the network.
# Cached by the hash of this recipe.
set -euo pipefail

TAG=${CIAL_POSTGRES_IMAGE:-cial-postgres:dev}
BASE=${CIAL_BASE_TAG:-cial-base:bookworm}
here=$(cd "$(dirname "$0")" && pwd)
recipe=$(cat "$0" "$here/postgres/Dockerfile" "$here/postgres/entrypoint.sh" "$here"/postgres/initdb/* | sha256sum | cut -c1-16)

have=$(docker image inspect -f '{{ index .Config.Labels "cial.recipe" }}' "$TAG" 2>/dev/null || true)
if [ "$have" = "$recipe" ]; then
  echo "postgres image $TAG is up to date"
  exit 0
fi

if docker image inspect postgres:16 >/dev/null 2>&1; then
  echo "using the official postgres:16 as $TAG"
  printf 'FROM postgres:16\nCOPY initdb/ /docker-entrypoint-initdb.d/\n' \
    | docker build -q --label "cial.recipe=$recipe" -t "$TAG" -f - "$here/postgres" >/dev/null
  exit 0
fi

pkg_tag=cial-postgres-packages:bookworm
pkg_recipe=$(echo "$BASE $(docker image inspect -f '{{.Id}}' "$BASE")" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "cial.recipe" }}' "$pkg_tag" 2>/dev/null || true)" != "$pkg_recipe" ]; then
  echo "installing Debian's postgresql into $pkg_tag"
  cid=$(docker create "$BASE" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*')
  trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
  docker start -a "$cid"
  docker commit --change "LABEL cial.recipe=$pkg_recipe" "$cid" "$pkg_tag" >/dev/null
fi
docker build -q --build-arg "PACKAGES_IMAGE=$pkg_tag" --label "cial.recipe=$recipe" -t "$TAG" "$here/postgres" >/dev/null
echo "built $TAG"
