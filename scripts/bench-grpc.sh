#!/usr/bin/env bash
# Unary gRPC calls/s and latency, grpc.testing.TestService/UnaryCall with a small payload
# (16-byte request payload, 16-byte response), driven by h2load (Debian nghttp2-client)
# on loopback against, in the same run:
#   ours-1   interop-server (release) with 1 event loop
#   ours-2   interop-server with 2 event loops
#   cpp-sync gRPC C++ (Debian libgrpc++-dev 1.51) synchronous server, Benchmarks/cpp/test_server.cc
#   cpp-cb   the same program with --callback: gRPC C++'s callback API server, the faster
#            C++ configuration and the reference the ratios are taken to
#   python   grpcio (PyPI) server, Tests/interop/py_test_server.py, 16 worker threads
# Each: 3 runs of N calls over 16 connections x 16 streams (python: fewer calls, it is slow);
# prints per run calls/s and p50/p99 latency from h2load's per-request log, then the
# medians. h2load counts any HTTP 200 as a success, so a grpcio UnaryCall first checks
# each server answers grpc-status OK. Bounded: fixed call counts, loopback, stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v h2load >/dev/null || apt-get install -y -qq nghttp2-client >/dev/null
command -v grpc_cpp_plugin >/dev/null || apt-get install -y -qq libgrpc++-dev protobuf-compiler-grpc >/dev/null
[ -x .venv/bin/python3 ] || bash deploy/install-deps.sh
PY=.venv/bin/python3
swift build -c release --product interop-server >/dev/null
OURS="$(swift build -c release --show-bin-path)/interop-server"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# The C++ server, from the same grpc-proto files.
protoc -I /usr/share/grpc-proto --cpp_out="$work" --grpc_out="$work" --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" \
  grpc/testing/test.proto grpc/testing/messages.proto grpc/testing/empty.proto
g++ -O2 -std=c++17 -I "$work" Benchmarks/cpp/test_server.cc "$work"/grpc/testing/*.cc -o "$work/cpp-test-server" \
  $(pkg-config --cflags --libs grpc++ protobuf) -lpthread

# The request body: a gRPC-framed SimpleRequest.
$PY - "$work/body" <<'PYEOF'
import struct, sys
sys.path.insert(0, "Tests/interop")
import testing_protos
m = testing_protos.load()[1]
data = m.SimpleRequest(response_size=16, payload=m.Payload(body=b"\0" * 16)).SerializeToString()
open(sys.argv[1], "wb").write(struct.pack(">BI", 0, len(data)) + data)
PYEOF

serve() { # $1 = log, rest = command; sets pid and port
  local log=$1; shift
  "$@" > "$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
  port=$(grep -o 'listening on [0-9.]*:[0-9]*' "$log" | cut -d: -f2)
  [ -n "$port" ] || { cat "$log"; exit 1; }
  $PY - "$port" <<'PYEOF'
import sys
sys.path.insert(0, "Tests/interop")
import grpc, testing_protos
_, m, _, g = testing_protos.load()
r = g.TestServiceStub(grpc.insecure_channel(f"127.0.0.1:{sys.argv[1]}")).UnaryCall(m.SimpleRequest(response_size=16), timeout=10)
assert len(r.payload.body) == 16
PYEOF
}

measure() { # $1 = name, $2 = calls per run
  local name=$1 calls=$2
  for run in 1 2 3; do
    rm -f "$work/requests.log"
    h2load -n "$calls" -c 16 -m 16 -t 1 -d "$work/body" -H 'content-type: application/grpc' -H 'te: trailers' \
      --log-file="$work/requests.log" "http://127.0.0.1:$port/grpc.testing.TestService/UnaryCall" > "$work/h2load.out" 2>&1
    $PY - "$name" "$run" "$work/h2load.out" "$work/requests.log" >> "$work/results" <<'PYEOF'
import re, statistics, sys
name, run, out, log = sys.argv[1:]
text = open(out).read()
rate = float(re.search(r"finished in [0-9.]+\w+, ([0-9.]+) req/s", text).group(1))
ok = int(re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", text).group(1))
times = sorted(int(line.split("\t")[2]) for line in open(log) if line.strip() and line.split("\t")[1] == "200")
q = statistics.quantiles(times, n=100)
print(f"{name}\t{run}\t{rate:.0f}\t{q[49] / 1000:.2f}\t{q[98] / 1000:.2f}\t{ok}")
PYEOF
    tail -1 "$work/results" | awk -F'\t' '{printf "%-8s run %s: %8s calls/s  p50 %6s ms  p99 %6s ms  (%s HTTP 200)\n", $1, $2, $3, $4, $5, $6}'
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

: > "$work/results"
serve "$work/ours1.log" "$OURS" --port 0 --threads 1; measure ours-1 100000
serve "$work/ours2.log" "$OURS" --port 0 --threads 2; measure ours-2 100000
serve "$work/cpp.log" "$work/cpp-test-server"; measure cpp-sync 100000
serve "$work/cppcb.log" "$work/cpp-test-server" --callback; measure cpp-cb 100000
serve "$work/py.log" $PY Tests/interop/py_test_server.py --port 0; measure python 10000

echo "medians of 3 runs (16 connections x 16 streams, h2load on the same 2 cores):"
$PY - "$work/results" <<'PYEOF'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1])]
best = {}
for name in dict.fromkeys(r[0] for r in rows):
    mine = [r for r in rows if r[0] == name]
    best[name] = statistics.median(float(r[2]) for r in mine)
    print(f"  {name:8s} {best[name]:9.0f} calls/s  p50 {statistics.median(float(r[3]) for r in mine):6.2f} ms"
          f"  p99 {statistics.median(float(r[4]) for r in mine):6.2f} ms")
for name in ("ours-1", "ours-2", "cpp-sync", "python"):
    print(f"  {name} / cpp-cb = {best[name] / best['cpp-cb']:.2f}")
PYEOF
