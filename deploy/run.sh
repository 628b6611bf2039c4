#!/usr/bin/env bash
# Installs what is needed, builds, and runs holdingsd.
# At this stage holdingsd reports its version and linked libraries; the gRPC server,
# Postgres and the embedded broker arrive with the transport and event-backbone issues.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
swift build -c release --product holdingsd
exec "$(swift build -c release --show-bin-path)/holdingsd" "$@"
