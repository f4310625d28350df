#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1 for the governance tests; print its URL.
# Installs the server from Debian's packages when missing. Prints nothing if it cannot.
set -u
port=${PG_PORT:-55432}
data=${PG_DATA:-/tmp/mlgov-ci-pg}
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
    >/tmp/mlgov-ci-pg-install.log 2>&1 || exit 0
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
url="postgresql+psycopg://postgres@127.0.0.1:$port/mlgov_test"
# One already answering on the port (a second run in the same session) is used as it is:
# wiping its data directory under it would kill it.
if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" >/dev/null 2>&1; then
  echo "$url"
  exit 0
fi
rm -rf "$data" && mkdir -p "$data" && chown postgres "$data" || exit 0
su postgres -c "$bin/initdb -D $data -A trust -U postgres" >/dev/null 2>&1 || exit 0
su postgres -c "$bin/pg_ctl -D $data -o '-p $port -k /tmp -c listen_addresses=127.0.0.1' \
  -l $data/server.log -w start" >/dev/null 2>&1 || exit 0
su postgres -c "$bin/psql -q -h 127.0.0.1 -p $port -U postgres -c 'create database mlgov_test'" \
  >/dev/null 2>&1 || exit 0
echo "$url"
