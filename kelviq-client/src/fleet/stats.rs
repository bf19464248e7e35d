//! [`FleetStats`]: what the fleet did, and every time it fell back to single-instance
//! behaviour; and the rate-limited warning that goes with a fallback.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Fleet;
use crate::client::Kelviq;
use crate::sync::lock;

/// Counters of one client's use of its fleet, from
/// [`Kelviq::fleet_stats`](crate::Kelviq::fleet_stats).
///
/// With the cargo feature `metrics`, the same events are counted as
/// `kelviq_fleet_*_total`, and the subscriber's state is the gauge
/// [`FLEET_SUBSCRIBER_CONNECTED`] (see [`fleet`](super)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FleetStats {
    /// Snapshots taken from Redis, loaded by another instance (or earlier by this one).
    pub snapshots_shared: u64,
    /// Snapshots this instance loaded from Kelviq holding the fleet's lease, and stored.
    pub snapshots_loaded: u64,
    /// Times a load waited for another instance's (a lease held elsewhere).
    pub load_waits: u64,
    /// Loads done alone, without Redis, because Redis failed or was too slow.
    pub load_fallbacks: u64,
    /// Invalidations this instance published (a webhook or an explicit invalidate).
    pub invalidations_sent: u64,
    /// Invalidations received from other instances and applied to the local cache.
    pub invalidations_received: u64,
    /// Strict-limit reservations granted by Redis.
    pub reservations_granted: u64,
    /// Strict-limit reservations refused by Redis: the limit was reached fleet-wide.
    pub reservations_refused: u64,
    /// Reservations released (the response was not a success, or it was dropped).
    pub reservations_released: u64,
    /// Reservations given back by their guard because the admission was dropped (a client
    /// disconnect, an outer timeout) before it handed them over: before its script was
    /// sent, while it ran or after it answered. Released by id in the background.
    pub reservations_cancelled: u64,
    /// Holds whose lease ran out in Redis (their instance vanished, or could not renew
    /// them) and whose units this instance's scripts returned to the limit.
    pub holds_expired: u64,
    /// Reservations decided locally because Redis failed or was too slow.
    pub reservation_fallbacks: u64,
    /// Redis commands that failed or timed out (each one fell back).
    pub redis_errors: u64,
    /// Times the subscriber (re)subscribed after a failure or a disconnect; each time the
    /// local cache was emptied, since invalidations may have been missed meanwhile.
    pub subscriber_reconnects: u64,
    /// Whether the subscriber is subscribed to the fleet's channel now: `false` before the
    /// fleet's first use, while it reconnects (invalidations from other instances are not
    /// heard meanwhile) and once the client is dropped.
    pub subscriber_connected: bool,
    /// Background Redis updates (releases, invalidations) dropped because too many were
    /// in flight, and strict holds left without renewal because too many were tracked
    /// (such a hold lapses after the hold time, its request still running).
    pub background_dropped: u64,
    /// Units of the fleet's durable usage this instance delivered to Kelviq as holder of
    /// the delivery lease (whoever pushed them; see [`MeterStats::pushed`](crate::meter::MeterStats::pushed)).
    pub usage_delivered: i128,
    /// Units this instance took from Redis and reported with an unknown outcome (or could
    /// not settle): never delivered again.
    pub usage_unknown: i128,
    /// Units this instance took from Redis and Kelviq refused (`4xx`).
    pub usage_failed: i128,
    /// Reports of the fleet's usage refused before processing (`429`, `503`, connection
    /// refused) and given back to Redis to be delivered later.
    pub usage_given_back: u64,
    /// Fast-limit sync pipelines Redis answered.
    pub limit_syncs: u64,
    /// Fast-limit sync pipelines that failed or timed out, and keys whose sync Redis
    /// refused: the limits stayed local.
    pub limit_sync_fallbacks: u64,
    /// The most units of one customer's feature recorded here from the take of a fast-limit
    /// sync round whose total was applied to the next application (longer across rounds
    /// that failed): the `A` of the fast limits' overshoot bound (see
    /// [`FleetLimits::Fast`](super::FleetLimits::Fast)).
    pub limit_sync_max_units: u64,
    /// Customer and feature pairs judged locally only under fast limits, because too many
    /// were tracked already.
    pub limit_sync_untracked: u64,
}

/// The unit totals of the fleet's usage this instance delivered.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DeliveredUnits {
    pub(crate) delivered: i128,
    pub(crate) unknown: i128,
    pub(crate) failed: i128,
}

