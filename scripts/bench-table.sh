#!/usr/bin/env bash
# The structure-and-speed table in one run: each holdings scenario against its own release
# holdingsd (embedded broker, fresh database on the local Postgres, loopback only, bounded by
# its counts), then one table of today's figures beside the goals. Prints figures; asserts
# nothing (performance is judged by reading medians and ratios, not by a timed test).
#
#   bash scripts/bench-table.sh [--with-references]
#
# --with-references also runs the codec benchmark beside Python protobuf (upb) and the unary
# gRPC benchmark beside gRPC C++ (scripts/bench-codec.sh, scripts/bench-grpc.sh: several
# minutes more). Sizes (environment): LOAD_CALLS 20000, LOAD_CONCURRENCY 256, GROWTH_LOTS 2000,
# PORTFOLIO_POSITIONS 20000, REBALANCE_ASSETS 500, REBALANCE_LOTS 50, PUBLISH_TICKERS 1000,
# PUBLISH_HOLDERS 100, RAW_PARTS 100000 (the load's raw produce and insert rates).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
load_calls=${LOAD_CALLS:-20000}; load_concurrency=${LOAD_CONCURRENCY:-256}; growth_lots=${GROWTH_LOTS:-2000}
positions=${PORTFOLIO_POSITIONS:-20000}; assets=${REBALANCE_ASSETS:-500}; rebalance_lots=${REBALANCE_LOTS:-50}
tickers=${PUBLISH_TICKERS:-1000}; holders=${PUBLISH_HOLDERS:-100}

scenario() { # $1 = name, rest = holdings-bench arguments (after --server); extra holdingsd args in $SERVER_ARGS
  local name=$1; shift
  echo "=== $name" >&2
  ( source scripts/bench-server.sh ${SERVER_ARGS:---partitions 16} >&2
    "$bin/holdings-bench" "$1" --server "$address" "${@:2}" ) | tee "$out/$name" >&2
}

echo "=== load" >&2
RAW_PARTS=${RAW_PARTS:-100000} bash scripts/load-openposition.sh 1 "$load_calls" "$load_concurrency" | tee "$out/load" >&2
scenario growth growth --lots "$growth_lots"
scenario portfolio portfolio --positions "$positions" --concurrency 32 --calls 30
scenario rebalance rebalance --assets "$assets" --lots "$rebalance_lots" --calls 30
SERVER_ARGS="--partitions 32 --max-projection-lag 8000" scenario publish publish --tickers "$tickers" --holders "$holders" --batches 3
if [ "${1:-}" = --with-references ]; then
  echo "=== codec" >&2; bash scripts/bench-codec.sh | tee "$out/codec" >&2
  echo "=== unary" >&2; bash scripts/bench-grpc.sh | tee "$out/unary" >&2
fi

field() { # $1 = file, $2 = line pattern, $3 = awk field expression
  grep -E "$2" "$out/$1" 2>/dev/null | tail -1 | awk "{print $3}"
}
p50() { field "$1" "$2" '$0' | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/'; }
p99() { field "$1" "$2" '$0' | sed -E 's/.*p99 ([0-9.]+) ms.*/\1/'; }

echo
echo "| what | today (this run) | goal |"
echo "|---|---|---|"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
acked=$(field load '^acknowledged' '$3'); produce=$(field load '^raw produce' '$4'); insert=$(field load '^raw batched insert' '$5')
echo "| acknowledged OpenPosition/s at $load_concurrency in flight, embedded broker (ack after the Postgres commit) | $acked/s; raw parts alone: produce $produce records/s, batched insert $insert rows/s; pipeline ÷ slowest part $(field load 'slowest part' '$6') | ≥ 20,000/s ($(ratio "$acked" 20000) of it) |"
first=$(grep -E '^OpenPosition, lots' "$out/growth" | head -1); last=$(grep -E '^OpenPosition, lots' "$out/growth" | tail -1)
echo "| a position growing to $growth_lots lots, one buy at a time | p50/p99 $(echo "$first" | sed -E 's/.*p50 ([0-9.]+) ms, p99 ([0-9.]+) ms.*/\1\/\2/') ms first tenth, $(echo "$last" | sed -E 's/.*p50 ([0-9.]+) ms, p99 ([0-9.]+) ms.*/\1\/\2/') ms last tenth; answer $(field growth 'answer sizes' '$7') bytes | p99 < 2 ms per buy, nothing over 4 MiB |"
pfirst=$(grep -E '^OpenPosition, positions' "$out/portfolio" | head -1); plast=$(grep -E '^OpenPosition, positions' "$out/portfolio" | tail -1)
echo "| one client opening $positions positions, 32 in flight | p50 $(echo "$pfirst" | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/') ms first fifth, $(echo "$plast" | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/') ms last fifth | flat per-call cost |"
echo "| GetPortfolioValue (totals over every position, the first page of 1,000 listed) / MonitorPortfolio at $positions positions | p99 $(p99 portfolio '^GetPortfolioValue') / $(p99 portfolio '^MonitorPortfolio') ms | p99 < 20 ms at 20,000 |"
plan99=$(p99 rebalance '^PlanRebalancing'); publish50=$(p50 publish '^PublishPrices')
echo "| PlanRebalancing, $assets assets × $rebalance_lots lots | p50 $(p50 rebalance '^PlanRebalancing') ms, p99 $plan99 ms | p99 < 5 ms ($(ratio "$plan99" 5)× it) |"
echo "| PublishPrices, $tickers quotes over $((tickers * holders)) positions | p50 $publish50 ms per batch | < 500 ms ($(ratio "$publish50" 500)× it) |"
if [ -f "$out/codec" ]; then
  echo "| codec, Position with 20 lots | $(grep -E 'ours|swift|Swift' "$out/codec" | tail -2 | tr '\n' ';') upb: $(grep -iE 'python|upb' "$out/codec" | tail -2 | tr '\n' ';') | ≥ upb both ways |"
  echo "| unary calls/s, TestService/UnaryCall, h2load c16 m16 | $(grep -E '^  ours-2 / cpp-cb' "$out/unary" | sed 's/^ *//'); $(grep -E '^  ours-1 / cpp-cb' "$out/unary" | sed 's/^ *//'); $(grep -E '^  cpp-sync / cpp-cb' "$out/unary" | sed 's/^ *//') | ≥ 1.0 × the C++ callback server |"
fi
