#!/usr/bin/env bash
# Cost of authentication per call, measured in one run: GetPosition calls/s through our
# Swift client against two release holdingsd side by side (embedded broker, fresh
# databases on the local Postgres), one open (--insecure-dev) and one behind bearer
# tokens (--plaintext --jwt-hs256-secret-file: every call carries an HS256 token that is
# authenticated and authorized), alternated ROUNDS times; prints each round, the medians
# and their ratio. Then the server alone, without our client: h2load (Debian
# nghttp2-client), 16 connections × 8 streams, GetPosition of an unknown id (NOT_FOUND
# after authentication and authorization; nghttp checks the status first). Loopback
# only, bounded by the call counts.
#   bash scripts/bench-auth.sh [ROUNDS] [CALLS] [CONCURRENCY]     defaults 5 50000 32
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; calls=${2:-50000}; concurrency=${3:-32}
for product in holdingsd holdings-bench holdings-token; do swift build -c release --product "$product" >/dev/null; done
bin=$(swift build -c release --show-bin-path)
bash deploy/postgres.sh start >/dev/null
source deploy/dev-credentials.sh
source scripts/server-address.sh
admin=$(bash deploy/postgres.sh url | sed 's#/holdings$#/postgres#')
stamp=$(date +%s)
pids=(); databases=(); logs=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done
  for database in "${databases[@]}"; do psql "$admin" -qc "DROP DATABASE IF EXISTS $database" || true; done
  rm -f "${logs[@]}"
}
trap cleanup EXIT
serve() {  # NAME ARGS...: starts holdingsd, sets $address
  local database="auth_${1}_$stamp"; shift
  psql "$admin" -qc "CREATE DATABASE $database"; databases+=("$database")
  local url; url=$(bash deploy/postgres.sh url | sed "s#/holdings\$#/$database#")
  local log; log=$(mktemp); logs+=("$log")
  "$bin/holdingsd" --port 0 --threads 1 --database-url "$url" --no-agent "$@" >"$log" 2>&1 &
  pids+=($!)
  wait_listening "$log"
}
serve open --insecure-dev; open_address=$address
serve token --plaintext --jwt-hs256-secret-file "$dev_secret"; token_address=$address
token=$(dev_token "$bin" bench 'clients:write:*')
echo "holdingsd (release, 1 event loop each) open at $open_address, with tokens at $token_address; $(nproc) cores shared with Postgres and the client"
rate() { awk '/calls\/s/ {print $(NF-1)}'; }
open_rates=(); token_rates=()
for round in $(seq 1 "$rounds"); do
  open=$("$bin/holdings-bench" reads --server "$open_address" --calls "$calls" --concurrency "$concurrency" | rate)
  with=$(HOLDINGS_TOKEN=$token "$bin/holdings-bench" reads --server "$token_address" --calls "$calls" --concurrency "$concurrency" | rate)
  echo "round $round: open $open calls/s, with token $with calls/s"
  open_rates+=("$open"); token_rates+=("$with")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
open_median=$(median "${open_rates[@]}"); token_median=$(median "${token_rates[@]}")
echo "median over $rounds rounds: open $open_median calls/s, with token $token_median calls/s"
awk -v o="$open_median" -v t="$token_median" 'BEGIN {printf "authenticated / open: %.3f; per-call cost at this concurrency: %.1f µs\n", t / o, (1e6 / t - 1e6 / o)}'

# The server alone: h2load.
command -v h2load >/dev/null || apt-get install -y -qq nghttp2-client >/dev/null
work=$(mktemp -d); logs+=("$work/body")
printf '\x00\x00\x00\x00\x0f\x0a\x0dbench-missing' > "$work/body"
path=/ultracore.holdings.v1.HoldingsService/GetPosition
status=$(nghttp -v -d "$work/body" -H 'content-type: application/grpc' -H 'te: trailers' -H "authorization: Bearer $token" \
  "http://$token_address$path" 2>&1 | sed -n 's/.*grpc-status: \([0-9]*\).*/\1/p' | head -1)
[ "$status" = 5 ] || { echo "expected NOT_FOUND (5) from the token server, got grpc-status '$status'"; exit 1; }
h2rate() {  # ADDRESS [HEADER]
  local extra=()
  [ -n "${2:-}" ] && extra=(-H "$2")
  h2load -n "$((calls * 4))" -c 16 -m 8 -t 1 -d "$work/body" -H 'content-type: application/grpc' -H 'te: trailers' "${extra[@]}" \
    "http://$1$path" 2>&1 | sed -n 's/.*finished in [0-9.]*[a-z]*, \([0-9.]*\) req\/s.*/\1/p'
}
open_rates=(); token_rates=()
for round in $(seq 1 "$rounds"); do
  open=$(h2rate "$open_address"); with=$(h2rate "$token_address" "authorization: Bearer $token")
  echo "h2load round $round: open $open calls/s, with token $with calls/s"
  open_rates+=("$open"); token_rates+=("$with")
done
open_median=$(median "${open_rates[@]}"); token_median=$(median "${token_rates[@]}")
echo "h2load median over $rounds rounds: open $open_median calls/s, with token $token_median calls/s"
awk -v o="$open_median" -v t="$token_median" 'BEGIN {printf "h2load authenticated / open: %.3f; per-call cost: %.1f µs of one event loop\n", t / o, (1e6 / t - 1e6 / o)}'
rm -rf "$work"
