//! The shared tier: what the cache, the gate and the meter ask of the other instances of
//! the service, through a small interface — [`SharedTier`], and for a gate's shared hard
//! limit [`SharedLimit`] and [`SharedReservation`]. [`Alone`] answers for an instance on
//! its own (the default: it asks nobody); a fleet on Redis (cargo feature `redis`,
//! [`crate::fleet`]) is the other implementation, chosen once, by the client's builder.
//!
//! | who | asks | alone | in a fleet |
//! |---|---|---|---|
//! | cache | [`SharedTier::load`] a customer's entitlements | fetched from Kelviq | read from Redis, or loaded for the whole fleet under a lease, with the fleet's pending usage |
//! | client | [`SharedTier::invalidate`] a customer (after its own cache forgot it) | nothing | deleted in Redis and published to every instance |
//! | the tier | the cache's [`LocalCache`](crate::cache::LocalCache), handed over when the cache is built | unused | the subscriber drops invalidated snapshots through it; fast limits read and raise fresh ones |
//! | gate | a [`SharedLimit`]: reserve before the handler and settle after (strict), or count what was recorded (fast) | none: the gate holds in the usage ledger only | [`FleetLimits`](crate::fleet::FleetLimits) |
//! | meter | [`hand_off`](SharedTier::hand_off) its collected usage, [`deliver`](SharedTier::deliver) the tier's, [`leave`](SharedTier::leave) at shutdown | nothing: the meter delivers its own | durable usage in Redis, delivered by the lease holder |
//!
//! What the core may know, and what it must not: the cache, gate and meter call these
//! traits and build their own types from the answers (a [`Fetched`] becomes a
//! [`Snapshot`] in the cache); none of them names the fleet, and no `#[cfg]` of the
//! feature appears in them. Invalidations reach the cache through the
//! [`LocalCache`](crate::cache::LocalCache) it handed out, never through a pointer back to the cache; that handle cannot start a load
//! (a load goes through the tier, so a handle that could would be a cycle).
//!
//! Cost alone: a load and a flush of the meter make one dynamic call each, off the request
//! path (a load waits on Kelviq anyway). A gate without a shared limit keeps `None` and a
//! plain flag, read once per request: its warm path does no more than without the seam.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::time::Instant;

use crate::cache::Snapshot;
use crate::error::Result;
use crate::http::Transport;
use crate::meter::Shared as Meter;
use crate::models::Entitlements;

/// The other instances, as the cache, the client and the meter see them. See the
/// [module documentation](self).
pub(crate) trait SharedTier: Any + Send + Sync + fmt::Debug {
    /// The customer's entitlements for the cache to store: fetched from Kelviq within
    /// `deadline`, or shared by another instance. Runs on the cache's load task.
    fn load<'a>(
        &'a self,
        transport: &'a Transport,
        customer_id: &'a str,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Fetched>>;

    /// Tells the other instances that the customer's entitlements changed; this
    /// instance's cache forgets them itself. Returns at once.
    fn invalidate(&self, customer_id: &str);

    /// Before a flush of the meter sends anything: takes the usage the meter collected, to
    /// deliver it from the tier. What it does not take stays in the meter's backlog, sent
    /// by the meter itself. By default, a tier takes none.
    fn hand_off<'a>(&'a self, meter: &'a Meter) -> BoxFuture<'a, ()> {
        let _ = meter;
        futures::future::ready(()).boxed()
    }

    /// After a flush of the meter sent its own: delivers the tier's pending usage, up to
    /// `quota` customers, when this instance is the one that delivers it. By default,
    /// there is none.
    fn deliver<'a>(&'a self, meter: &'a Meter, quota: usize) -> BoxFuture<'a, ()> {
        let _ = (meter, quota);
        futures::future::ready(()).boxed()
    }

    /// The meter's shutdown, after its own drain: settles what the tier still owes the
    /// meter, delivers until `deadline`, and leaves the delivery to the others. By
    /// default, nothing to do.
    fn leave<'a>(&'a self, meter: &'a Meter, deadline: Instant) -> BoxFuture<'a, ()> {
        let _ = (meter, deadline);
        futures::future::ready(()).boxed()
    }
}

