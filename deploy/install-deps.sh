#!/usr/bin/env bash
# Installs what building and testing UltraCore Holdings needs on Debian 12:
# the C libraries of the shape (-dev packages), the protobuf compilers, and a Python
# virtualenv (.venv) with the reference client libraries used by the tests.
# The Swift 6 toolchain itself is expected on PATH (swift.org builds; no Debian package).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: no 'swift' on PATH; install a Swift 6.x toolchain from swift.org first" >&2
  exit 1
fi

PACKAGES=(
  pkg-config
  libnghttp2-dev libprotobuf-c-dev librdkafka-dev libpq-dev libssl-dev zlib1g-dev
  protobuf-compiler protobuf-c-compiler libprotobuf-dev grpc-proto
  python3 python3-venv python3-pip nghttp2-client openssl procps
  postgresql postgresql-client kcat
  chromium   # the headless browser that renders `holdings report` in the tests
  nginx      # the TLS front of deploy/cluster, run for real by Tests/e2e/test_deploy_files.py
)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install-deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  # No package starts its service (nginx on :80, Debian's own Postgres cluster): our scripts
  # start what they need, where they need it. policy-rc.d exit 101 is Debian's "do not start".
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then $SUDO rm -f "$policy"; fi
fi

if [ ! -x .venv/bin/python3 ]; then
  python3 -m venv .venv
fi
.venv/bin/python3 -m pip install -q --disable-pip-version-check -r Tests/interop/requirements.txt
echo "install-deps: system packages and .venv ready"
