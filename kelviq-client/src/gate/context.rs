//! What a gate leaves in a request it let through ([`RequestContext`]), and what handlers
//! leave for metering ([`UsageAmount`]): the same types for tower/axum and actix-web.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use http::StatusCode;
use once_cell::race::OnceBox;

use crate::cache::{HardRef, Snapshot};
use crate::client::Kelviq;
use crate::customer_client::CustomerClient;
use crate::meter::UsageMeter;
use crate::sync::lock;
use crate::tier::SharedReservation;

use super::denial::Denial;
use super::engine::Gate;
use super::lease::SnapshotRef;
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
    snapshot: Option<SnapshotRef>,
    stale: bool,
    gate: Gate,
    /// The amount a handler asked to meter, when `amount_set`.
    amount: AtomicI64,
    amount_set: AtomicBool,
    /// The gate's metered feature, when the request holds units of its hard limit.
    hard: Option<HardRef>,
    /// The units held (admission's hold plus the handler's), or [`SETTLED`] once
    /// [`Gate::finish`] settled them or the context was dropped.
    held: AtomicI64,
    /// Units reserved on the gate's shared limit (strict fleet limits): the admission's,
    /// then each of the handler's holds; given back when the context is dropped unsettled.
    /// Allocated at the first one: most requests have none, and a pointer costs nothing
    /// to make.
    reservations: OnceBox<Mutex<Vec<Box<dyn SharedReservation>>>>,
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
            .field(
                "held",
                &self.hard.map(|_| self.held.load(Ordering::Relaxed)),
            )
            .finish_non_exhaustive()
    }
}

/// What [`Inner::held`] says once the hold is settled.
const SETTLED: i64 = i64::MIN;

impl Drop for Inner {
    /// A request dropped before [`Gate::finish`] (cancelled, or its response never made)
    /// gives back every unit it held.
    fn drop(&mut self) {
        if let (Some(hard), Some(snapshot)) = (self.hard, &self.snapshot) {
            let held = self.held.swap(SETTLED, Ordering::AcqRel);
            if held > 0 {
                snapshot.settle(hard, held, 0);
            }
        }
    }
}

/// A request's hold on its gate's metered feature, taken by [`RequestContext::take_hold`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Hold {
    pub(super) hard: HardRef,
    pub(super) held: i64,
}

impl RequestContext {
    /// A context for a customer let through with this snapshot (`None` when Kelviq was
    /// unreachable and the failure policy let the request through). Built by the gate.
    pub(super) fn new(
        customer_id: Arc<str>,
        snapshot: Option<SnapshotRef>,
        stale: bool,
        gate: &Gate,
        hold: Option<Hold>,
    ) -> Self {
        RequestContext {
            inner: Arc::new(Inner {
                customer_id,
                snapshot,
                stale,
                gate: gate.clone(),
                amount: AtomicI64::new(0),
                amount_set: AtomicBool::new(false),
                hard: hold.map(|hold| hold.hard),
                held: AtomicI64::new(hold.map_or(0, |hold| hold.held)),
                reservations: OnceBox::new(),
            }),
        }
    }

    /// The customer id.
    pub fn customer_id(&self) -> &str {
        &self.inner.customer_id
    }

    /// The customer id, shared.
    pub(crate) fn shared_customer_id(&self) -> &Arc<str> {
        &self.inner.customer_id
    }

    /// The customer's entitlement snapshot; `None` when Kelviq was unreachable and the
    /// request was let through (fail open).
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.inner.snapshot.as_ref().map(SnapshotRef::get)
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
            evaluate_feature_with(snapshot, feature_id, self.inner.gate.limit_answer())
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

    /// Holds units reserved for this request on the gate's shared limit.
    pub(super) fn hold(&self, reservation: Box<dyn SharedReservation>) {
        lock(self.inner.reservations.get_or_init(Box::default)).push(reservation);
    }

    /// Settles the request's reservations on the gate's shared limit: `kept` units stay
    /// counted (the admission's first, then the handler's holds'), the rest is given back.
    pub(super) fn settle_reservations(&self, kept: i64) {
        let Some(reservations) = self.inner.reservations.get() else {
            return;
        };
        let mut left = kept.max(0);
        for reservation in lock(reservations).iter() {
            let keep = left.min(reservation.granted().unwrap_or(0));
            reservation.settle(keep);
            left = left.saturating_sub(keep);
        }
    }

