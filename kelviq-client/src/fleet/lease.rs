//! Shared snapshots: read the customer's snapshot from Redis, or load it for the whole
//! fleet under a lease, or wait for the instance that holds the lease.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use redis::Script;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::helpers::{lua_safe, millis, shared_limit, token, unix_millis};
use super::keys::{CustomerKeys, LimitKeys};
use super::stats::Event;
use super::{Fleet, Shared};
use crate::error::{Error, Result};
use crate::http::Transport;
use crate::models::{Entitlements, RawEntitlements};
use crate::sync::lock;
use crate::tier::Fetched;

/// The snapshot if there is one; else the lease if free (with the customer's generation);
/// else nothing. `KEYS`: snapshot, lease, generation; `ARGV`: token, lease ms.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local snapshot = redis.call('GET', KEYS[1])
if snapshot then return {1, snapshot} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {2, redis.call('GET', KEYS[3]) or ''}
end
return {0, ''}
",
    )
});

/// Stores a loaded snapshot unless the customer was invalidated since the claim (its
/// generation changed), raises the hard-limit counters to Kelviq's usage, frees the lease
/// and announces the end of the load. `KEYS`: snapshot, lease, generation, then per shared
/// limit its counter, holds and hold expiries; `ARGV`: token, generation, snapshot JSON,
/// TTL ms, limit keys' TTL ms, channel, message, one usage per limit.
///
/// A counter counts kept units plus the units its holds hold, so it is raised to Kelviq's
/// usage *plus* the held units: `max(counter, usage + held)`, which keeps every kept unit
/// once and every hold apart. Holds never outlive their counter: with none, any left are
/// dropped.
static STORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local stored = 0
if (redis.call('GET', KEYS[3]) or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  for i = 4, #KEYS, 3 do
    local usage = tonumber(ARGV[8 + (i - 4) / 3])
    local current = redis.call('GET', KEYS[i])
    local held = 0
    if current then
      current = tonumber(current)
      for _, units in ipairs(redis.call('HVALS', KEYS[i + 1])) do
        held = held + tonumber(units)
      end
    else
      current = 0
      redis.call('DEL', KEYS[i + 1], KEYS[i + 2])
    end
    if usage + held > current then
      redis.call('SET', KEYS[i], string.format('%d', usage + held), 'PX', ARGV[5])
    else
      redis.call('PEXPIRE', KEYS[i], ARGV[5])
    end
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[5])
    redis.call('PEXPIRE', KEYS[i + 2], ARGV[5])
  end
  stored = 1
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return stored
",
    )
});

/// Extends the lease if this loader still holds it. `KEYS`: lease; `ARGV`: token, ms.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
});

/// Frees the lease after a failed load and wakes the waiters (one of them takes it).
/// `KEYS`: lease; `ARGV`: token, channel, message.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 0
",
    )
});

/// The most customers this instance waits for at once with a notification; past it,
/// waiters only poll.
const MAX_WAITERS: usize = 10_000;

/// A snapshot as kept in Redis: the entitlements as Kelviq sent them (any instance, of
/// any version that reads the wire format, parses them) and when they were fetched.
#[derive(Debug, Serialize, Deserialize)]
struct Shelved {
    /// The `GET /entitlements` response.
    v: RawEntitlements,
    /// When it was fetched, in Unix milliseconds.
    t: u64,
}

/// What a claim found.
enum Claim {
    Found(String),
    Acquired { generation: String },
    Held,
}

impl Fleet {
    /// Loads the customer's entitlements through the fleet, for the cache.
    ///
    /// Entitlements taken from Redis are as old as their fetch from Kelviq (not as old as
    /// their arrival here), and they come with the fleet's pending usage of the customer
    /// (pushed to Redis, not yet taken for delivery), which Kelviq's answer cannot
    /// include. The cache adds this instance's units not pushed yet: a unit is in one place
    /// at a time (here, in Redis's pending usage, or in flight, which Kelviq may count
    /// already), so nothing is counted twice; a push racing the load can be missed until
    /// the next load.
    pub(super) async fn load_shared(
        &self,
        transport: &Transport,
        customer_id: &str,
        deadline: Instant,
    ) -> Result<Fetched> {
        let (entitlements, fetched_at) = self.fetch(transport, customer_id, deadline).await?;
        Ok(Fetched {
            entitlements,
            fetched_at,
            pending: self.pending_usage(customer_id).await,
        })
    }
}

/// When a snapshot stored at `stored` (Unix milliseconds) was fetched, on tokio's clock;
/// never in the future (clocks of two hosts may disagree).
fn fetched_at(stored: u64) -> Instant {
    let now = Instant::now();
    let age = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(Duration::ZERO, |since| {
            since.saturating_sub(Duration::from_millis(stored))
        });
    now.checked_sub(age).unwrap_or(now)
}

/// The answer when the loader elsewhere did not finish in time: a timeout of the
/// entitlement call, as the cache answers a load past its timeout.
fn not_loaded() -> Error {
    Error::Timeout {
        method: Method::GET,
        path: "/entitlements",
    }
}

