//! [axum](https://docs.rs/axum) integration for [Kelviq](https://kelviq.com): gate routes
//! on the customer's plan, meter successful requests, and call the whole API for the
//! current customer from handlers.
//!
//! - Layers: [`kelviq_tower::KelviqLayer`], made per route by a [`Gatekeeper`]:
//!   `.route("/reports", get(reports).route_layer(gates.require("reports")))`.
//! - Extractors ([`extract`]): [`Customer`](extract::Customer),
//!   [`Entitlements`](extract::Entitlements), [`Entitled<F>`](extract::Entitled),
//!   [`UsageRecorder`](extract::UsageRecorder); the client itself through
//!   `State<Kelviq>`.
//! - [`webhook`]: a route that verifies deliveries and refreshes the customer's
//!   entitlements.
//! - [`PathCustomer`]: the customer id from a path parameter.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use axum::Router;
//! use axum::routing::get;
//! use kelviq_axum::Gatekeeper;
//! use kelviq_axum::extract::Customer;
//! use kelviq_client::meter::UsageMeter;
//! use kelviq_client::{CacheConfig, Kelviq};
//! use kelviq_tower::CustomerId;
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .entitlement_cache(CacheConfig::default())
//!     .build()?;
//! let gates = Gatekeeper::new(kelviq.clone(), UsageMeter::builder(kelviq.clone()).start()?);
//!
//! async fn reports(customer: Customer) -> String {
//!     format!("reports for {}", customer.id())
//! }
//!
//! let app = Router::new()
//!     .route("/reports", get(reports).route_layer(gates.require("reports")))
//!     // Your authentication decides who the customer is:
//!     .layer(axum::middleware::from_fn(
//!         |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
//!             request.extensions_mut().insert(CustomerId::new("cust_pro"));
//!             next.run(request).await
//!         },
//!     ))
//!     .with_state(kelviq);
//! let server = axum_test::TestServer::new(app);
//! server.get("/reports").await.assert_text("reports for cust_pro");
//! # Ok(())
//! # }
//! ```

pub mod extract;
mod path;
mod rejection;
mod routing;
mod webhook;

pub use kelviq_client::{self, feature};
pub use kelviq_tower::{
    CustomerId, CustomerIdSource, FromExtension, FromFn, FromHeader, KelviqContext, KelviqLayer,
    RequestHead, UsageAmount,
};
pub use path::PathCustomer;
pub use rejection::{KelviqRejection, MissingKelviqLayer};
pub use routing::Gatekeeper;
pub use webhook::webhook;