    /// Holds up to `units` of the gate's metered feature in total for this request, before
    /// doing work whose amount is known only once done (rows exported, tokens generated):
    /// the hold-and-capture of card payments. Answers the units held now: at least what
    /// the request held already (its admission's hold), at most `units` — fewer when the
    /// hard limit leaves fewer. Then give the amount used with
    /// [`set_usage_amount`](Self::set_usage_amount) (or a [`UsageAmount`]): on a success
    /// [`Gate::finish`] records it, **capped at the hold** (the rest is refused and counted,
    /// [`Metered::Capped`](super::Metered::Capped)), and gives back what was not used; any
    /// other outcome, or a dropped request, gives the whole hold back.
    ///
    /// When the metered feature has no hard limit (or the gate meters nothing, or the
    /// request was let through without a snapshot), nothing needs holding: `units` is
    /// answered as is.
    ///
    /// # Errors
    ///
    /// A [`Denial`] of [`LimitReached`](super::DenialReason::LimitReached) when the
    /// request holds nothing and the limit leaves nothing: answer it as the gate answers
    /// its denials ([`RequestContext::deny`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder()
    /// #     .access_token(mock.token()).api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::gate::Admission;
    ///
    /// // cust_free may make 100 API calls; an export costs one per row.
    /// let export = kelviq.gate().meter("api-calls", 1).build()?;
    /// let Admission::Loading(admitting) = export.admit(Some("cust_free".into())) else {
    ///     unreachable!("the first request of a customer loads it")
    /// };
    /// let context = admitting.await.expect("cust_free is under its limit");
    /// let held = context.reserve(250).await.expect("the limit leaves some");
    /// assert_eq!(held, 100); // all the limit leaves
    /// let rows = 60.min(held); // the export writes at most what it holds
    /// context.set_usage_amount(rows);
    /// assert!(export.finish(&context, 200, None).is_recorded());
    /// // The 40 units not used were given back.
    /// # let next = match export.admit(Some("cust_free".into())) {
    /// #     Admission::Ready(ready) => ready, Admission::Loading(loading) => loading.await };
    /// # let next = next.expect("40 left");
    /// # assert_eq!(next.reserve(1_000).await.expect("40 left"), 40);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reserve(&self, units: i64) -> Result<i64, Denial> {
        let units = units.max(0);
        let (Some(hard), Some(snapshot)) = (self.inner.hard, &self.inner.snapshot) else {
            return Ok(units);
        };
        let ledger = self.kelviq().ledger();
        let current = self.inner.held.load(Ordering::Acquire);
        if current == SETTLED {
            return Ok(0);
        }
        if units <= current {
            return Ok(current);
        }
        let at_least = i64::from(current == 0);
        let want = units - current;
        // Judged on the customer's current snapshot: a newer one may count usage this one
        // never saw. The holds are the customer's either way, so this context settles them.
        let newer = snapshot
            .is_superseded()
            .then(|| self.kelviq().cached_entitlements(self.customer_id()))
            .flatten()
            .and_then(|newer| {
                let hard = newer.hard_feature(snapshot.hard_feature_id(hard))?;
                Some((newer, hard))
            });
        let granted = match &newer {
            Some((newer, newer_hard)) => newer.hold(ledger.holds(), *newer_hard, at_least, want),
            None => snapshot.hold(ledger.holds(), hard, at_least, want),
        };
        let Some(granted) = granted else {
            return if current > 0 {
                Ok(current)
            } else {
                Err(self.inner.gate.limit_denial(snapshot, hard))
            };
        };
        // Counted as held before any further await: a handler dropped from here on gives
        // these units back with its context.
        let Some(before) = self.add_held(granted) else {
            // Settled meanwhile (the response is made): nothing to hold for.
            snapshot.settle(hard, granted, 0);
            return Ok(0);
        };
        // With a shared limit that reserves (a strict fleet), it must grant them too.
        let shared = self.inner.gate.reserve_more(self, granted).await;
        if shared < granted {
            let back = granted.saturating_sub(shared);
            if self.add_held(back.saturating_neg()).is_some() {
                snapshot.settle(hard, back, 0);
            }
            if shared == 0 && before == 0 {
                return Err(self.inner.gate.limit_denial(snapshot, hard));
            }
            return Ok(before.saturating_add(shared));
        }
        Ok(before.saturating_add(granted))
    }

    /// Adds `units` (negative: takes them back) to the units held, unless the hold is
    /// settled: the units held before, or `None` once settled.
    fn add_held(&self, units: i64) -> Option<i64> {
        self.inner
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held != SETTLED).then(|| held.saturating_add(units))
            })
            .ok()
    }

    /// The units this request holds of its gate's metered hard limit (its admission's
    /// hold plus what [`reserve`](Self::reserve) granted); `None` when it holds none (no
    /// hard limit, or already settled).
    pub fn held_units(&self) -> Option<i64> {
        self.inner.hard?;
        let held = self.inner.held.load(Ordering::Acquire);
        (held != SETTLED).then_some(held)
    }

    /// Takes the request's hold, once: [`Gate::finish`] settles it.
    pub(super) fn take_hold(&self) -> Option<Hold> {
        let hard = self.inner.hard?;
        let held = self.inner.held.swap(SETTLED, Ordering::AcqRel);
        (held != SETTLED).then_some(Hold { hard, held })
    }

    /// The amount set with [`RequestContext::set_usage_amount`], if any.
    pub fn usage_amount(&self) -> Option<i64> {
        self.inner
            .amount_set
            .load(Ordering::Acquire)
            .then(|| self.inner.amount.load(Ordering::Relaxed))
    }
}
