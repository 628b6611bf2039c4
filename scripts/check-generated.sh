#!/usr/bin/env bash
# Fails when Generated/ differs from a fresh run of scripts/generate.sh on proto/.
# Compares the tree as it is (in CI: the commit) with what the generator writes.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp -a Generated "$before/"
mkdir -p "$before/clients" && cp -a clients/python "$before/clients/"
bash scripts/generate.sh
if ! diff -r "$before/Generated" Generated > "$before/diff.txt" \
   || ! diff -r -x __pycache__ -x '*.egg-info' "$before/clients/python" clients/python >> "$before/diff.txt"; then
  head -40 "$before/diff.txt"
  echo "check-generated: Generated/ or clients/python was stale; regenerated them from proto/ - commit the result" >&2
  exit 1
fi
echo "check-generated: Generated/ matches proto/"
