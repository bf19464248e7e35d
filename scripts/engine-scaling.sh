#!/usr/bin/env bash
# The engine's check + record ops/s by threads (1, 2, 4, ... cores) and customers (1 and
# 10,000), beside a HashMap + Mutex<HashMap> baseline in the same run; markdown tables.
# Usage: scripts/engine-scaling.sh [seconds per side per cell, default 3] [--oversubscribe]
#                                  [--in-place | --gate | --gate-unenforced] [--one-customer: the hot customer only]
#                                  [--flush-interval SECONDS, default 1]
#                                  [--runs N, default 1: each side's median of N runs per cell]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p kelviq-examples --bin engine-scaling -- "$@"
