//! The gate's shared limits (cargo feature `redis`): strict ones reserve on the fleet's
//! counter when admitting and settle the reservation when finishing; fast ones count the
//! units recorded, synced in the background.

use std::sync::Arc;

use super::Gate;
use crate::fleet::{Fleet, FleetLimits, Reserved};
use crate::gate::context::RequestContext;
use crate::gate::decision::{Admission, Admitting};
use crate::gate::denial::Denial;
use crate::gate::metering::Metered;

impl Gate {
    /// For a gate with strict fleet limits, the admission of a request the local decision
    /// let through: a future that reserves on the fleet's counter first. The context back
    /// for other gates.
    pub(super) fn reserving(&self, context: RequestContext) -> Result<Admission, RequestContext> {
        if self.strict_fleet().is_none() {
            return Err(context);
        }
        let gate = self.clone();
        Ok(Admission::Loading(Admitting::new(async move {
            gate.reserve(context).await
        })))
    }

    /// Reserves the gate's metered amount on the fleet's shared counter for a request the
    /// snapshot allows. Refused → the limit is reached across the fleet. Without strict
    /// limits, without a snapshot (let through by the failure policy), on fallback
    /// entitlements, for a feature without a hard limit, or when Redis fails: the local
    /// decision stands.
    pub(super) async fn reserve(&self, context: RequestContext) -> Result<RequestContext, Denial> {
        let (Some(fleet), Some(spec), Some(snapshot)) = (
            self.strict_fleet(),
            &self.inner.metering,
            context.snapshot(),
        ) else {
            return Ok(context);
        };
        if snapshot.is_fallback() || !spec.enforce {
            return Ok(context);
        }
        match fleet
            .reserve(
                context.customer_id(),
                snapshot,
                &spec.feature,
                spec.amount,
                spec.amount,
            )
            .await
        {
            Reserved::Granted(reservation) => {
                context.hold(reservation);
                Ok(context)
            }
            // Dropping the context gives back the units it holds locally.
            // The fleet's counter is the judge: nothing remains, whatever the local count.
            Reserved::Refused => {
                let quota = snapshot
                    .hard_feature(&spec.feature)
                    .and_then(|hard| snapshot.quota_counts(hard))
                    .map(|counts| {
                        crate::gate::quota::Quota::exhausted(
                            counts.limit,
                            counts.used,
                            counts.reset_at,
                        )
                    });
                Err(self.limit_answer().denial(&spec.feature, quota))
            }
            Reserved::Unlimited | Reserved::Fallback => Ok(context),
        }
    }

    /// In a strict fleet, reserves `units` more on the fleet's counter for a handler's
    /// hold ([`RequestContext::reserve`]): the units the fleet granted (fewer when it has
    /// fewer left, 0 at its limit); all of them without strict limits, on fallback
    /// entitlements, or when Redis fails (the local hold stands).
    pub(in crate::gate) async fn reserve_more(&self, context: &RequestContext, units: i64) -> i64 {
        let (Some(fleet), Some(spec), Some(snapshot)) = (
            self.strict_fleet(),
            &self.inner.metering,
            context.snapshot(),
        ) else {
            return units;
        };
        if snapshot.is_fallback() || !spec.enforce {
            return units;
        }
        match fleet
            .reserve(context.customer_id(), snapshot, &spec.feature, units, 1)
            .await
        {
            Reserved::Granted(reservation) => {
                let granted = reservation.granted();
                context.hold(reservation);
                granted
            }
            Reserved::Refused => 0,
            Reserved::Unlimited | Reserved::Fallback => units,
        }
    }

    /// The fleet to reserve on, when the gate's limits are strict.
    fn strict_fleet(&self) -> Option<&Arc<Fleet>> {
        match &self.inner.fleet_limits {
            Some((FleetLimits::Strict, fleet)) => Some(fleet),
            _ => None,
        }
    }

    /// Under fast limits, counts `amount` units of `feature` recorded for the request's
    /// customer, to be synced with the fleet.
    pub(super) fn record_fast(&self, context: &RequestContext, feature: &str, amount: i64) {
        if let Some((FleetLimits::Fast, fleet)) = &self.inner.fleet_limits {
            fleet.record_fast(context.shared_customer_id(), feature, amount);
        }
    }
}

/// Settles the request's reservations on the fleet's counter, if it holds any: the units
/// [`Gate::finish`] recorded stay counted, the rest is given back.
pub(super) fn settle_reservation(context: &RequestContext, metered: &Metered) {
    let kept = match metered {
        Metered::Recorded { amount } | Metered::Capped { amount, .. } => *amount,
        _ => 0,
    };
    context.settle_reservations(kept);
}
