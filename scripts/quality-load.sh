#!/usr/bin/env bash
# Data-quality figures on a realistic, seeded workload (scripts/quality_load.py): a release
# holdingsd with the embedded broker and a fresh database on the local Postgres. Prints the
# events-weighted average score, the failed rules with the points they cost and the
# quarantined records. Loopback only; bounded by the workload's size.
#
#   bash scripts/quality-load.sh [CLIENTS] [SEED]      defaults 200 16
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product holdingsd >/dev/null
swift build -c release --product holdings-token >/dev/null
bin=$(swift build -c release --show-bin-path)
source deploy/dev-credentials.sh
token=$(dev_token "$bin" quality admin)
bash deploy/postgres.sh start >/dev/null
admin=$(bash deploy/postgres.sh url | sed 's#/holdings$#/postgres#')
database="quality_$(date +%s)"
psql "$admin" -qc "CREATE DATABASE $database"
url=$(bash deploy/postgres.sh url | sed "s#/holdings\$#/$database#")
log=$(mktemp)
"$bin/holdingsd" --port 0 --database-url "$url" --plaintext --jwt-hs256-secret-file "$dev_secret" --no-agent >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql "$admin" -qc "DROP DATABASE IF EXISTS $database" || true; rm -f "$log"' EXIT
source scripts/server-address.sh
wait_listening "$log"
bootstrap=$(sed -n 's/.*brokers \([^)]*\)).*/\1/p' "$log" | head -1)
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" scripts/quality_load.py "$address" "$token" "$bootstrap" "${1:-200}" "${2:-16}"
