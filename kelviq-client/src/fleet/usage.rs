//! Durable usage: each flush pushes the usage an instance collected to Redis, and the
//! holder of the delivery lease delivers the fleet's pending usage to Kelviq.
//!
//! A push is one script per customer (pipelined, one round trip): it adds the units to
//! the customer's `pending` hash and records the push's number for this instance in the
//! customer's `pushed` hash, so that a push whose answer was lost (a timeout, a dropped
//! connection) is sent again with the same number and applied **once**. Such a push waits
//! in *limbo* (its units count `pending`) until Redis answers; new usage of its customers
//! meanwhile is delivered by this instance directly (the single-instance path). A push
//! Redis certainly did not receive (the connection was refused) goes back to the local
//! backlog at once, and is delivered directly too. After [`LIMBO_GRACE`] without an
//! answer, a push in limbo counts `unknown`: it may be in Redis, so it is never sent
//! elsewhere.
//!
//! Delivery takes a bounded batch of customers from the index, oldest first, and for each
//! one *moves* its pending units into its `flight` hash under a take number, in one script:
//! no other instance can take them again. Each delivered report then settles its entry:
//! delivered, refused for good, or unknown → removed (never replayed); refused before
//! processing (`429`, `503`, connection refused) → moved back to `pending`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use redis::{Script, Value};
use tokio::time::Instant;

use super::connection::Failure;
use super::helpers::{lua_safe, millis, unix_millis};
use super::{Fleet, Shared};
use crate::sync::lock;
use crate::usage::Batch;

/// Adds usage to a customer's pending hash unless this instance's push number `ARGV[2]`
/// was applied already. Refuses (an error, nothing written) a total Lua cannot hold
/// exactly. `KEYS`: pending, pushed; `ARGV`: instance, push number, pushed-hash TTL ms,
/// then feature, units pairs. Answers 1 applied now, 0 applied before.
static PUSH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if last >= tonumber(ARGV[2]) then return 0 end
for i = 4, #ARGV, 2 do
  local total = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') + tonumber(ARGV[i + 1])
  if total > 9007199254740992 or total < -9007199254740992 then
    return redis.error_reply('kelviq: pending usage beyond 2^53')
  end
end
for i = 4, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
",
    )
});

/// Moves up to `ARGV[2]` features of a customer's pending usage into its flight hash,
/// under the take `ARGV[1]`. `KEYS`: pending, flight; `ARGV`: take, most features,
/// flight TTL ms. Answers feature, units pairs (zero totals are dropped, not answered).
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local all = redis.call('HGETALL', KEYS[1])
local taken = {}
local count = 0
for i = 1, #all, 2 do
  if count >= tonumber(ARGV[2]) then break end
  count = count + 1
  redis.call('HDEL', KEYS[1], all[i])
  if tonumber(all[i + 1]) ~= 0 then
    redis.call('HSET', KEYS[2], ARGV[1] .. ':' .. all[i], all[i + 1])
    taken[#taken + 1] = all[i]
    taken[#taken + 1] = all[i + 1]
  end
end
if #taken > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return taken
",
    )
});

/// Settles one taken entry: removes it from the flight hash and, with `ARGV[3]` = 1,
/// moves its units back to pending. `KEYS`: pending, flight; `ARGV`: take:feature,
/// feature, back. Answers 1, or 0 when the entry is gone (expired).
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local units = redis.call('HGET', KEYS[2], ARGV[1])
if not units then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], ARGV[2], units) end
return 1
",
    )
});

/// Moves back to pending flight entries not sent: the entry `ARGV[1]` of feature `ARGV[2]`,
/// or (`ARGV[2]` empty) every entry whose name starts with the take prefix `ARGV[1]` (a
/// take whose reply was lost). `KEYS`: pending, flight. Answers how many entries moved.
static RESTORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local all = redis.call('HGETALL', KEYS[2])
local exact = ARGV[2] ~= ''
local moved = 0
for i = 1, #all, 2 do
  if (exact and all[i] == ARGV[1]) or (not exact and string.sub(all[i], 1, #ARGV[1]) == ARGV[1]) then
    local feature = ARGV[2]
    if not exact then feature = string.sub(all[i], #ARGV[1] + 1) end
    redis.call('HINCRBY', KEYS[1], feature, all[i + 1])
    redis.call('HDEL', KEYS[2], all[i])
    moved = moved + 1
  end
end
return moved
",
    )
});

