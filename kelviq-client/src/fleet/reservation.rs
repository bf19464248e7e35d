//! Strict shared limits: an atomic reservation on the customer's shared usage counter
//! before the handler runs, given back unless the response is a success.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use redis::Script;

use super::lease::millis;
use super::stats::Event;
use super::{Fleet, Shared};
use crate::cache::Snapshot;
use crate::models::{Entitlement, FeatureType};

/// How a gate's metered feature counts against its hard limit across a fleet
/// ([`GateBuilder::fleet_limits`](crate::gate::GateBuilder::fleet_limits); only on a
/// client built with a [fleet](crate::KelviqBuilder::fleet)).
///
/// Without it, each instance judges the limit on its own snapshot: N instances can pass a
/// hard limit by up to N-fold between refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetLimits {
    /// An atomic reservation in Redis before the handler runs: `used + amount ≤ limit`
    /// on the customer's shared counter, else the request is refused as
    /// [`LimitReached`](crate::gate::DenialReason::LimitReached); given back when the
    /// response is not a success. A hard limit is never passed across the fleet. Costs
    /// one Redis round trip per request of a hard-limited meter (no decision is
    /// [`Ready`](crate::gate::Admission::Ready) any more). Redis failing or slow: the
    /// local decision stands. See [`fleet`](super) for how the counter is seeded.
    Strict,
    /// Judged on the local snapshot, with no Redis on the request path (decisions stay
    /// [`Ready`](crate::gate::Admission::Ready) on a warm cache); every
    /// [sync interval](super::FleetConfig::sync_interval) each instance adds the units it
    /// admitted to the same shared counters and applies what the other instances used to
    /// its snapshot, so access flips fleet-wide within about one interval.
    ///
    /// The limit can be passed, by at most `(N − 1) × A + (N + 1) × C × a` units across `N`
    /// instances, where `A` is the most units one instance admits from one sync round to
    /// the next one applied (about its admission rate times the interval plus a round trip;
    /// [`FleetStats::limit_sync_max_units`](super::FleetStats::limit_sync_max_units)
    /// measures it), `C` the requests one instance runs at once and `a` the metered amount
    /// per request (requests in flight when the local limit tripped). See
    /// [`fleet`](super) for the derivation. Redis failing or slow: each instance judges the
    /// limit alone.
    Fast,
}

/// `used + max(amount, 1) ≤ limit` on the counter (seeded from `ARGV[3]` when missing),
/// then adds `amount`. `KEYS`: counter; `ARGV`: amount, limit, seed, counter TTL ms.
/// Answers `{1, used}` granted or `{0, used}` refused.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local used = redis.call('GET', KEYS[1])
if used then used = tonumber(used) else used = tonumber(ARGV[3]) end
local amount = tonumber(ARGV[1])
local need = amount
if need < 1 then need = 1 end
if used + need > tonumber(ARGV[2]) then
  return {0, used}
end
redis.call('SET', KEYS[1], used + amount, 'PX', ARGV[4])
return {1, used + amount}
",
    )
});

/// Adds `ARGV[1]` (negative: gives back) to an existing counter; a counter that is gone
/// (expired, Redis restarted) is not made up. `KEYS`: counter.
static ADJUST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return 0
",
    )
});

/// Lua numbers are doubles: integers beyond ±2^53 are pinned there on the way in.
const LUA_EXACT: i64 = 1 << 53;

pub(super) fn lua_safe(value: i64) -> i64 {
    value.clamp(-LUA_EXACT, LUA_EXACT)
}

/// The hard limit a feature is shared under, and its usage period (Kelviq's `resetAt`,
/// empty when none): only metered features with a hard limit are.
pub(super) fn shared_limit(entitlement: &Entitlement) -> Option<(i64, &str)> {
    if entitlement.feature_type() != Some(&FeatureType::Meter) || !entitlement.hard_limit() {
        return None;
    }
    let limit = entitlement.limit()?;
    let period = entitlement
        .items()
        .iter()
        .find_map(|item| item.reset_at.as_deref())
        .unwrap_or("");
    Some((limit, period))
}

/// What a reservation came to.
#[derive(Debug)]
pub(crate) enum Reserved {
    /// Granted: hold it until the response is known.
    Granted(Reservation),
    /// The limit is reached across the fleet.
    Refused,
    /// Nothing to reserve: the feature has no hard limit in the snapshot.
    Unlimited,
    /// Redis failed or was too slow: the local decision stands.
    Fallback,
}

