#!/usr/bin/env bash
# Installs what is needed, builds, starts Postgres (deploy/postgres.sh, data in
# .data/postgres, port 55432) and runs holdingsd with the embedded Kafka broker.
# holdingsd prints the address it serves on (default 127.0.0.1:50051) and the broker's
# bootstrap address. Flags pass through, e.g. `bash deploy/run.sh --port 0`; set
# HOLDINGS_KAFKA_BROKERS or --kafka-brokers to use a real cluster instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
swift build -c release --product holdingsd
url=$(bash deploy/postgres.sh start)
echo "run: postgres at $url (stop it with: bash deploy/postgres.sh stop)"
exec "$(swift build -c release --show-bin-path)/holdingsd" --database-url "${HOLDINGS_DATABASE_URL:-$url}" "$@"
