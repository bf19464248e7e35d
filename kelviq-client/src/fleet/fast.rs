//! Fast shared limits: requests are judged on the local snapshot (no Redis on the request
//! path); every [sync interval](super::FleetConfig::sync_interval) a background task adds
//! the units this instance admitted to the customers' shared counters and applies what
//! the rest of the fleet used to the local snapshots.
//!
//! Per synced (customer, feature), one round:
//!
//! 1. reads the local view `E` (the snapshot's usage: Kelviq's, plus what this instance
//!    recorded since the fetch, plus what earlier rounds applied), then takes the units
//!    recorded since the last round, `d`;
//! 2. in one pipeline for every key: the counter is seeded with `max(E − d, 0)` when
//!    missing (as strict reservations seed it), `d` is added, and the fleet's total `T`
//!    comes back;
//! 3. the units recorded here meanwhile, `u`, are read, then the snapshot's usage `E'`;
//!    when `T + u > E'`, the difference — the units the *other* instances used — is added
//!    to the snapshot (`Snapshot::apply_usage`). Never subtracted, so a view only grows.
//!
//! Each read happens before the one it is compared with, so a request recorded between two
//! reads can only make a round apply *less* (caught up by the next round), never more: the
//! limit stays reachable. A round whose pipeline certainly did not reach Redis (connection
//! refused) keeps its units for the next; one whose answer was lost drops them (they may
//! have been added; the units reach Kelviq through the meter all the same, and the next
//! stored snapshot raises the counter to Kelviq's usage).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use redis::Script;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::helpers::{first_start, lua_safe, millis, shared_limit};
use super::stats::Event;
use super::{Fleet, Shared};
use crate::cache::{LocalCache, Snapshot};
use crate::sync::lock;

/// The most (customer, feature) pairs synced at once; past it, new pairs are judged
/// locally only (counted in [`FleetStats::limit_sync_untracked`](super::FleetStats)).
const MAX_TRACKED: usize = 10_000;

/// The most keys in one pipeline: a round sends several when it has more.
const CHUNK: usize = 500;

/// Rounds a pair stays tracked with nothing recorded (to keep seeing the fleet's usage)
/// before it is dropped; the next recorded unit tracks it again.
const MAX_IDLE_ROUNDS: u32 = 600;

/// Seeds the counter with `ARGV[2]` when it is missing, adds `ARGV[1]`, and renews its TTL
/// (`ARGV[3]` ms). `KEYS`: counter. Answers the fleet's total.
static SYNC: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
end
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return total
",
    )
});

/// The units recorded under fast limits, per feature and customer, not yet synced.
#[derive(Debug, Default)]
pub(crate) struct FastLimits {
    tracked: Mutex<Tracked>,
    /// Whether the sync task was started.
    started: AtomicBool,
}

#[derive(Debug, Default)]
struct Tracked {
    /// Feature → customer → entry.
    features: HashMap<Arc<str>, HashMap<Arc<str>, Entry>>,
    len: usize,
}

#[derive(Debug, Default)]
struct Entry {
    /// Units recorded here and not yet added to the shared counter.
    unsynced: i64,
    /// Units recorded here since the take of the last round whose total was applied: what
    /// this instance admitted on that view of the others (the bound's `A` is the most it
    /// reaches when the next total is applied; rounds that fail or apply nothing extend it).
    window: i64,
    /// Rounds in a row with nothing recorded.
    idle: u32,
}

/// One key of one round.
struct Item {
    feature: Arc<str>,
    customer: Arc<str>,
    counter: String,
    /// The local view before the units were taken.
    before: i64,
    /// The units taken.
    delta: i64,
}

impl FastLimits {
    fn tracked(&self) -> MutexGuard<'_, Tracked> {
        lock(&self.tracked)
    }
}

impl Tracked {
    /// The pair's entry, if it is tracked.
    fn entry(&mut self, feature: &str, customer: &str) -> Option<&mut Entry> {
        self.features
            .get_mut(feature)
            .and_then(|customers| customers.get_mut(customer))
    }
}

impl Fleet {
    /// Counts `units` of `feature` recorded for `customer` under fast limits: added to the
    /// shared counter at the next sync. The request path's only cost: one short lock.
    pub(crate) fn record_fast(&self, customer: &Arc<str>, feature: &str, units: i64) {
        self.start_sync();
        let fast = &self.shared.fast;
        let mut tracked = fast.tracked();
        if let Some(entry) = tracked.entry(feature, customer) {
            entry.unsynced = entry.unsynced.saturating_add(units);
            entry.window = entry.window.saturating_add(units);
            entry.idle = 0;
            return;
        }
        if tracked.len >= MAX_TRACKED {
            drop(tracked);
            self.shared.count(Event::LimitSyncUntracked);
            return;
        }
        tracked.len = tracked.len.saturating_add(1);
        tracked
            .features
            .entry(Arc::from(feature))
            .or_default()
            .insert(
                Arc::clone(customer),
                Entry {
                    unsynced: units,
                    window: units,
                    idle: 0,
                },
            );
    }

    /// Starts the sync task, once, on the current runtime.
    fn start_sync(&self) {
        let Some(runtime) = first_start(&self.shared.fast.started) else {
            return;
        };
        runtime.spawn(run(
            Arc::clone(&self.shared),
            self.cache.clone(),
            self.shared.sync_interval,
            self.stop.subscribe(),
        ));
    }
}

/// Syncs every `interval` until the fleet is dropped.
async fn run(
    shared: Arc<Shared>,
    cache: LocalCache,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        sync(&shared, &cache).await;
    }
}

