#!/usr/bin/env bash
# Codec throughput: our Swift codec (release build) and Python protobuf, in the same run,
# on the same message (a Position with 20 lots). Prints medians; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python3 ] || bash deploy/install-deps.sh
swift build -c release --package-path Benchmarks --product codec-benchmark >/dev/null
for round in 1 2; do
  echo "round $round"
  "$(swift build -c release --package-path Benchmarks --show-bin-path)/codec-benchmark"
  .venv/bin/python3 Tests/interop/samples.py bench
done
