#!/usr/bin/env bash
# Regenerates the checked-in gRPC code from examples/proto/report.proto, without protoc:
# a throwaway crate (scripts/grpc-codegen, outside the workspace) runs protox and
# tonic-prost-build, then rustfmt formats the output.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-${TMPDIR:-/tmp}/kelviq-grpc-codegen}"
cargo run --quiet --manifest-path scripts/grpc-codegen/Cargo.toml --target-dir "$target" -- \
    examples/src/grpc kelviq-tower/tests/it/grpc
for file in examples/src/grpc/report.v1.rs kelviq-tower/tests/it/grpc/report.v1.rs; do
    rustfmt --edition 2024 "$file"
done
