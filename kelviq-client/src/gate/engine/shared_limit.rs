//! The gate's shared limit, when the hard limit of its metered feature is held across the
//! instances of a fleet ([`GateBuilder::fleet_limits`](crate::gate::GateBuilder::fleet_limits)):
//! strict limits reserve on it when admitting and settle the reservation when finishing;
//! fast ones count the units recorded, synced in the background. A gate without one
//! checks a plain field and goes on.

use super::Gate;
use crate::gate::context::RequestContext;
use crate::gate::decision::{Admission, Admitting};
use crate::gate::denial::Denial;
use crate::gate::metering::Metered;
use crate::gate::quota::Quota;
use crate::tier::SharedLimit;

impl Gate {
    /// The admission of a request the local decision let through on a warm cache: ready,
    /// or — when the gate's shared limit reserves — a future that reserves on it first.
    #[inline]
    pub(super) fn reserving(&self, context: RequestContext) -> Admission {
        if !self.inner.reserves_shared {
            return Admission::Ready(Ok(context));
        }
        let gate = self.clone();
        Admission::Loading(Admitting::new(
            async move { gate.reserve_shared(context).await },
        ))
    }

    /// Reserves the gate's metered amount on its shared limit for a request the snapshot
    /// allows. Refused → the limit is reached across the fleet. Without a shared limit
    /// that reserves, without a snapshot (let through by the failure policy), on fallback
    /// entitlements, for a feature without a hard limit, or when the tier fails: the local
    /// decision stands.
    pub(super) async fn reserve_shared(
        &self,
        context: RequestContext,
    ) -> Result<RequestContext, Denial> {
        let (Some(limit), Some(spec), Some(snapshot)) = (
            self.reserving_limit(),
            &self.inner.metering,
            context.snapshot(),
        ) else {
            return Ok(context);
        };
        if snapshot.is_fallback() || !spec.enforce {
            return Ok(context);
        }
        let reserved = limit
            .reserve(
                context.customer_id(),
                snapshot,
                &spec.feature,
                spec.amount,
                spec.amount,
            )
            .await;
        let Some(reservation) = reserved else {
            return Ok(context);
        };
        if reservation.granted().is_some() {
            context.hold(reservation);
            return Ok(context);
        }
        // Dropping the context gives back the units it holds locally.
        // The shared limit is the judge: nothing remains, whatever the local count.
        let quota = snapshot
            .hard_feature(&spec.feature)
            .and_then(|hard| snapshot.quota_counts(hard))
            .map(|counts| Quota::exhausted(counts.limit, counts.used, counts.reset_at));
        Err(self.limit_answer().denial(&spec.feature, quota))
    }

    /// Reserves `units` more on the gate's shared limit for a handler's hold
    /// ([`RequestContext::reserve`]): the units it granted (fewer when it has fewer left,
    /// 0 at its limit); all of them without a shared limit that reserves, on fallback
    /// entitlements, or when the tier fails (the local hold stands).
    pub(in crate::gate) async fn reserve_more(&self, context: &RequestContext, units: i64) -> i64 {
        let (Some(limit), Some(spec), Some(snapshot)) = (
            self.reserving_limit(),
            &self.inner.metering,
            context.snapshot(),
        ) else {
            return units;
        };
        if snapshot.is_fallback() || !spec.enforce {
            return units;
        }
        let reserved = limit
            .reserve(context.customer_id(), snapshot, &spec.feature, units, 1)
            .await;
        let Some(reservation) = reserved else {
            return units;
        };
        match reservation.granted() {
            Some(granted) => {
                context.hold(reservation);
                granted
            }
            None => 0,
        }
    }

    /// The gate's shared limit, when admissions reserve on it.
    fn reserving_limit(&self) -> Option<&dyn SharedLimit> {
        self.inner
            .shared_limit
            .as_deref()
            .filter(|_| self.inner.reserves_shared)
    }

    /// Counts `amount` units of `feature` recorded for the request's customer on the
    /// gate's shared limit, if it has one that does not reserve (fast limits: synced in
    /// the background; a strict one counted them when they were reserved).
    #[inline]
    pub(super) fn record_shared(&self, context: &RequestContext, feature: &str, amount: i64) {
        if let Some(limit) = &self.inner.shared_limit
            && !self.inner.reserves_shared
        {
            limit.record(context.shared_customer_id(), feature, amount);
        }
    }

    /// Settles the request's reservations on the gate's shared limit, if it reserves: the
    /// units [`Gate::finish`] recorded stay counted, the rest is given back.
    #[inline]
    pub(super) fn settle_shared(&self, context: &RequestContext, metered: &Metered) {
        if !self.inner.reserves_shared {
            return;
        }
        let kept = match metered {
            Metered::Recorded { amount } | Metered::Capped { amount, .. } => *amount,
            _ => 0,
        };
        context.settle_reservations(kept);
    }
}
