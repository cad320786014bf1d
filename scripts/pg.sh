#!/usr/bin/env bash
# Install (once) and start a PostgreSQL 15 server with pgvector on loopback, for the tests and for trying
# persona on PostgreSQL. Idempotent: a running server is reused. Prints the DSN on its last line.
#   bash scripts/pg.sh            # install what is missing (apt-get, needs root), start, print the DSN
#   bash scripts/pg.sh stop       # stop the server
# Settings (environment): PERSONA_PG_DIR (data directory, default /tmp/persona-pg), PERSONA_PG_PORT (54329).
set -euo pipefail
PGVER=15
PGBIN=/usr/lib/postgresql/$PGVER/bin
DIR=${PERSONA_PG_DIR:-/tmp/persona-pg}
PORT=${PERSONA_PG_PORT:-54329}
PGVECTOR=0.8.0
PGVECTOR_SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
DSN="postgresql://persona:persona@127.0.0.1:$PORT/persona"

say() { printf 'persona pg: %s\n' "$*" >&2; }

as_pg() {  # the server refuses to run as root: run its tools as the postgres user when we are root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast stop || true
  exit 0
fi

# Some machines come with the server but without its headers (needed to build pgvector), make or gcc: check each.
have_all() {
  [ -x "$PGBIN/pg_ctl" ] && [ -x "$PGBIN/pg_config" ] \
    && [ -f "$("$PGBIN/pg_config" --includedir-server)/postgres.h" ] \
    && command -v make >/dev/null && command -v gcc >/dev/null && command -v curl >/dev/null && command -v xz >/dev/null
}
if ! have_all; then
  say "installing PostgreSQL $PGVER and its server headers (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "postgresql-$PGVER" "postgresql-server-dev-$PGVER" make gcc curl xz-utils >/dev/null
fi

if ! ls "/usr/share/postgresql/$PGVER/extension/"vector--0.[5-9]*.sql >/dev/null 2>&1; then
  # Debian bookworm has no pgvector package: build the source that Debian trixie ships (about 20 s). The
  # pinned release first; when Debian has moved on, the one its trixie source index names (checksum from it).
  work=$(mktemp -d)
  pool=http://deb.debian.org/debian/pool/main/p/pgvector
  if ! curl -fsS -m 120 -o "$work/pgvector.tar.gz" "$pool/pgvector_$PGVECTOR.orig.tar.gz"; then
    curl -fsS -m 120 -o "$work/Sources.xz" http://deb.debian.org/debian/dists/trixie/main/source/Sources.xz
    entry=$(xz -dc "$work/Sources.xz" | awk '/^Package: pgvector$/,/^$/')
    PGVECTOR=$(printf '%s\n' "$entry" | awk '/^Version:/ {print $2}' | cut -d- -f1)
    PGVECTOR_SHA256=$(printf '%s\n' "$entry" | awk -v f="pgvector_${PGVECTOR}.orig.tar.gz" \
      '/^Checksums-Sha256:/ {on = 1; next} /^[^ ]/ {on = 0} on && $3 == f {print $1; exit}')
    curl -fsS -m 120 -o "$work/pgvector.tar.gz" "$pool/pgvector_$PGVECTOR.orig.tar.gz"
  fi
  say "building pgvector $PGVECTOR from Debian's source package (about 20 s)"
  echo "$PGVECTOR_SHA256  $work/pgvector.tar.gz" | sha256sum -c --quiet
  tar -xzf "$work/pgvector.tar.gz" -C "$work"
  make -s -C "$work/pgvector-$PGVECTOR" -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s -C "$work/pgvector-$PGVECTOR" install PG_CONFIG="$PGBIN/pg_config" >/dev/null
  rm -rf "$work"
fi

if as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  say "server already running in $DIR/data"
else
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    say "creating a cluster in $DIR/data"
    as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    # Loopback only: passwords over TCP, no remote hosts.
    printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$DIR/data/pg_hba.conf"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR/data/pg_hba.conf"
  fi
  say "starting the server on 127.0.0.1:$PORT"
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=200 -c fsync=on" start >/dev/null
fi

psql_() { PGOPTIONS="-c client_min_messages=warning" as_pg psql -h "$DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ -z "$(psql_ -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'persona'")" ]; then
  psql_ -d postgres -c "CREATE ROLE persona LOGIN PASSWORD 'persona'"
fi
if [ -z "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'persona'")" ]; then
  psql_ -d postgres -c "CREATE DATABASE persona OWNER persona"
fi
psql_ -d persona -c "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public"
# A database without the extension, for the test of the error that says how to create it.
if [ -z "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'persona_novector'")" ]; then
  psql_ -d postgres -c "CREATE DATABASE persona_novector OWNER persona"
fi
echo "$DSN"
