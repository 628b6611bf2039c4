#!/usr/bin/env bash
# Issue-5 benchmarks against a release holdingsd (embedded broker, fresh database on the
# local Postgres), loopback only, bounded by their counts:
#   PublishPrices revaluing TICKERS × HOLDERS open positions in batches of TICKERS prices
#   SellLots of one share by each method on positions of LOTS lots
#   bash scripts/bench-holdings.sh [TICKERS] [HOLDERS] [BATCHES] [LOTS] [SELLS]   defaults 1000 100 5 10000 50
set -euo pipefail
cd "$(dirname "$0")/.."
tickers=${1:-1000}; holders=${2:-100}; batches=${3:-5}; lots=${4:-10000}; sells=${5:-50}
swift build -c release --product holdingsd >/dev/null
swift build -c release --product holdings-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
bash deploy/postgres.sh start >/dev/null
admin=$(bash deploy/postgres.sh url | sed 's#/holdings$#/postgres#')
database="bench_$(date +%s)"
psql "$admin" -qc "CREATE DATABASE $database"
url=$(bash deploy/postgres.sh url | sed "s#/holdings\$#/$database#")
log=$(mktemp)
# 32 partitions and 8,000 unprojected events per partition: a 100,000-position batch fits
# under the gate while staying below the embedded broker's 5 MiB per partition.
"$bin/holdingsd" --port 0 --database-url "$url" --partitions 32 --max-projection-lag 8000 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql "$admin" -qc "DROP DATABASE IF EXISTS $database" || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  address=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log")
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { cat "$log"; exit 1; }
echo "holdingsd (release, embedded broker) at $address; $(nproc) cores shared with Postgres and the bench client"
"$bin/holdings-bench" publish --server "$address" --tickers "$tickers" --holders "$holders" --batches "$batches"
"$bin/holdings-bench" sell --server "$address" --lots "$lots" --sells "$sells"
