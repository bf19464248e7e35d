//! The framework-neutral entitlement gate: decide whether a customer may make a request,
//! then meter it once the response is a success.
//!
//! [`Gate`] is the one runtime object. Build it once per route with [`Kelviq::gate`]
//! (required features, what to meter, which statuses count as a success, the failure
//! policy, the limit status, a denial handler): a mistake is an error from
//! [`build`](GateBuilder::build), naming it, never an answer at request time. The gate holds
//! the client, so the entitlement cache it reads and the usage meter it records with are
//! the client's own: they cannot disagree. The client's entitlement cache must be on (it is
//! by default).
//!
//! The tower/axum and actix-web adapters hold a gate and only translate between their
//! framework and three functions:
//!
//! 1. [`Gate::admit`] — the customer id in; an [`Admission`] out: decided at once on a warm
//!    cache ([`Admission::Ready`], no I/O, no boxing), or a future that loads the snapshot
//!    ([`Admission::Loading`]). Let through, the request carries a [`RequestContext`]
//!    (customer, snapshot, client, meter) for extractors and handlers.
//! 2. [`Gate::finish`] — the response status and the handler's [`UsageAmount`] in; usage
//!    recorded through the usage meter if the status is a success, never awaited.
//! 3. [`Gate::deny`] — a [`Denial`] in; the response (status, RFC 9457
//!    `application/problem+json` problem details, or the gate's denial handler's) out. For a gRPC call,
//!    [`Gate::deny_grpc`]: the same denial as a trailers-only gRPC status
//!    ([`DenialReason::grpc_code`], the one table from reasons to gRPC codes).
//!
//! Customer sources have the same names in every adapter ([`FromExtension`], the default,
//! reading [`CustomerId`]; [`FromHeader`]; [`FromFn`]; and each adapter's `FromPath`).
//! [`Gate::check`] answers the same question for code that is not an adapter.
//!
//! # Decisions
//!
//! Each requirement clause is judged in order; the first failing one decides. A required
//! feature is judged on the snapshot:
//!
//! | the snapshot | decision | status | `code` |
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
//! | situation | decision | status | `code` |
//! |---|---|---|---|
//! | no customer id (empty) | [`MissingCustomer`](DenialReason::MissingCustomer) | `401` | `missing_customer` |
//! | a customer id longer than [`KelviqBuilder::max_customer_id_len`](crate::KelviqBuilder::max_customer_id_len) (256 bytes by default), refused before any I/O | [`InvalidCustomer`](DenialReason::InvalidCustomer) | `400` | `invalid_customer` |
//! | Kelviq answers `404`: it does not know the customer | [`UnknownCustomer`](DenialReason::UnknownCustomer) | `403` | `unknown_customer` |
//! | no usable snapshot (unreachable, timeout, `5xx`, `429`, or `401`/`403` for this service's token), [`FailurePolicy::Deny`] (default) | [`Unavailable`](DenialReason::Unavailable) | `503` with `Retry-After` | `kelviq_unavailable` |
//! | the same, [`FailurePolicy::Allow`] | allowed without a snapshot, with a warning | | |
//! | the same, [`FailurePolicy::Fallback`] | decided on the [`Fallback`] entitlements, degraded | | |
//!
//! A stale snapshot — older than the cache TTL, within its stale window, served because
//! Kelviq cannot be reached — is usable: the decision is made on it and says it is stale.
//!
//! # Hard limits
//!
//! A gate that [meters](GateBuilder::meter) a feature with a hard limit enforces that
//! limit, whether or not it also requires the feature: every request **holds** its amount
//! while in flight, admitted only while
//!
//! ```text
//! amount ≤ limit − (Kelviq's usage + usage not delivered yet + units held by requests in flight)
//! ```
//!
//! and otherwise refused as [`LimitReached`](DenialReason::LimitReached) (the gate's
//! [limit status](GateBuilder::limit_reached_status), `RESOURCE_EXHAUSTED` on gRPC). A
//! success keeps what it used ([`Gate::finish`]), anything else — an error status, a
//! request dropped before its response (a client gone, an outer timeout) — gives the
//! hold back. A handler that learns its amount while it works holds first
//! ([`RequestContext::reserve`]: up to so many units, possibly fewer), and is metered at
//! most its hold ([`Metered::Capped`] beyond it). To meter without enforcing (an overage
//! the plan bills rather than refuses), say so: [`GateBuilder::unenforced_limit`].
//!
//! A limit reopens at its period's reset: a snapshot knows when its hard limits reset
//! (Kelviq's `resetAt`), and the first request refused after that time loads the customer
//! anew (one load, shared by the requests that arrive meanwhile) and is judged on the new
//! period, instead of waiting for the cache's TTL. A `resetAt` in the past, unparsable or
//! more than a year ahead schedules nothing, and a snapshot triggers at most one such load.
//!
//! What "hard" promises, by mode:
//!
//! | mode | promise |
//! |---|---|
//! | one instance | never passed, at any concurrency: holds and usage are counted in one process (usage reported by other services to Kelviq counts from the next fetch) |
//! | a fleet, [`FleetLimits::Strict`](crate::fleet::FleetLimits::Strict) (cargo feature `redis`) | never passed across the fleet: each hold is granted by the local count *and* the shared counter in Redis; holds of a vanished instance return within the [hold time](crate::fleet::FleetConfig::hold_time) |
//! | a fleet, [`FleetLimits::Fast`](crate::fleet::FleetLimits::Fast) | each instance holds locally, and the instances' usage is synced every interval: passed by at most the bound the fleet docs derive |
//! | a fleet without shared limits | each instance holds against what it knows: up to `N`-fold between refreshes |
//! | Redis failing (strict or fast) | each instance holds locally, as alone |
//! | Kelviq unreachable, a stale snapshot within its window | holds on the stale snapshot, as on a fresh one |
//! | Kelviq unreachable, no usable snapshot, [`FailurePolicy::Deny`] | nothing is admitted (`503`) |
//! | the same, [`FailurePolicy::Allow`] | admitted unchecked: the limit is not enforced while Kelviq is down (usage is still metered) |
//! | the same, [`FailurePolicy::Fallback`] | judged on the fallback entitlements, per request, without holds |
//!
//! # Quota headers
//!
//! A gate built with [`GateBuilder::quota_headers`] (off by default) tells callers what
//! the hard-limited feature it meters leaves, in the `RateLimit-Policy` and `RateLimit`
//! fields of draft-ietf-httpapi-ratelimit-headers-11, on its successful responses and its
//! limit denials:
//!
//! ```text
//! RateLimit-Policy: "api-calls";q=100;w=2246400
//! RateLimit: "api-calls";r=42;t=2246400
//! ```
//!
//! `q` is the limit, `r` what remains (`limit − (Kelviq's usage + undelivered + units
//! held by requests in flight)`, this request's own units counted), `t` the seconds to the
//! reset (`resetAt`) and `w` the window: Kelviq gives the period's end, not its length, so
//! the window is the time left in the period. All of it is counted from the snapshot and
//! the usage ledger, without I/O ([`Gate::quota`], [`Quota`]). The policy is named by
//! the feature id as a structured-field string ([`policy_name`]: `"` and `\` escaped,
//! `%` and bytes outside printable ASCII percent-encoded).
//!
//! # Retry-After
//!
//! `Retry-After` is sent where the wait is real and short: a `503` while Kelviq cannot be
//! reached (the customer's backoff, else a second), and a reached limit whose reset is
//! within the gate's [`max_retry_after`](GateBuilder::max_retry_after) (5 minutes by
//! default). A monthly limit's reset, weeks away, is told in the `RateLimit` field and the
//! problem details' `resetAt` instead. Which status a reached limit answers (`403`, `402`,
//! `429`) and what each tells a client: [`GateBuilder::limit_reached_status`].
//!
//! # Denials
//!
//! Every [`Denial`] answers RFC 9457 problem details (`application/problem+json`): a
//! stable `type` URI per kind ([`DenialReason::problem_type`], documented in the
//! repository's `docs/problems.md`), `title`, `status`, `detail` (the message), the stable
//! snake_case `code`, and where they apply `feature`, and for a reached limit `limit`,
//! `used`, `remaining` and `resetAt`:
//!
//! ```json
//! {"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#usage-limit-reached",
//!  "title": "Usage limit reached", "status": 403,
//!  "detail": "you have reached the usage limit of api-calls", "code": "usage_limit_reached",
//!  "feature": "api-calls", "limit": 100, "used": 100, "remaining": 0, "resetAt": "2027-01-01T00:00:00Z"}
//! ```
//!
//! The `type` URIs point into the repository's documentation rather than a domain of
//! their own: they resolve to a human-readable page (as RFC 9457 §3.1.1 asks of a locator)
//! without a site that must be kept running, and they never change once published.
//! Clients should switch on `code` (or `type`), never on `title` or `detail`.
//!
//! Messages are for the end user; they never carry an upstream error, which the denial
//! keeps for logging ([`Denial::error`]). A [denial handler](GateBuilder::on_denied)
//! replaces the whole response.
//!
//! [`Kelviq::gate`]: crate::Kelviq::gate
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kelviq_client::Error> {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use kelviq_client::Kelviq;
//! use kelviq_client::gate::Admission;
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .build()?;
//!
//! // Once per route.
//! let reports = kelviq.gate().require("reports").meter("api-calls", 1).build()?;
//!
//! // Per request, as an adapter does it.
//! let admitted = match reports.admit(Some("cust_pro".into())) {
//!     Admission::Ready(ready) => ready,
//!     Admission::Loading(loading) => loading.await, // the first request of a customer
//! };
//! let context = admitted.expect("cust_pro has reports");
//! // ... the handler runs with the context; its response is a 200:
//! assert!(reports.finish(&context, 200, None).is_recorded());
//!
//! let denial = reports.check("cust_free").await.into_result().unwrap_err();
//! let response = reports.deny(&denial);
//! assert_eq!(response.status(), 403);
//! assert_eq!(
//!     response.body().as_ref(),
//!     br#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled","title":"Feature not in plan","status":403,"detail":"your plan does not include reports","code":"feature_not_entitled","feature":"reports"}"#
//! );
//! # kelviq.usage_meter()?.shutdown(std::time::Duration::from_secs(5)).await;
//! # assert_eq!(mock.usage_total("cust_pro", "api-calls"), 13);
//! # Ok(())
//! # }
//! ```

mod builder;
mod context;
mod decision;
mod denial;
mod engine;
mod extract;
mod fallback;
mod feature;
mod grpc;
mod grpc_details;
mod lease;
mod metering;
mod policy;
mod quota;
pub(crate) mod refusal;
mod requirement;
pub(crate) mod source;
#[cfg(test)]
mod tests;

pub use builder::GateBuilder;
pub use context::{RequestContext, UsageAmount};
pub use decision::{Admission, Admitting, Decision};
pub(crate) use denial::error_response;
pub use denial::{Denial, DenialHandler, DenialReason, PROBLEM_TYPE_BASE};
pub use engine::Gate;
pub use extract::{Entitled, RequestSnapshot, UsageRecorder};
pub use fallback::Fallback;
pub use feature::Feature;
pub use grpc::{GRPC_ERROR_KEY, GRPC_FEATURE_KEY, is_grpc_content_type};
pub use grpc_details::GRPC_ERROR_DOMAIN;
pub use http::StatusCode;
pub use metering::Metered;
pub use policy::{FailurePolicy, StatusFilter};
pub use quota::{Quota, RATELIMIT, RATELIMIT_POLICY, policy_name};
pub use requirement::{Requirement, evaluate_feature};
pub use source::{CustomerId, FromExtension, FromFn, FromHeader};
