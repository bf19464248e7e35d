//! Integration tests of kelviq-actix: actix-web test services against kelviq-mock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod assembly;
mod customer_ids;
mod denials;
mod extractors;
mod failures;
mod gating;
mod guards;
mod limits;
mod metering;
mod sources;
mod support;
mod webhook;
