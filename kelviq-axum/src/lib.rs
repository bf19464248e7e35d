//! [axum](https://docs.rs/axum) integration for [Kelviq](https://kelviq.com): gate routes
//! on the customer's plan, meter successful requests, and call the whole API for the
//! current customer from handlers. An app depends on this crate only:
//! `use kelviq_axum::prelude::*;` ([`prelude`]).
//!
//! - Layers: one [`KelviqLayer`] per route, built from a [`Gate`](kelviq_client::gate::Gate).
//!   Set the app-wide settings once on a [`GateBuilder`](kelviq_client::gate::GateBuilder)
//!   — the template — and stamp each route's gate out of a clone:
//!   `.route_layer(gates.clone().require(Reports).into_layer())`. A gate that cannot work
//!   panics while the router is assembled, naming the mistake
//!   ([`GateBuilderExt::into_layer`]).
//! - Extractors ([`extract`]): [`Customer`](extract::Customer),
//!   [`RequestSnapshot`](extract::RequestSnapshot), [`Entitled<F>`](extract::Entitled),
//!   [`UsageRecorder`](extract::UsageRecorder), [`KelviqContext`](extract::KelviqContext);
//!   they read what the layer left in the request and never call Kelviq. Their rejections
//!   are in [`rejection`].
//! - [`webhook`]: a route that verifies deliveries and discards the named customer's cached
//!   entitlements.
//! - [`FromPath`]: the customer id from a path parameter.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use axum::Router;
//! use axum::extract::Request;
//! use axum::http::StatusCode;
//! use axum::middleware::{Next, from_fn};
//! use axum::routing::get;
//! use kelviq_axum::prelude::*;
//!
//! feature! {
//!     pub Reports = "reports";
//! }
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .build()?;
//! // App-wide settings, once.
//! let gates = kelviq.gate().limit_reached_status(StatusCode::PAYMENT_REQUIRED);
//!
//! async fn reports(customer: Customer) -> String {
//!     format!("reports for {}", customer.id())
//! }
//!
//! // Your authentication decides who the customer is.
//! async fn authenticate(mut request: Request, next: Next) -> axum::response::Response {
//!     request.extensions_mut().insert(CustomerId::new("cust_pro"));
//!     next.run(request).await
//! }
//!
//! let app = Router::new()
//!     .route("/reports", get(reports).route_layer(gates.clone().require(Reports).into_layer()))
//!     .layer(from_fn(authenticate));
//! let server = axum_test::TestServer::new(app);
//! server.get("/reports").await.assert_text("reports for cust_pro");
//! # Ok(())
//! # }
//! ```
//!
//! # Cargo features
//!
//! `metrics` (off by default) passes on to kelviq-client: counters, gauges and histograms
//! through the `metrics` facade (`kelviq_client::telemetry`). For a fleet on Redis, enable
//! kelviq-client's `redis` feature in your own manifest.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod extract;
mod path;
pub mod prelude;
pub mod rejection;
mod response;
mod webhook;

pub use kelviq_client::{self, feature};
pub use kelviq_tower::{
    CustomerId, CustomerIdSource, FromExtension, FromFn, FromHeader, GateBuilderExt, KelviqLayer,
    RequestHead, UsageAmount,
};
pub use path::FromPath;
pub use webhook::webhook;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

/// The guide's pages (`docs/guide/`), compiled and run as doc tests (`no_run` where they
/// bind a port or need the real Kelviq).
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../docs/guide/first-route.md")]
    mod first_route {}
    #[doc = include_str!("../../docs/guide/metering.md")]
    mod metering {}
    #[doc = include_str!("../../docs/guide/dev-on-the-fake.md")]
    mod dev_on_the_fake {}
    #[doc = include_str!("../../docs/guide/testing.md")]
    mod testing {}
    #[doc = include_str!("../../docs/guide/operating.md")]
    mod operating {}
    #[doc = include_str!("../../docs/guide/from-python.md")]
    mod from_python {}
}
