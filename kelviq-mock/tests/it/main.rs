//! Integration tests of kelviq-mock: raw HTTP (reqwest) against a mock on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod support;

mod binary;
mod console;
mod control;
mod customers;
mod dev;
mod entitlements;
mod reporting;
mod server;

mod checkout;
mod license;
mod subscriptions;
mod webhooks;

mod billing;
