#!/usr/bin/env bash
# Issue-5 benchmarks against a release holdingsd (embedded broker, fresh database on the
# local Postgres), loopback only, bounded by their counts:
#   PublishPrices revaluing TICKERS × HOLDERS open positions in batches of TICKERS prices
#   SellLots of one share by each method on positions of LOTS lots
#   bash scripts/bench-holdings.sh [TICKERS] [HOLDERS] [BATCHES] [LOTS] [SELLS]   defaults 1000 100 5 10000 50
set -euo pipefail
cd "$(dirname "$0")/.."
tickers=${1:-1000}; holders=${2:-100}; batches=${3:-5}; lots=${4:-10000}; sells=${5:-50}
# 32 partitions and 8,000 unprojected events per partition: a 100,000-position batch fits
# under the gate while staying below the embedded broker's 5 MiB per partition.
source scripts/bench-server.sh --partitions 32 --max-projection-lag 8000
"$bin/holdings-bench" publish --server "$address" --tickers "$tickers" --holders "$holders" --batches "$batches"
"$bin/holdings-bench" sell --server "$address" --lots "$lots" --sells "$sells"
