#!/bin/sh
# The App's database role: creates or repairs it, idempotently. Run by the image's entrypoint on
# a new data volume (official postgres image and ci/postgres alike, /docker-entrypoint-initdb.d),
# and by `make local-up` on every start (`exec postgres /docker-entrypoint-initdb.d/...`), which
# brings a volume made before this role existed (the App connected as the superuser then) or
# with other passwords in line with the current secrets:
#   - the superuser POSTGRES_USER gets the password POSTGRES_PASSWORD (for administration only);
#   - CIAL_APP_DB_USER logs in with CIAL_APP_DB_PASSWORD and is not a superuser, cannot create
#     roles or databases, replicate or bypass row-level security;
#   - it owns the database POSTGRES_DB and its schema `public`, and takes over what the superuser
#     owns there (tables, sequences, views, functions, types), so its migrations can alter them.
# Connects over the local socket (trust inside the container); passwords never go on a command line.
set -eu
if [ -z "${CIAL_APP_DB_USER:-}" ]; then
  echo "cial-app-role: CIAL_APP_DB_USER is not set; no App role"
  exit 0
fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -z "${CIAL_APP_DB_PASSWORD:-}" ] || [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "cial-app-role: POSTGRES_PASSWORD and CIAL_APP_DB_PASSWORD must be set" >&2
  exit 1
fi
if [ "$CIAL_APP_DB_USER" = "$POSTGRES_USER" ]; then
  echo "cial-app-role: the App's role must not be the superuser $POSTGRES_USER" >&2
  exit 1
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv super POSTGRES_USER
\getenv super_password POSTGRES_PASSWORD
\getenv app CIAL_APP_DB_USER
\getenv app_password CIAL_APP_DB_PASSWORD
\getenv db POSTGRES_DB
BEGIN;
SELECT format('CREATE ROLE %I', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
  PASSWORD :'app_password';
ALTER ROLE :"super" WITH PASSWORD :'super_password';
ALTER DATABASE :"db" OWNER TO :"app";
ALTER SCHEMA public OWNER TO :"app";
-- Tables, views and the sequences they own (ALTER TABLE carries those along).
SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, :'app')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = :'super') \gexec
-- Sequences of their own (not a column's).
SELECT format('ALTER SEQUENCE %I.%I OWNER TO %I', n.nspname, c.relname, :'app')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'S'
   AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = :'super')
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype IN ('a', 'i')) \gexec
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, :'app')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = :'super') \gexec
SELECT format('ALTER TYPE %I.%I OWNER TO %I', n.nspname, t.typname, :'app')
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r')
   AND t.typowner = (SELECT oid FROM pg_roles WHERE rolname = :'super') \gexec
COMMIT;
SQL
echo "cial-app-role: role $CIAL_APP_DB_USER owns database $POSTGRES_DB (not a superuser)"
