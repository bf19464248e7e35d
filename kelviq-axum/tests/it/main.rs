//! Integration tests of kelviq-axum with axum-test and kelviq-mock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod app;

mod assembly;
mod customer_ids;
mod extractors;
mod limits;
mod routes;
mod webhook;
