//! [`Gate`]: built once per route, asked once per request. Its three adapter functions —
//! [`Gate::admit`], [`Gate::finish`] and [`Gate::deny`] — are everything tower and
//! actix-web call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use crossbeam_utils::CachePadded;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::cache::{HardRef, Snapshot};
use crate::client::Kelviq;
use crate::error::{ApiErrorKind, Error};
use crate::log_limit::RateLimitedWarn;
use crate::meter::UsageMeter;
use crate::stripes;
use crate::telemetry::{self, Outcome};
use crate::tier::SharedLimit;

use super::context::{Hold, RequestContext, UsageAmount};
use super::decision::{Admission, Admitting, Decision};
use super::denial::{Denial, DenialHandler, DenialReason, answer};
use super::lease::{LeaseSlot, SnapshotRef};
use super::metering::{MeterSpec, Metered};
use super::policy::{FailurePolicy, StatusFilter};
use super::quota::Quota;
use super::requirement::{LimitAnswer, Requirement};

mod shared_limit;

/// The entitlement decision of one route: what it requires, what it meters, and what to do
/// when Kelviq cannot answer, with the client (and its cache and usage meter) it decides
/// with. See the [module documentation](super).
///
/// Built and validated once with [`Kelviq::gate`]; cheap to clone (an `Arc` inside),
/// `Send + Sync`.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<CachePadded<Handle>>,
}

/// One reference to a gate's configuration. A gate built by [`GateBuilder::build`](super::GateBuilder::build)
/// has one more per [stripe](crate::stripes): the context of a request admitted on a thread
/// refers to that thread's, so that requests on different cores never count references on
/// one shared cache line (padded, so no two share one).
struct Handle {
    config: Arc<GateConfig>,
    /// The per-stripe gates (none in a stripe's own gate).
    stripes: Box<[Gate]>,
    /// The lease this stripe's contexts share on the snapshot it last admitted on.
    lease: LeaseSlot,
}

impl std::ops::Deref for Handle {
    type Target = GateConfig;

    fn deref(&self) -> &GateConfig {
        &self.config
    }
}

/// What a [`GateBuilder`](super::GateBuilder) produced, validated.
pub(super) struct GateConfig {
    pub(super) kelviq: Kelviq,
    pub(super) meter: UsageMeter,
    pub(super) requirements: Vec<Requirement>,
    pub(super) metering: Option<MeterSpec>,
    pub(super) success: StatusFilter,
    pub(super) failure_policy: FailurePolicy,
    pub(super) limit_answer: LimitAnswer,
    /// Whether responses carry the `RateLimit-Policy` / `RateLimit` fields.
    pub(super) quota_headers: bool,
    pub(super) on_denied: Option<DenialHandler>,
    /// Decisions made on the failure policy's fallback entitlements.
    pub(super) fallback_decisions: AtomicU64,
    /// The outage warnings of this gate, at most one per [`WARN_EVERY`](crate::log_limit::WARN_EVERY).
    pub(super) outage_warn: RateLimitedWarn,
    /// The metered feature's hard limit as shared with the other instances, if it is
    /// ([`GateBuilder::fleet_limits`](super::GateBuilder::fleet_limits)).
    pub(super) shared_limit: Option<Arc<dyn SharedLimit>>,
    /// Whether admissions reserve on the shared limit (strict): a plain field, read on
    /// the warm path instead of asking the limit.
    pub(super) reserves_shared: bool,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = &self.inner;
        f.debug_struct("Gate")
            .field("requirements", &config.requirements)
            .field("metering", &config.metering)
            .field("success", &config.success)
            .field("failure_policy", &config.failure_policy)
            .field("limit_reached_status", &config.limit_answer.status)
            .field("max_retry_after", &config.limit_answer.max_retry_after)
            .field("quota_headers", &config.quota_headers)
            .field("on_denied", &config.on_denied.is_some())
            .finish_non_exhaustive()
    }
}