/// The live counters behind [`FleetStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) snapshots_shared: AtomicU64,
    pub(crate) snapshots_loaded: AtomicU64,
    pub(crate) load_waits: AtomicU64,
    pub(crate) load_fallbacks: AtomicU64,
    pub(crate) invalidations_sent: AtomicU64,
    pub(crate) invalidations_received: AtomicU64,
    pub(crate) reservations_granted: AtomicU64,
    pub(crate) reservations_refused: AtomicU64,
    pub(crate) reservations_released: AtomicU64,
    pub(crate) reservations_cancelled: AtomicU64,
    pub(crate) holds_expired: AtomicU64,
    pub(crate) reservation_fallbacks: AtomicU64,
    pub(crate) redis_errors: AtomicU64,
    pub(crate) subscriber_reconnects: AtomicU64,
    pub(crate) subscriber_connected: AtomicBool,
    pub(crate) background_dropped: AtomicU64,
    pub(crate) usage_given_back: AtomicU64,
    pub(crate) limit_syncs: AtomicU64,
    pub(crate) limit_sync_fallbacks: AtomicU64,
    pub(crate) limit_sync_max_units: AtomicU64,
    pub(crate) limit_sync_untracked: AtomicU64,
    pub(crate) delivered: Mutex<DeliveredUnits>,
}

/// One fleet event, counted in [`Counters`] and, with the `metrics` feature, in the
/// `metrics` facade.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    SnapshotShared,
    SnapshotLoaded,
    LoadWait,
    LoadFallback,
    InvalidationSent,
    InvalidationReceived,
    ReservationGranted,
    ReservationRefused,
    ReservationReleased,
    ReservationCancelled,
    HoldExpired,
    ReservationFallback,
    RedisError,
    SubscriberReconnect,
    BackgroundDropped,
    LimitSync,
    LimitSyncFallback,
    LimitSyncUntracked,
}

impl Counters {
    pub(crate) fn count(&self, event: Event) {
        self.add(event, 1);
    }

    /// Counts `times` occurrences of `event` at once.
    pub(crate) fn add(&self, event: Event, times: u64) {
        if times == 0 {
            return;
        }
        let counter = match event {
            Event::SnapshotShared => &self.snapshots_shared,
            Event::SnapshotLoaded => &self.snapshots_loaded,
            Event::LoadWait => &self.load_waits,
            Event::LoadFallback => &self.load_fallbacks,
            Event::InvalidationSent => &self.invalidations_sent,
            Event::InvalidationReceived => &self.invalidations_received,
            Event::ReservationGranted => &self.reservations_granted,
            Event::ReservationRefused => &self.reservations_refused,
            Event::ReservationReleased => &self.reservations_released,
            Event::ReservationCancelled => &self.reservations_cancelled,
            Event::HoldExpired => &self.holds_expired,
            Event::ReservationFallback => &self.reservation_fallbacks,
            Event::RedisError => &self.redis_errors,
            Event::SubscriberReconnect => &self.subscriber_reconnects,
            Event::BackgroundDropped => &self.background_dropped,
            Event::LimitSync => &self.limit_syncs,
            Event::LimitSyncFallback => &self.limit_sync_fallbacks,
            Event::LimitSyncUntracked => &self.limit_sync_untracked,
        };
        counter.fetch_add(times, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        record(event, times);
    }

    /// Keeps the most units one key recorded between two applications of fast-limit
    /// rounds (from the first one's take).
    pub(crate) fn max_synced(&self, units: i64) {
        let units = u64::try_from(units).unwrap_or(0);
        self.limit_sync_max_units
            .fetch_max(units, Ordering::Relaxed);
    }

    /// Records whether the subscriber is subscribed now; the gauge moves on a change only.
    pub(crate) fn subscriber_connected(&self, connected: bool) {
        if self.subscriber_connected.swap(connected, Ordering::Relaxed) != connected {
            #[cfg(feature = "metrics")]
            record_connected(connected);
        }
    }

    /// Adds to the delivered unit totals.
    pub(crate) fn delivered(&self, change: impl FnOnce(&mut DeliveredUnits)) {
        change(&mut lock(&self.delivered));
    }

    pub(crate) fn snapshot(&self) -> FleetStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let delivered = *lock(&self.delivered);
        FleetStats {
            usage_delivered: delivered.delivered,
            usage_unknown: delivered.unknown,
            usage_failed: delivered.failed,
            usage_given_back: read(&self.usage_given_back),
            snapshots_shared: read(&self.snapshots_shared),
            snapshots_loaded: read(&self.snapshots_loaded),
            load_waits: read(&self.load_waits),
            load_fallbacks: read(&self.load_fallbacks),
            invalidations_sent: read(&self.invalidations_sent),
            invalidations_received: read(&self.invalidations_received),
            reservations_granted: read(&self.reservations_granted),
            reservations_refused: read(&self.reservations_refused),
            reservations_released: read(&self.reservations_released),
            reservations_cancelled: read(&self.reservations_cancelled),
            holds_expired: read(&self.holds_expired),
            reservation_fallbacks: read(&self.reservation_fallbacks),
            redis_errors: read(&self.redis_errors),
            subscriber_reconnects: read(&self.subscriber_reconnects),
            subscriber_connected: self.subscriber_connected.load(Ordering::Relaxed),
            background_dropped: read(&self.background_dropped),
            limit_syncs: read(&self.limit_syncs),
            limit_sync_fallbacks: read(&self.limit_sync_fallbacks),
            limit_sync_max_units: read(&self.limit_sync_max_units),
            limit_sync_untracked: read(&self.limit_sync_untracked),
        }
    }
}

