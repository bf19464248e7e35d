//! A gate's shared limits ([`FleetLimits`], [`GateBuilder::fleet_limits`]), and the
//! strict ones: an atomic reservation on the customer's shared usage counter before the
//! handler runs, held under an id and a lease, given back unless the response is a
//! success. See [`fleet`](super), "Strict limits".

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use redis::{Script, ScriptInvocation};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::helpers::{first_start, lua_safe, millis, shared_limit};
use super::keys::LimitKeys;
use super::stats::Event;
use super::{Fleet, Shared};
use crate::cache::Snapshot;
use crate::error::Error;
use crate::gate::GateBuilder;
use crate::sync::lock;
use crate::tier::{SharedLimit, SharedReservation};

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
    /// [`Ready`](crate::gate::Admission::Ready) any more).
    ///
    /// Each reservation is held in Redis under its own id, with a lease:
    ///
    /// - a request cancelled at any point of its admission (the admission future dropped
    ///   before, while or after its script ran) or of its handler gives its units back, by
    ///   id, in the background; releasing and settling are idempotent by id;
    /// - a hold lapses [`hold_time`](super::FleetConfig::hold_time) (30 s) after it was
    ///   last renewed, on Redis's clock; the instance renews its live holds in the
    ///   background every third of it, so a request may run as long as it likes, and an
    ///   instance that vanishes holds its units at most a hold time.
    ///
    /// Redis failing or slow: the local decision stands (a reservation that may have been
    /// granted is released by id). See [`fleet`](super) for how the counter is seeded and
    /// what an outage costs.
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

/// The Lua helpers every hold script starts with. `KEYS`: counter, holds, expiry (see
/// [`LimitKeys`]).
///
/// - `int(x)`: a number as Redis reads an integer (`tostring` would write `1e+15`).
/// - `now_ms()`: Redis's clock in Unix milliseconds: every lease is judged on one clock,
///   whichever instance set it.
/// - `give_back(units)`: takes `units` off the counter, if it still exists (a counter that
///   is gone is not made up), never below zero.
/// - `purge(now, most)`: returns the units of at most `most` holds lapsed by `now` to the
///   limit; answers how many holds that was.
const PRELUDE: &str = r"
local function int(x) return string.format('%d', x) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function give_back(units)
  if units ~= 0 and redis.call('EXISTS', KEYS[1]) == 1 then
    if redis.call('DECRBY', KEYS[1], int(units)) < 0 then
      redis.call('SET', KEYS[1], 0, 'KEEPTTL')
    end
  end
end
local function purge(now, most)
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', int(now), 'LIMIT', 0, most)
  local units, count = 0, 0
  for _, id in ipairs(lapsed) do
    local held = redis.call('HGET', KEYS[2], id)
    if held then
      units = units + tonumber(held)
      count = count + 1
      redis.call('HDEL', KEYS[2], id)
    end
    redis.call('ZREM', KEYS[3], id)
  end
  give_back(units)
  return count
end
";

/// Reserves under a hold: returns lapsed holds first, then grants `g` units, `least ≤ g ≤
/// amount` (as many as the limit leaves, up to `amount`; at least one must be left even
/// for `least` 0), adds them to the counter (seeded from `ARGV[5]` when missing) and holds
/// them under the id until Redis's clock passes `now + hold`. An id that holds already
/// answers its grant (sent twice, granted once).
///
/// `ARGV`: id, amount, least, limit, seed, key TTL ms, hold ms, most holds purged.
/// Answers `{1, granted, lapsed}` or `{0, 0, lapsed}` (refused).
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{PRELUDE}{}",
        r"
local now = now_ms()
local lapsed = 0
local used
if redis.call('EXISTS', KEYS[1]) == 1 then
  lapsed = purge(now, tonumber(ARGV[8]))
  used = tonumber(redis.call('GET', KEYS[1]))