impl Gate {
    pub(super) fn from_config(config: GateConfig) -> Self {
        let config = Arc::new(config);
        let handle = |config: &Arc<GateConfig>, stripes| Gate {
            inner: Arc::new(CachePadded::new(Handle {
                config: Arc::clone(config),
                stripes,
                lease: LeaseSlot::default(),
            })),
        };
        let stripes = (0..stripes::count())
            .map(|_| handle(&config, Box::default()))
            .collect();
        handle(&config, stripes)
    }

    /// This gate as the calling thread's stripe refers to it: what a request's context
    /// keeps.
    fn for_this_thread(&self) -> &Gate {
        self.inner.stripes.get(stripes::current()).unwrap_or(self)
    }

    /// Admits a request: the adapters' first call. `customer_id` is what the adapter's
    /// customer source found (`None` or empty answers `401` `missing_customer`; longer than
    /// the client's [maximum](crate::KelviqBuilder::max_customer_id_len), `400`
    /// `invalid_customer`, without I/O).
    ///
    /// On a fresh cached snapshot the answer is [`Admission::Ready`], decided without I/O
    /// or boxing; otherwise [`Admission::Loading`], a future that loads the snapshot (one
    /// upstream call shared by every concurrent request of the customer) and decides as
    /// [`Gate::check`]. Either way the request goes on with a [`RequestContext`] for the
    /// request extensions, or is answered with [`Gate::deny`].
    pub fn admit(&self, customer_id: Option<Arc<str>>) -> Admission {
        let Some(customer_id) = customer_id.filter(|id| !id.is_empty()) else {
            telemetry::gate_decision(Outcome::Denied, Some(DenialReason::MissingCustomer));
            return Admission::Ready(Err(Denial::missing_customer()));
        };
        if let Some(denial) = self.unsendable(&customer_id) {
            telemetry::gate_decision(Outcome::Denied, Some(denial.reason()));
            return Admission::Ready(Err(denial));
        }
        // The snapshot, through this thread's stripe's lease on it: no count that every
        // core writes (see `lease.rs`).
        let stripe = self.for_this_thread();
        let cached = self
            .inner
            .kelviq
            .cache()
            .with_fresh(&customer_id, |snapshot| {
                stripe.inner.lease.reference(snapshot)
            });
        if let Some(snapshot) = cached {
            tracing::trace!("entitlement cache hit");
            return match self.judge(&customer_id, snapshot, false) {
                Judged::Admitted(context) => self.reserving(context),
                Judged::Reopens(denial) => {
                    let gate = self.clone();
                    Admission::Loading(Admitting::new(async move {
                        gate.admit_after_reset(customer_id, denial).await
                    }))
                }
                Judged::Denied(denial) => Admission::Ready(Err(denial)),
            };
        }
        let gate = self.clone();
        Admission::Loading(Admitting::new(async move {
            gate.admit_loading(customer_id).await
        }))
    }

    /// The admission of a request whose customer's snapshot must be loaded: loaded as
    /// [`Gate::check`] loads it (the failure policy deciding when it cannot be), then
    /// judged as on a warm cache (and reserved in a strict fleet).
    async fn admit_loading(&self, customer_id: Arc<str>) -> Result<RequestContext, Denial> {
        let cached = match self.inner.kelviq.entitlements_snapshot(&customer_id).await {
            Ok(cached) => cached,
            // The failure policy's decision, counted by `on_error`: a fallback's snapshot is
            // judged there, and no hold is taken on it.
            Err(error) => {
                return match self.on_error(&customer_id, error) {
                    Decision::Allow { snapshot, stale } => Ok(self.context(
                        customer_id,
                        snapshot.map(SnapshotRef::Owned),
                        stale,
                        None,
                    )),
                    Decision::Deny(denial) | Decision::Unavailable(denial) => Err(denial),
                };
            }
        };
        let stale = cached.is_stale();
        let snapshot = SnapshotRef::Owned(cached.into_snapshot());
        match self.judge(&customer_id, snapshot, stale) {
            Judged::Admitted(context) => self.reserve_shared(context).await,
            Judged::Reopens(denial) => Box::pin(self.admit_after_reset(customer_id, denial)).await,
            Judged::Denied(denial) => Err(denial),
        }
    }