/// Snapshots shared or loaded through the fleet (label `source` = `redis` | `loaded` |
/// `fallback`).
pub const FLEET_SNAPSHOTS: &str = "kelviq_fleet_snapshots_total";
/// Strict-limit reservations (label `result` = `granted` | `refused` | `released` |
/// `cancelled` (given back by the guard of a dropped admission) | `expired` (a hold whose
/// lease ran out, returned to the limit) | `fallback`).
pub const FLEET_RESERVATIONS: &str = "kelviq_fleet_reservations_total";
/// Invalidations (label `direction` = `sent` | `received`).
pub const FLEET_INVALIDATIONS: &str = "kelviq_fleet_invalidations_total";
/// Redis commands that failed or timed out, each followed by a fallback.
pub const FLEET_REDIS_ERRORS: &str = "kelviq_fleet_redis_errors_total";
/// Fast-limit sync pipelines (label `result` = `synced` | `fallback`).
pub const FLEET_LIMIT_SYNCS: &str = "kelviq_fleet_limit_syncs_total";
/// Subscriber reconnections.
pub const FLEET_SUBSCRIBER_RECONNECTS: &str = "kelviq_fleet_subscriber_reconnects_total";
/// Gauge: 1 while the fleet's subscriber is subscribed to its channel, 0 while it
/// reconnects (with several fleet clients in one process, how many are subscribed).
pub const FLEET_SUBSCRIBER_CONNECTED: &str = "kelviq_fleet_subscriber_connected";

#[cfg(feature = "metrics")]
fn record(event: Event, times: u64) {
    use metrics::counter;
    match event {
        Event::SnapshotShared => counter!(FLEET_SNAPSHOTS, "source" => "redis").increment(times),
        Event::SnapshotLoaded => {
            counter!(FLEET_SNAPSHOTS, "source" => "loaded").increment(times);
        }
        Event::LoadFallback => {
            counter!(FLEET_SNAPSHOTS, "source" => "fallback").increment(times);
        }
        Event::ReservationGranted => {
            counter!(FLEET_RESERVATIONS, "result" => "granted").increment(times);
        }
        Event::ReservationRefused => {
            counter!(FLEET_RESERVATIONS, "result" => "refused").increment(times);
        }
        Event::ReservationReleased => {
            counter!(FLEET_RESERVATIONS, "result" => "released").increment(times);
        }
        Event::ReservationCancelled => {
            counter!(FLEET_RESERVATIONS, "result" => "cancelled").increment(times);
        }
        Event::HoldExpired => {
            counter!(FLEET_RESERVATIONS, "result" => "expired").increment(times);
        }
        Event::ReservationFallback => {
            counter!(FLEET_RESERVATIONS, "result" => "fallback").increment(times);
        }
        Event::InvalidationSent => {
            counter!(FLEET_INVALIDATIONS, "direction" => "sent").increment(times);
        }
        Event::InvalidationReceived => {
            counter!(FLEET_INVALIDATIONS, "direction" => "received").increment(times);
        }
        Event::RedisError => counter!(FLEET_REDIS_ERRORS).increment(times),
        Event::SubscriberReconnect => counter!(FLEET_SUBSCRIBER_RECONNECTS).increment(times),
        Event::LimitSync => counter!(FLEET_LIMIT_SYNCS, "result" => "synced").increment(times),
        Event::LimitSyncFallback => {
            counter!(FLEET_LIMIT_SYNCS, "result" => "fallback").increment(times);
        }
        Event::LoadWait | Event::BackgroundDropped | Event::LimitSyncUntracked => {}
    }
}

/// Moves [`FLEET_SUBSCRIBER_CONNECTED`] by one: each fleet client adds 1 while subscribed.
#[cfg(feature = "metrics")]
fn record_connected(connected: bool) {
    let gauge = metrics::gauge!(FLEET_SUBSCRIBER_CONNECTED);
    if connected {
        gauge.increment(1.0);
    } else {
        gauge.decrement(1.0);
    }
}