else
  -- Holds never outlive their counter: any left belong to one that is gone.
  redis.call('DEL', KEYS[2], KEYS[3])
  used = tonumber(ARGV[5])
end
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then return {1, tonumber(held), lapsed} end
local amount, least = tonumber(ARGV[2]), tonumber(ARGV[3])
if least < 1 then least = 1 end
local free = tonumber(ARGV[4]) - used
if free < least then return {0, 0, lapsed} end
local granted = amount
if free < granted then granted = free end
redis.call('SET', KEYS[1], int(used + granted), 'PX', ARGV[6])
redis.call('HSET', KEYS[2], ARGV[1], int(granted))
redis.call('ZADD', KEYS[3], int(now + tonumber(ARGV[7])), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[6])
return {1, granted, lapsed}
"
    ))
});

/// Settles a hold by id: keeps `ARGV[2]` units on the counter (more than were held adds
/// the difference; 0 gives everything back) and forgets the hold. Idempotent by id: an id
/// that holds nothing (never granted, settled or released already, or lapsed) changes
/// nothing, so a settle sent again after a lost answer never counts twice. Then returns
/// lapsed holds. A release is a settle keeping 0.
///
/// `ARGV`: id, kept, most holds purged. Answers `{settled (1 or 0), lapsed}`.
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{PRELUDE}{}",
        r"
local settled = 0
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  give_back(tonumber(held) - tonumber(ARGV[2]))
  settled = 1
end
return {settled, purge(now_ms(), tonumber(ARGV[3]))}
"
    ))
});

/// Renews a hold by id: it lapses `ARGV[2]` ms from now on Redis's clock, and the limit's
/// keys live `ARGV[3]` ms more. An id that holds nothing is not made up. Answers 1
/// renewed, 0 not held.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{PRELUDE}{}",
        r"
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[3], 'XX', int(now_ms() + tonumber(ARGV[2])), ARGV[1])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return 1
"
    ))
});

/// How many lapsed holds one script returns to the limit at most (the next script returns
/// the rest): each reservation adds one hold and returns up to this many, so lapsed holds
/// cannot pile up while the limit is in use, and no script's work grows with them.
const PURGE_MOST: u32 = 32;

/// The most holds one instance tracks (renews, and settles again after a lost answer) at
/// once; past it, new holds are not renewed (counted in
/// [`FleetStats::background_dropped`](super::FleetStats::background_dropped)).
const MAX_TRACKED_HOLDS: usize = 65_536;

/// The most holds renewed or settled in one pipeline: a round sends several when it has
/// more.
const CHUNK: usize = 500;

impl GateBuilder {
    /// How the metered feature's hard limit holds across the client's fleet (see
    /// [`FleetLimits`]). Default: each instance judges it on its own snapshot. Needs a
    /// client built with a [fleet](crate::KelviqBuilder::fleet) and a metered gate
    /// ([`meter`](Self::meter)), else [`build`](Self::build) fails.
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn fleet_limits(mut self, limits: FleetLimits) -> Self {
        match Fleet::of(&self.kelviq) {
            Some(fleet) => self.shared_limit = Some(Arc::new(Limits { fleet, limits })),
            None => self.fail(Error::Config(
                "gate fleet_limits needs a client built with a fleet (KelviqBuilder::fleet)"
                    .to_owned(),
            )),
        }
        self
    }
}

/// A gate's metered hard limit, shared through the fleet as its [`FleetLimits`] say: the
/// gate's [`SharedLimit`].
#[derive(Debug)]
struct Limits {
    fleet: Arc<Fleet>,
    limits: FleetLimits,
}

impl SharedLimit for Limits {
    fn reserves(&self) -> bool {
        self.limits == FleetLimits::Strict
    }

