//! A strict, stateful fake of the [Kelviq](https://kelviq.com) cloud for tests and offline
//! development.
//!
//! [`MockServer::start`] binds two listeners on 127.0.0.1, as the real service has two
//! hosts: the API (`url()`, in place of `https://api.kelviq.com`) and the edge
//! (`edge_url()`, in place of `https://edge.api.kelviq.com`, entitlements only). Every
//! operation of the Kelviq REST API is served from in-memory state seeded with plans and
//! customers ([`Seed`]), and is as strict as the real service is expected to be:
//!
//! - a bearer token is required (`401` otherwise);
//! - bodies are read by their exact wire names: unknown fields, wrong casing, missing
//!   required fields, `null`s and wrong types are a `400` with Django REST Framework's
//!   `{"field": ["message"]}` body; unknown query parameters too;
//! - wrong method → `405`, unknown path or a path on the wrong listener → `404`, trailing
//!   slashes exactly as the service spells them; errors other than field errors carry
//!   `{"detail": "..."}`.
//!
//! Every request is journaled ([`MockServer::journal`]; [`MockServer::entitlement_calls`]
//! counts the entitlement requests about one customer) in a bounded ring: the last 10,000
//! requests by default, bodies truncated to 64 KiB
//! ([`MockServerBuilder::journal_capacity`], [`MockServerBuilder::journal_body_limit`]).
//! Faults can be injected per route or globally ([`FaultRule`], [`RandomFaults`]):
//! latency, a status for the next N requests, `429` with `Retry-After`, a dropped
//! connection, or a change that is applied before the response is delayed or dropped.
//! [`MockServer::in_flight`] and [`MockServer::peak_in_flight`] count the requests of a
//! route the mock works on at once, as a backend would: one the client abandons counts
//! until its latency is over.
//!
//! ```
//! use kelviq_mock::{Fault, FaultRule, MockServer, Route};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = MockServer::start().await;
//! mock.inject(FaultRule::next(1, Fault::status(503)).on(Route::ReportUsage));
//!
//! let http = reqwest::Client::new();
//! let report = || {
//!     http.post(format!("{}/api/v1/report/usage/", mock.url()))
//!         .bearer_auth(mock.token())
//!         .json(&serde_json::json!({
//!             "value": 3, "customerId": "cust_pro", "featureId": "api-calls", "behaviour": "DELTA"
//!         }))
//!         .send()
//! };
//! assert_eq!(report().await.unwrap().status(), 503);
//! assert_eq!(report().await.unwrap().status(), 201);
//! assert_eq!(mock.usage_total("cust_pro", "api-calls"), 12 + 3);
//! assert_eq!(mock.calls(Route::ReportUsage), 2);
//! # }
//! ```
//!
//! # Webhooks
//!
//! Kelviq notifies apps of subscription changes by webhook. With an endpoint configured
//! ([`MockServerBuilder::webhook`], or later [`MockServer::set_webhook`]), the mock sends
//! every change the real service would notify about — `subscription.created`,
//! `subscription.updated`, `subscription.cancelled`, `customer.updated` — as a signed
//! webhook in the format `kelviq_client::webhook` verifies (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<hex HMAC-SHA256>`). Delivery happens on a
//! background task (a bounded queue: the API answer never waits), with retries and
//! backoff on tokio's clock, and every delivery, attempt and answer is recorded
//! ([`MockServer::webhook_deliveries`], [`MockServer::wait_for_webhooks`]).
//!
//! [`MockServer::set_plan`] and [`MockServer::set_usage`] change a customer's plan or usage
//! directly, as someone would in Kelviq's dashboard, and send the same webhooks: the way to
//! test that a plan change reaches an app at once, without waiting for its cache's TTL. A
//! change that changes nothing (the plan the customer is on) sends none, as the service.
//!
//! ```
//! use std::time::Duration;
//!
//! use kelviq_mock::{DeliveryOutcome, MockServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # let app_url = format!("http://{}", listener.local_addr().unwrap());
//! # let app = axum::Router::new().route("/webhooks/kelviq", axum::routing::post(|| async { "ok" }));
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! // `app_url`: where the app under test listens.
//! let mock = MockServer::builder()
//!     .webhook(format!("{app_url}/webhooks/kelviq"), "whsec_test")
//!     .start()
//!     .await
//!     .unwrap();
//! mock.set_plan("cust_free", "pro").unwrap();
//!
//! let deliveries = mock.wait_for_webhooks(1, Duration::from_secs(5)).await;
//! assert_eq!(deliveries[0].event_type, "subscription.updated");
//! assert_eq!(deliveries[0].customer_id, "cust_free");
//! assert_eq!(deliveries[0].outcome, DeliveryOutcome::Delivered(200));
//! # }
//! ```
//!
//! The [`webhooks`] module describes the headers, payloads, event types, retries and
//! bounds in full.
//!
//! # Console
//!
//! [`MockServerBuilder::console`] serves a page on the API listener
//! ([`MockServer::console_url`], `/_console`) that shows the customers, their plans and
//! usage, the journal, the webhook deliveries and the faults, live, and changes plans,
//! usage and faults with a click — each through a JSON control endpoint under `/_mock/`
//! that tests can call too. See [`console`] for the page and every control endpoint.
//!
//! # Your app on the fake, in development
//!
//! The fake can stand in for Kelviq while you develop an app, so that it runs with no
//! account and no network. [`MockServerBuilder::start_dev`] starts it with the console on
//! and logs the console's URL and the control token; `MockServer::client` (cargo feature
//! `client`) is a `kelviq_client::KelviqBuilder` pointed at it; once the app listens,
//! [`MockServer::send_webhooks_to`] sends it the fake's signed webhooks. The guide's page
//! `docs/guide/dev-on-the-fake.md` is a whole app doing it.
//!
//! # A real Redis for fleet tests
//!
//! [`RedisServer`] runs a real `redis-server` on a free loopback port, one per test binary
//! or one per test, killed with the test process: for testing a fleet of clients
//! (kelviq-client's cargo feature `redis`) against Redis itself. [`RedisCluster`] runs a
//! three-node Redis Cluster the same way, for the fleet's cluster mode.
//!
//! The crate also builds a binary: `cargo run -p kelviq-mock -- --port 4010` serves the
//! default seed and the console, and prints the URLs and environment variables to export.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod console;
mod dev;
mod faults;
mod in_flight;
mod journal;
#[cfg(unix)]
pub mod redis_cluster;
#[cfg(unix)]
pub mod redis_server;
mod route;
mod routes;
mod seed;
mod server;
mod state;
pub mod webhooks;
mod wire;

