//! Integration tests of kelviq-client against kelviq-mock over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod support;

mod customers;
#[cfg(feature = "blocking")]
mod blocking;
mod config;
mod entitlements;
mod failures;
mod paths;
mod reporting;
mod spans;
mod billing;
mod checkout;
mod license;
mod subscriptions;