    fn reserve<'a>(
        &'a self,
        customer_id: &'a str,
        snapshot: &'a Snapshot,
        feature_id: &'a str,
        amount: i64,
        at_least: i64,
    ) -> BoxFuture<'a, Option<Box<dyn SharedReservation>>> {
        self.fleet
            .reserve(customer_id, snapshot, feature_id, amount, at_least)
            .boxed()
    }

    fn record(&self, customer_id: &Arc<str>, feature_id: &str, units: i64) {
        if self.limits == FleetLimits::Fast {
            self.fleet.record_fast(customer_id, feature_id, units);
        }
    }
}

/// Units reserved on a shared counter for one request, held in Redis under its id.
/// Settled once: kept (a success), adjusted to the amount really metered, or given back —
/// when dropped unsettled too, so that a request cancelled before its response gives its
/// units back. Renewed in the background while it lives.
struct Reservation {
    hold: Hold,
    granted: i64,
}

/// A reservation the fleet's counter refused: the limit is reached across the fleet.
#[derive(Debug)]
struct Refused;

impl SharedReservation for Refused {
    fn granted(&self) -> Option<i64> {
        None
    }

    fn settle(&self, _kept: i64) {}
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("id", &self.hold.id())
            .field("granted", &self.granted)
            .field("settled", &self.hold.done.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The holds of this instance's reservations, renewed in the background while they live.
#[derive(Debug, Default)]
pub(crate) struct Holds {
    tracked: Mutex<HashMap<u64, Tracked>>,
    /// The last hold number used (ids are `<instance>-<number>`).
    next: AtomicU64,
    /// Whether the renewal task was started.
    started: AtomicBool,
}

/// One tracked hold.
#[derive(Debug)]
struct Tracked {
    keys: Arc<LimitKeys>,
    /// Set once the hold is settled: the units kept, and until when a settle whose answer
    /// was lost is sent again (idempotent by id; past it the hold lapses by itself).
    settling: Option<(i64, Instant)>,
}

impl Holds {
    fn tracked(&self) -> MutexGuard<'_, HashMap<u64, Tracked>> {
        lock(&self.tracked)
    }

    fn untrack(&self, number: u64) {
        self.tracked().remove(&number);
    }
}

/// The guard of one hold, made before the reservation's script is sent: dropped before it
/// was settled — the admission cancelled at any point, or the reservation dropped — it
/// gives back by id, in the background, whatever the script granted (nothing, if it never
/// ran or refused: releasing is idempotent).
struct Hold {
    shared: Arc<Shared>,
    keys: Arc<LimitKeys>,
    number: u64,
    /// Whether this instance renews it (false past [`MAX_TRACKED_HOLDS`]).
    tracked: bool,
    /// Whether it reached its caller as a [`Reservation`] (dropped before: cancelled).
    handed: bool,
    /// Settled, released or forgotten: nothing more to do.
    done: AtomicBool,
}

impl Hold {
    /// A new hold on `keys`, tracked for renewal when there is room.
    fn new(shared: &Arc<Shared>, keys: LimitKeys) -> Hold {
        let keys = Arc::new(keys);
        let holds = &shared.holds;
        let number = holds.next.fetch_add(1, Ordering::Relaxed);
        let tracked = {
            let mut tracked = holds.tracked();
            let room = tracked.len() < MAX_TRACKED_HOLDS;
            if room {
                tracked.insert(
                    number,
                    Tracked {
                        keys: Arc::clone(&keys),
                        settling: None,
                    },
                );
            }
            room
        };
        if !tracked {
            shared.count(Event::BackgroundDropped);
            tracing::warn!("kelviq fleet: too many strict holds in flight; one is not renewed");
        }
        Hold {
            shared: Arc::clone(shared),
            keys,
            number,
            tracked,
            handed: false,
            done: AtomicBool::new(false),
        }
    }

    fn id(&self) -> String {
        hold_id(&self.shared.instance, self.number)
    }

    /// Nothing was granted (refused, or the script certainly never ran): stops tracking.
    fn forget(self) {
        self.done.store(true, Ordering::Release);
        if self.tracked {
            self.shared.holds.untrack(self.number);
        }
    }