pub use faults::{Fault, FaultRule, RandomFaults};
pub use journal::{
    CLIENT_INSTANCE_HEADER, DEFAULT_JOURNAL_BODY_LIMIT, DEFAULT_JOURNAL_CAPACITY, Outcome,
    RecordedRequest,
};
#[cfg(unix)]
pub use redis_cluster::RedisCluster;
#[cfg(unix)]
pub use redis_server::{RedisServer, RedisServerError};
pub use route::{ApiVersion, Base, Route};
pub use seed::{Feature, FeatureKind, Plan, Seed, SeedCustomer, SeedError, SeedSubscription};
pub use server::{DEFAULT_TOKEN, MockError, MockServer, MockServerBuilder};
pub use state::{StoredEvent, USAGE_REPORT_CAPACITY, UsageReport};
/// The README's examples, compiled and run as doc tests (one of them needs the feature
/// `client`, for `MockServer::client`).
#[cfg(all(doctest, feature = "client"))]
#[doc = include_str!("../README.md")]
mod readme {}

pub use webhooks::{
    DEFAULT_WEBHOOK_ATTEMPTS, DEFAULT_WEBHOOK_BACKOFF, DEFAULT_WEBHOOK_QUEUE,
    DEFAULT_WEBHOOK_RECORD_CAPACITY, DEFAULT_WEBHOOK_TIMEOUT, DeliveryAttempt, DeliveryOutcome,
    MAX_WEBHOOK_BACKOFF, WEBHOOK_RESPONSE_BODY_LIMIT, WebhookDelivery,
};
