//! [actix-web](https://docs.rs/actix-web) 4 integration for [Kelviq](https://kelviq.com):
//! a middleware that gates requests on the customer's entitlements and meters the
//! successful ones, routing guards on those entitlements, and extractors for handlers.
//! Everything an app needs is in the [`prelude`]: depend on this crate only.
//!
//! - [`KelviqMiddleware`]: a [`Gate`](kelviq_client::gate::Gate) built once from the client
//!   (`kelviq.gate().require(..).meter(..)`, then [`into_middleware`](GateBuilderExt::into_middleware),
//!   which names any configuration mistake while the app is assembled) and a customer
//!   source ([`FromExtension`](kelviq_client::gate::FromExtension) by default, [`FromHeader`](kelviq_client::gate::FromHeader),
//!   [`FromPath`], [`FromFn`](kelviq_client::gate::FromFn); missing → `401`). The customer's
//!   entitlement snapshot is read from the client's cache (no I/O on a warm cache, one
//!   upstream call per cold customer however many requests arrive at once), the gate decides
//!   (`403` / `503` JSON, or the gate's `on_denied` response), and usage is metered on
//!   success without waiting.
//! - [`guard`]: `guard::feature(Reports)`, [`guard::all_of`], [`guard::any_of`]: route by
//!   plan. A failing guard means "no match" (the next route, or `404`), never `403`.
//! - Extractors: [`Customer`] (the client scoped to the current customer),
//!   [`RequestSnapshot`], [`Entitled<F>`] (`403` unless entitled), [`UsageRecorder`],
//!   [`KelviqContext`]. They never call Kelviq: without the middleware they answer `500`
//!   `kelviq_layer_missing`. The client itself is `web::Data<Kelviq>`, registered by the app.
//! - [`webhook()`]: a route that verifies Kelviq webhook deliveries and discards the
//!   customer's cached entitlements (fetched again on the next request).
//!
//! The decisions, statuses and JSON bodies are [`kelviq_client::gate`]'s: actix-web answers
//! exactly as the tower and axum integrations do, and this crate only converts them
//! (actix-web 4 is on `http` 0.2, the gate on `http` 1, re-exported as [`http`]).
//!
//! ```
//! # actix_web::rt::System::new().block_on(async {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use actix_web::{App, HttpMessage, HttpResponse, test, web};
//! use actix_web::dev::ServiceRequest;
//! use actix_web::middleware::{Next, from_fn};
//! use kelviq_actix::prelude::*;
//!
//! feature! {
//!     pub Reports = "reports";
//!     pub ApiCalls = "api-calls";
//! }
//!
//! // The entitlement cache is on by default (60 s).
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .build()?;
//!
//! // App-wide gate settings, set once; each route's gate is stamped out of a clone.
//! let gates = kelviq.gate().limit_reached_status(StatusCode::TOO_MANY_REQUESTS);
//!
//! // Your authentication decides who the customer is: here an API key your app issued,
//! // looked up in your own store (a session, a token, ...). Never take the customer id
//! // itself from the request: any client could name any customer.
//! fn customer_for_api_key(key: &str) -> Option<&'static str> {
//!     [("free-key", "cust_free"), ("pro-key", "cust_pro")]
//!         .into_iter()
//!         .find_map(|(known, customer)| (known == key).then_some(customer))
//! }
//! let auth = from_fn(|request: ServiceRequest, next: Next<_>| async move {
//!     let customer = request
//!         .headers()
//!         .get("x-api-key")
//!         .and_then(|key| key.to_str().ok())
//!         .and_then(customer_for_api_key);
//!     if let Some(customer) = customer {
//!         // The middleware's default source reads this `CustomerId` extension.
//!         request.extensions_mut().insert(CustomerId::new(customer));
//!     }
//!     next.call(request).await
//! });
//!
//! let app = test::init_service(
//!     App::new()
//!         .wrap(gates.clone().meter(ApiCalls, 1).into_middleware())
//!         .wrap(auth) // registered last: runs first
//!         .app_data(web::Data::new(kelviq.clone()))
//!         .route("/reports", web::get().to(|_: Entitled<Reports>, customer: Customer| async move {
//!             HttpResponse::Ok().body(format!("reports of {}", customer.id()))
//!         })),
//! )
//! .await;
//!
//! let request = |key: &str| test::TestRequest::get().uri("/reports").insert_header(("x-api-key", key));
//! let response = test::call_service(&app, request("pro-key").to_request()).await;
//! assert_eq!(response.status(), 200);
//! let response = test::call_service(&app, request("free-key").to_request()).await;
//! assert_eq!(response.status(), 403);
//! // No key, or one the app never issued: no customer.
//! let response = test::call_service(&app, request("cust_pro").to_request()).await;
//! assert_eq!(response.status(), 401);
//! let response = test::call_service(&app, test::TestRequest::get().uri("/reports").to_request()).await;
//! assert_eq!(response.status(), 401);
//!
//! kelviq.usage_meter()?.flush().await?; // one api-call for the one success (cust_pro had 12)
//! assert_eq!(mock.usage_total("cust_pro", "api-calls"), 13);
//! assert_eq!(mock.usage_total("cust_free", "api-calls"), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod context;
mod customer;
mod extract;
mod future;
pub mod guard;
mod middleware;
mod rejection;
mod response;
mod service;
mod webhook;