/// A gate's shared hard limit: the hard limit of the gate's metered feature, held across
/// the instances. A gate without one judges it on its own snapshot and usage ledger.
pub(crate) trait SharedLimit: Send + Sync + fmt::Debug {
    /// Whether a request reserves its units on the shared limit before its handler runs
    /// (strict); otherwise requests are judged locally and the units they record are
    /// counted afterwards ([`SharedLimit::record`]: fast).
    fn reserves(&self) -> bool;

    /// Reserves `amount` units of `feature_id` for the customer — or, when the shared
    /// limit leaves fewer, as many as it leaves if that is at least `at_least` — against
    /// the limit in `snapshot`.
    ///
    /// `None`: nothing shared decides (the feature has no shared limit in the snapshot,
    /// or the tier failed): the local decision stands. Otherwise the reservation, granted
    /// or refused.
    ///
    /// Cancel-safe: the future may be dropped at any point, and whatever it was granted is
    /// given back.
    fn reserve<'a>(
        &'a self,
        customer_id: &'a str,
        snapshot: &'a Snapshot,
        feature_id: &'a str,
        amount: i64,
        at_least: i64,
    ) -> BoxFuture<'a, Option<Box<dyn SharedReservation>>>;

    /// Counts `units` of `feature_id` a request of the customer recorded (fast limits;
    /// nothing for strict ones, whose holds count them).
    fn record(&self, customer_id: &Arc<str>, feature_id: &str, units: i64);
}

/// What a [`SharedLimit`] answered one reservation: units granted, held until the
/// request settles them (dropped unsettled, it gives them all back), or a refusal.
pub(crate) trait SharedReservation: Send + fmt::Debug {
    /// The units granted; `None` when the shared limit refused (it leaves fewer than
    /// asked for at least).
    fn granted(&self) -> Option<i64>;

    /// Keeps `kept` units counted (more than granted adds the difference, 0 gives
    /// everything back). Only the first call counts; nothing for a refusal.
    fn settle(&self, kept: i64);
}

/// A customer's entitlements as the tier had them, for the cache to make a [`Snapshot`]
/// of.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) entitlements: Entitlements,
    /// When Kelviq answered, when that was before now (another instance fetched them):
    /// the snapshot ages from then.
    pub(crate) fetched_at: Option<Instant>,
    /// The customer's usage the tier holds and Kelviq's answer cannot include yet
    /// (feature, units).
    pub(crate) pending: Vec<(String, i64)>,
}

impl Fetched {
    /// Entitlements Kelviq answered just now, with nothing pending.
    pub(crate) fn now(entitlements: Entitlements) -> Self {
        Fetched {
            entitlements,
            fetched_at: None,
            pending: Vec::new(),
        }
    }

    /// The snapshot of these entitlements, aged from their fetch and counting the
    /// pending usage.
    pub(crate) fn into_snapshot(self) -> Snapshot {
        let snapshot = match self.fetched_at {
            Some(fetched_at) => Snapshot::fetched_at_time(self.entitlements, fetched_at),
            None => Snapshot::new(self.entitlements),
        };
        for (feature_id, units) in self.pending {
            snapshot.apply_usage(&feature_id, units, false);
        }
        snapshot
    }
}

/// The tier of an instance on its own: loads fetch from Kelviq, and nobody else is told
/// or asked anything.
#[derive(Debug, Default)]
pub(crate) struct Alone;

impl Alone {
    /// The tier of a client that joins no fleet.
    pub(crate) fn tier() -> Arc<dyn SharedTier> {
        Arc::new(Alone)
    }
}

