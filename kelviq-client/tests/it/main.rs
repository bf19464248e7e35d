//! Integration tests of kelviq-client against kelviq-mock over loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod support;

mod api_version;
mod billing;
#[cfg(feature = "blocking")]
mod blocking;
mod cache;
mod checkout;
mod config;
mod customer_client;
mod customer_ids;
mod customers;
mod entitlements;
mod failures;
#[cfg(feature = "redis")]
mod fleet;
#[cfg(feature = "redis")]
mod fleet_cluster;
#[cfg(feature = "redis")]
mod fleet_holds;
#[cfg(feature = "redis")]
mod fleet_soak;
mod gate;
mod license;
mod limits;
mod meter;
#[cfg(feature = "metrics")]
mod metrics;
mod paths;
mod reliability;
mod reporting;
mod resilience;
mod spans;
mod subscriptions;
