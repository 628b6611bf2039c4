#!/usr/bin/env bash
# Installs what is needed and runs the whole test suite: the Generated/ freshness check,
# then every Swift test (codec, cross-language with Python protobuf, contract).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
bash scripts/check-generated.sh
swift build --build-tests
swift test --skip-build