    /// Settles the hold by id, keeping `kept` units, in the background; a settle whose
    /// answer was lost is sent again by the renewal task (for at most a hold time: past it
    /// the hold has lapsed). Only the first call does anything; answers whether it did.
    fn finish(&self, kept: i64) -> bool {
        if self.done.swap(true, Ordering::AcqRel) {
            return false;
        }
        let shared = Arc::clone(&self.shared);
        if self.tracked {
            let until = Instant::now()
                .checked_add(shared.hold_time)
                .unwrap_or_else(Instant::now);
            if let Some(tracked) = shared.holds.tracked().get_mut(&self.number) {
                tracked.settling = Some((kept, until));
            }
        }
        let keys = Arc::clone(&self.keys);
        let (number, id, tracked) = (self.number, self.id(), self.tracked);
        self.shared.spawn_background(None, async move {
            let mut invocation = SETTLE.prepare_invoke();
            settle_invocation(&mut invocation, &keys, &id, kept);
            // Without an answer it stays settling: sent again by the renewal task.
            if let Ok((_, lapsed)) = shared
                .redis
                .run::<(i64, u64)>("settle reservation", &invocation, &shared.counters)
                .await
            {
                shared.counters.add(Event::HoldExpired, lapsed);
                if tracked {
                    shared.holds.untrack(number);
                }
            }
        });
        true
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if self.finish(0) {
            self.shared.count(if self.handed {
                Event::ReservationReleased
            } else {
                Event::ReservationCancelled
            });
        }
    }
}

/// A hold's id: unique in the fleet (the instance's random id, then a number).
fn hold_id(instance: &str, number: u64) -> String {
    format!("{instance}-{number:x}")
}

fn settle_invocation(invocation: &mut ScriptInvocation<'_>, keys: &LimitKeys, id: &str, kept: i64) {
    invocation
        .key(&keys.counter)
        .key(&keys.holds)
        .key(&keys.expiry)
        .arg(id)
        .arg(lua_safe(kept.max(0)))
        .arg(PURGE_MOST);
}

impl Fleet {
    /// Reserves `amount` of `feature_id` for the customer — or, when the limit leaves less,
    /// as much as it leaves if that is at least `at_least` — against the hard limit in
    /// `snapshot`.
    ///
    /// Cancel-safe: the reservation's id and its guard exist before the script is sent, so
    /// this future may be dropped at any point (before the script is sent, while it runs,
    /// after it answered) and whatever was granted is given back in the background.
    ///
    /// `None` when there is nothing to reserve (the feature has no hard limit in the
    /// snapshot) or Redis failed or was too slow: the local decision stands.
    async fn reserve(
        &self,
        customer_id: &str,
        snapshot: &Snapshot,
        feature_id: &str,
        amount: i64,
        at_least: i64,
    ) -> Option<Box<dyn SharedReservation>> {
        // The limit and period are as fetched (usage applied since changes neither).
        let entitlement = snapshot.get(feature_id)?;
        let (limit, period) = shared_limit(&entitlement)?;
        self.start();
        self.start_renewals();
        let shared = &self.shared;
        // The first reservation of a period seeds the counter with this instance's view:
        // Kelviq's usage plus the units this instance has not delivered yet.
        let seed = entitlement.usage().unwrap_or(0);
        let amount = lua_safe(amount.max(0));
        let at_least = at_least.clamp(0, amount);
        let keys = shared.keys.customer(customer_id).limit(feature_id, period);
        // The guard, before the first await: from here on, dropping this future gives back
        // whatever the script grants.
        let mut hold = Hold::new(shared, keys);
        let mut invocation = RESERVE.prepare_invoke();
        invocation
            .key(&hold.keys.counter)
            .key(&hold.keys.holds)
            .key(&hold.keys.expiry)
            .arg(hold.id())
            .arg(amount)
            .arg(at_least)
            .arg(lua_safe(limit))
            .arg(lua_safe(seed))
            .arg(millis(shared.limit_ttl()))
            .arg(millis(shared.hold_time))
            .arg(PURGE_MOST);
        let answer = shared
            .redis
            .run::<(i64, i64, u64)>("reserve", &invocation, &shared.counters)
            .await;
        match answer {
            Ok((1, granted, lapsed)) => {
                shared.counters.add(Event::HoldExpired, lapsed);
                shared.count(Event::ReservationGranted);
                hold.handed = true;
                Some(Box::new(Reservation { hold, granted }))
            }
            Ok((_, _, lapsed)) => {
                shared.counters.add(Event::HoldExpired, lapsed);
                shared.count(Event::ReservationRefused);
                hold.forget();
                Some(Box::new(Refused))
            }
            Err(failure) => {
                shared.count(Event::ReservationFallback);
                if failure.never_sent() {
                    hold.forget();
                } else {
                    // It may have run: given back by id (a no-op if it did not).
                    hold.finish(0);
                }
                None
            }
        }
    }

