#!/usr/bin/env bash
# Regenerates the checked-in gRPC code from examples/proto/report.proto, without protoc:
# a throwaway crate (scripts/grpc-codegen, outside the workspace) runs protox and
# tonic-prost-build, then rustfmt formats the output.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-${TMPDIR:-/tmp}/kelviq-grpc-codegen}"
cargo run --quiet --manifest-path scripts/grpc-codegen/Cargo.toml --target-dir "$target" -- \
    kelviq-tower/tests/it/grpc
# One copy, used by kelviq-tower's tests and bench and by the examples.
rustfmt --edition 2024 kelviq-tower/tests/it/grpc/report.v1.rs
