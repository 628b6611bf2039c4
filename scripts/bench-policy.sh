#!/usr/bin/env bash
# The DQN policy's training time and out-of-sample table, in process (no server, no network):
# 100 episodes × ≤ 252 steps on 5 synthetic assets for each regime (GBM with trend,
# mean-reverting, regime switch) and seed, then the median training time and how often the
# policy's Sharpe beat 1/N rebalanced. Prints figures; asserts nothing.
#
#   bash scripts/bench-policy.sh [holdings-policy bench options, e.g. --episodes 100 --seeds 1,2,3]
#
# Stable-Baselines3 is not run beside it: its PyPI wheels pull PyTorch with the CUDA libraries
# (several GB) onto a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product holdings-policy >/dev/null
bin=$(swift build -c release --show-bin-path)
"$bin/holdings-policy" bench --assets 5 --periods 1260 --episodes 100 --seeds 1,2,3 --regimes trend,meanrevert,switch "$@"