/// Takes the delivery lease, or renews it when this instance holds it. `KEYS`: lease;
/// `ARGV`: holder, ms. Answers 1 held, 0 held by another.
static CLAIM_DELIVERY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
",
    )
});

/// Gives the delivery lease up if this instance holds it. `KEYS`: lease; `ARGV`: holder.
static RELEASE_DELIVERY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});

/// How long a push in limbo waits for Redis to answer before its units count unknown.
pub(crate) const LIMBO_GRACE: Duration = Duration::from_secs(60);

/// The most pushes in limbo at once (each is one flush's push); past it the oldest
/// counts unknown.
const MAX_LIMBO: usize = 64;

/// The most flight entries waiting to be moved back at once; past it the oldest stays in
/// flight for good (logged).
const MAX_RESTORES: usize = 10_000;

/// The most features of one customer taken at once.
const MAX_FEATURES_PER_TAKE: usize = 256;

/// How long the pushed-numbers hash and a flight hash live after their last write: a
/// flight entry left by a holder that died is kept this long for inspection (never
/// delivered again), then dropped.
const RECORD_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Units beyond this stay in the local backlog (delivered directly): Lua numbers are
/// doubles, exact up to 2^53, and a pending total must stay exact.
const MAX_PUSHED_UNITS: i64 = 1 << 50;

/// A push whose answer was lost: sent again, with its number, until Redis answers.
#[derive(Debug)]
struct Limbo {
    number: u64,
    batches: Vec<Batch>,
    since: Instant,
}

/// The durable-usage state of one instance.
#[derive(Debug, Default)]
pub(super) struct Usage {
    /// The last push number used.
    pushes: AtomicU64,
    /// The last take number used.
    takes: AtomicU64,
    limbo: Mutex<Vec<Limbo>>,
    /// Flight entries not sent that Redis did not let go: (customer, entry name or take
    /// prefix, feature when one entry), moved back to pending by the next delivery.
    restores: Mutex<Vec<(String, String, String)>>,
}

impl Usage {
    fn limbo(&self) -> MutexGuard<'_, Vec<Limbo>> {
        lock(&self.limbo)
    }

    fn restores(&self) -> MutexGuard<'_, Vec<(String, String, String)>> {
        lock(&self.restores)
    }

    /// Remembers flight entries to move back to pending.
    fn restore_later(&self, entries: impl IntoIterator<Item = (String, String, String)>) {
        let mut restores = self.restores();
        for entry in entries {
            if restores.len() >= MAX_RESTORES {
                let (_, dropped, _) = restores.remove(0);
                tracing::error!(
                    entry = dropped,
                    "kelviq fleet: too many untaken usage entries to give back; one stays in \
                     flight (not delivered)"
                );
            }
            restores.push(entry);
        }
    }
}

/// What became of the batches given to [`Fleet::push`] (and of earlier pushes in limbo).
#[derive(Debug, Default)]
pub(crate) struct Pushed {
    /// In Redis now: delivered to the fleet.
    pub(crate) pushed: Vec<Batch>,
    /// Certainly not in Redis: to be delivered by this instance.
    pub(crate) returned: Vec<Batch>,
    /// In limbo past [`LIMBO_GRACE`] (or its cap): they may be in Redis, so they are never
    /// sent elsewhere.
    pub(crate) unknown: Vec<Batch>,
}

/// Usage a delivery took from Redis.
#[derive(Debug, Clone)]
pub(crate) struct Taken {
    pub(crate) customer_id: String,
    pub(crate) feature_id: String,
    pub(crate) units: i64,
    /// Its entry in the customer's flight hash.
    field: String,
}

