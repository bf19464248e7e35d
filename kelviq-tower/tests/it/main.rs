//! Integration tests of kelviq-tower: the layer around plain tower services, against
//! kelviq-mock over loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod support;

mod assembly;
mod grpc;
mod layer;
mod quota;
mod semantics;
