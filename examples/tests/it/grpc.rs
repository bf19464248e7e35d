//! The gRPC example app's demo, run as a user would: every kind of call, then a customer
//! driven to its hard limit, answered `RESOURCE_EXHAUSTED`.

use std::process::Command;

#[test]
fn the_grpc_example_reaches_resource_exhausted() {
    let output = Command::new(env!("CARGO_BIN_EXE_grpc-app"))
        .arg("--demo")
        .env_remove("KELVIQ_API_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Near the limit, a stream of 5 rows sends the 2 the limit leaves...
    assert!(
        stdout.contains(
            "pro-key stream rows=5 fail=false\n  row 1: \"row 1\"\n  row 2: \"row 2\"\n  -> OK\n"
        ),
        "{stdout}"
    );
    // ...and the next call is refused as the limit's.
    assert!(
        stdout.contains("ResourceExhausted")
            && stdout.contains("kelviq-error: usage_limit_reached"),
        "{stdout}"
    );
    assert!(
        stdout.contains("api-calls metered for cust_pro: 10000"),
        "{stdout}"
    );
}