    /// The admission of a request refused for a limit reached before a usage reset that
    /// has passed since: the customer's snapshot is loaded anew (one load, shared with
    /// every request that arrives meanwhile) and the request judged on it, once. If the
    /// load fails, the refusal stands.
    async fn admit_after_reset(
        &self,
        customer_id: Arc<str>,
        denial: Denial,
    ) -> Result<RequestContext, Denial> {
        let snapshot = match self.inner.kelviq.cache().reload(&customer_id).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::debug!(error = %error, "reload after a usage reset failed; the limit stands");
                telemetry::gate_decision(Outcome::Denied, Some(denial.reason()));
                return Err(denial);
            }
        };
        match self.judge(&customer_id, SnapshotRef::Owned(snapshot), false) {
            Judged::Admitted(context) => self.reserve_shared(context).await,
            // Judged on the new period already: no second reload.
            Judged::Reopens(denial) | Judged::Denied(denial) => {
                telemetry::gate_decision(Outcome::Denied, Some(denial.reason()));
                Err(denial)
            }
        }
    }

    /// Judges the gate's requirements on `snapshot`, then holds the metered amount of a
    /// hard-limited feature, counting the decision in [`telemetry`] once — except a limit
    /// denial after a usage reset passed since the snapshot's fetch ([`Judged::Reopens`]),
    /// which the caller judges again on a new snapshot. The first such request loads it;
    /// the others join that load while it runs.
    fn judge(&self, customer_id: &Arc<str>, snapshot: SnapshotRef, stale: bool) -> Judged {
        let held = self
            .evaluate(&snapshot)
            .and_then(|()| self.hold_metered(&snapshot));
        let denial = match held {
            Ok(hold) => {
                telemetry::gate_decision(Outcome::Allowed, None);
                return Judged::Admitted(self.context(
                    Arc::clone(customer_id),
                    Some(snapshot),
                    stale,
                    hold,
                ));
            }
            Err(denial) => denial,
        };
        let reopens = denial.reason() == DenialReason::LimitReached
            && (snapshot.take_reset()
                || (snapshot.reset_passed() && self.inner.kelviq.cache().is_loading(customer_id)));
        if reopens {
            return Judged::Reopens(denial);
        }
        telemetry::gate_decision(Outcome::Denied, Some(denial.reason()));
        Judged::Denied(denial)
    }

    /// Holds the gate's metered amount when the metered feature has a hard limit (and the
    /// gate enforces it): against `limit − (Kelviq's usage + undelivered + held)`, so
    /// that requests in flight count. Not on fallback entitlements (configured in code,
    /// judged per request).
    fn hold_metered(&self, snapshot: &Snapshot) -> Result<Option<Hold>, Denial> {
        let Some(spec) = &self.inner.metering else {
            return Ok(None);
        };
        if !spec.enforce || snapshot.is_fallback() {
            return Ok(None);
        }
        let Some(hard) = snapshot.hard_feature(&spec.feature) else {
            return Ok(None);
        };
        let holds = self.inner.kelviq.ledger().holds();
        match snapshot.hold(holds, hard, spec.amount, spec.amount) {
            Some(held) => Ok(Some(Hold { hard, held })),
            None => Err(self.limit_denial(snapshot, hard)),
        }
    }

    /// The denial of a request the hard limit of `hard` leaves nothing to hold for, with
    /// the feature's counts (limit, usage, remaining, reset).
    pub(super) fn limit_denial(&self, snapshot: &Snapshot, hard: HardRef) -> Denial {
        self.inner.limit_answer.denial(
            snapshot.hard_feature_id(hard),
            snapshot.quota_counts(hard).map(Quota::from_counts),
        )
    }

    /// The quota of the hard-limited feature this gate meters, as the request of
    /// `context` sees it now: `limit − (Kelviq's usage + undelivered + held)`, the units
    /// the request holds included, counted without I/O. `None` when the gate meters no
    /// hard-limited feature, or the request was let through without a snapshot or on
    /// fallback entitlements.
    pub fn quota(&self, context: &RequestContext) -> Option<Quota> {
        let spec = self.inner.metering.as_ref()?;
        let snapshot = context.snapshot()?;
        if snapshot.is_fallback() {
            return None;
        }
        let hard = snapshot.hard_feature(&spec.feature)?;
        snapshot.quota_counts(hard).map(Quota::from_counts)
    }

    /// The `RateLimit-Policy` and `RateLimit` fields ([`Quota::headers`]) to add to the
    /// response of a request the gate let through, once its status is known: only when
    /// the gate [sends them](super::GateBuilder::quota_headers), `status` is one of its
    /// [success statuses](super::GateBuilder::success_statuses), and it meters a
    /// hard-limited feature ([`Gate::quota`]). The adapters add what this returns, and
    /// nothing when it returns `None` — without any allocation when the option is off.
    pub fn quota_headers(
        &self,
        context: &RequestContext,
        status: u16,
    ) -> Option<[(HeaderName, HeaderValue); 2]> {
        if !self.inner.quota_headers || !self.inner.success.matches(status) {
            return None;
        }
        let quota = self.quota(context)?;
        let feature = self.inner.metering.as_ref()?.feature.as_str();
        Some(quota.headers(feature))
    }

    /// Whether the gate sends the quota headers ([`GateBuilder::quota_headers`](super::GateBuilder::quota_headers)).
    pub fn sends_quota_headers(&self) -> bool {
        self.inner.quota_headers
    }

    /// Finishes a request the gate admitted, once its response status is known: the
    /// adapters' last call. When the gate meters ([`GateBuilder::meter`](super::GateBuilder::meter))
    /// and `status` is a success ([`GateBuilder::success_statuses`](super::GateBuilder::success_statuses)),
    /// records the amount — the response's [`UsageAmount`] extension, else the one set on
    /// the context ([`RequestContext::set_usage_amount`]), else the configured one — of the
    /// metered feature, applied to the snapshot the request was gated with.
    ///
    /// A request that holds units of the feature's hard limit settles them here: the amount
    /// recorded is kept (at most the hold: a larger amount is capped,
    /// [`Metered::Capped`]), the rest given back; any other outcome gives the whole hold
    /// back.
    ///
    /// A negative per-response amount is refused ([`Metered::Refused`]): logged at `warn`,
    /// counted in [`MeterStats::refused_amounts`](crate::meter::MeterStats::refused_amounts),
    /// nothing metered.
    ///
    /// Never waits: the meter only adds to a pending total, delivered in the background. A
    /// failure to record is logged and returned, never raised: the response is made.
    pub fn finish(
        &self,
        context: &RequestContext,
        status: u16,
        response_amount: Option<UsageAmount>,
    ) -> Metered {
        let hold = context.take_hold();
        let metered = self.meter_finished(context, status, response_amount, hold);
        self.settle_shared(context, &metered);
        metered
    }

    /// [`Gate::finish`] but the shared limit's reservations: meters, and settles the
    /// request's hold.
    fn meter_finished(
        &self,
        context: &RequestContext,
        status: u16,
        response_amount: Option<UsageAmount>,
        hold: Option<Hold>,
    ) -> Metered {
        let give_back = || {
            if let (Some(hold), Some(snapshot)) = (hold, context.snapshot()) {
                snapshot.settle(hold.hard, hold.held, 0);
            }
        };
        let Some(spec) = &self.inner.metering else {
            give_back();
            return Metered::NotConfigured;
        };
        if !self.inner.success.matches(status) {
            give_back();
            return Metered::NotSuccess;
        }
        let amount = response_amount
            .map(|amount| amount.0)
            .or_else(|| context.usage_amount())
            .unwrap_or(spec.amount);
        if amount == 0 {
            give_back();
            return Metered::Zero;
        }
        if amount < 0 {
            give_back();
            // A handler's amount is usage consumed: a negative one would hand quota back
            // (locally and at Kelviq). Refused, logged and counted; nothing is metered.
            self.inner.meter.refuse_amount();
            tracing::warn!(
                feature = %spec.feature,
                amount,
                "negative per-response usage amount refused; nothing metered"
            );
            return Metered::Refused { amount };
        }
        let (recorded, result) = match (hold, context.snapshot()) {
            (Some(hold), Some(snapshot)) => {
                let kept = amount.min(hold.held);
                let result = self.inner.meter.record_held(
                    snapshot,
                    hold.hard,
                    hold.held,
                    context.customer_id(),
                    &spec.feature,
                    kept,
                );
                (kept, result)
            }
            _ => {
                let result = self.inner.meter.record_on(
                    context.snapshot().map(|snapshot| &**snapshot),
                    context.customer_id(),
                    &spec.feature,
                    amount,
                );
                (amount, result)
            }
        };
        match result {
            Ok(()) => {
                self.record_shared(context, &spec.feature, recorded);
                if recorded < amount {
                    self.inner
                        .meter
                        .refuse_over_hold(amount.saturating_sub(recorded));
                    tracing::warn!(
                        feature = %spec.feature,
                        asked = amount,
                        held = recorded,
                        "usage amount larger than the request's hold of a hard limit: \
                         the hold was recorded, the rest refused"
                    );
                    Metered::Capped {
                        amount: recorded,
                        asked: amount,
                    }
                } else {
                    Metered::Recorded { amount }
                }
            }
            Err(error) => {
                tracing::error!(
                    error = %error,
                    feature = %spec.feature,
                    amount,
                    "usage not recorded"
                );
                Metered::Failed(error)
            }
        }
    }

    /// The answer to a denial: the gate's [denial handler](super::GateBuilder::on_denied)'s,
    /// else [`Denial::to_response`] (its status, `application/problem+json`, its problem
    /// details) plus, for a reached limit whose counts are known and a gate that
    /// [sends them](super::GateBuilder::quota_headers), the `RateLimit-Policy` and
    /// `RateLimit` fields (0 remaining, the reset). A denial handler's response is taken
    /// whole. Logged once at `debug`. Adapters only convert it to their response type.
    pub fn deny(&self, denial: &Denial) -> http::Response<Bytes> {
        let mut response = answer(denial, self.inner.on_denied.as_ref());
        if self.inner.quota_headers
            && self.inner.on_denied.is_none()
            && let (Some(quota), Some(feature)) = (denial.quota(), denial.feature())
        {
            for (name, value) in quota.headers(feature) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }

    /// Decides whether `customer_id` may make the request, waiting for the customer's
    /// snapshot if it must be loaded (from the entitlement cache, shared with every
    /// concurrent check of the customer).
    ///
    /// - An empty `customer_id` → [`Deny`](Decision::Deny), `401` `missing_customer`; one
    ///   longer than the client's [maximum](crate::KelviqBuilder::max_customer_id_len) →
    ///   [`Deny`](Decision::Deny), `400` `invalid_customer`, without I/O.
    /// - A snapshot (fresh, or stale while Kelviq is unreachable) → the requirements are
    ///   judged on it: [`Allow`](Decision::Allow) with the snapshot, or
    ///   [`Deny`](Decision::Deny) naming the first failing feature (see
    ///   [`DenialReason`](super::DenialReason)). A gate without requirements allows every
    ///   known customer.
    /// - Kelviq answers `404` (it does not know the customer) → [`Deny`](Decision::Deny),
    ///   `403` `unknown_customer`, whatever the failure policy: that is an answer, not an
    ///   outage. (A wrong edge URL also yields `404`s, so a misconfigured client refuses
    ///   every customer as unknown.)
    /// - Any other error — unreachable, timeout, `5xx`, and also `401`/`403` from Kelviq,
    ///   which mean this service's token is wrong, not that the end user did anything
    ///   wrong → the failure policy: [`Unavailable`](Decision::Unavailable) (`503`,
    ///   `kelviq_unavailable`) by default, or [`Allow`](Decision::Allow) without a snapshot
    ///   under [`FailurePolicy::Allow`]. Both log a warning with the error.
    pub async fn check(&self, customer_id: &str) -> Decision {
        if customer_id.is_empty() {
            return observed(Decision::Deny(Denial::missing_customer()), false);
        }
        if let Some(denial) = self.unsendable(customer_id) {
            return observed(Decision::Deny(denial), false);
        }
        match self.inner.kelviq.entitlements_snapshot(customer_id).await {
            Ok(cached) => {
                let stale = cached.is_stale();
                observed(self.decide(cached.into_snapshot(), stale), false)
            }
            Err(error) => self.on_error(customer_id, error),
        }
    }

    /// The denial of a customer id the client refuses to send (longer than its
    /// [maximum](crate::KelviqBuilder::max_customer_id_len)): the caller's mistake, `400`
    /// `invalid_customer`, never a call to Kelviq that fails as an outage. The same check
    /// as every client call taking a customer id.
    fn unsendable(&self, customer_id: &str) -> Option<Denial> {
        crate::resources::customer_id(self.inner.kelviq.transport(), customer_id)
            .err()
            .map(|_| Denial::invalid_customer())
    }

    /// Judges the gate's requirements on a snapshot, without I/O: `Ok` when the customer
    /// meets them all. Allocates nothing when it passes.
    ///
    /// # Errors
    ///
    /// The [`Denial`] of the first failing requirement, a reached limit with the gate's
    /// [limit status](super::GateBuilder::limit_reached_status).
    pub fn evaluate(&self, snapshot: &Snapshot) -> Result<(), Denial> {
        for requirement in &self.inner.requirements {
            if let Err((feature, failure)) = requirement.judge(snapshot) {
                return Err(failure.denial(feature, self.inner.limit_answer));
            }
        }
        Ok(())
    }

    fn context(
        &self,
        customer_id: Arc<str>,
        snapshot: Option<SnapshotRef>,
        stale: bool,
        hold: Option<Hold>,
    ) -> RequestContext {
        RequestContext::new(customer_id, snapshot, stale, self.for_this_thread(), hold)
    }

    fn decide(&self, snapshot: Arc<Snapshot>, stale: bool) -> Decision {
        match self.evaluate(&snapshot) {
            Ok(()) => Decision::Allow {
                snapshot: Some(snapshot),
                stale,
            },
            Err(denial) => Decision::Deny(denial),
        }
    }

    fn on_error(&self, customer_id: &str, error: Error) -> Decision {
        if error
            .as_api()
            .is_some_and(|api| api.kind == ApiErrorKind::NotFound)
        {
            return observed(Decision::Deny(Denial::unknown_customer()), false);
        }
        match &self.inner.failure_policy {
            FailurePolicy::Deny => {
                self.outage(
                    &error,
                    "kelviq unavailable: refusing the request (failure policy: deny)",
                );
                // When to come back: the customer's backoff (a 429's Retry-After, or the
                // error backoff), else a second.
                let retry_after = self
                    .inner
                    .kelviq
                    .cache()
                    .backoff_remaining(customer_id)
                    .unwrap_or(Duration::from_secs(1));
                observed(
                    Decision::Unavailable(Denial::unavailable(error).with_retry_after(retry_after)),
                    false,
                )
            }
            FailurePolicy::Fallback(fallback) => {
                self.outage(
                    &error,
                    "kelviq unavailable: deciding on the fallback entitlements (degraded)",
                );
                self.inner
                    .fallback_decisions
                    .fetch_add(1, Ordering::Relaxed);
                observed(
                    self.decide(Arc::new(fallback.snapshot(customer_id)), true),
                    true,
                )
            }
            FailurePolicy::Allow => {
                self.outage(
                    &error,
                    "kelviq unavailable: letting the request through unchecked (failure policy: allow)",
                );
                observed(
                    Decision::Allow {
                        snapshot: None,
                        stale: false,
                    },
                    true,
                )
            }
        }
    }

    /// Logs what the failure policy did during an outage: at `warn` at most every
    /// [`WARN_EVERY`](crate::log_limit::WARN_EVERY) per gate (saying how many were held back), else at `debug`,
    /// so that an outage does not write one warning per request.
    fn outage(&self, error: &Error, what: &'static str) {
        match self.inner.outage_warn.allow() {
            Some(held_back) => tracing::warn!(error = %error, held_back, "{what}"),
            None => tracing::debug!(error = %error, "{what}"),
        }
    }

    /// The client the gate decides with.
    pub fn kelviq(&self) -> &Kelviq {
        &self.inner.kelviq
    }

    /// The client's usage meter, which the gate meters with.
    pub fn usage_meter(&self) -> &UsageMeter {
        &self.inner.meter
    }

    /// The requirement clauses, all of which must pass, in the order they are judged.
    pub fn requirements(&self) -> &[Requirement] {
        &self.inner.requirements
    }

    /// What the gate does when no snapshot can be had.
    pub fn failure_policy(&self) -> &FailurePolicy {
        &self.inner.failure_policy
    }

    /// How many decisions this gate made on its [fallback](super::Fallback) entitlements
    /// (degraded decisions, while Kelviq could not be reached).
    pub fn fallback_decisions(&self) -> u64 {
        self.inner.fallback_decisions.load(Ordering::Relaxed)
    }

    /// The status of a [`LimitReached`](super::DenialReason::LimitReached) denial.
    pub fn limit_reached_status(&self) -> StatusCode {
        self.inner.limit_answer.status
    }

    /// The longest wait a [`LimitReached`](super::DenialReason::LimitReached) denial sends
    /// as `Retry-After` ([`GateBuilder::max_retry_after`](super::GateBuilder::max_retry_after)).
    pub fn max_retry_after(&self) -> Duration {
        self.inner.limit_answer.max_retry_after
    }

    /// How the gate answers a reached limit.
    pub(super) fn limit_answer(&self) -> LimitAnswer {
        self.inner.limit_answer
    }

    /// Which response statuses count as a success for metering.
    pub fn success_statuses(&self) -> &StatusFilter {
        &self.inner.success
    }

    /// Whether the gate meters anything at all; adapters skip reading the response's
    /// amount when it does not.
    pub fn meters(&self) -> bool {
        self.inner.metering.is_some()
    }

    /// The metered feature, if any.
    pub fn metered_feature(&self) -> Option<&str> {
        self.inner
            .metering
            .as_ref()
            .map(|spec| spec.feature.as_str())
    }

    /// The configured amount metered per successful response, if the gate meters.
    pub fn metered_amount(&self) -> Option<i64> {
        self.inner.metering.as_ref().map(|spec| spec.amount)
    }
}