impl SharedTier for Alone {
    fn load<'a>(
        &'a self,
        transport: &'a Transport,
        customer_id: &'a str,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Fetched>> {
        crate::resources::fetch_snapshot(transport, customer_id, Some(deadline))
            .map(|fetched| fetched.map(Fetched::now))
            .boxed()
    }

    fn invalidate(&self, _customer_id: &str) {}
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::cache::{CacheConfig, EntitlementCache, LocalCache};
    use crate::models::RawEntitlements;
    use crate::usage::UsageLedger;

    /// A tier that answers every load with the same entitlements, fetched `age` ago, with
    /// `pending` usage, and counts its loads.
    #[derive(Debug)]
    struct Scripted {
        age: Duration,
        pending: i64,
        loads: Mutex<u32>,
    }

    impl SharedTier for Scripted {
        fn load<'a>(
            &'a self,
            _transport: &'a Transport,
            customer_id: &'a str,
            _deadline: Instant,
        ) -> BoxFuture<'a, Result<Fetched>> {
            *crate::sync::lock(&self.loads) += 1;
            let raw: RawEntitlements = serde_json::from_value(serde_json::json!({
                "customerId": customer_id,
                "entitlements": [{"featureId": "calls", "featureType": "METER",
                    "hasAccess": true, "hardLimit": true, "usageLimit": 10,
                    "currentUsage": 7}]
            }))
            .unwrap();
            let now = Instant::now();
            futures::future::ready(Ok(Fetched {
                entitlements: Entitlements::from_raw(raw),
                fetched_at: now.checked_sub(self.age),
                pending: vec![("calls".to_owned(), self.pending)],
            }))
            .boxed()
        }

        fn invalidate(&self, _customer_id: &str) {}
    }

    /// A cache loading through `tier`, and the handle it gave the tier.
    fn cache_with(tier: Scripted) -> (EntitlementCache, LocalCache, Arc<Scripted>) {
        let kelviq = crate::Kelviq::new("k").unwrap();
        let tier = Arc::new(tier);
        let mut handed = None;
        let cache = EntitlementCache::new(
            Some(CacheConfig::default().ttl(Duration::from_secs(60))),
            Arc::clone(&kelviq.inner.transport),
            Arc::new(UsageLedger::default()),
            |local| {
                handed = Some(local);
                Ok(Arc::clone(&tier) as Arc<dyn SharedTier>)
            },
        )
        .unwrap();
        (cache, handed.unwrap(), tier)
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_ages_and_counts_what_the_tier_fetched() {
        let (cache, _, tier) = cache_with(Scripted {
            age: Duration::from_secs(10),
            pending: 2,
            loads: Mutex::new(0),
        });
        let snapshot = cache.get("c").await.unwrap().into_snapshot();
        assert_eq!(*crate::sync::lock(&tier.loads), 1);
        // Fetched 10 s ago by another instance: it ages from then, not from its arrival.
        assert_eq!(snapshot.age(), Duration::from_secs(10));
        // Kelviq's 7 plus the 2 the tier holds, not delivered yet.
        assert_eq!(snapshot.get("calls").unwrap().usage(), Some(9));
        // As the tier sent it: without the pending usage.
        let fetched = snapshot.fetched_entitlements();
        assert_eq!(fetched.get("calls").unwrap().usage(), Some(7));
        // Past the TTL from the fetch (50 s more, not 60), the next check loads again.
        tokio::time::advance(Duration::from_secs(50)).await;
        assert!(cache.get_fresh("c").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn the_tier_reaches_the_cache_through_the_handle_it_was_given() {
        let (cache, local, tier) = cache_with(Scripted {
            age: Duration::ZERO,
            pending: 0,
            loads: Mutex::new(0),
        });
        let loaded = cache.get("c").await.unwrap().into_snapshot();
        let read = local
            .read_fresh("c", |snapshot, _| Arc::clone(snapshot))
            .unwrap();
        assert!(Arc::ptr_eq(&loaded, &read));
        // An invalidation the tier heard of: the cache forgets the customer...
        local.invalidate("c");
        assert!(cache.get_fresh("c").is_none());
        assert!(local.read_fresh("c", |_, _| ()).is_none());
        assert!(loaded.is_superseded());
        // ...and the next check loads anew, through the tier.
        cache.get("c").await.unwrap();
        assert_eq!(*crate::sync::lock(&tier.loads), 2);
        local.invalidate_all();
        assert_eq!(cache.len(), 0);
        // Reading through the handle never starts a load.
        assert!(local.read_fresh("c", |_, _| ()).is_none());
        assert_eq!(*crate::sync::lock(&tier.loads), 2);
    }
}
