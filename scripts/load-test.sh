#!/usr/bin/env bash
# Loopback load test of an axum route with and without the Kelviq layer, same run.
# Usage: scripts/load-test.sh [seconds per route, default 10] [connections, default 32]
#                             [customers, default 1] [uniform|zipf, default uniform]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p kelviq-examples --bin load-test -- \
  "${1:-10}" "${2:-32}" "${3:-1}" "${4:-uniform}"