    /// Starts the renewal task, once, on the current runtime.
    fn start_renewals(&self) {
        let Some(runtime) = first_start(&self.shared.holds.started) else {
            return;
        };
        runtime.spawn(renewals(Arc::clone(&self.shared), self.stop.subscribe()));
    }
}

impl SharedReservation for Reservation {
    /// The units granted: the amount asked for, or less (at least the minimum asked for)
    /// when the limit left less.
    fn granted(&self) -> Option<i64> {
        Some(self.granted)
    }

    /// Settles the reservation: `kept` units stay counted (the amount metered on a
    /// success, more than granted adds the difference; 0 gives everything back). Only the
    /// first call counts; the update runs in the background, by id, so that sending it
    /// again after a lost answer never counts twice.
    fn settle(&self, kept: i64) {
        let kept = lua_safe(kept.max(0));
        if self.hold.finish(kept) && kept == 0 {
            self.hold.shared.count(Event::ReservationReleased);
        }
    }
}

/// Renews this instance's holds every third of the hold time, and sends again the
/// settles whose answer was lost, until the fleet is dropped.
async fn renewals(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let every = (shared.hold_time / 3).max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        renew_round(&shared).await;
    }
}

/// One hold of a renewal round.
struct Renewal {
    number: u64,
    keys: Arc<LimitKeys>,
    /// The units to keep, when it is a settle sent again.
    settle: Option<i64>,
}

/// Renews every live hold and settles again every hold whose settle answer was lost (those
/// past their retry time are dropped: their holds lapse by themselves).
async fn renew_round(shared: &Shared) {
    let now = Instant::now();
    let round: Vec<Renewal> = {
        let mut tracked = shared.holds.tracked();
        tracked.retain(|_, hold| hold.settling.is_none_or(|(_, until)| until > now));
        tracked
            .iter()
            .map(|(number, hold)| Renewal {
                number: *number,
                keys: Arc::clone(&hold.keys),
                settle: hold.settling.map(|(kept, _)| kept),
            })
            .collect()
    };
    for chunk in round.chunks(CHUNK) {
        renew_chunk(shared, chunk).await;
    }
}

