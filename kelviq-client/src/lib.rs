//! Client for the [Kelviq](https://kelviq.com) billing and entitlements API.
//!
//! [`Kelviq`] calls every operation of the REST API — customers, checkout, entitlements,
//! usage and event reporting, subscriptions, the customer portal, license keys, charges,
//! refunds, transactions and payment methods — with typed parameters and responses,
//! validation before any I/O, percent-encoded path segments, and retries that never
//! replay a request whose outcome is unknown unless it is safe to.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kelviq_client::Error> {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use kelviq_client::{Kelviq, ReportUsage};
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .build()?;
//!
//! if kelviq.entitlements().has_access("cust_pro", "api-calls").await? {
//!     kelviq
//!         .reporting()
//!         .report_usage(ReportUsage::delta("cust_pro", "api-calls", 1))
//!         .await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! In production, configure it from the environment with [`Kelviq::from_env`]
//! (`KELVIQ_API_KEY`, `KELVIQ_ENV`), or with [`Kelviq::builder`].
//!
//! With the cargo feature `metrics`, the cache, the gates, the usage meter and every API
//! call record counters, gauges and histograms through the `metrics` facade: the names,
//! labels and meanings are in one table in [`telemetry`].
//!
//! # Cargo features
//!
//! None is on by default.
//!
//! | feature | what it adds |
//! |---|---|
//! | `blocking` | `blocking::Kelviq`: the same API without `async`, on a private runtime |
//! | `metrics` | counters, gauges and histograms through the `metrics` facade ([`telemetry`]) |
//! | `redis` | `fleet`: running as a fleet on Redis or a Redis Cluster (shared snapshots, invalidation by pub/sub, strict shared limits, durable usage) |

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod builder;
pub mod cache;
mod client;
mod config;
mod customer_client;
mod error;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod fleet;
pub mod gate;
mod http;
mod instance;
mod log_limit;
pub mod meter;
pub mod models;
mod resources;
mod stripes;
mod sync;
pub mod telemetry;
mod tier;
mod usage;
pub mod webhook;

pub use builder::{
    DEFAULT_MAX_CUSTOMER_ID_LEN, DEFAULT_TIMEOUT, KelviqBuilder, MAX_CUSTOMER_ID_LEN_LIMIT,
};
pub use cache::CacheConfig;
pub use client::Kelviq;
pub use config::{
    ApiVersion, ENV_API_KEY, ENV_BASE_URL, ENV_EDGE_URL, ENV_ENVIRONMENT, Environment,
};
pub use customer_client::CustomerClient;
pub use error::{ApiError, ApiErrorKind, Error, Result};
pub use http::RetryPolicy;
pub use instance::{INSTANCE_HEADER, MAX_INSTANCE_NAME_LEN};
pub use resources::*;

/// Plumbing for kelviq-axum and kelviq-actix (what their extractors refuse with, the
/// macros that declare their extractors and rejections, the check of a `FromPath`
/// parameter name, the build of a layer's gate): hidden from the docs and not a
/// stable API, as axum-core's `__private`. Users meet the gate's
/// [`Denial`](gate::Denial) and each adapter's rejections instead.
#[doc(hidden)]
pub mod __private {
    pub use crate::gate::refusal::{LayerMissing, Refusal, build_gate};
    pub use crate::gate::source::checked_path_param;

    /// A response the gate made, before an adapter converts it.
    pub type GateResponse = ::http::Response<::bytes::Bytes>;
}

/// The guide's page on fleets (`docs/guide/fleet.md`), compiled as doc tests.
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../../docs/guide/fleet.md")]
mod guide_fleet {}

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
