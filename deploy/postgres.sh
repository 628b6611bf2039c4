#!/usr/bin/env bash
# A local PostgreSQL cluster for UltraCore Holdings, in a data folder of the project.
#
#   deploy/postgres.sh start [DATA_DIR] [PORT]   create (first time) and start; prints the database URL
#   deploy/postgres.sh stop  [DATA_DIR]          fast shutdown
#   deploy/postgres.sh url   [DATA_DIR] [PORT]   the database URL holdingsd takes (--database-url)
#
# Defaults: DATA_DIR=.data/postgres, PORT=55432 (loopback only). Postgres refuses to
# run as root, so the server runs as the `postgres` OS user (Debian's postgresql
# package creates it); the cluster trusts loopback connections, which suits a developer
# machine and CI, not production (see deploy/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

command_name=${1:-start}
data=${2:-.data/postgres}
port=${3:-55432}
database=holdings
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "postgres.sh: PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }
mkdir -p "$(dirname "$data")"
data=$(cd "$(dirname "$data")" && pwd)/$(basename "$data")

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

url() { echo "postgresql://postgres@127.0.0.1:$port/$database"; }

case "$command_name" in
start)
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    chown postgres:postgres "$data"
    chmod 700 "$data"
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  # The postgres user must be able to reach the folder (a checkout under /root is not).
  as_postgres test -w "$data" || { echo "postgres.sh: $data is not writable by the postgres user" >&2; exit 1; }
  if ! as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data -c max_connections=200 -c fsync=on -c synchronous_commit=on" >/dev/null
  fi
  if ! as_postgres "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$database'" postgres | grep -q 1; then
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$database"
  fi
  url
  ;;
stop)
  if [ -f "$data/PG_VERSION" ]; then
    as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  ;;
url) url ;;
*) echo "usage: deploy/postgres.sh start|stop|url [DATA_DIR] [PORT]" >&2; exit 2 ;;
esac