impl Fleet {
    /// The customer's entitlements, and when they were fetched if another instance did.
    async fn fetch(
        &self,
        transport: &Transport,
        customer_id: &str,
        deadline: Instant,
    ) -> Result<(Entitlements, Option<Instant>)> {
        self.start();
        let shared = &self.shared;
        shared.invalidated(customer_id).await;
        shared.first_subscription().await;
        let keys = shared.keys.customer(customer_id);
        let token = token();
        let waiter = shared.waiters.register(customer_id);
        let mut waited = false;
        loop {
            // Created before the claim: a notification sent in between is not lost.
            let notified = waiter.as_ref().map(|waiter| waiter.notify.notified());
            let Ok(claim) = shared.claim(&keys, &token).await else {
                return self.alone(transport, customer_id, deadline).await;
            };
            match claim {
                Claim::Found(json) => match serde_json::from_str::<Shelved>(&json) {
                    Ok(shelved) => {
                        shared.count(Event::SnapshotShared);
                        let fetched = fetched_at(shelved.t);
                        return Ok((Entitlements::from_raw(shelved.v), Some(fetched)));
                    }
                    Err(error) => {
                        // Another version's format, or damage: load alone, leave it be.
                        tracing::warn!(
                            error = %error,
                            "kelviq fleet: unreadable shared snapshot; loading alone"
                        );
                        return self.alone(transport, customer_id, deadline).await;
                    }
                },
                Claim::Acquired { generation } => {
                    return shared
                        .lead(transport, customer_id, &keys, &token, &generation, deadline)
                        .await
                        .map(|entitlements| (entitlements, None));
                }
                Claim::Held => {
                    if !waited {
                        waited = true;
                        shared.count(Event::LoadWait);
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(not_loaded());
                    }
                    let wake = now
                        .checked_add(shared.poll_interval)
                        .unwrap_or(deadline)
                        .min(deadline);
                    match notified {
                        Some(notified) => {
                            let _ = tokio::time::timeout_at(wake, notified).await;
                        }
                        None => tokio::time::sleep_until(wake).await,
                    }
                }
            }
        }
    }

    /// The load done without Redis: single-instance behaviour.
    async fn alone(
        &self,
        transport: &Transport,
        customer_id: &str,
        deadline: Instant,
    ) -> Result<(Entitlements, Option<Instant>)> {
        self.shared.count(Event::LoadFallback);
        crate::resources::fetch_snapshot(transport, customer_id, Some(deadline))
            .await
            .map(|entitlements| (entitlements, None))
    }
}

impl Shared {
    async fn claim(&self, keys: &CustomerKeys, token: &str) -> std::result::Result<Claim, ()> {
        let mut invocation = CLAIM.prepare_invoke();
        invocation
            .key(&keys.snapshot)
            .key(&keys.lease)
            .key(&keys.generation)
            .arg(token)
            .arg(millis(self.lease_timeout));
        let (kind, value): (i64, String) = self
            .redis
            .run("claim snapshot", &invocation, &self.counters)
            .await
            .map_err(|_| ())?;
        Ok(match kind {
            1 => Claim::Found(value),
            2 => Claim::Acquired { generation: value },
            _ => Claim::Held,
        })
    }

    /// Loads for the fleet while holding the lease (renewed as the call runs), then stores
    /// the result; a failure frees the lease for another instance.
    async fn lead(
        &self,
        transport: &Transport,
        customer_id: &str,
        keys: &CustomerKeys,
        token: &str,
        generation: &str,
        deadline: Instant,
    ) -> Result<Entitlements> {
        let fetch = crate::resources::fetch_snapshot(transport, customer_id, Some(deadline));
        let fetched = tokio::select! {
            fetched = fetch => fetched,
            () = self.renew(keys, token) => Err(not_loaded()),
        };
        match fetched {
            Ok(entitlements) => {
                self.store(customer_id, keys, token, generation, &entitlements)
                    .await;
                Ok(entitlements)
            }
            Err(error) => {
                let mut invocation = RELEASE.prepare_invoke();
                invocation
                    .key(&keys.lease)
                    .arg(token)
                    .arg(self.keys.channel())
                    .arg(self.message('r', customer_id));
                let _ = self
                    .redis
                    .run::<i64>("release lease", &invocation, &self.counters)
                    .await;
                Err(error)
            }
        }
    }

    /// Renews the lease every third of its timeout; never ends.
    async fn renew(&self, keys: &CustomerKeys, token: &str) {
        let every = (self.lease_timeout / 3).max(Duration::from_millis(1));
        loop {
            tokio::time::sleep(every).await;
            let mut invocation = RENEW.prepare_invoke();
            invocation
                .key(&keys.lease)
                .arg(token)
                .arg(millis(self.lease_timeout));
            let _ = self
                .redis
                .run::<i64>("renew lease", &invocation, &self.counters)
                .await;
        }
    }