/// Units reserved on a shared counter for one request. Settled once: kept (a success),
/// adjusted to the amount really metered, or given back — when dropped unsettled too, so
/// that a request cancelled before its response gives its units back.
pub(crate) struct Reservation {
    shared: Arc<Shared>,
    counter: String,
    amount: i64,
    settled: AtomicBool,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("amount", &self.amount)
            .field("settled", &self.settled.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// Reserves `amount` of `feature_id` for the customer, against the hard limit in
    /// `snapshot`.
    pub(crate) async fn reserve(
        &self,
        customer_id: &str,
        snapshot: &Snapshot,
        feature_id: &str,
        amount: i64,
    ) -> Reserved {
        let fetched = snapshot.fetched(feature_id);
        let Some((limit, period)) = fetched.as_ref().and_then(shared_limit) else {
            return Reserved::Unlimited;
        };
        self.start();
        let shared = &self.shared;
        // The first reservation of a period seeds the counter with this instance's view:
        // Kelviq's usage plus the units this instance has not delivered yet.
        let seed = snapshot
            .get(feature_id)
            .and_then(|entitlement| entitlement.usage())
            .unwrap_or(0);
        let amount = lua_safe(amount.max(0));
        let counter = shared
            .keys
            .customer(customer_id)
            .counter(feature_id, period);
        let mut invocation = RESERVE.prepare_invoke();
        invocation
            .key(&counter)
            .arg(amount)
            .arg(lua_safe(limit))
            .arg(lua_safe(seed))
            .arg(millis(shared.counter_ttl));
        match shared
            .redis
            .run::<(i64, i64)>("reserve", &invocation, &shared.counters)
            .await
        {
            Ok((1, _)) => {
                shared.count(Event::ReservationGranted);
                Reserved::Granted(Reservation {
                    shared: Arc::clone(shared),
                    counter,
                    amount,
                    settled: AtomicBool::new(false),
                })
            }
            Ok(_) => {
                shared.count(Event::ReservationRefused);
                Reserved::Refused
            }
            Err(_) => {
                shared.count(Event::ReservationFallback);
                Reserved::Fallback
            }
        }
    }
}

impl Reservation {
    /// Settles the reservation: `kept` units stay counted (the amount metered on a
    /// success; 0 gives everything back). Only the first call counts; the update runs in
    /// the background.
    pub(crate) fn settle(&self, kept: i64) {
        if self.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        let kept = lua_safe(kept.max(0));
        if kept == 0 {
            self.shared.count(Event::ReservationReleased);
        }
        let delta = kept.saturating_sub(self.amount);
        if delta == 0 {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let counter = self.counter.clone();
        self.shared.spawn_background(None, async move {
            let mut invocation = ADJUST.prepare_invoke();
            invocation.key(&counter).arg(delta);
            let _ = shared
                .redis
                .run::<i64>("settle reservation", &invocation, &shared.counters)
                .await;
        });
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.settle(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Entitlements, RawEntitlements};

    #[test]
    fn only_hard_limited_meters_are_shared_with_their_period() {
        let raw: RawEntitlements = serde_json::from_value(serde_json::json!({
            "customerId": "c",
            "entitlements": [
                {"featureId": "hard", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 10, "currentUsage": 7,
                 "resetAt": "2026-02-01 00:00:00"},
                {"featureId": "soft", "featureType": "METER", "hasAccess": true,
                 "hardLimit": false, "usageLimit": 10, "currentUsage": 7},
                {"featureId": "unlimited", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": null},
                {"featureId": "no-period", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 3},
                {"featureId": "seats", "featureType": "CUSTOMIZABLE", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 10}
            ]
        }))
        .unwrap();
        let all = Entitlements::from_raw(raw);
        let shared = |id| all.get(id).and_then(shared_limit);
        assert_eq!(shared("hard"), Some((10, "2026-02-01 00:00:00")));
        assert_eq!(shared("no-period"), Some((3, "")));
        assert_eq!(shared("soft"), None);
        assert_eq!(shared("unlimited"), None);
        assert_eq!(shared("seats"), None);
    }

    #[test]
    fn lua_numbers_stay_exact() {
        assert_eq!(lua_safe(i64::MAX), 1 << 53);
        assert_eq!(lua_safe(i64::MIN), -(1 << 53));
        assert_eq!(lua_safe(1000), 1000);
    }
}
