#!/usr/bin/env bash
# Issue-6 benchmarks against a release holdingsd (embedded broker, fresh database on the
# local Postgres), loopback only, bounded by their counts:
#   EvaluateRebalancing and PlanRebalancing on one client of ASSETS positions of LOTS lots
#   every AnalyticsService method on a daily series of DAYS returns (10 years: 2520)
#   bash scripts/bench-rebalancing.sh [ASSETS] [LOTS] [CALLS] [DAYS] [ANALYTICS_CALLS]   defaults 500 50 50 2520 200
set -euo pipefail
cd "$(dirname "$0")/.."
assets=${1:-500}; lots=${2:-50}; calls=${3:-50}; days=${4:-2520}; analytics_calls=${5:-200}
source scripts/bench-server.sh --partitions 16
"$bin/holdings-bench" analytics --server "$address" --days "$days" --calls "$analytics_calls"
"$bin/holdings-bench" rebalance --server "$address" --assets "$assets" --lots "$lots" --calls "$calls"
