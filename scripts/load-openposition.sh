#!/usr/bin/env bash
# Load test of the event backbone: acknowledged OpenPosition calls per second end to end
# (gRPC -> write model -> Kafka acks -> answer) at fixed concurrency, and projector lag
# (client OK -> row in Postgres) p50/p99, against a release holdingsd with the embedded
# broker and a fresh database on the local Postgres (deploy/postgres.sh). Loopback only;
# every run is bounded by its call count and --max-seconds.
#
#   bash scripts/load-openposition.sh [RUNS] [CALLS] [CONCURRENCY]     defaults 3 30000 64
#   HOLDINGSD_ARGS="--kafka-property linger.ms=0" passes extra holdingsd arguments
#   RAW_PARTS=N also prints, after each run, the raw produce rate and the raw batched insert
#   rate of N records each (holdings-load --raw-parts) and the pipeline's ratio to the slower
#   of the two
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
calls=${2:-30000}
concurrency=${3:-64}
swift build -c release --product holdingsd >/dev/null
swift build -c release --product holdings-load >/dev/null
swift build -c release --product holdings-token >/dev/null
bin=$(swift build -c release --show-bin-path)
source deploy/dev-credentials.sh
HOLDINGS_TOKEN=$(dev_token "$bin" load 'clients:write:*')
export HOLDINGS_TOKEN
bash deploy/postgres.sh start >/dev/null
admin=$(bash deploy/postgres.sh url | sed 's#/holdings$#/postgres#')
database="load_$(date +%s)"
psql "$admin" -qc "CREATE DATABASE $database"
url=$(bash deploy/postgres.sh url | sed "s#/holdings\$#/$database#")
log=$(mktemp)
# --no-agent: the write path alone; the monitoring agent's cost is left out of these figures.
"$bin/holdingsd" --port 0 --database-url "$url" --plaintext --jwt-hs256-secret-file "$dev_secret" --no-agent ${HOLDINGSD_ARGS:-} >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql "$admin" -qc "DROP DATABASE IF EXISTS $database" || true; rm -f "$log"' EXIT
source scripts/server-address.sh
wait_listening "$log"
echo "holdingsd (release, embedded broker, $(nproc) cores shared with the load tool) at $address"
results=()
for run in $(seq 1 "$runs"); do
  echo "--- run $run: $calls calls, concurrency $concurrency"
  out=$("$bin/holdings-load" --server "$address" --calls "$calls" --concurrency "$concurrency" --max-seconds 120 --database-url "$url" ${RAW_PARTS:+--raw-parts "$RAW_PARTS"})
  echo "$out"
  results+=("$(echo "$out" | awk '/acknowledged OpenPosition/ {print $3}') $(echo "$out" | awk '/projector lag/ {print $11, $13}')")
done
printf '%s\n' "${results[@]}" | sort -n | awk -v n="$runs" '{a[NR]=$0} END {split(a[int((n+1)/2)], m, " "); printf "median of %d runs: %s acknowledged OpenPosition/s\n", n, m[1]}'
printf '%s\n' "${results[@]}" | awk '{print $2}' | sort -n | awk -v n="$runs" '{a[NR]=$1} END {printf "median projector lag p50: %s ms\n", a[int((n+1)/2)]}'
printf '%s\n' "${results[@]}" | awk '{print $3}' | sort -n | awk -v n="$runs" '{a[NR]=$1} END {printf "median projector lag p99: %s ms\n", a[int((n+1)/2)]}'
