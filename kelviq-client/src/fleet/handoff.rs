//! The meter's hand-off in a fleet ([`SharedTier::hand_off`](crate::tier::SharedTier::hand_off)
//! and the rest): each flush pushes the collected usage to Redis, and while this instance
//! holds the delivery lease it delivers the fleet's usage; at shutdown it leaves.
//!
//! Per instance the units still balance, `recorded == sent + failed + unknown + pending`:
//! a unit handed to Redis counts `sent` (and `pushed`) — delivered to the fleet; a unit
//! Redis did not take stays pending here and is sent alone; a push whose answer was lost
//! stays pending (in flight) until Redis answers, and counts `unknown` if it never does.
//! What this instance delivers *for the fleet* is counted in
//! [`FleetStats`](crate::fleet::FleetStats), not here: those units were counted by their
//! pushers.

use futures::StreamExt;
use tokio::time::Instant;

use super::Fleet;
use super::usage::Taken;
use crate::meter::Shared as Meter;
use crate::meter::stats::Counters;
use crate::meter::worker::{MAX_WAIT, Reported, Settlement, after, report};
use crate::usage::{Batch, UsageLine};

/// The most keys pushed in one flush; the rest wait for the next one.
const MAX_PUSH_KEYS: usize = 10_000;

/// The most customers one delivery takes from Redis.
const MAX_TAKE: usize = 1_000;

/// Pushes the local backlog to Redis (every key, backoffs included: Redis is where they
/// wait now). What Redis does not take goes back to the backlog, due at once.
pub(super) async fn push(meter: &Meter, fleet: &Fleet) {
    let ledger = &meter.ledger;
    let counters = &meter.counters;
    let batches = {
        let mut backlog = ledger.backlog();
        let batches = backlog.take_due(after(MAX_WAIT), MAX_PUSH_KEYS, ledger.entries());
        let taken = units(&batches);
        counters.units(|units| units.in_flight = units.in_flight.saturating_add(taken));
        batches
    };
    let outcome = fleet.push(batches).await;
    let (pushed, unknown) = (units(&outcome.pushed), units(&outcome.unknown));
    let returned = units(&outcome.returned);
    {
        let mut backlog = ledger.backlog();
        counters.units(|units| {
            units.in_flight = units
                .in_flight
                .saturating_sub(pushed.saturating_add(unknown).saturating_add(returned));
            units.sent = units.sent.saturating_add(pushed);
            units.pushed = units.pushed.saturating_add(pushed);
            units.unknown = units.unknown.saturating_add(unknown);
        });
        backlog.settled(
            outcome.pushed.len().saturating_add(outcome.unknown.len()),
            ledger.entries(),
        );
        let now = Instant::now();
        for batch in outcome.returned {
            backlog.put_back(batch, now, ledger.entries());
        }
    }
    crate::telemetry::meter_pushed(pushed);
    lost(counters, outcome.unknown);
}

/// Counts pushes given up in limbo: they may be in Redis, so they are never sent again.
fn lost(counters: &Counters, batches: Vec<Batch>) {
    for batch in batches {
        let line = batch.line;
        tracing::warn!(
            customer_id = line.customer_id,
            feature_id = line.feature_id,
            units = line.units,
            "usage pushed to redis without an answer; outcome unknown, not resent"
        );
        crate::telemetry::meter_lost(line.units.into());
        Counters::keep(&counters.unknown_lines, line);
    }
}

/// The sum of the batches' units.
fn units(batches: &[Batch]) -> i128 {
    batches.iter().fold(0i128, |sum, batch| {
        sum.saturating_add(batch.line.units.into())
    })
}

/// While this instance holds (or takes) the delivery lease: delivers the fleet's pending
/// usage of up to `quota` customers, the longest waiting first, within the report budget.
/// Returns how many entries were taken (0: nothing to deliver, or not the holder).
pub(super) async fn deliver(meter: &Meter, fleet: &Fleet, quota: usize) -> usize {
    let lease = fleet.delivery_lease(meter.config.flush_interval);
    if !fleet.claim_delivery(lease).await {
        return 0;
    }
    let taken = fleet.take(quota.min(MAX_TAKE)).await;
    let count = taken.len();
    futures::stream::iter(taken)
        .for_each_concurrent(meter.config.concurrency, |taken| {
            deliver_one(meter, fleet, taken)
        })
        .await;
    count
}

/// Reports one entry taken from Redis and settles it there.
async fn deliver_one(meter: &Meter, fleet: &Fleet, taken: Taken) {
    let line = UsageLine {
        customer_id: taken.customer_id.clone(),
        feature_id: taken.feature_id.clone(),
        units: taken.units,
    };
    let units = i128::from(taken.units);
    let settlement = match report(meter, &line, 0).await {
        Reported::Settled { settlement, .. } => settlement,
        // No budget slot before the shutdown deadline: not sent.
        Reported::NotSent(_) => Settlement::Retry,
    };
    let back = matches!(settlement, Settlement::Retry);
    fleet.count_delivered(|totals| match settlement {
        Settlement::Sent => totals.delivered = totals.delivered.saturating_add(units),
        Settlement::Failed => totals.failed = totals.failed.saturating_add(units),
        Settlement::Unknown => totals.unknown = totals.unknown.saturating_add(units),
        Settlement::Retry => {}
    });
    if back {
        fleet.count_given_back();
    }
    let settled = fleet.settle(&taken, back).await;
    if !settled && !back {
        tracing::debug!("kelviq fleet: a delivered usage entry stays in flight (not resent)");
    }
}

/// A shutdown, after the local drain: resolves pushes in limbo (what Redis still does not
/// answer for counts unknown), delivers the fleet's usage until the deadline when this
/// instance holds (or takes) the lease, and gives the lease up for another instance.
pub(super) async fn leave(meter: &Meter, fleet: &Fleet, deadline: Instant) {
    let outcome = fleet.push(Vec::new()).await;
    let mut rest = fleet.abandon_limbo();
    rest.extend(outcome.unknown);
    let ledger = &meter.ledger;
    {
        let mut backlog = ledger.backlog();
        let (pushed, unknown) = (units(&outcome.pushed), units(&rest));
        meter.counters.units(|units| {
            units.in_flight = units
                .in_flight
                .saturating_sub(pushed.saturating_add(unknown));
            units.sent = units.sent.saturating_add(pushed);
            units.pushed = units.pushed.saturating_add(pushed);
            units.unknown = units.unknown.saturating_add(unknown);
        });
        backlog.settled(
            outcome.pushed.len().saturating_add(rest.len()),
            ledger.entries(),
        );
    }
    crate::telemetry::meter_pushed(units(&outcome.pushed));
    lost(&meter.counters, rest);
    while Instant::now() < deadline && deliver(meter, fleet, MAX_TAKE).await > 0 {}
    fleet.release_delivery().await;
}
