//! A [tower](https://docs.rs/tower) layer for [Kelviq](https://kelviq.com): take the
//! customer id from the request, gate the request on the customer's entitlements, call the
//! inner service, and meter usage when the response is a success.
//!
//! [`KelviqLayer`] works with any `Service<http::Request<B>>` (axum, hyper, tonic...). It
//! holds a [`Gate`](kelviq_client::gate::Gate), built and checked once from the client
//! (`kelviq.gate().require(..).meter(..)`): the decisions live in [`kelviq_client::gate`],
//! so every framework answers alike, and the layer only translates.
//!
//! | situation | answer |
//! |---|---|
//! | no customer id | `401` `{"code":"missing_customer", ...}` |
//! | not entitled | `403` `{"code":"feature_not_entitled", "feature": ...}` |
//! | metered limit reached | `403`, or the gate's limit status, `{"code":"usage_limit_reached", ...}` |
//! | Kelviq unreachable, no usable snapshot | `503` `{"code":"kelviq_unavailable"}` with `Retry-After`, let through, or decided on fallback entitlements (the gate's failure policy) |
//! | allowed | the inner service's response; usage recorded if the gate meters and it is a success |
//!
//! **gRPC** (tonic): a request with `content-type: application/grpc…` is answered in gRPC's
//! terms — the same denials as trailers-only `UNAUTHENTICATED`, `PERMISSION_DENIED`,
//! `RESOURCE_EXHAUSTED` or `UNAVAILABLE` statuses, with `kelviq-error` / `kelviq-feature`
//! metadata — and metered only when the call ends with `grpc-status: 0` (read from the
//! trailers, so a stream is metered once, at its end). Put the layer on a tonic server with
//! `Server::builder().layer(..)`, behind your authentication layer. See [`grpc`] for why this
//! is a mode of the layer rather than a separate crate.
//!
//! Handlers find a [`RequestContext`] in the request extensions (customer id, snapshot,
//! client, meter), and set a [`UsageAmount`] response extension (or
//! [`RequestContext::set_usage_amount`]) to meter another amount than the gate's. With the
//! client's entitlement cache warm, the layer decides without I/O and without boxing.
//!
//! A gate that cannot work is refused while the router is assembled:
//! [`GateBuilderExt::into_layer`] panics naming the mistake, and
//! [`GateBuilder::build`](kelviq_client::gate::GateBuilder::build) returns it as an error.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use kelviq_client::Kelviq;
//! use kelviq_tower::{CustomerId, GateBuilderExt, RequestContext};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .build()?;
//! let service = ServiceBuilder::new()
//!     .layer(kelviq.gate().require("reports").into_layer())
//!     .service_fn(|request: http::Request<String>| async move {
//!         let context = request.extensions().get::<RequestContext>().cloned();
//!         let customer = context.map(|context| context.customer_id().to_owned());
//!         Ok::<_, std::convert::Infallible>(http::Response::new(format!("{customer:?}")))
//!     });
//!
//! let mut request = http::Request::new(String::new());
//! request.extensions_mut().insert(CustomerId::new("cust_pro"));
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod customer;
mod future;
pub mod grpc;
mod layer;
mod service;

pub use body::ResponseBody;
pub use customer::{CustomerIdSource, RequestHead};
pub use future::ResponseFuture;
pub use kelviq_client::gate::{
    CustomerId, FromExtension, FromFn, FromHeader, RequestContext, UsageAmount,
};
pub use layer::{GateBuilderExt, KelviqLayer};
pub use service::KelviqService;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