pub(crate) use crate::log_limit::RateLimitedWarn;

/// Gives the fleet's metrics their help text and unit, for
/// [`telemetry::describe`](crate::telemetry::describe).
#[cfg(feature = "metrics")]
pub(crate) fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge};
    let counters = [
        (
            FLEET_SNAPSHOTS,
            "Entitlement snapshots had through the fleet, by source (redis, loaded, fallback)",
        ),
        (
            FLEET_RESERVATIONS,
            "Strict-limit reservations by result (granted, refused, released, cancelled, \
             expired, fallback)",
        ),
        (
            FLEET_INVALIDATIONS,
            "Fleet invalidations by direction (sent, received)",
        ),
        (
            FLEET_REDIS_ERRORS,
            "Redis commands that failed or timed out, each followed by a fallback",
        ),
        (
            FLEET_LIMIT_SYNCS,
            "Fast-limit sync pipelines by result (synced, fallback)",
        ),
        (
            FLEET_SUBSCRIBER_RECONNECTS,
            "Times the fleet's subscriber resubscribed; each emptied the local cache",
        ),
    ];
    for (name, help) in counters {
        describe_counter!(name, Unit::Count, help);
    }
    describe_gauge!(
        FLEET_SUBSCRIBER_CONNECTED,
        Unit::Count,
        "Whether the fleet's subscriber is subscribed to its channel (1) or reconnecting (0)"
    );
}

impl Kelviq {
    /// What the client's [fleet](crate::fleet) did (cargo feature `redis`); `None` for a
    /// client built without one.
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn fleet_stats(&self) -> Option<FleetStats> {
        Fleet::of(self).map(|fleet| fleet.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_its_counter() {
        let counters = Counters::default();
        for event in [
            Event::SnapshotShared,
            Event::SnapshotLoaded,
            Event::LoadWait,
            Event::LoadFallback,
            Event::InvalidationSent,
            Event::InvalidationReceived,
            Event::ReservationGranted,
            Event::ReservationRefused,
            Event::ReservationReleased,
            Event::ReservationCancelled,
            Event::HoldExpired,
            Event::ReservationFallback,
            Event::RedisError,
            Event::SubscriberReconnect,
            Event::BackgroundDropped,
            Event::LimitSync,
            Event::LimitSyncFallback,
            Event::LimitSyncUntracked,
        ] {
            counters.count(event);
        }
        let stats = counters.snapshot();
        let all = [
            stats.snapshots_shared,
            stats.snapshots_loaded,
            stats.load_waits,
            stats.load_fallbacks,
            stats.invalidations_sent,
            stats.invalidations_received,
            stats.reservations_granted,
            stats.reservations_refused,
            stats.reservations_released,
            stats.reservations_cancelled,
            stats.holds_expired,
            stats.reservation_fallbacks,
            stats.redis_errors,
            stats.subscriber_reconnects,
            stats.background_dropped,
            stats.limit_syncs,
            stats.limit_sync_fallbacks,
            stats.limit_sync_untracked,
        ];
        assert_eq!(all, [1; 18]);
        counters.add(Event::HoldExpired, 4);
        assert_eq!(counters.snapshot().holds_expired, 5);
    }

    #[test]
    fn the_subscriber_is_connected_only_while_it_says_so() {
        let counters = Counters::default();
        assert!(!counters.snapshot().subscriber_connected);
        counters.subscriber_connected(true);
        assert!(counters.snapshot().subscriber_connected);
        counters.subscriber_connected(false);
        assert!(!counters.snapshot().subscriber_connected);
    }

    /// The gauge is 1 while subscribed and 0 otherwise, however often a state is repeated.
    #[cfg(feature = "metrics")]
    #[test]
    fn the_connected_gauge_moves_on_changes_only() {
        use metrics_util::debugging::{DebugValue, DebuggingRecorder};

        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        // A snapshot takes the gauge's value and resets it: what it reads is the change
        // since the last one.
        let change = || {
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .find_map(|(key, _, _, value)| match value {
                    DebugValue::Gauge(value) if key.key().name() == FLEET_SUBSCRIBER_CONNECTED => {
                        Some(value.into_inner())
                    }
                    _ => None,
                })
                .unwrap_or(0.0)
        };
        let counters = Counters::default();
        let seen = metrics::with_local_recorder(&recorder, || {
            let mut gauge = 0.0;
            let mut seen = Vec::new();
            for connected in [true, true, false, false, true, false] {
                counters.subscriber_connected(connected);
                gauge += change();
                seen.push(gauge);
            }
            seen
        });
        assert_eq!(seen, [1.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
    }
}