/// One customer's share of a push: feature, units pairs.
type Share<'a> = (&'a str, Vec<(&'a str, i64)>);

impl Fleet {
    /// Pushes `batches` to Redis (one script per customer, pipelined), after sending again
    /// the pushes in limbo. Batches of a customer with a push in limbo, or too large for
    /// Redis to add exactly, are returned at once.
    pub(crate) async fn push(&self, batches: Vec<Batch>) -> Pushed {
        self.start();
        let shared = &self.shared;
        let mut outcome = Pushed::default();
        let limbo = std::mem::take(&mut *shared.usage.limbo());
        for waiting in limbo {
            match shared.send_push(waiting.number, &waiting.batches).await {
                Ok(()) => outcome.pushed.extend(waiting.batches),
                Err(_) if waiting.since.elapsed() >= LIMBO_GRACE => {
                    outcome.unknown.extend(waiting.batches);
                }
                Err(_) => shared.usage.limbo().push(waiting),
            }
        }
        let (held, fresh): (Vec<Batch>, Vec<Batch>) = {
            let limbo = shared.usage.limbo();
            batches.into_iter().partition(|batch| {
                batch.line.units.unsigned_abs() > MAX_PUSHED_UNITS.unsigned_abs()
                    || limbo.iter().any(|waiting| {
                        waiting
                            .batches
                            .iter()
                            .any(|held| held.line.customer_id == batch.line.customer_id)
                    })
            })
        };
        outcome.returned.extend(held);
        if fresh.is_empty() {
            return outcome;
        }
        let number = shared.usage.pushes.fetch_add(1, Ordering::Relaxed) + 1;
        match shared.send_push(number, &fresh).await {
            Ok(()) => outcome.pushed.extend(fresh),
            Err(failure) if failure.never_sent() => outcome.returned.extend(fresh),
            Err(_) => {
                let mut limbo = shared.usage.limbo();
                if limbo.len() >= MAX_LIMBO {
                    outcome.unknown.extend(limbo.remove(0).batches);
                }
                limbo.push(Limbo {
                    number,
                    batches: fresh,
                    since: Instant::now(),
                });
            }
        }
        outcome
    }

    /// Everything still in limbo, given up (a shutdown): counted unknown by the caller.
    pub(crate) fn abandon_limbo(&self) -> Vec<Batch> {
        std::mem::take(&mut *self.shared.usage.limbo())
            .into_iter()
            .flat_map(|waiting| waiting.batches)
            .collect()
    }

    /// Takes the delivery lease for `lease`, or renews it. `false`: another instance
    /// holds it, or Redis did not answer.
    pub(crate) async fn claim_delivery(&self, lease: Duration) -> bool {
        self.start();
        let shared = &self.shared;
        let mut invocation = CLAIM_DELIVERY.prepare_invoke();
        invocation
            .key(shared.keys.delivery_lease())
            .arg(&shared.instance)
            .arg(millis(lease));
        matches!(
            shared
                .redis
                .run::<i64>("claim delivery", &invocation, &shared.counters)
                .await,
            Ok(1)
        )
    }

    /// Gives the delivery lease up, if held (a shutdown): another instance takes it at its
    /// next flush instead of a lease later.
    pub(crate) async fn release_delivery(&self) {
        let shared = &self.shared;
        let mut invocation = RELEASE_DELIVERY.prepare_invoke();
        invocation
            .key(shared.keys.delivery_lease())
            .arg(&shared.instance);
        let _ = shared
            .redis
            .run::<i64>("release delivery", &invocation, &shared.counters)
            .await;
    }

    /// Takes the pending usage of up to `customers` customers, the longest waiting first.
    pub(crate) async fn take(&self, customers: usize) -> Vec<Taken> {
        let shared = &self.shared;
        shared.restore().await;
        let index = shared.keys.usage_index();
        let last = isize::try_from(customers.max(1) - 1).unwrap_or(isize::MAX);
        let listed: Vec<String> = {
            let mut pipe = redis::pipe();
            pipe.cmd("ZRANGE").arg(&index).arg(0).arg(last);
            match shared
                .redis
                .pipeline("list usage", &pipe, &shared.counters)
                .await
            {
                Ok(mut replies) => match replies.pop().map(redis::from_redis_value) {
                    Some(Ok(listed)) => listed,
                    _ => return Vec::new(),
                },
                Err(_) => return Vec::new(),
            }
        };
        if listed.is_empty() {
            return Vec::new();
        }
        let take = format!(
            "{}.{}",
            shared.instance,
            shared.usage.takes.fetch_add(1, Ordering::Relaxed)
        );
        let mut pipe = redis::pipe();
        pipe.ignore_errors().load_script(&TAKE).ignore();
        let mut invocations = Vec::with_capacity(listed.len());
        for customer_id in &listed {
            let keys = shared.keys.customer(customer_id);
            let mut invocation = TAKE.prepare_invoke();
            invocation
                .key(&keys.pending)
                .key(&keys.flight)
                .arg(&take)
                .arg(MAX_FEATURES_PER_TAKE)
                .arg(millis(RECORD_TTL));
            invocations.push(invocation);
        }
        for invocation in &invocations {
            pipe.invoke_script(invocation);
        }
        let Ok(replies) = shared
            .redis
            .pipeline("take usage", &pipe, &shared.counters)
            .await
        else {
            // The takes may have run: whatever they moved was not sent, so it goes back.
            shared.usage.restore_later(
                listed
                    .iter()
                    .map(|customer_id| (customer_id.clone(), format!("{take}:"), String::new())),
            );
            return Vec::new();
        };
        let mut taken = Vec::new();
        for (customer_id, reply) in listed.iter().zip(replies) {
            let Ok(pairs) = redis::from_redis_value::<Vec<(String, i64)>>(reply) else {
                continue;
            };
            for (feature_id, units) in pairs {
                taken.push(Taken {
                    customer_id: customer_id.clone(),
                    field: format!("{take}:{feature_id}"),
                    feature_id,
                    units,
                });
            }
        }
        shared.unlist(&listed).await;
        taken
    }

    /// Settles a taken entry: `back` moves its units back to pending (refused before
    /// processing), else it is removed. `false` when Redis did not answer: the entry stays
    /// in flight, never delivered again.
    pub(crate) async fn settle(&self, taken: &Taken, back: bool) -> bool {
        let shared = &self.shared;
        let keys = shared.keys.customer(&taken.customer_id);
        let mut invocation = SETTLE.prepare_invoke();
        invocation
            .key(&keys.pending)
            .key(&keys.flight)
            .arg(&taken.field)
            .arg(&taken.feature_id)
            .arg(u8::from(back));
        let settled = shared
            .redis
            .run::<i64>("settle usage", &invocation, &shared.counters)
            .await
            .is_ok();
        if settled && back {
            shared.list(&[taken.customer_id.as_str()]).await;
        } else if back {
            shared.usage.restore_later([(
                taken.customer_id.clone(),
                taken.field.clone(),
                taken.feature_id.clone(),
            )]);
        }
        settled
    }

    /// The fleet's pending usage of one customer (pushed, not yet taken for delivery), per
    /// feature; empty when Redis does not answer.
    pub(crate) async fn pending_usage(&self, customer_id: &str) -> Vec<(String, i64)> {
        let shared = &self.shared;
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL")
            .arg(shared.keys.customer(customer_id).pending);
        match shared
            .redis
            .pipeline("read pending usage", &pipe, &shared.counters)
            .await
        {
            Ok(mut replies) => replies
                .pop()
                .and_then(|reply| redis::from_redis_value(reply).ok())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }
}

impl Shared {
    /// Moves back to pending the flight entries remembered for it (see `restore_later`);
    /// those Redis does not answer for are kept for the next time.
    async fn restore(&self) {
        let restores = std::mem::take(&mut *self.usage.restores());
        if restores.is_empty() {
            return;
        }
        let mut invocations = Vec::with_capacity(restores.len());
        for (customer_id, prefix, feature_id) in &restores {
            let keys = self.keys.customer(customer_id);
            let mut invocation = RESTORE.prepare_invoke();
            invocation
                .key(&keys.pending)
                .key(&keys.flight)
                .arg(prefix)
                .arg(feature_id);
            invocations.push(invocation);
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors().load_script(&RESTORE).ignore();
        for invocation in &invocations {
            pipe.invoke_script(invocation);
        }
        match self
            .redis
            .pipeline("give usage back", &pipe, &self.counters)
            .await
        {
            Ok(_) => {
                let customers: Vec<&str> = restores.iter().map(|(c, _, _)| c.as_str()).collect();
                self.list(&customers).await;
            }
            Err(_) => self.usage.restore_later(restores),
        }
    }

    /// Sends one push: `Ok` once every customer's script answered (applied now or before).
    async fn send_push(&self, number: u64, batches: &[Batch]) -> Result<(), Failure> {
        let mut shares: Vec<Share<'_>> = Vec::new();
        for batch in batches {
            let line = &batch.line;
            let pair = (line.feature_id.as_str(), lua_safe(line.units));
            match shares
                .iter_mut()
                .find(|(customer_id, _)| *customer_id == line.customer_id)
            {
                Some((_, pairs)) => pairs.push(pair),
                None => shares.push((line.customer_id.as_str(), vec![pair])),
            }
        }
        let mut invocations = Vec::with_capacity(shares.len());
        for (customer_id, pairs) in &shares {
            let keys = self.keys.customer(customer_id);
            let mut invocation = PUSH.prepare_invoke();
            invocation
                .key(&keys.pending)
                .key(&keys.pushed)
                .arg(&self.instance)
                .arg(number)
                .arg(millis(RECORD_TTL));
            for (feature_id, units) in pairs {
                invocation.arg(*feature_id).arg(*units);
            }
            invocations.push(invocation);
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors().load_script(&PUSH).ignore();
        for invocation in &invocations {
            pipe.invoke_script(invocation);
        }
        // Listed after the pushes: a delivery that unlists a customer looks at its pending
        // hash again afterwards (see `unlist`), so no push is left unlisted.
        add_to_index(
            &mut pipe,
            &self.keys.usage_index(),
            shares.iter().map(|s| s.0),
        );
        let replies = self
            .redis
            .pipeline("push usage", &pipe, &self.counters)
            .await?;
        match replies
            .iter()
            .find(|reply| matches!(reply, Value::ServerError(_)))
        {
            // A script refused on the server wrote nothing; the others are applied and
            // recorded: sent again with the same number, they are not applied twice.
            Some(Value::ServerError(error)) => {
                let failure = Failure::Redis(error.clone().into());
                self.redis.failed("push usage", &failure, &self.counters);
                Err(failure)
            }
            _ => Ok(()),
        }
    }

    /// Adds customers to the index of pending usage (those already in keep their place).
    async fn list(&self, customers: &[&str]) {
        let mut pipe = redis::pipe();
        add_to_index(
            &mut pipe,
            &self.keys.usage_index(),
            customers.iter().copied(),
        );
        let _ = self
            .redis
            .pipeline("list usage", &pipe, &self.counters)
            .await;
    }

    /// Removes customers whose usage was taken from the index, then lists again those
    /// whose pending hash was written meanwhile (a push lists after writing, so either its
    /// listing comes after the removal, or its write is seen here).
    async fn unlist(&self, customers: &[String]) {
        let index = self.keys.usage_index();
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM").arg(&index).arg(customers).ignore();
        for customer_id in customers {
            pipe.cmd("EXISTS")
                .arg(self.keys.customer(customer_id).pending);
        }
        let Ok(replies) = self
            .redis
            .pipeline("unlist usage", &pipe, &self.counters)
            .await
        else {
            return;
        };
        let again: Vec<&str> = customers
            .iter()
            .zip(replies)
            .filter(|(_, exists)| matches!(exists, Value::Int(1)))
            .map(|(customer_id, _)| customer_id.as_str())
            .collect();
        if !again.is_empty() {
            self.list(&again).await;
        }
    }
}

/// `ZADD index NX now customer…`: scored by the first push, so the oldest go first.
fn add_to_index<'a>(
    pipe: &mut redis::Pipeline,
    index: &str,
    customers: impl Iterator<Item = &'a str>,
) {
    let now = unix_millis();
    let command = pipe.cmd("ZADD").arg(index).arg("NX");
    for customer_id in customers {
        command.arg(now).arg(customer_id);
    }
    command.ignore();
}
