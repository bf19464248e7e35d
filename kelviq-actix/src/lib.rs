//! [actix-web](https://docs.rs/actix-web) 4 integration for [Kelviq](https://kelviq.com):
//! a middleware that gates requests on the customer's entitlements and meters the
//! successful ones, routing guards on those entitlements, and extractors for handlers.
//!
//! - [`KelviqMiddleware`]: customer id from the request (request data set by your
//!   authentication middleware, a header, a path segment or a closure; missing → `401`),
//!   the customer's entitlement snapshot into the request extensions (one upstream call per
//!   customer however many requests arrive at once; none on a warm cache), the gate
//!   (`403` / `503` JSON, or your function), and usage metered on success without waiting.
//! - [`guard`]: `guard::feature("reports")`, [`guard::all_of`], [`guard::any_of`]:
//!   route by plan. A failing guard means "no match" (the next route, or `404`), never
//!   `403`.
//! - Extractors: [`Customer`] (the client scoped to the current customer),
//!   [`Entitlements`], [`Entitled<F>`] (`403` unless entitled), [`UsageRecorder`],
//!   [`KelviqContext`]; the client itself is `web::Data<Kelviq>`, registered by the app.
//! - [`webhook`]: a route that verifies Kelviq webhook deliveries and refreshes the
//!   customer's entitlements.
//!
//! The decisions, statuses and JSON bodies are [`kelviq_client::gate`]'s: actix-web answers
//! exactly as the tower and axum integrations do, and this crate only adapts them
//! (actix-web 4 is on `http` 0.2).
//!
//! ```
//! # actix_web::rt::System::new().block_on(async {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use actix_web::{App, HttpResponse, test, web};
//! use kelviq_actix::{Customer, CustomerId, Entitled, KelviqMiddleware};
//! use kelviq_client::meter::UsageMeter;
//! use kelviq_client::{CacheConfig, Kelviq};
//!
//! kelviq_client::feature! {
//!     pub Reports = "reports";
//! }
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .entitlement_cache(CacheConfig::default())
//!     .build()?;
//! let meter = UsageMeter::builder(kelviq.clone()).start()?;
//!
//! // Your authentication: here, a header names the customer.
//! let auth = actix_web::middleware::from_fn(
//!     |request: actix_web::dev::ServiceRequest, next: actix_web::middleware::Next<_>| async move {
//!         if let Some(id) = request.headers().get("x-user").and_then(|value| value.to_str().ok()) {
//!             let id = CustomerId::new(id);
//!             actix_web::HttpMessage::extensions_mut(&request).insert(id);
//!         }
//!         next.call(request).await
//!     },
//! );
//!
//! let app = test::init_service(
//!     App::new()
//!         .wrap(KelviqMiddleware::new(kelviq.clone(), meter.clone()).meter("api-calls", 1))
//!         .wrap(auth) // registered last: runs first
//!         .app_data(web::Data::new(kelviq))
//!         .route("/reports", web::get().to(|_: Entitled<Reports>, customer: Customer| async move {
//!             HttpResponse::Ok().body(format!("reports of {}", customer.id()))
//!         })),
//! )
//! .await;
//!
//! let request = |user: &str| test::TestRequest::get().uri("/reports").insert_header(("x-user", user));
//! let response = test::call_service(&app, request("cust_pro").to_request()).await;
//! assert_eq!(response.status(), 200);
//! let response = test::call_service(&app, request("cust_free").to_request()).await;
//! assert_eq!(response.status(), 403);
//! let response = test::call_service(&app, test::TestRequest::get().uri("/reports").to_request()).await;
//! assert_eq!(response.status(), 401);
//!
//! meter.flush().await; // one api-call for the one success (cust_pro had 12)
//! assert_eq!(mock.usage_total("cust_pro", "api-calls"), 13);
//! assert_eq!(mock.usage_total("cust_free", "api-calls"), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod context;
mod error;
mod extract;
mod future;
pub mod guard;
mod middleware;
mod webhook;

pub use context::{CustomerId, KelviqContext, UsageAmount};
pub use error::{
    EntitledRejection, EntitlementsRejection, FeatureNotEntitled, KelviqUnavailable,
    MiddlewareMissing, denial_response,
};
pub use extract::{Customer, Entitled, Entitlements, UsageRecorder};
pub use future::ResponseFuture;
pub use middleware::{DenialHandler, KelviqMiddleware, KelviqMiddlewareService};
pub use webhook::webhook;
