#!/usr/bin/env bash
# The same read over three faces of a release holdingsd, in the same run, driven by the same
# load generator (h2load, from nghttp2-client), loopback only, bounded by a request count:
#   REST     GET /api/v1/holdings/positions/{id}                        HTTP/1.1 (--h1)
#   Connect  POST /ultracore.holdings.v1.HoldingsService/GetPosition    HTTP/1.1, application/json
#   gRPC     POST /ultracore.holdings.v1.HoldingsService/GetPosition    HTTP/2 (h2c), application/grpc
# Prints calls/s and p50/p99 latency (from h2load's per-request log) of each, ROUNDS times
# interleaved.  bash scripts/bench-http.sh [REQUESTS] [CLIENTS] [ROUNDS]   defaults 20000 16 3
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}; clients=${2:-16}; rounds=${3:-3}
command -v h2load >/dev/null || { echo "bench-http: needs h2load (apt-get install nghttp2-client)" >&2; exit 1; }
source scripts/bench-server.sh --http-port 0
http=$(sed -n 's#.*HTTP/1.1 REST and Connect on http://\([0-9.]*:[0-9]*\)/.*#\1#p' "$log")
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; psql "$admin" -qc "DROP DATABASE IF EXISTS $database" || true; rm -f "$log"; rm -rf "$work"' EXIT
auth="authorization: Bearer $HOLDINGS_TOKEN"
# One position with 5 lots to read.
for price in 10 11 12 13 14; do
  answer=$(curl -sf -H "$auth" -H 'content-type: application/json' \
    -d "{\"clientId\":\"bench-http\",\"ticker\":\"BNCH\",\"quantity\":\"10\",\"price\":\"$price\"}" \
    "http://$http/api/v1/holdings/positions/open")
done
position=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["position"]["positionId"])' "$answer")
printf '{"positionId":"%s"}' "$position" >"$work/connect.json"
python3 - "$position" "$work/grpc.bin" <<'PY'
import struct, sys
field = sys.argv[1].encode()
message = b"\x0a" + bytes([len(field)]) + field          # GetPositionRequest.position_id = 1
open(sys.argv[2], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
PY
# Each face answers the call correctly before it is timed (h2load sees HTTP statuses only;
# a gRPC failure is a 200 with grpc-status in the trailers).
curl -sf -H "$auth" "http://$http/api/v1/holdings/positions/$position" | grep -q "\"positionId\":\"$position\""
curl -sf -H "$auth" -H 'content-type: application/json' --data-binary "@$work/connect.json" \
  "http://$http/ultracore.holdings.v1.HoldingsService/GetPosition" | grep -q "\"positionId\":\"$position\""
curl -s --http2-prior-knowledge -D - -o /dev/null -H "$auth" -H 'content-type: application/grpc' -H 'te: trailers' \
  --data-binary "@$work/grpc.bin" "http://$address/ultracore.holdings.v1.HoldingsService/GetPosition" | grep -qi '^grpc-status: 0'
summary() { # $1 = label, $2 = h2load output, $3 = its request log (start µs, status, duration µs)
  python3 - "$1" "$2" "$3" <<'PY'
import re, statistics, sys
label, out, log = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
rate = float(re.search(r"finished in [^,]+, ([0-9.]+) req/s", out).group(1))
ok = re.search(r"(\d+) succeeded, (\d+) failed", out)
durations = sorted(int(line.split()[2]) for line in open(log) if line.split()[1] == "200")
p = lambda q: durations[min(len(durations) - 1, int(q * len(durations)))] / 1000
print(f"{label:8} {rate:10.0f} calls/s   p50 {p(0.50):6.2f} ms   p99 {p(0.99):6.2f} ms   ({ok.group(1)} ok, {ok.group(2)} failed)")
PY
}
echo "GetPosition of a 5-lot position: $requests calls, $clients connections, $(nproc) cores shared by holdingsd, Postgres and h2load"
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  h2load --h1 -n "$requests" -c "$clients" -H "$auth" --log-file="$work/rest.log" \
    "http://$http/api/v1/holdings/positions/$position" >"$work/rest.out"
  summary REST "$work/rest.out" "$work/rest.log"
  h2load --h1 -n "$requests" -c "$clients" -H "$auth" -H 'content-type: application/json' -H 'connect-protocol-version: 1' \
    -d "$work/connect.json" --log-file="$work/connect.log" \
    "http://$http/ultracore.holdings.v1.HoldingsService/GetPosition" >"$work/connect.out"
  summary Connect "$work/connect.out" "$work/connect.log"
  h2load -n "$requests" -c "$clients" -m 1 -H "$auth" -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "$work/grpc.bin" --log-file="$work/grpc.log" \
    "http://$address/ultracore.holdings.v1.HoldingsService/GetPosition" >"$work/grpc.out"
  summary gRPC "$work/grpc.out" "$work/grpc.log"
done
