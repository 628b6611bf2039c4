#!/usr/bin/env bash
# Installs what is needed, builds, and runs holdingsd.
# holdingsd serves gRPC on 127.0.0.1:50051 (flags pass through, e.g. --port 0); Postgres
# and the embedded broker arrive with the event-backbone issue.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
swift build -c release --product holdingsd
exec "$(swift build -c release --show-bin-path)/holdingsd" "$@"