async fn renew_chunk(shared: &Shared, chunk: &[Renewal]) {
    let hold_ms = millis(shared.hold_time);
    let ttl_ms = millis(shared.limit_ttl());
    let invocations: Vec<_> = chunk
        .iter()
        .map(|renewal| {
            let id = hold_id(&shared.instance, renewal.number);
            match renewal.settle {
                Some(kept) => {
                    let mut invocation = SETTLE.prepare_invoke();
                    settle_invocation(&mut invocation, &renewal.keys, &id, kept);
                    invocation
                }
                None => {
                    let mut invocation = RENEW.prepare_invoke();
                    invocation
                        .key(&renewal.keys.counter)
                        .key(&renewal.keys.holds)
                        .key(&renewal.keys.expiry)
                        .arg(id)
                        .arg(hold_ms)
                        .arg(ttl_ms);
                    invocation
                }
            }
        })
        .collect();
    let mut pipe = redis::pipe();
    pipe.ignore_errors().load_script(&RENEW).ignore();
    pipe.load_script(&SETTLE).ignore();
    for invocation in &invocations {
        pipe.invoke_script(invocation);
    }
    let Ok(replies) = shared
        .redis
        .pipeline("renew holds", &pipe, &shared.counters)
        .await
    else {
        return;
    };
    for (renewal, reply) in chunk.iter().zip(replies) {
        if renewal.settle.is_none() {
            continue;
        }
        if let Ok((_, lapsed)) = redis::from_redis_value::<(i64, u64)>(reply) {
            shared.counters.add(Event::HoldExpired, lapsed);
            shared.holds.untrack(renewal.number);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scripts on a real `redis-server`, on the keys of one limit of 5 (seeded at 0).
    struct Limit {
        redis: redis::aio::MultiplexedConnection,
        keys: LimitKeys,
    }

    impl Limit {
        async fn new() -> Option<Limit> {
            let server = kelviq_mock::RedisServer::shared()?;
            let redis = redis::Client::open(server.url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let prefix = format!("unit-holds-{:08x}", fastrand::u32(..));
            let keys = super::super::keys::Keys::new(&prefix)
                .customer("c")
                .limit("f", "p");
            Some(Limit { redis, keys })
        }

        /// `(granted?, granted, lapsed)`, holding `hold_ms`.
        async fn reserve(
            &mut self,
            id: &str,
            amount: i64,
            least: i64,
            hold_ms: u64,
        ) -> (i64, i64, u64) {
            let mut invocation = RESERVE.prepare_invoke();
            invocation
                .key(&self.keys.counter)
                .key(&self.keys.holds)
                .key(&self.keys.expiry)
                .arg(id)
                .arg(amount)
                .arg(least)
                .arg(5)
                .arg(0)
                .arg(60_000)
                .arg(hold_ms)
                .arg(PURGE_MOST);
            invocation.invoke_async(&mut self.redis).await.unwrap()
        }

        /// `(settled?, lapsed)`.
        async fn settle(&mut self, id: &str, kept: i64) -> (i64, u64) {
            let mut invocation = SETTLE.prepare_invoke();
            settle_invocation(&mut invocation, &self.keys, id, kept);
            invocation.invoke_async(&mut self.redis).await.unwrap()
        }

        async fn renew(&mut self, id: &str) -> i64 {
            let mut invocation = RENEW.prepare_invoke();
            invocation
                .key(&self.keys.counter)
                .key(&self.keys.holds)
                .key(&self.keys.expiry)
                .arg(id)
                .arg(60_000)
                .arg(60_000);
            invocation.invoke_async(&mut self.redis).await.unwrap()
        }

        async fn counter(&mut self) -> Option<i64> {
            redis::cmd("GET")
                .arg(&self.keys.counter)
                .query_async(&mut self.redis)
                .await
                .unwrap()
        }

        async fn holds(&mut self) -> i64 {
            redis::cmd("HLEN")
                .arg(&self.keys.holds)
                .query_async(&mut self.redis)
                .await
                .unwrap()
        }
    }

    const MINUTE: u64 = 60_000;

    #[tokio::test]
    async fn settles_and_releases_are_idempotent_by_id() {
        let Some(mut limit) = Limit::new().await else {
            return;
        };
        assert_eq!(limit.reserve("a", 3, 3, MINUTE).await, (1, 3, 0));
        // The same id sent twice is granted once.
        assert_eq!(limit.reserve("a", 3, 3, MINUTE).await, (1, 3, 0));
        assert_eq!(limit.counter().await, Some(3));
        // Settled twice (an answer lost, the settle sent again): kept once.
        assert_eq!(limit.settle("a", 1).await, (1, 0));
        assert_eq!(limit.settle("a", 1).await, (0, 0));
        assert_eq!(limit.counter().await, Some(1));
        // Released after the settle, or never granted: nothing changes.
        assert_eq!(limit.settle("a", 0).await, (0, 0));
        assert_eq!(limit.settle("never-granted", 0).await, (0, 0));
        assert_eq!(limit.counter().await, Some(1));
        // Released twice: given back once.
        assert_eq!(limit.reserve("b", 2, 2, MINUTE).await, (1, 2, 0));
        assert_eq!(limit.counter().await, Some(3));
        assert_eq!(limit.settle("b", 0).await, (1, 0));
        assert_eq!(limit.settle("b", 0).await, (0, 0));
        assert_eq!(limit.counter().await, Some(1));
        // Kept more than held: the difference is added after the fact.
        assert_eq!(limit.reserve("c", 1, 1, MINUTE).await, (1, 1, 0));
        assert_eq!(limit.settle("c", 3).await, (1, 0));
        assert_eq!(limit.counter().await, Some(4));
        assert_eq!(limit.holds().await, 0);
        // A renewal never makes a hold up.
        assert_eq!(limit.renew("c").await, 0);
        assert_eq!(limit.holds().await, 0);
    }

    #[tokio::test]
    async fn grants_are_partial_down_to_the_minimum() {
        let Some(mut limit) = Limit::new().await else {
            return;
        };
        assert_eq!(limit.reserve("a", 2, 2, MINUTE).await, (1, 2, 0));
        // 3 left: 10 asked, at least 1 → 3.
        assert_eq!(limit.reserve("b", 10, 1, MINUTE).await, (1, 3, 0));
        assert_eq!(limit.counter().await, Some(5));
        // Nothing left: refused, even for a minimum of 0.
        assert_eq!(limit.reserve("c", 1, 0, MINUTE).await, (0, 0, 0));
        assert_eq!(limit.settle("b", 0).await, (1, 0));
        // 3 left, at least 4 asked: refused; at least 3: granted 3.
        assert_eq!(limit.reserve("d", 4, 4, MINUTE).await, (0, 0, 0));
        assert_eq!(limit.reserve("d", 4, 3, MINUTE).await, (1, 3, 0));
        assert_eq!(limit.counter().await, Some(5));
    }

    #[tokio::test]
    async fn lapsed_holds_return_and_holds_never_outlive_their_counter() {
        let Some(mut limit) = Limit::new().await else {
            return;
        };
        assert_eq!(limit.reserve("live", 2, 2, MINUTE).await, (1, 2, 0));
        assert_eq!(limit.reserve("dead", 3, 3, 1).await, (1, 3, 0));
        assert_eq!(limit.renew("live").await, 1);
        // The dead instance's hold lapses on Redis's clock (1 ms): the next script
        // returns it.
        let mut answer = (0, 0, 0);
        for _ in 0..1_000 {
            answer = limit.reserve("next", 3, 3, MINUTE).await;
            if answer.0 == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(answer, (1, 3, 1));
        assert_eq!(limit.counter().await, Some(5));
        // Its late release changes nothing.
        assert_eq!(limit.settle("dead", 0).await, (0, 0));
        assert_eq!(limit.counter().await, Some(5));
        assert_eq!(limit.renew("dead").await, 0);
        // A counter that is gone (expired, evicted) takes its holds with it: seeded anew,
        // and the old holds' releases do not take units off the new counter.
        let _: () = redis::cmd("DEL")
            .arg(&limit.keys.counter)
            .query_async(&mut limit.redis)
            .await
            .unwrap();
        assert_eq!(limit.reserve("fresh", 1, 1, MINUTE).await, (1, 1, 0));
        assert_eq!(limit.holds().await, 1);
        assert_eq!(limit.settle("live", 0).await, (0, 0));
        assert_eq!(limit.counter().await, Some(1));
    }
}
