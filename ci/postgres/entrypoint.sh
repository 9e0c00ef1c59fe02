#!/bin/sh
# The official image's contract, small: on an empty data directory create the cluster with
# POSTGRES_USER (password POSTGRES_PASSWORD, scram) and the database POSTGRES_DB, then run the
# files in /docker-entrypoint-initdb.d in name order against a server that listens on the local
# socket only (*.sh as the `postgres` user; *.sql and *.sql.gz through psql as POSTGRES_USER
# into POSTGRES_DB; a failure stops the container, as in the official image); then run the
# server as `postgres`, listening on every interface of the container.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "postgres-entrypoint: POSTGRES_PASSWORD must be set" >&2
  exit 1
fi
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"

run_init_scripts() {
  set -- /docker-entrypoint-initdb.d/*
  [ -e "$1" ] || return 0
  gosu postgres pg_ctl -D "$PGDATA" -w -s \
    -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" start
  for file in "$@"; do
    echo "postgres-entrypoint: running $file"
    case $file in
      *.sh) if [ -x "$file" ]; then gosu postgres "$file"; else gosu postgres sh "$file"; fi ;;
      *.sql) gosu postgres psql -v ON_ERROR_STOP=1 --no-psqlrc -q -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$file" ;;
      *.sql.gz) gunzip -c "$file" | gosu postgres psql -v ON_ERROR_STOP=1 --no-psqlrc -q -U "$POSTGRES_USER" -d "$POSTGRES_DB" ;;
      *) echo "postgres-entrypoint: ignoring $file" ;;
    esac
  done
  gosu postgres pg_ctl -D "$PGDATA" -m fast -w -s stop
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  chown postgres "$pwfile"
  gosu postgres initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  {
    echo "listen_addresses = '*'"
    echo "unix_socket_directories = '/var/run/postgresql'"
  } >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != "postgres" ]; then
    gosu postgres postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
  fi
  run_init_scripts
  echo "postgres-entrypoint: initialised $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
fi

if [ "$1" = "postgres" ]; then
  shift
  exec gosu postgres postgres -D "$PGDATA" "$@"
fi
exec "$@"
