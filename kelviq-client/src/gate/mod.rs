//! The framework-neutral entitlement gate: decide whether a customer may make a request,
//! then meter it once the response is a success.
//!
//! The tower/axum and actix-web integrations share this logic and only translate it, so
//! every framework refuses alike: same statuses, same JSON bodies. Build a [`Gate`] once per
//! route with [`Gate::builder`] (required features, what to meter, which statuses count as
//! a success, the failure policy), then for each request:
//!
//! 1. [`Gate::check`] (or [`Gate::check_cached`], which answers a warm request without
//!    I/O) takes the customer's entitlement snapshot and returns a [`Decision`]:
//!    [`Allow`](Decision::Allow) with the snapshot for handlers,
//!    [`Deny`](Decision::Deny), or [`Unavailable`](Decision::Unavailable);
//! 2. a refused request is answered with the [`Denial`]'s [status](Denial::status) and
//!    [JSON body](Denial::body);
//! 3. after the response, [`Gate::after_response`] records the usage through the
//!    [`UsageMeter`](crate::meter::UsageMeter) if the status is a success — without waiting.
//!
//! Snapshots come from [`Kelviq::entitlements_snapshot`](crate::Kelviq::entitlements_snapshot):
//! **enable the entitlement cache for gating**
//! ([`KelviqBuilder::entitlement_cache`](crate::KelviqBuilder::entitlement_cache)). With it,
//! a warm check reads a shared snapshot and allocates nothing when it allows; without it,
//! every check is a call to Kelviq.
//!
//! # Decisions
//!
//! Each requirement clause is judged in order; the first failing one decides. A required
//! feature is judged on the snapshot:
//!
//! | the snapshot | decision | status | `error` code |
//! |---|---|---|---|
//! | lists it with access | allowed | | |
//! | lists it without access: a meter with a hard limit and nothing remaining | [`LimitReached`](DenialReason::LimitReached) | `403`, [configurable](GateBuilder::limit_reached_status) (`402`, `429`) | `usage_limit_reached` |
//! | lists it without access, otherwise | [`NoAccess`](DenialReason::NoAccess) | `403` | `feature_not_entitled` |
//! | does not list it | [`UnknownFeature`](DenialReason::UnknownFeature) | `403` | `feature_not_entitled` |
//!
//! Kelviq lists only the features of a customer's plans, so a feature the plan lacks is
//! *unknown* to the snapshot, exactly like a misspelt id; the message says "your plan does
//! not include …" either way. A soft-limited meter past its limit keeps access.
//!
//! An any-of clause ([`GateBuilder::require_any`]) passes when one of its features does;
//! when none does, the denial is its first feature's. And beyond the features:
//!
//! | situation | decision | status | `error` code |
//! |---|---|---|---|
//! | no customer id (empty) | [`MissingCustomer`](DenialReason::MissingCustomer) | `401` | `missing_customer` |
//! | Kelviq answers `404`: it does not know the customer | [`UnknownCustomer`](DenialReason::UnknownCustomer) | `403` | `unknown_customer` |
//! | no usable snapshot (unreachable, timeout, `5xx`, or `401`/`403` for this service's token), [`FailurePolicy::Deny`] (default) | [`Unavailable`](DenialReason::Unavailable) | `503` | `kelviq_unavailable` |
//! | the same, [`FailurePolicy::Allow`] | allowed without a snapshot, with a warning | | |
//!
//! A stale snapshot — older than the cache TTL, within its stale window, served because
//! Kelviq cannot be reached — is usable: the decision is made on it and says it is stale.
//!
//! # Denials
//!
//! Every [`Denial`] has one JSON body shape; `feature` is `null` when the denial is about no
//! single feature:
//!
//! ```json
//! {"error": "usage_limit_reached", "message": "you have reached the usage limit of api-calls", "feature": "api-calls"}
//! ```
//!
//! Messages are for the end user; they never carry an upstream error, which the denial
//! keeps for logging ([`Denial::error`]).
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kelviq_client::Error> {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use kelviq_client::gate::{Decision, Gate};
//! use kelviq_client::meter::UsageMeter;
//! use kelviq_client::{CacheConfig, Kelviq};
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .entitlement_cache(CacheConfig::default())
//!     .build()?;
//! let meter = UsageMeter::builder(kelviq.clone()).start()?;
//!
//! // Once per route.
//! let reports = Gate::builder()
//!     .require("reports")
//!     .meter("api-calls", 1)
//!     .build()?;
//!
//! // Per request.
//! match reports.check(&kelviq, "cust_pro").await {
//!     Decision::Allow { snapshot, .. } => {
//!         // ... hand the snapshot to the handler, run it, then:
//!         # assert!(snapshot.is_some());
//!         let status = 200;
//!         assert!(reports.after_response(&meter, "cust_pro", status, None).is_recorded());
//!     }
//!     Decision::Deny(denial) | Decision::Unavailable(denial) => {
//!         // ... answer denial.status() with denial.body_bytes().
//!         # unreachable!("{denial}");
//!     }
//! }
//!
//! let denial = reports.check(&kelviq, "cust_free").await.into_result().unwrap_err();
//! assert_eq!(denial.status(), 403);
//! assert_eq!(
//!     denial.to_json_string(),
//!     r#"{"error":"feature_not_entitled","message":"your plan does not include reports","feature":"reports"}"#
//! );
//! # meter.shutdown(std::time::Duration::from_secs(5)).await;
//! # assert_eq!(mock.usage_total("cust_pro", "api-calls"), 13);
//! # Ok(())
//! # }
//! ```

mod builder;
mod check;
mod context;
mod decision;
mod denial;
mod feature;
mod metering;
mod policy;
mod requirement;
#[cfg(test)]
mod tests;

pub use builder::GateBuilder;
pub use check::Gate;
pub use context::{CustomerId, RequestContext, UsageAmount, error_body};
pub use decision::Decision;
pub use denial::{Denial, DenialReason};
pub use feature::Feature;
pub use metering::Metered;
pub use policy::{FailurePolicy, StatusFilter};
pub use requirement::{Requirement, evaluate_feature};
