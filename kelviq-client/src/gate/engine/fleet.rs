//! The gate's shared limits (cargo feature `redis`): strict ones reserve on the fleet's
//! counter when admitting and settle the reservation when finishing; fast ones count the
//! units recorded, synced in the background.

use std::sync::Arc;

use super::Gate;
use crate::cache::Snapshot;
use crate::fleet::{Fleet, FleetLimits, Reserved};
use crate::gate::context::{RequestContext, UsageAmount};
use crate::gate::decision::{Admission, Admitting};
use crate::gate::denial::Denial;

impl Gate {
    /// For a gate with strict fleet limits, the admission of a request its snapshot
    /// allows: a future that reserves first. `None` for other gates.
    pub(super) fn reserving(
        &self,
        customer_id: &Arc<str>,
        snapshot: &Arc<Snapshot>,
    ) -> Option<Admission> {
        self.strict_fleet()?;
        let gate = self.clone();
        let context = self.context(Arc::clone(customer_id), Some(Arc::clone(snapshot)), false);
        Some(Admission::Loading(Admitting::new(async move {
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
        if snapshot.is_fallback() {
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
            Reserved::Refused => Err(Denial::limit_reached(spec.feature.clone())
                .with_status(self.inner.limit_reached_status)),
            Reserved::Unlimited | Reserved::Fallback => Ok(context),
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

    /// Settles the request's reservation, if it holds one: a success keeps the amount
    /// metered (as [`Gate::finish`] resolves it), anything else gives it all back.
    pub(super) fn settle_reservation(
        &self,
        context: &RequestContext,
        status: u16,
        response_amount: Option<UsageAmount>,
    ) {
        let Some(reservation) = context.reservation() else {
            return;
        };
        let kept = match &self.inner.metering {
            Some(spec) if self.inner.success.matches(status) => response_amount
                .map(|amount| amount.0)
                .or_else(|| context.usage_amount())
                .unwrap_or(spec.amount),
            _ => 0,
        };
        reservation.settle(kept);
    }
}