    async fn store(
        &self,
        customer_id: &str,
        keys: &CustomerKeys,
        token: &str,
        generation: &str,
        entitlements: &Entitlements,
    ) {
        let raw = wire_form(entitlements);
        let fetched_at = unix_millis();
        let Ok(json) = serde_json::to_string(&Shelved {
            v: raw,
            t: fetched_at,
        }) else {
            return;
        };
        let limits: Vec<(LimitKeys, i64)> = entitlements
            .iter()
            .filter_map(|entitlement| {
                let (_, period) = shared_limit(entitlement)?;
                Some((
                    keys.limit(entitlement.feature_id(), period),
                    lua_safe(entitlement.usage().unwrap_or(0)),
                ))
            })
            .collect();
        let mut invocation = STORE.prepare_invoke();
        invocation
            .key(&keys.snapshot)
            .key(&keys.lease)
            .key(&keys.generation);
        for (limit, _) in &limits {
            invocation
                .key(&limit.counter)
                .key(&limit.holds)
                .key(&limit.expiry);
        }
        invocation
            .arg(token)
            .arg(generation)
            .arg(json)
            .arg(millis(self.snapshot_ttl))
            .arg(millis(self.limit_ttl()))
            .arg(self.keys.channel())
            .arg(self.message('r', customer_id));
        for (_, usage) in &limits {
            invocation.arg(*usage);
        }
        if let Ok(stored) = self
            .redis
            .run::<i64>("store snapshot", &invocation, &self.counters)
            .await
        {
            self.count(Event::SnapshotLoaded);
            if stored == 0 {
                tracing::debug!("kelviq fleet: invalidated during the load; not shared");
            }
        }
    }
}

/// The entitlements as Kelviq sent them: every entry, feature by feature (aggregating them
/// again gives the same entitlements).
fn wire_form(entitlements: &Entitlements) -> RawEntitlements {
    RawEntitlements {
        customer_id: entitlements.customer_id().to_owned(),
        entitlements: entitlements
            .iter()
            .flat_map(|entitlement| entitlement.items().iter().cloned())
            .collect(),
    }
}

/// The customers this instance waits for, each with what wakes its waiters: the fleet's
/// "load ended" message for that customer.
#[derive(Debug, Default)]
pub(super) struct Waiters {
    map: Mutex<HashMap<String, (usize, Arc<Notify>)>>,
}

/// One registered waiter; unregistered when dropped.
pub(super) struct Waiter<'a> {
    waiters: &'a Waiters,
    customer_id: String,
    pub(super) notify: Arc<Notify>,
}

impl Waiters {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (usize, Arc<Notify>)>> {
        lock(&self.map)
    }

    /// Registers a waiter for the customer; `None` when too many customers are waited for
    /// (the waiter then only polls).
    fn register(&self, customer_id: &str) -> Option<Waiter<'_>> {
        let mut map = self.lock();
        if map.len() >= MAX_WAITERS && !map.contains_key(customer_id) {
            return None;
        }
        let entry = map
            .entry(customer_id.to_owned())
            .or_insert_with(|| (0, Arc::new(Notify::new())));
        entry.0 = entry.0.saturating_add(1);
        Some(Waiter {
            waiters: self,
            customer_id: customer_id.to_owned(),
            notify: Arc::clone(&entry.1),
        })
    }

    /// Wakes every waiter of the customer.
    pub(super) fn wake(&self, customer_id: &str) {
        if let Some((_, notify)) = self.lock().get(customer_id) {
            notify.notify_waiters();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut map = self.waiters.lock();
        if let Some((count, _)) = map.get_mut(&self.customer_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&self.customer_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_are_woken_per_customer_and_unregistered() {
        let waiters = Waiters::default();
        let first = waiters.register("a").unwrap();
        let second = waiters.register("a").unwrap();
        let other = waiters.register("b").unwrap();
        let woken = first.notify.notified();
        let not_woken = other.notify.notified();
        waiters.wake("a");
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("a's waiter is woken");
        assert!(
            tokio::time::timeout(Duration::from_millis(20), not_woken)
                .await
                .is_err()
        );
        drop(first);
        assert_eq!(waiters.len(), 2);
        drop(second);
        drop(other);
        assert_eq!(waiters.len(), 0);
    }

    #[test]
    fn the_shelved_form_is_the_wire_form_and_aggregates_the_same() {
        let raw: RawEntitlements = serde_json::from_value(serde_json::json!({
            "customerId": "c",
            "entitlements": [
                {"featureId": "calls", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 10, "currentUsage": 7,
                 "resetAt": "2026-02-01 00:00:00"},
                {"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": true},
                {"featureId": "calls", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 5, "currentUsage": 1}
            ]
        }))
        .unwrap();
        let fetched = Entitlements::from_raw(raw);
        let json = serde_json::to_string(&Shelved {
            v: wire_form(&fetched),
            t: 1,
        })
        .unwrap();
        assert!(json.contains(r#""customerId":"c""#), "{json}");
        assert!(
            json.contains(r#""resetAt":"2026-02-01 00:00:00""#),
            "{json}"
        );
        let back: Shelved = serde_json::from_str(&json).unwrap();
        assert_eq!(Entitlements::from_raw(back.v), fetched);
    }
}
