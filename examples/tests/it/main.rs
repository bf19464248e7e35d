//! Integration tests of the example apps: real HTTP over loopback, on an embedded fake
//! Kelviq (and, for the console, a real headless browser).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod support;

mod console;
mod denials;
mod fleet;
mod grpc;
mod webhooks;