/// One round over every tracked pair.
async fn sync(shared: &Shared, cache: &LocalCache) {
    let keys: Vec<(Arc<str>, Arc<str>)> = {
        let tracked = shared.fast.tracked();
        tracked
            .features
            .iter()
            .flat_map(|(feature, customers)| {
                customers
                    .keys()
                    .map(|customer| (Arc::clone(feature), Arc::clone(customer)))
            })
            .collect()
    };
    // The local views first, then the units: see the module docs.
    let mut items: Vec<Item> = keys
        .into_iter()
        .filter_map(|(feature, customer)| {
            let snapshot = cache.read_fresh(&customer, |snapshot, _| Arc::clone(snapshot))?;
            let counter = shared_counter(shared, &snapshot, &customer, &feature)?;
            Some(Item {
                before: usage(&snapshot, &feature),
                feature,
                customer,
                counter,
                delta: 0,
            })
        })
        .collect();
    take_units(shared, &mut items);
    for chunk in items.chunks(CHUNK) {
        send(shared, cache, chunk).await;
    }
}

/// Takes each item's units, and ages the pairs: one with nothing recorded for too many
/// rounds is dropped (a pair without a fresh snapshot or a shared limit keeps its units
/// meanwhile; if it is dropped with some, they reach Kelviq through the meter all the
/// same, but not the shared counter).
fn take_units(shared: &Shared, items: &mut [Item]) {
    let mut tracked = shared.fast.tracked();
    for item in items.iter_mut() {
        if let Some(entry) = tracked.entry(&item.feature, &item.customer) {
            item.delta = std::mem::take(&mut entry.unsynced);
        }
    }
    let mut removed = 0usize;
    for customers in tracked.features.values_mut() {
        customers.retain(|_, entry| {
            entry.idle = entry.idle.saturating_add(1);
            let keep = entry.idle <= MAX_IDLE_ROUNDS;
            removed = removed.saturating_add(usize::from(!keep));
            keep
        });
    }
    tracked
        .features
        .retain(|_, customers| !customers.is_empty());
    tracked.len = tracked.len.saturating_sub(removed);
}

/// Sends one pipeline of items, and applies the totals.
async fn send(shared: &Shared, cache: &LocalCache, items: &[Item]) {
    let ttl = millis(shared.counter_ttl);
    let invocations: Vec<_> = items
        .iter()
        .map(|item| {
            let mut invocation = SYNC.prepare_invoke();
            invocation
                .key(&item.counter)
                .arg(lua_safe(item.delta))
                .arg(lua_safe(item.before.saturating_sub(item.delta).max(0)))
                .arg(ttl);
            invocation
        })
        .collect();
    let mut pipe = redis::pipe();
    pipe.ignore_errors().load_script(&SYNC).ignore();
    for invocation in &invocations {
        pipe.invoke_script(invocation);
    }
    let replies = match shared
        .redis
        .pipeline("sync fast limits", &pipe, &shared.counters)
        .await
    {
        Ok(replies) => replies,
        Err(failure) => {
            shared.count(Event::LimitSyncFallback);
            if failure.never_sent() {
                give_back(shared, items);
            }
            return;
        }
    };
    shared.count(Event::LimitSync);
    for (item, reply) in items.iter().zip(replies) {
        let Ok(total) = redis::from_redis_value::<i64>(reply) else {
            // Redis refused this key's script: its view stays local this round.
            shared.count(Event::LimitSyncFallback);
            continue;
        };
        apply(shared, cache, item, total);
    }
}

/// Units of a round that did not reach Redis go back for the next one.
fn give_back(shared: &Shared, items: &[Item]) {
    let mut tracked = shared.fast.tracked();
    for item in items {
        if let Some(entry) = tracked.entry(&item.feature, &item.customer) {
            entry.unsynced = entry.unsynced.saturating_add(item.delta);
        }
    }
}

/// Raises the customer's local view to the fleet's `total` plus the units recorded here
/// since the round took them.
///
/// Measures the bound's `A` on the way: the pair's window, the units recorded here from
/// the take of the last round whose total was applied to this application; the next
/// window starts at this round's take.
fn apply(shared: &Shared, cache: &LocalCache, item: &Item, total: i64) {
    let Some(snapshot) = cache.read_fresh(&item.customer, |snapshot, _| Arc::clone(snapshot))
    else {
        return;
    };
    let recorded_since = {
        let mut tracked = shared.fast.tracked();
        let Some(entry) = tracked.entry(&item.feature, &item.customer) else {
            return;
        };
        shared.counters.max_synced(entry.window);
        entry.window = entry.unsynced;
        entry.unsynced
    };
    let view = usage(&snapshot, &item.feature);
    let others = total.saturating_add(recorded_since).saturating_sub(view);
    if others > 0 {
        snapshot.apply_usage(&item.feature, others, false);
    }
}

/// The customer's counter of `feature` for the snapshot's period; `None` when the feature
/// has no hard limit there (or the snapshot is a fallback).
fn shared_counter(
    shared: &Shared,
    snapshot: &Snapshot,
    customer: &str,
    feature: &str,
) -> Option<String> {
    if snapshot.is_fallback() {
        return None;
    }
    let entitlement = snapshot.get(feature)?;
    let (_, period) = shared_limit(&entitlement)?;
    Some(shared.keys.customer(customer).counter(feature, period))
}

/// The snapshot's usage of `feature`, as this instance sees it.
fn usage(snapshot: &Snapshot, feature: &str) -> i64 {
    snapshot
        .get(feature)
        .and_then(|entitlement| entitlement.usage())
        .unwrap_or(0)
}
