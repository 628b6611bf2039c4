#!/usr/bin/env bash
# Installs what is needed, builds, starts Postgres (deploy/postgres.sh, data in
# .data/postgres, port 55432) and runs holdingsd with the embedded Kafka broker, for
# development: h2c on loopback behind bearer tokens signed with a development secret
# (.data/dev-jwt-secret); it prints an admin development token to use as
# `authorization: Bearer <token>`. holdingsd prints the address it serves on (default
# 127.0.0.1:50051), the REST/Connect address (127.0.0.1:8080, HOLDINGS_HTTP_PORT to change)
# and the broker's bootstrap address. Flags pass through, e.g.
# `bash deploy/run.sh --port 0`; set HOLDINGS_KAFKA_BROKERS or --kafka-brokers to use a
# real cluster instead. For TLS and client certificates, see the README.
# HOLDINGS_BUILD=debug uses a debug build (the tests run this script so); HOLDINGS_POSTGRES_DATA
# and HOLDINGS_POSTGRES_PORT move the Postgres cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HOLDINGS_BUILD:-release}
case "$build" in release|debug) ;; *) echo "run: HOLDINGS_BUILD is release or debug, not $build" >&2; exit 2 ;; esac
bash deploy/install-deps.sh
swift build -c "$build" --product holdingsd
swift build -c "$build" --product holdings-token
bin=$(swift build -c "$build" --show-bin-path)
url=$(bash deploy/postgres.sh start "${HOLDINGS_POSTGRES_DATA:-.data/postgres}" "${HOLDINGS_POSTGRES_PORT:-55432}")
echo "run: postgres at $url (stop it with: bash deploy/postgres.sh stop ${HOLDINGS_POSTGRES_DATA:-})"
source deploy/dev-credentials.sh
token=$(dev_token "$bin" dev admin)
echo "run: development token (admin, 12 hours; more with $bin/holdings-token --secret-file $dev_secret --scope ...):"
echo "$token"
export HOLDINGS_DATABASE_URL="${HOLDINGS_DATABASE_URL:-$url}"
exec "$bin/holdingsd" --plaintext --jwt-hs256-secret-file "$dev_secret" --http-port "${HOLDINGS_HTTP_PORT:-8080}" "$@"
