#!/usr/bin/env bash
# Installs what is needed and runs the whole test suite: the Generated/ freshness check,
# every Swift test (codec, cross-language with Python protobuf, contract), then the
# end-to-end tests: the reference Python grpcio client against a running holdingsd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
bash scripts/check-generated.sh
swift build --build-tests
# The Services tests use a PostgreSQL cluster of their own (.data/swift-test-postgres, port
# 55433): started here (they start it themselves when run alone), stopped at the end.
trap 'bash deploy/postgres.sh stop .data/swift-test-postgres >/dev/null 2>&1 || true' EXIT
bash deploy/postgres.sh start .data/swift-test-postgres 55433 >/dev/null
swift test --skip-build
bash deploy/postgres.sh stop .data/swift-test-postgres
HOLDINGSD_BIN="$(swift build --show-bin-path)/holdingsd" timeout 1500 python3 -m pytest -q -p no:cacheprovider Tests/e2e