/// What [`Gate::judge`] decided of a request on a snapshot.
enum Judged {
    /// Let through, holding its units.
    Admitted(RequestContext),
    /// Refused for a limit whose reset has passed since the fetch: judge it again on a new
    /// snapshot (not counted yet).
    Reopens(Denial),
    /// Refused (counted).
    Denied(Denial),
}

/// Counts a decision in [`telemetry`] (`degraded`: made while Kelviq could not answer, on
/// the fallback entitlements or under [`FailurePolicy::Allow`]) and returns it.
fn observed(decision: Decision, degraded: bool) -> Decision {
    let outcome = match &decision {
        _ if degraded => Outcome::Fallback,
        Decision::Allow { .. } => Outcome::Allowed,
        Decision::Deny(_) => Outcome::Denied,
        Decision::Unavailable(_) => Outcome::Unavailable,
    };
    telemetry::gate_decision(outcome, decision.denial().map(Denial::reason));
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_context_refers_to_its_thread_s_stripe_of_the_gate() {
        let gate = Kelviq::new("k").unwrap().gate().build().unwrap();
        let (there, stripe) = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                (
                    gate.context("c".into(), None, false, None),
                    stripes::current(),
                )
            })
            .join()
            .unwrap()
        };
        let handle = &there.gate().inner;
        assert!(Arc::ptr_eq(handle, &gate.inner.stripes[stripe].inner));
        assert!(!Arc::ptr_eq(handle, &gate.inner));
        assert!(Arc::ptr_eq(&handle.config, &gate.inner.config));
        // A stripe's gate has no stripes of its own, and admits as its gate does.
        assert!(there.gate().inner.stripes.is_empty());
        assert!(Arc::ptr_eq(&there.gate().for_this_thread().inner, handle));
        // The context outlives the gate it came from.
        drop(gate);
        assert_eq!(there.limit_reached_status(), StatusCode::FORBIDDEN);
    }
}
