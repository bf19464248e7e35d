//! A [tower](https://docs.rs/tower) layer for [Kelviq](https://kelviq.com): take the
//! customer id from the request, gate the request on the customer's entitlements, call the
//! inner service, and meter usage when the response is a success.
//!
//! [`KelviqLayer`] works with any `Service<http::Request<B>>` (axum, hyper, tonic...); the
//! decisions themselves live in [`kelviq_client::gate`], so every framework answers alike:
//!
//! | situation | answer |
//! |---|---|
//! | no customer id | `401` `{"error": "missing_customer", ...}` |
//! | not entitled | `403` `{"error": "feature_not_entitled", "feature": ...}` |
//! | metered limit reached | `403` (configurable) `{"error": "usage_limit_reached", ...}` |
//! | Kelviq unreachable, no usable snapshot | `503` `{"error": "kelviq_unavailable"}`, or let through |
//! | allowed | the inner service's response; usage recorded if it is a success |
//!
//! Handlers find a [`KelviqContext`] in the request extensions (customer id, snapshot,
//! client, meter) and can set a [`UsageAmount`] response extension to meter a dynamic
//! amount. With the client's entitlement cache warm, the layer decides without I/O and
//! without boxing.

mod body;
mod context;
mod customer;
mod future;
mod layer;
mod response;
mod service;

pub use body::ResponseBody;
pub use context::{KelviqContext, UsageAmount};
pub use customer::{CustomerId, CustomerIdSource, FromExtension, FromFn, FromHeader, RequestHead};
pub use future::ResponseFuture;
pub use layer::{DenialHandler, KelviqLayer};
pub use service::KelviqService;
