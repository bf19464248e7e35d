//! What a gate leaves in a request it let through ([`RequestContext`]), and what handlers
//! leave for metering ([`UsageAmount`]): the same types for tower/axum and actix-web.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use http::StatusCode;

use crate::cache::Snapshot;
use crate::client::Kelviq;
use crate::customer_client::CustomerClient;
use crate::meter::UsageMeter;

use super::denial::Denial;
use super::engine::Gate;
use super::requirement::evaluate_feature_with;

/// An amount of usage to meter for this request instead of the gate's configured one (the
/// number of rows exported, say). Read only when the response is a success.
///
/// Give it either as a response extension (`(Extension(UsageAmount(n)), body)` in axum,
/// `response.extensions_mut().insert(..)` in actix-web) or through the request's context
/// ([`RequestContext::set_usage_amount`], what the `UsageRecorder` extractors do); the
/// response extension wins. Every adapter reads both, in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsageAmount(pub i64);

/// What a gate knows of a request it let through: the customer, the entitlement snapshot,
/// and the gate (with its client and meter). Adapters put it into the request extensions
/// for extractors and handlers, and give it back to [`Gate::finish`]. Cheap to clone: one
/// reference count, of this request's own allocation.
#[derive(Clone, Debug)]
pub struct RequestContext {
    inner: Arc<Inner>,
}

struct Inner {
    customer_id: Arc<str>,
    snapshot: Option<Arc<Snapshot>>,
    stale: bool,
    gate: Gate,
    /// The amount a handler asked to meter, when `amount_set`.
    amount: AtomicI64,
    amount_set: AtomicBool,
    /// Units reserved on the fleet's shared counter (strict limits); given back when the
    /// context is dropped unsettled.
    #[cfg(feature = "redis")]
    reservation: std::sync::OnceLock<crate::fleet::Reservation>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("customer_id", &self.customer_id)
            .field("snapshot", &self.snapshot)
            .field("stale", &self.stale)
            .field("gate", &self.gate)
            .field(
                "usage_amount",
                &self
                    .amount_set
                    .load(Ordering::Relaxed)
                    .then(|| self.amount.load(Ordering::Relaxed)),
            )
            .finish_non_exhaustive()
    }
}

impl RequestContext {
    /// A context for a customer let through with this snapshot (`None` when Kelviq was
    /// unreachable and the failure policy let the request through). Built by the gate.
    pub(super) fn new(
        customer_id: Arc<str>,
        snapshot: Option<Arc<Snapshot>>,
        stale: bool,
        gate: &Gate,
    ) -> Self {
        RequestContext {
            inner: Arc::new(Inner {
                customer_id,
                snapshot,
                stale,
                gate: gate.clone(),
                amount: AtomicI64::new(0),
                amount_set: AtomicBool::new(false),
                #[cfg(feature = "redis")]
                reservation: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The customer id.
    pub fn customer_id(&self) -> &str {
        &self.inner.customer_id
    }

    /// The customer id, shared.
    #[cfg(feature = "redis")]
    pub(crate) fn shared_customer_id(&self) -> &Arc<str> {
        &self.inner.customer_id
    }

    /// The customer's entitlement snapshot; `None` when Kelviq was unreachable and the
    /// request was let through (fail open).
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.inner.snapshot.as_ref()
    }

    /// Whether the snapshot is stale: past its TTL, served while it is refreshed or while
    /// Kelviq is unreachable; fallback entitlements count as stale.
    pub fn is_stale(&self) -> bool {
        self.inner.stale
    }

    /// Whether the decision is degraded: made on a stale snapshot or on the gate's
    /// [fallback](super::Fallback) entitlements, or without a snapshot at all (fail open).
    pub fn is_degraded(&self) -> bool {
        self.inner.stale
            || self
                .inner
                .snapshot
                .as_ref()
                .is_none_or(|snapshot| snapshot.is_fallback())
    }

    /// The gate that let the request through.
    pub fn gate(&self) -> &Gate {
        &self.inner.gate
    }

    /// The client.
    pub fn kelviq(&self) -> &Kelviq {
        self.inner.gate.kelviq()
    }

    /// The client's usage meter.
    pub fn meter(&self) -> &UsageMeter {
        self.inner.gate.usage_meter()
    }

    /// The client scoped to this customer.
    pub fn customer(&self) -> CustomerClient {
        self.kelviq().customer(Arc::clone(&self.inner.customer_id))
    }

    /// The status the gate answers a reached usage limit with, so that extractors refuse
    /// exactly as the gate would.
    pub fn limit_reached_status(&self) -> StatusCode {
        self.inner.gate.limit_reached_status()
    }

    /// Judges one feature against the snapshot as the gate would (see
    /// [`evaluate_feature`](super::evaluate_feature)), with the gate's limit status.
    /// `None` when there is no snapshot (Kelviq unreachable, request let through).
    pub fn evaluate_feature(&self, feature_id: &str) -> Option<Result<(), Denial>> {
        self.snapshot().map(|snapshot| {
            evaluate_feature_with(snapshot, feature_id, self.limit_reached_status())
        })
    }

    /// The answer to a denial an extractor makes on this request (a feature the handler
    /// needs, no snapshot): the gate's [denial handler](super::GateBuilder::on_denied)'s,
    /// else [`Denial::to_response`] — exactly as the gate would answer it.
    pub fn deny(&self, denial: &Denial) -> http::Response<bytes::Bytes> {
        self.inner.gate.deny(denial)
    }

    /// Asks the gate to meter `amount` for this request, if its response is a success,
    /// instead of its configured amount (a [`UsageAmount`] response extension still wins).
    /// The last call wins.
    pub fn set_usage_amount(&self, amount: i64) {
        self.inner.amount.store(amount, Ordering::Relaxed);
        self.inner.amount_set.store(true, Ordering::Release);
    }

    /// Holds the units reserved for this request on the fleet's shared counter.
    #[cfg(feature = "redis")]
    pub(super) fn hold(&self, reservation: crate::fleet::Reservation) {
        let _ = self.inner.reservation.set(reservation);
    }

    /// The units reserved for this request on the fleet's shared counter, if any.
    #[cfg(feature = "redis")]
    pub(super) fn reservation(&self) -> Option<&crate::fleet::Reservation> {
        self.inner.reservation.get()
    }

    /// The amount set with [`RequestContext::set_usage_amount`], if any.
    pub fn usage_amount(&self) -> Option<i64> {
        self.inner
            .amount_set
            .load(Ordering::Acquire)
            .then(|| self.inner.amount.load(Ordering::Relaxed))
    }
}
