#!/usr/bin/env bash
# Unary gRPC throughput of holdingsd (release build) with 1 and 2 event loops, driven by
# h2load (Debian nghttp2-client) on loopback: 100,000 calls of grpc.health.v1.Health/Check,
# 16 connections x 8 streams, 3 runs each. h2load counts any HTTP 200 as a success, so a
# grpcio call first checks that the method really answers grpc-status OK.
# Bounded: 100,000 requests per run, loopback only, stops by itself. Asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v h2load >/dev/null || { apt-get install -y -qq nghttp2-client >/dev/null; }
[ -x .venv/bin/python3 ] || bash deploy/install-deps.sh
swift build -c release --product holdingsd >/dev/null
BIN="$(swift build -c release --show-bin-path)/holdingsd"
body=$(mktemp); printf '\x00\x00\x00\x00\x00' > "$body"   # an empty HealthCheckRequest, gRPC-framed
for threads in 1 2; do
  log=$(mktemp)
  "$BIN" --port 0 --threads "$threads" > "$log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
  port=$(grep -o 'listening on [0-9.]*:[0-9]*' "$log" | cut -d: -f2)
  .venv/bin/python3 -c "
import grpc, sys
from grpc_health.v1 import health_pb2, health_pb2_grpc
stub = health_pb2_grpc.HealthStub(grpc.insecure_channel('127.0.0.1:$port'))
assert stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
"
  for run in 1 2 3; do
    echo -n "event loops=$threads run=$run: "
    h2load -n 100000 -c 16 -m 8 -t 1 -d "$body" -H 'content-type: application/grpc' -H 'te: trailers' \
      "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>&1 \
      | grep -E '^finished|^requests|^time for request' | tr -s ' ' | tr '\n' ' '
    echo
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -f "$log"
done
rm -f "$body"