pub use context::KelviqContext;
pub use customer::{CustomerIdSource, FromPath};
pub use extract::{Customer, Entitled, RequestSnapshot, UsageRecorder};
pub use future::ResponseFuture;
pub use middleware::{GateBuilderExt, KelviqMiddleware};
pub use rejection::{
    EntitledRejection, FeatureNotEntitled, KelviqUnavailable, MissingKelviqLayer,
    RequestSnapshotRejection,
};
pub use service::KelviqMiddlewareService;
pub use webhook::webhook;

/// The Kelviq client this crate is built on: everything beyond the [`prelude`].
pub use kelviq_client;

/// The `http` 1 crate of [`kelviq_client::gate`] (actix-web 4 uses `http` 0.2, as
/// `actix_web::http`): for [`FromHeader::new`](kelviq_client::gate::FromHeader::new)'s
/// `HeaderName`, and for the `http::Response<Bytes>` a gate's
/// [`on_denied`](kelviq_client::gate::GateBuilder::on_denied) handler returns.
pub use http;

/// What an app needs, in one import: `use kelviq_actix::prelude::*;`.
///
/// The client and its configuration ([`Kelviq`](prelude::Kelviq),
/// [`CacheConfig`](prelude::CacheConfig), [`MeterConfig`](prelude::MeterConfig),
/// [`UsageMeter`](prelude::UsageMeter)), the gate ([`Gate`](prelude::Gate),
/// [`GateBuilder`](prelude::GateBuilder), [`FailurePolicy`](prelude::FailurePolicy) and its
/// [`Fallback`](prelude::Fallback),
/// [`StatusFilter`](prelude::StatusFilter), [`Denial`](prelude::Denial), [`Quota`](prelude::Quota),
/// and its status type [`StatusCode`](prelude::StatusCode) — `http` 1's, not actix-web's
/// `actix_web::http::StatusCode`; where an explicit `use` of actix-web's shadows this one,
/// write [`kelviq_actix::http::StatusCode`](crate::http::StatusCode)), the [`feature!`](prelude::feature) macro, the middleware and its customer
/// sources, the extractors, the [`guard`] module, and the [`webhook()`] route with its
/// options ([`WebhookRoute`](prelude::WebhookRoute), [`Webhook`](prelude::Webhook),
/// [`ReplayGuard`](prelude::ReplayGuard)).
pub mod prelude {
    pub use kelviq_client::cache::Snapshot;
    pub use kelviq_client::feature;
    /// The status type the gate takes ([`GateBuilder::limit_reached_status`]): `http` 1's,
    /// which is not actix-web's own `actix_web::http::StatusCode` (`http` 0.2).
    pub use kelviq_client::gate::StatusCode;
    pub use kelviq_client::gate::{
        CustomerId, Denial, DenialReason, FailurePolicy, Fallback, Feature, FromExtension, FromFn,
        FromHeader, Gate, GateBuilder, Quota, RequestContext, StatusFilter, UsageAmount,
    };
    pub use kelviq_client::meter::{MeterConfig, UsageMeter};
    pub use kelviq_client::webhook::{
        ReplayGuard, Webhook, WebhookError, WebhookEvent, WebhookRoute,
    };
    pub use kelviq_client::{CacheConfig, Kelviq, KelviqBuilder};

    pub use crate::guard::{self, FeatureGuard};
    pub use crate::webhook::webhook;
    pub use crate::{
        Customer, CustomerIdSource, Entitled, FeatureNotEntitled, FromPath, GateBuilderExt,
        KelviqContext, KelviqMiddleware, RequestSnapshot, UsageRecorder,
    };
}

/// The README's examples, compiled (and run where they do not bind a port) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

/// The guide's actix-web page (`docs/guide/actix.md`), compiled (its test run) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide/actix.md")]
mod guide_actix {}
