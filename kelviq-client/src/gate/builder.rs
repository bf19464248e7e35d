//! [`GateBuilder`]: a gate's settings, checked once in `build`; cloned, a template of
//! app-wide settings that stamps out per-route gates.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use crate::client::Kelviq;
use crate::error::{Error, Result};

use super::denial::Denial;
use super::denial::DenialHandler;
use super::engine::{Gate, GateConfig};
use super::metering::MeterSpec;
use super::policy::{FailurePolicy, StatusFilter};
use super::requirement::{DEFAULT_MAX_RETRY_AFTER, LimitAnswer, Requirement};
use crate::tier::SharedLimit;

/// Builds a [`Gate`]; from [`Kelviq::gate`].
///
/// Setters take and return the builder and never fail: a bad value is kept and returned
/// by [`build`](GateBuilder::build), the first one if there are several.
///
/// # A template of app-wide settings
///
/// The builder is cheap to clone. Set what every route shares once — the limit status, the
/// failure policy, the denial handler — and stamp out each route's gate from a clone:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kelviq_client::Error> {
/// # let mock = kelviq_mock::MockServer::start().await;
/// use http::StatusCode;
/// use kelviq_client::Kelviq;
/// use kelviq_client::gate::FailurePolicy;
///
/// kelviq_client::feature! {
///     pub Reports = "reports";
///     pub ApiCalls = "api-calls";
/// }
///
/// let kelviq = Kelviq::builder()
///     .access_token(mock.token())
///     .api_url(mock.url())
///     .edge_url(mock.edge_url())
///     .build()?;
/// let gates = kelviq
///     .gate()
///     .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
///     .failure_policy(FailurePolicy::Deny);
///
/// let reports = gates.clone().require(Reports).build()?;
/// let calls = gates.clone().require(ApiCalls).meter(ApiCalls, 1).success_statuses(200..=201).build()?;
/// assert_eq!(reports.requirements().len(), 1);
/// assert_eq!(calls.limit_reached_status(), StatusCode::TOO_MANY_REQUESTS);
///
/// // A mistake is named at build time, not at request time.
/// let error = gates.clone().require("").build().unwrap_err();
/// assert!(error.to_string().contains("require"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct GateBuilder {
    pub(crate) kelviq: Kelviq,
    requirements: Vec<Requirement>,
    metering: Option<MeterSpec>,
    success: StatusFilter,
    failure_policy: FailurePolicy,
    limit_reached_status: StatusCode,
    max_retry_after: Duration,
    quota_headers: bool,
    on_denied: Option<DenialHandler>,
    /// The metered feature's hard limit as shared with the client's fleet
    /// ([`fleet_limits`](Self::fleet_limits), in `fleet/`).
    pub(crate) shared_limit: Option<Arc<dyn SharedLimit>>,
    /// The first bad value, shared so that the builder can be cloned.
    error: Option<Arc<Error>>,
}

