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
//! The crate also builds a binary: `cargo run -p kelviq-mock -- --port 4010` serves the
//! default seed and prints the URLs and environment variables to export.

mod faults;
mod journal;
mod route;
mod routes;
mod seed;
mod server;
mod state;
mod wire;

pub use faults::{Fault, FaultRule, RandomFaults};
pub use journal::{DEFAULT_JOURNAL_BODY_LIMIT, DEFAULT_JOURNAL_CAPACITY, Outcome, RecordedRequest};
pub use route::{ApiVersion, Base, Route};
pub use seed::{Feature, FeatureKind, Plan, Seed, SeedCustomer, SeedError, SeedSubscription};
pub use server::{DEFAULT_TOKEN, MockError, MockServer, MockServerBuilder};
pub use state::{StoredEvent, UsageReport};
