//! Compiles `examples/proto/report.proto` with protox and writes the tonic/prost code to
//! the given output directories (run from the repository root by `scripts/grpc-codegen.sh`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let outputs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let descriptors = protox::compile(["report.proto"], ["examples/proto"])?;
    for out in outputs {
        std::fs::create_dir_all(&out)?;
        tonic_prost_build::configure()
            .build_transport(false)
            .out_dir(&out)
            .compile_fds(descriptors.clone())?;
    }
    Ok(())
}