impl std::fmt::Debug for GateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateBuilder")
            .field("requirements", &self.requirements)
            .field("metering", &self.metering)
            .field("success", &self.success)
            .field("failure_policy", &self.failure_policy)
            .field("limit_reached_status", &self.limit_reached_status)
            .field("max_retry_after", &self.max_retry_after)
            .field("quota_headers", &self.quota_headers)
            .field("on_denied", &self.on_denied.is_some())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl GateBuilder {
    /// A builder for a gate deciding with `kelviq`: no requirement, no metering, success
    /// is `2xx`, fail closed, a reached limit answers `403`. Same as [`Kelviq::gate`].
    pub fn new(kelviq: &Kelviq) -> Self {
        GateBuilder {
            kelviq: kelviq.clone(),
            requirements: Vec::new(),
            metering: None,
            success: StatusFilter::default(),
            failure_policy: FailurePolicy::default(),
            limit_reached_status: StatusCode::FORBIDDEN,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            quota_headers: false,
            on_denied: None,
            shared_limit: None,
            error: None,
        }
    }

    /// Keeps `error` unless an earlier one is already kept.
    pub(crate) fn fail(&mut self, error: Error) {
        self.error.get_or_insert(Arc::new(error));
    }

    /// Checks a feature id (not empty) and keeps it.
    fn feature(&mut self, field: &'static str, feature: String) -> String {
        if feature.is_empty() {
            self.fail(Error::validation(field, "a feature id must not be empty"));
        }
        feature
    }

    /// Requires the customer to be entitled to `feature` (an id, or a
    /// [`feature!`](crate::feature) type). Several calls require all of them. Default:
    /// nothing is required.
    pub fn require(mut self, feature: impl Into<String>) -> Self {
        let feature = self.feature("require", feature.into());
        self.requirements.push(Requirement::Feature(feature));
        self
    }

    /// Requires the customer to be entitled to every one of `features`, judged in order (the
    /// first failing one decides the denial). An empty list adds nothing.
    pub fn require_all<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        for feature in features {
            self = self.require(feature);
        }
        self
    }

    /// Requires the customer to be entitled to at least one of `features`. When none
    /// passes, the denial is the one of the first feature listed. Each call adds one such
    /// clause, in addition to the others. An empty list is an error at
    /// [`build`](GateBuilder::build).
    pub fn require_any<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let features: Vec<String> = features
            .into_iter()
            .map(|feature| self.feature("require_any", feature.into()))
            .collect();
        if features.is_empty() {
            self.fail(Error::validation(
                "require_any",
                "needs at least one feature id",
            ));
        }
        self.requirements.push(Requirement::AnyOf(features));
        self
    }

    /// Meters `amount` of `feature` (an id, or a [`feature!`](crate::feature) type) after
    /// each successful response (see [`Gate::finish`]); the handler may give another
    /// amount ([`UsageAmount`](super::UsageAmount)). The feature need not be a required
    /// one. A later call replaces an earlier one. Default: no metering. The amount must
    /// not be negative; `0` records nothing unless the handler gives an amount.
    pub fn meter(mut self, feature: impl Into<String>, amount: i64) -> Self {
        let feature = self.feature("meter", feature.into());
        if amount < 0 {
            self.fail(Error::validation(
                "meter",
                format!("the amount must not be negative, got {amount}"),
            ));
        }
        self.metering = Some(MeterSpec {
            feature,
            amount,
            enforce: true,
        });
        self
    }

    /// Meters without enforcing the metered feature's hard limit: no units are held at
    /// admission, so requests in flight, and amounts chosen by handlers, can pass it. By
    /// default a gate that meters a hard-limited feature enforces its limit whether or not
    /// it also [`require`](Self::require)s it (see the [module docs](super), *Hard
    /// limits*). For a feature whose overage the plan bills rather than refuses; set after
    /// [`meter`](Self::meter).
    pub fn unenforced_limit(mut self) -> Self {
        match &mut self.metering {
            Some(spec) => spec.enforce = false,
            None => self.fail(Error::Config(
                "gate unenforced_limit() needs meter(..) first: the gate meters nothing".to_owned(),
            )),
        }
        self
    }

    /// Which response statuses count as a success, after which usage is metered: a range
    /// (`200..=201`), or [`StatusFilter::Custom`] with a function. Default:
    /// [`StatusFilter::Success2xx`]. An empty range is an error at
    /// [`build`](GateBuilder::build).
    pub fn success_statuses(mut self, filter: impl Into<StatusFilter>) -> Self {
        let filter = filter.into();
        if filter.is_empty() {
            self.fail(Error::Config(
                "gate success statuses: the range is empty".to_owned(),
            ));
        }
        self.success = filter;
        self
    }

    /// What to do when no entitlement snapshot can be had. Default:
    /// [`FailurePolicy::Deny`] (`503`).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    /// The status of a denial because a hard usage limit is reached. Must be a `4xx` or
    /// `5xx`. Default: `403`. What each common choice tells a client:
    ///
    /// | status | tells the client | pick it when |
    /// |---|---|---|
    /// | `403 Forbidden` (default) | refused, and retrying as is will not help | the plan's allowance is a permission: the period's quota is spent until the reset or an upgrade |
    /// | `402 Payment Required` | paying (upgrading, buying more units) lifts the refusal | the caller can act on it: a self-serve upgrade; generic clients treat it as a plain `4xx` |
    /// | `429 Too Many Requests` | slow down and retry; many clients and SDKs retry it by themselves | the period is short (a daily or hourly quota): with a monthly quota, automatic retries only add load, so pair it with a short [`max_retry_after`](Self::max_retry_after) (no `Retry-After` beyond it) |
    ///
    /// Whatever the status, the problem details say `usage_limit_reached` with the limit,
    /// usage and reset; on gRPC a reached limit is `RESOURCE_EXHAUSTED`.
    pub fn limit_reached_status(mut self, status: StatusCode) -> Self {
        if !(status.is_client_error() || status.is_server_error()) {
            self.fail(Error::Config(format!(
                "gate limit_reached_status must be a 4xx or 5xx status, got {status}"
            )));
        }
        self.limit_reached_status = status;
        self
    }

    /// The longest wait a reached limit tells as `Retry-After`. A limit reopens at its
    /// period's reset, which is often weeks away: a `Retry-After` of weeks invites
    /// clients to sleep (or to give up) for weeks, and many treat a large one as an
    /// error. So the reset is always told in the `RateLimit` field
    /// ([`quota_headers`](Self::quota_headers)) and the problem details (`resetAt`), and as
    /// `Retry-After` only when it is at most this far. `Retry-After` of an unavailable
    /// Kelviq (`503`: the customer's backoff, short and real) is not affected. Default: 5
    /// minutes; `Duration::ZERO` never sends one for a limit.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Adds the `RateLimit-Policy` and `RateLimit` fields
    /// (draft-ietf-httpapi-ratelimit-headers-11) for the hard-limited feature the gate
    /// [meters](Self::meter) to its successful responses and to its limit denials: the
    /// quota, the units remaining (`limit − (Kelviq's usage + undelivered + units held by
    /// requests in flight)`) and the seconds to the reset ([`Quota::headers`](super::Quota::headers)),
    /// counted without I/O. Set it once on the app-wide template.
    ///
    /// Default: off. The fields tell every caller the customer's plan quota and usage:
    /// information the service chooses to publish (an internal API, or one whose callers
    /// are the customers themselves), not something a library should publish for it; and
    /// they cost a few small allocations per metered response. The example apps turn it
    /// on. Off, the adapters' warm path allocates nothing for it. gRPC responses never
    /// carry them (the problem details do not apply there either; see
    /// [`Gate::deny_grpc`]).
    pub fn quota_headers(mut self, on: bool) -> Self {
        self.quota_headers = on;
        self
    }

    /// Answers every denial (missing customer, not entitled, limit reached, unavailable)
    /// with this function's response instead of the default problem details
    /// ([`Denial::to_response`]). Every adapter uses it. Default: none.
    pub fn on_denied<F>(mut self, handler: F) -> Self
    where
        F: Fn(&Denial) -> http::Response<Bytes> + Send + Sync + 'static,
    {
        self.on_denied = Some(Arc::new(handler));
        self
    }

    /// Builds the gate, and starts the client's usage meter if it has not started
    /// ([`Kelviq::usage_meter`]).
    ///
    /// # Errors
    ///
    /// The first bad value given: [`Error::Validation`] for an empty feature id
    /// (`require`, `require_any`, `meter`), an empty any-of list or a negative meter
    /// amount; [`Error::Config`] for a limit status that is not a `4xx` or `5xx`, an empty
    /// success range, a client without an entitlement cache, [`fleet_limits`](Self::fleet_limits)
    /// on a client without a fleet or a gate that meters nothing, or — starting the meter —
    /// outside a tokio runtime.
    pub fn build(self) -> Result<Gate> {
        if let Some(error) = self.error {
            return Err(Error::shared(error));
        }
        if !self.kelviq.has_entitlement_cache() {
            return Err(Error::Config(
                "a gate needs the client's entitlement cache, or every gated request would \
                 wait for a call to Kelviq: build the client without no_entitlement_cache()"
                    .to_owned(),
            ));
        }
        if self.shared_limit.is_some() && self.metering.is_none() {
            return Err(Error::Config(
                "gate fleet_limits needs a metered gate (GateBuilder::meter)".to_owned(),
            ));
        }
        let meter = self.kelviq.usage_meter()?.clone();
        let reserves_shared = self
            .shared_limit
            .as_ref()
            .is_some_and(|limit| limit.reserves());
        Ok(Gate::from_config(GateConfig {
            kelviq: self.kelviq,
            meter,
            requirements: self.requirements,
            metering: self.metering,
            success: self.success,
            failure_policy: self.failure_policy,
            limit_answer: LimitAnswer {
                status: self.limit_reached_status,
                max_retry_after: self.max_retry_after,
            },
            quota_headers: self.quota_headers,
            on_denied: self.on_denied,
            fallback_decisions: std::sync::atomic::AtomicU64::new(0),
            outage_warn: crate::log_limit::RateLimitedWarn::every_period(),
            shared_limit: self.shared_limit,
            reserves_shared,
        }))
    }
}
