#!/usr/bin/env bash
# Fails when the committed Generated/ differs from a fresh run of scripts/generate.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/generate.sh
if ! git diff --exit-code --stat -- Generated || [ -n "$(git status --porcelain --untracked-files=all -- Generated)" ]; then
  git status --porcelain --untracked-files=all -- Generated
  echo "check-generated: Generated/ is stale; run scripts/generate.sh and commit the result" >&2
  exit 1
fi
echo "check-generated: Generated/ matches proto/"
