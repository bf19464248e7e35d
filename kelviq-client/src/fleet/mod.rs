//! Running as a fleet on Redis (cargo feature `redis`): several instances of a service
//! share entitlement snapshots, invalidations, hard limits and their pending usage.
//!
//! Alone, every instance is an island: it fetches each customer itself, a webhook
//! refreshes only the instance that received it, and a hard limit of 1,000 can be passed
//! about N-fold by N instances. Joined to a fleet, on the Redis (or Valkey, or a Redis
//! Cluster: see [below](#redis-cluster-sentinel-managed-redis)) the service already runs:
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kelviq_client::Error> {
//! use kelviq_client::Kelviq;
//! use kelviq_client::fleet::{FleetConfig, FleetLimits};
//!
//! let kelviq = Kelviq::builder()
//!     .access_token("sk_live_...")
//!     .fleet(FleetConfig::redis("redis://127.0.0.1:6379").prefix("billing"))
//!     .build()?;
//! // A hard limit that holds across every instance of the fleet.
//! let calls = kelviq
//!     .gate()
//!     .require("api-calls")
//!     .meter("api-calls", 1)
//!     .fleet_limits(FleetLimits::Strict)
//!     .build()?;
//! # let _ = calls;
//! # Ok(())
//! # }
//! ```
//!
//! # What is shared
//!
//! **Snapshots.** A customer missing from the local cache (or due for a refresh) is read
//! from Redis before Kelviq is asked. When Redis has none, one instance of the whole fleet
//! loads it: it takes the customer's *lease* (`SET NX PX`, [`FleetConfig::lease_timeout`],
//! renewed every third of it while its call runs), fetches, stores the entitlements in
//! Redis as Kelviq sent them (the wire JSON, with the fetch time), and publishes that the
//! load ended. The others wait for that notification (or look again every
//! [poll interval](FleetConfig::poll_interval)), within the cache's
//! [load timeout](crate::CacheConfig::load_timeout), and take the stored result. The entry
//! in Redis lives exactly the cache's TTL, so Kelviq sees one entitlement call per
//! customer per TTL from the whole fleet. A loader that dies stops renewing its lease: at
//! most a lease later another instance takes over. A load that fails releases the lease and
//! stores nothing (each instance then backs off as alone). A snapshot taken from Redis
//! ages from its fetch by Kelviq (the fetch time is stored with it), so no snapshot
//! outlives the TTL in the fleet (plan changes arrive at once through invalidation).
//!
//! **Invalidation.** A verified webhook (the adapters call
//! [`Kelviq::invalidate_entitlements`](crate::Kelviq::invalidate_entitlements)) or an
//! explicit invalidation, on any instance, deletes the customer's snapshot and lease in
//! Redis, bumps the customer's *generation* (so that a load that started before is not
//! stored) and publishes on the fleet's channel, all in one script; every instance's
//! subscriber drops its local snapshot. A load on the invalidating instance waits for that
//! script first, so it cannot read back the snapshot being deleted. The subscriber has its
//! own connection, pings it every 5 s (any answer but an error, or none within
//! [`FleetConfig::connect_timeout`], is a lost connection) and reconnects by itself with
//! backoff; after any gap it empties the local cache, since invalidations may have been
//! missed. Whether it is subscribed now is [`FleetStats::subscriber_connected`]; the
//! reconnections are [`FleetStats::subscriber_reconnects`], and a healthy fleet has none.
//! `invalidate_all_entitlements` stays local.
//!
//! **Strict limits** ([`FleetLimits::Strict`], a gate option). Before the handler runs, a
//! Lua script checks `used + amount ≤ limit` on the customer's shared counter for the
//! metered feature, adds the amount and records it as a *hold* under the reservation's
//! id; a response that is not a success (or a request dropped before its response) gives
//! the hold back; a success keeps its units (the hold goes, the units stay counted), and
//! the usage meter delivers them to Kelviq as always. So a hard limit is never passed
//! across the fleet. A reservation may also ask for a range — at least `m` units, at most
//! `n` — and is granted as many as the limit leaves, up to `n` (the gate asks for its
//! fixed amount exactly).
//!
//! *Ids: cancel-safe by construction.* A reservation gets its id (the instance's id and a
//! number) and a guard before its script is sent. Dropped at any point — before the script
//! is sent, while it runs, or after Redis answered but before the gate handed the
//! reservation over (a client disconnect, an outer timeout) — the guard gives back by id,
//! in the background. Releases and settlements are idempotent by id: an id that holds
//! nothing (never granted, released or settled already, lapsed) changes nothing, so a
//! cancelled reservation whose script had not run yet costs nothing, and a settlement sent
//! again after a lost answer never keeps its units twice.
//!
//! *Leases: crash-safe.* A hold lapses [`FleetConfig::hold_time`] (30 s by default) after
//! it was granted or last renewed, judged on Redis's clock (`TIME`), so the instances'
//! clocks do not matter. While its request runs, the instance renews it: one background
//! task renews all of the instance's live holds every third of the hold time, in
//! pipelines of at most 500, so a request may run as long as it likes. Per customer,
//! feature and period, holds live in a hash (id → units) beside a sorted set (id by
//! expiry); every reservation and settlement first returns up to 32 lapsed holds to the
//! limit (counted in [`FleetStats::holds_expired`]), so lapsed holds cannot pile up and no
//! script's work grows with them. An instance that vanishes (crashed, killed, cut off)
//! therefore holds its units at most a hold time after its last renewal: the next
//! reservation after that finds them free. Holds never outlive their counter: a counter
//! that is gone (expired, evicted) takes its holds with it.
//!
//! *Redis failing mid-reservation.* A reservation whose script fails or times out falls
//! back to the local decision (see below); it may have been granted all the same, so its
//! guard releases it by id in the background (a no-op if it was not). A settlement whose
//! answer was lost is sent again, with its id, by the renewal task for up to a hold time;
//! past that the hold lapses by itself. A hold that cannot be renewed for a whole hold time
//! (Redis unreachable that long) lapses while its request runs: its units return to the
//! limit, and should the request then succeed, its units reach Kelviq through the meter but
//! not the counter until the next stored snapshot raises it (erring towards admitting, by
//! at most what was in flight through the outage). A release that overtakes its own
//! reservation (only possible across a reconnection) leaves a hold that lapses within a
//! hold time. An instance tracks (renews) at most 65,536 holds at once; past that, new
//! holds are not renewed (counted in [`FleetStats::background_dropped`]) and lapse after
//! a hold time.
//!
//! The counter is keyed per customer, feature and usage period (Kelviq's `resetAt`): a new
//! period starts a new counter. It counts the period's usage as Kelviq knows it *plus* the
//! units admitted since (kept, or held by a request in flight), so it is seeded from
//! Kelviq's usage and never double counts: when a snapshot is stored, each hard-limited
//! meter's counter becomes `max(counter, Kelviq's usage + held units)` — units already
//! delivered are in both, and the maximum counts them once; units kept but not yet
//! delivered are in the counter only, and the maximum keeps them; holds stay apart; usage
//! reported some other way raises the counter. A missing counter (first use, expired after
//! [`FleetConfig::counter_ttl`] unused, or Redis restarted empty) is seeded by the first
//! reservation from its snapshot's usage (Kelviq's plus this instance's undelivered
//! units). Known bounds: after Redis loses its data, units admitted elsewhere and not yet
//! delivered can be admitted once more; a hold of an instance that dies stays counted up
//! to a hold time (it errs towards refusing). A per-response amount larger than the
//! reserved one is added after the fact (it cannot be refused once the handler ran).
//!
//! **Fast limits** ([`FleetLimits::Fast`], a gate option, with the same needs as strict).
//! Requests are judged on the local snapshot: no Redis on the request path. Every
//! [sync interval](FleetConfig::sync_interval) (100 ms by default) a background task, in
//! one pipeline, adds the units this instance recorded since its last round to the same
//! per-customer, feature and period counters (seeded as strict reservations seed them) and
//! reads the fleet's total back; what the other instances used is then added to the local
//! snapshot's usage, so that access flips on every instance within about one interval of
//! the limit being reached. A round only ever raises a snapshot's usage, and its reads are
//! ordered so that a racing request makes it apply less (caught up next round), never
//! more: the limit stays reachable. A snapshot loaded anew starts from Kelviq's usage
//! plus the fleet's pending usage, and takes the counter's total in at its next round.
//!
//! *The overshoot bound.* Take `N` instances, `C` the requests one instance runs at once,
//! `a` the metered amount of one request, and `A` the most units of one customer's feature
//! one instance records from the take of a round whose total it applied to the next
//! application (its admission rate times the interval plus the round's time in Redis, one
//! round trip per 500 keys; rounds that fail or apply nothing lengthen it;
//! [`FleetStats::limit_sync_max_units`] measures it). An instance admits only while its view
//! is below the limit `L`. Let `r*` be the largest total any instance applied and still
//! admitted after (the counter only grows, so every unit added before that read is in
//! `r*`), applied by instance `i*`. From then on `i*`'s view is `r*` plus what it recorded
//! since that round took its units, less the requests caught between their two records at
//! that instant (at most `C × a`: a round applies less, never more); so `i*` records at
//! most `L − r* + C × a` units not in `r*`, plus `C × a` admitted before its view tripped.
//! Any other instance `j`: its units up to its last admitting round's take are in `r*`;
//! after it, `j` admits until its next round applies a total, and nothing after that (else
//! that round would be its last admitting one), so at most `A`, plus `C × a` in flight.
//! Summing: usage ≤ `L + 2 × C × a + (N − 1)(A + C × a)`, that is **at most
//! `(N − 1) × A + (N + 1) × C × a` units beyond the limit**. At 1,000 metered requests a
//! second per instance, 100 ms and a round trip of a few ms, `A` ≈ 100: 4 instances pass
//! a limit by at most ~300 units plus `5 × C × a`. The bound assumes views that only grow
//! and every unit synced. Outside it: a snapshot reloaded near the limit (its TTL, a
//! webhook) restarts from Kelviq's usage plus the usage the fleet pushed, without what the
//! others recorded since their last push, so the instance may admit up to one more window
//! until its next round; a round whose answer was lost leaves its units out of the counter
//! (below); pairs past 10,000 tracked ones are judged locally; and while Redis is failing,
//! each instance judges the limit alone: up to `N`-fold, as without a fleet.
//!
//! *Strict or fast.* Strict when the limit is money or a contract (it is never passed)
//! and a Redis round trip per metered request is acceptable; fast when the request path
//! must stay in microseconds and passing the limit by a few intervals' worth of traffic
//! is acceptable (rate-style quotas, generous plans). A round whose pipeline Redis
//! certainly did not receive keeps its units for the next; one whose answer was lost drops
//! them (they may have been added), so the counter can miss that round's units, caught
//! up when the next snapshot stored raises it to Kelviq's usage. Durable usage is
//! the same in both modes: the meter delivers what was recorded.
//!
//! # Durable usage
//!
//! Each flush of the [usage meter](crate::meter) pushes the usage it collected to Redis:
//! per customer, one script adds the units to the customer's `pending` hash (`HINCRBY` per
//! feature), and the customer joins the fleet's index of pending usage (a sorted set, by
//! first push), all pipelined in one round trip. Whichever instance holds the **delivery
//! lease** (`SET NX PX` of [`FleetConfig::delivery_lease`], 3 s by default and at least three
//! flush intervals, renewed at each flush) delivers: each flush it takes the longest
//! waiting customers (up to the flush's share of the report budget), and one script per
//! customer *moves* their units into its `flight` hash, under a take number naming the
//! holder, so that no instance can take them again. Each report is then settled there:
//! delivered, refused (`4xx`) or unknown (timeout, dropped connection, `5xx`) → removed —
//! an unknown outcome is counted and **never replayed**, the same rule as alone, fleet-wide;
//! refused before processing (`429`, `503`, connection refused) → moved back to `pending`.
//! The holder paces the fleet's reports with its budget
//! ([`MeterConfig::max_reports_per_second`](crate::meter::MeterConfig::max_reports_per_second)),
//! so the budget holds across the fleet — except while Redis is down, when each instance
//! delivers its own usage within its own budget.
//!
//! What counts where, per instance: a unit handed to Redis counts `sent` in
//! [`MeterStats`](crate::meter::MeterStats) (delivered to the fleet) and
//! [`MeterStats::pushed`](crate::meter::MeterStats::pushed); so
//! `recorded == sent + failed + unknown + pending` still holds on each instance. What an
//! instance delivered for the fleet as lease holder is in [`FleetStats`]
//! (`usage_delivered`, `usage_unknown`, `usage_failed`, `usage_given_back`).
//!
//! **What a crash loses.** An instance that dies loses what it recorded since its last push:
//! at most one flush interval's usage (more while Redis refuses, when the usage stays
//! local). What it pushed is delivered by another instance: a dead holder stops renewing
//! the lease, and another takes it within a lease. Units a dead holder had taken and was
//! reporting stay in its `flight` hash (for a day, for inspection): their outcome is
//! unknown, so they are never delivered again. Durable usage is as durable as the Redis
//! holding it: a Redis that restarts empty has lost the usage it held.
//!
//! **Redis failing.** A push Redis certainly did not receive (connection refused) leaves
//! the usage in the local backlog, delivered by this instance directly, as alone. A push
//! whose answer was lost (a timeout, a dropped connection) may have been applied: it waits
//! (counted `pending`) and is sent again, with its number, until Redis answers — the
//! script applies each instance's push number once — and counts `unknown` after 60 s;
//! meanwhile new usage of its customers is delivered directly. A take or a give-back whose
//! answer was lost is moved back to `pending` by the holder's next delivery (nothing of it
//! was sent). Nothing is lost silently, nothing is sent twice.
//!
//! **Fresh snapshots** count the fleet's pending usage of the customer (read from Redis
//! after the load) plus this instance's units not pushed yet. A unit is in one place at a
//! time — this instance's ledger, Redis's `pending`, or in flight (which Kelviq may count
//! already, so neither counts it) — so nothing is counted twice; a push racing the load
//! can be missed until the next load. A snapshot taken from Redis ages from its fetch by
//! Kelviq (the stored wall-clock time), not from its arrival.
//!
//! A shutdown ([`UsageMeter::shutdown`](crate::meter::UsageMeter::shutdown)) delivers the
//! instance's own usage directly, then the fleet's while it can hold the lease, and gives
//! the lease up.
//!
//! # Redis is never a new way to fail
//!
//! Every Redis command runs under [`FleetConfig::command_timeout`] (50 ms by default). A
//! command that fails or times out is counted ([`FleetStats::redis_errors`]), logged at
//! `warn` at most every 10 s, and the step falls back to single-instance behaviour: the
//! load is done locally, the limit is judged on the local snapshot (strict and fast
//! alike), the invalidation
//! stays local. No request fails because Redis did. The command connection reconnects by
//! itself; background updates (releases, settlements, invalidations) are bounded in
//! number.
//!
//! # Keys
//!
//! `<prefix>:{<customer>}:snap`, `:lease`, `:gen`, `:used:<feature>:<period>` (a shared
//! limit's counter) with `:holds:<feature>:<period>` and `:holds-until:<feature>:<period>`
//! (its holds, and when each lapses), and for
//! durable usage `:pending`, `:flight` and `:pushed`; the fleet-wide one-key structures
//! `<prefix>:fleet:usage` (the index of pending usage) and `<prefix>:fleet:delivery` (the
//! delivery lease), and the channel `<prefix>:fleet:events`. The customer id is the hash tag, so one customer's keys
//! live on one Redis Cluster slot (Lua scripts touch several); ids are percent-escaped
//! (`%`, `{`, `}`, `:`, spaces, control and non-ASCII bytes), so hostile ids can neither
//! collide nor break the tag.
//!
//! # Redis Cluster, Sentinel, managed Redis
//!
//! **Redis Cluster** (or Valkey cluster): [`FleetConfig::redis_cluster`] with some of its
//! primaries' URLs. Every guarantee above holds unchanged, because nothing of the fleet
//! needs two slots at once:
//!
//! - every script touches the keys of one customer only, all under the customer's hash
//!   tag, so each runs atomically on the node that owns that customer's slot, and the
//!   customers spread over the cluster;
//! - the fleet-wide keys, `<prefix>:fleet:usage` and `<prefix>:fleet:delivery`, are each
//!   one key touched by one-key commands only (`ZADD`, `ZRANGE`, `ZREM`, and the lease's
//!   one-key scripts), so each lives on one slot as it is. They keep their names (no hash
//!   tag of their own): a tag would rename them under a running fleet and strand the
//!   usage listed in the old index, and no script needs the two together;
//! - a pipeline (a flush's pushes, a delivery's takes, a renewal round, a fast-limit sync)
//!   may span customers: on a cluster it is split per slot, the parts sent to their nodes
//!   concurrently, and the replies put back in order; where the pipeline turns from the
//!   customers' keys to a fleet-wide key (or back), the parts after wait for those before
//!   (a push lists a customer in the index only once its usage is written, a delivery
//!   looks at the pending hash again only once it unlisted the customer, as on one
//!   server). A part that fails fails the whole
//!   pipeline as a lost answer (some parts may have run), which every caller already
//!   handles (pushes are numbered and applied once, takes are given back, holds and
//!   settlements are idempotent by id);
//! - invalidations and load notifications use plain `PUBLISH` (from inside the scripts,
//!   as on one server), which a cluster forwards to **every** node; the subscriber listens
//!   on one node, the seed nodes in the order given, and moves on to the next after a
//!   failure (emptying its local cache, as after any gap). Sharded pub/sub
//!   (`SSUBSCRIBE`/`SPUBLISH`) was not chosen: its channel hashes to one slot, which a
//!   script of another customer's slot may not publish to, so the publish would leave
//!   the script that deletes the snapshot and bumps the generation (no longer atomic), and
//!   the subscriber would have to follow that slot across failovers. Plain `PUBLISH` costs
//!   one message per node on the cluster bus per invalidation or load, small next to the
//!   load it announces.
//!
//! The cluster client learns the topology from the seeds, follows `MOVED`/`ASK` and
//! refreshes its slot map after a failover by itself; commands still run under
//! [`FleetConfig::command_timeout`], and anything that fails falls back as above. A
//! pipeline part that meets a slot on the move (`MOVED`, `ASK`, `TRYAGAIN`) fails as a
//! lost answer, taken again by the callers' paths for one.
//! Tested against a three-node cluster on loopback (`kelviq_mock::RedisCluster`).
//!
//! **Sentinel** is not built in. Point [`FleetConfig::redis`] at an address that follows
//! the primary (a DNS name or a proxy updated on failover): the command connection and the
//! subscriber reconnect by themselves, and a failover is an outage of the length it takes
//! (everything falls back meanwhile; the subscriber's reconnection empties the local
//! caches). A replica promoted without the last writes can lose them, with the bounds of
//! a Redis that restarts empty (above).
//!
//! **Managed Redis** (ElastiCache, Memorystore, Azure Cache, Upstash…) works over plain
//! TCP: a single endpoint with [`FleetConfig::redis`], a cluster-mode endpoint with
//! [`FleetConfig::redis_cluster`]. **TLS (`rediss://`) is not supported**: the Redis
//! client is built without TLS (no OpenSSL, and no rustls for Redis yet), and
//! [`build`](crate::KelviqBuilder::build) refuses a `rediss://` URL; reach a TLS-only
//! service through a local TLS tunnel (stunnel, a sidecar) or a private network without
//! in-transit encryption. The service must allow `EVALSHA`/`SCRIPT LOAD`, `PUBLISH` and
//! `SUBSCRIBE`, and keyspace-wide commands are never used.
//!
//! # Telemetry
//!
//! [`Kelviq::fleet_stats`](crate::Kelviq::fleet_stats), and with the cargo feature
//! `metrics`: [`FLEET_SNAPSHOTS`] (`source` = `redis` | `loaded` | `fallback`),
//! [`FLEET_RESERVATIONS`] (`result` = `granted` | `refused` | `released` | `cancelled` |
//! `expired` | `fallback`),
//! [`FLEET_INVALIDATIONS`] (`direction` = `sent` | `received`), [`FLEET_LIMIT_SYNCS`]
//! (`result` = `synced` | `fallback`), [`FLEET_REDIS_ERRORS`],
//! [`FLEET_SUBSCRIBER_RECONNECTS`], and the gauge [`FLEET_SUBSCRIBER_CONNECTED`] (1 while
//! the subscriber is subscribed, 0 while it reconnects).
//!
//! # Where it plugs in
//!
//! The fleet is the Redis implementation of the crate's shared tier (`tier.rs`): the
//! cache loads through it, the client tells it of invalidations, the meter hands its usage
//! off and leaves through it (`SharedTier`, implemented here on `Fleet`), and a gate with
//! [`FleetLimits`] reserves on or counts into it (`SharedLimit`, in `reservation.rs`). The
//! cache, gate and meter know these traits only; they never name the fleet. The client's
//! builder joins it (`Fleet::join`), handing it the cache's `LocalCache`: the subscriber
//! drops invalidated snapshots through that handle, and fast limits read and raise fresh
//! snapshots through it — never through a pointer back to the cache, and it cannot start a
//! load. The public entry points live beside their types: [`KelviqBuilder::fleet`](crate::KelviqBuilder::fleet)
//! with [`FleetConfig`] (`config.rs`), [`GateBuilder::fleet_limits`](crate::gate::GateBuilder::fleet_limits)
//! with [`FleetLimits`] (`reservation.rs`), [`Kelviq::fleet_stats`](crate::Kelviq::fleet_stats)
//! with [`FleetStats`] (`stats.rs`). What the parts share (milliseconds, Lua-safe
//! integers, which features share a limit, tokens, starting a task once) is in
//! `helpers.rs`.
//!
//! # Why a feature of kelviq-client, not a crate
//!
//! The shared tier's traits are crate-private on purpose: they change with the engine. A
//! separate crate would need them public and semver-stable; a feature keeps them private,
//! keeps one version to upgrade, and costs nothing to those who do not turn it on.

mod config;
mod connection;
mod fast;
mod handoff;
mod helpers;
mod invalidation;
mod keys;
mod lease;
mod reservation;
mod stats;
mod usage;

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

pub use config::FleetConfig;
pub use reservation::FleetLimits;
#[cfg(feature = "metrics")]
pub(crate) use stats::describe as describe_metrics;
pub use stats::{
    FLEET_INVALIDATIONS, FLEET_LIMIT_SYNCS, FLEET_REDIS_ERRORS, FLEET_RESERVATIONS,
    FLEET_SNAPSHOTS, FLEET_SUBSCRIBER_CONNECTED, FLEET_SUBSCRIBER_RECONNECTS, FleetStats,
};

use crate::cache::{CacheConfig, LocalCache};
use crate::client::Kelviq;
use crate::error::{Error, Result};
use crate::http::Transport;
use crate::meter::Shared as Meter;
use crate::sync::lock;
use crate::tier::{Fetched, SharedTier};
use connection::Connection;
use helpers::first_start;
use keys::Keys;
use stats::{Counters, Event};

/// How many background Redis updates (releases, invalidations) may be in flight at once;
/// past it they are dropped and counted.
const MAX_BACKGROUND: usize = 1024;

/// An invalidation must outlive every load that started before it: the generation key
/// lives this much longer than the longest load.
const GENERATION_SLACK: Duration = Duration::from_secs(600);

/// One client's membership of a fleet: the client's [shared tier](crate::tier), held by
/// the client, its cache, its meter and its gates with fleet limits.
pub(crate) struct Fleet {
    shared: Arc<Shared>,
    /// Dropped with the fleet: the subscriber task then ends.
    stop: watch::Sender<bool>,
    /// Whether the subscriber task was started.
    started: AtomicBool,
    /// The local cache, as the cache handed it over: what the subscriber invalidates and
    /// fast limits raise.
    cache: LocalCache,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("instance", &self.shared.instance)
            .field("connection", &self.shared.redis)
            .finish_non_exhaustive()
    }
}

/// Whether the subscriber listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscriber {
    /// Not yet subscribed for the first time.
    Starting,
    Subscribed,
    /// Disconnected or failing; reconnecting.
    Down,
}

/// What the fleet's tasks share.
pub(crate) struct Shared {
    keys: Keys,
    redis: Connection,
    counters: Counters,
    /// This instance's id in the fleet's messages (its own are skipped).
    instance: String,
    waiters: lease::Waiters,
    /// Invalidations being written to Redis, per customer: a load waits for them.
    invalidating: Mutex<HashMap<String, (usize, Arc<Notify>)>>,
    subscriber: watch::Sender<Subscriber>,
    background: Arc<Semaphore>,
    /// The runtime the fleet started on, for background updates asked for outside one.
    runtime: OnceLock<Handle>,
    /// How long a shared snapshot is fresh: the cache's TTL.
    snapshot_ttl: Duration,
    lease_timeout: Duration,
    poll_interval: Duration,
    counter_ttl: Duration,
    generation_ttl: Duration,
    /// Durable usage: pushes in limbo, take numbers.
    usage: usage::Usage,
    /// How long the delivery lease lasts without renewal.
    delivery_lease: Duration,
    /// Fast limits: the units not synced yet.
    fast: fast::FastLimits,
    /// How often fast limits sync.
    sync_interval: Duration,
    /// Strict limits: the holds of this instance's reservations.
    holds: reservation::Holds,
    /// How long a strict hold lasts without renewal.
    hold_time: Duration,
}

impl Fleet {
    /// The shared tier of a client joining the fleet `config` describes, for its cache
    /// configured as `cache` and handed over as `local`: the one registration point of the
    /// fleet, called by the client's builder.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad setting or URL, or no entitlement cache to share.
    pub(crate) fn join(
        config: FleetConfig,
        cache: Option<&CacheConfig>,
        local: LocalCache,
    ) -> Result<Arc<dyn SharedTier>> {
        Ok(Fleet::new(config, cache, local)?)
    }

    /// A fleet member for a client whose cache is configured as `cache`.
    fn new(
        config: FleetConfig,
        cache: Option<&CacheConfig>,
        local: LocalCache,
    ) -> Result<Arc<Fleet>> {
        let Some(cache) = cache else {
            return Err(Error::Config(
                "a fleet shares entitlement snapshots: build the client without \
                 no_entitlement_cache()"
                    .to_owned(),
            ));
        };
        let server = config.validate()?;
        let longest_load = cache.load_timeout.max(config.lease_timeout);
        let (stop, _) = watch::channel(false);
        let (subscriber, _) = watch::channel(Subscriber::Starting);
        Ok(Arc::new(Fleet {
            shared: Arc::new(Shared {
                keys: Keys::new(&config.prefix),
                redis: Connection::new(server, config.command_timeout, config.connect_timeout),
                counters: Counters::default(),
                instance: format!("{:016x}", fastrand::u64(..)),
                waiters: lease::Waiters::default(),
                invalidating: Mutex::new(HashMap::new()),
                subscriber,
                background: Arc::new(Semaphore::new(MAX_BACKGROUND)),
                runtime: OnceLock::new(),
                snapshot_ttl: cache.ttl,
                lease_timeout: config.lease_timeout,
                poll_interval: config.poll_interval,
                counter_ttl: config.counter_ttl,
                generation_ttl: longest_load.saturating_add(GENERATION_SLACK),
                usage: usage::Usage::default(),
                delivery_lease: config.delivery_lease,
                fast: fast::FastLimits::default(),
                sync_interval: config.sync_interval,
                holds: reservation::Holds::default(),
                hold_time: config.hold_time,
            }),
            stop,
            started: AtomicBool::new(false),
            cache: local,
        }))
    }

    /// The fleet `kelviq` joined, if it joined one.
    fn of(kelviq: &Kelviq) -> Option<Arc<Fleet>> {
        let tier: Arc<dyn SharedTier> = Arc::clone(&kelviq.inner.tier);
        let tier: Arc<dyn Any + Send + Sync> = tier;
        tier.downcast().ok()
    }

    /// What the fleet did so far.
    fn stats(&self) -> FleetStats {
        self.shared.counters.snapshot()
    }

    /// How long the delivery lease lasts without renewal: at least three flush intervals
    /// of the meter (`flush_interval`), so that a live holder renews it in time.
    pub(crate) fn delivery_lease(&self, flush_interval: Duration) -> Duration {
        self.shared
            .delivery_lease
            .max(flush_interval.saturating_mul(3))
    }

    /// Counts units of the fleet's usage this instance delivered (or not).
    pub(crate) fn count_delivered(&self, change: impl FnOnce(&mut stats::DeliveredUnits)) {
        self.shared.counters.delivered(change);
    }

    /// Counts a report of the fleet's usage given back to Redis.
    pub(crate) fn count_given_back(&self) {
        self.shared
            .counters
            .usage_given_back
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Starts the subscriber, once, on the current runtime (nothing outside one: the next
    /// use inside one starts it).
    fn start(&self) {
        let Some(runtime) = first_start(&self.started) else {
            return;
        };
        let _ = self.shared.runtime.set(runtime.clone());
        runtime.spawn(invalidation::subscribe(
            Arc::clone(&self.shared),
            self.cache.clone(),
            self.stop.subscribe(),
        ));
    }
}

/// The fleet as the cache, the client and the meter call it (see [`crate::tier`]); the
/// gate's shared limits are [`FleetLimits`]'.
impl SharedTier for Fleet {
    fn load<'a>(
        &'a self,
        transport: &'a Transport,
        customer_id: &'a str,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Fetched>> {
        self.load_shared(transport, customer_id, deadline).boxed()
    }

    fn invalidate(&self, customer_id: &str) {
        self.publish_invalidation(customer_id);
    }

    fn hand_off<'a>(&'a self, meter: &'a Meter) -> BoxFuture<'a, ()> {
        handoff::push(meter, self).boxed()
    }

    fn deliver<'a>(&'a self, meter: &'a Meter, quota: usize) -> BoxFuture<'a, ()> {
        handoff::deliver(meter, self, quota).map(drop).boxed()
    }

    fn leave<'a>(&'a self, meter: &'a Meter, deadline: Instant) -> BoxFuture<'a, ()> {
        handoff::leave(meter, self, deadline).boxed()
    }
}

impl Shared {
    fn count(&self, event: Event) {
        self.counters.count(event);
    }

    /// How long a shared limit's keys (its counter and holds) live after their last use:
    /// the counter TTL, and never less than a hold.
    fn limit_ttl(&self) -> Duration {
        self.counter_ttl.max(self.hold_time)
    }

    /// A message on the fleet's channel: `<kind> <instance> <customer>`.
    fn message(&self, kind: char, customer_id: &str) -> String {
        format!("{kind} {} {customer_id}", self.instance)
    }

    /// Waits (at most the command timeout) for the subscriber's first subscription, so
    /// that no invalidation published after a snapshot was read can be missed.
    async fn first_subscription(&self) {
        let mut state = self.subscriber.subscribe();
        if *state.borrow() != Subscriber::Starting {
            return;
        }
        let _ = tokio::time::timeout(
            self.redis.command_timeout(),
            state.wait_for(|state| *state != Subscriber::Starting),
        )
        .await;
    }

    /// Runs `update` in the background, bounded: dropped (and counted) when too many run,
    /// or when there is no runtime. With `customer`, loads of that customer on this
    /// instance wait for it (an invalidation).
    fn spawn_background<F>(self: &Arc<Self>, customer: Option<&str>, update: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = Handle::try_current()
            .ok()
            .or_else(|| self.runtime.get().cloned());
        let (Some(runtime), Ok(permit)) =
            (runtime, Arc::clone(&self.background).try_acquire_owned())
        else {
            self.count(Event::BackgroundDropped);
            tracing::warn!("kelviq fleet: too many background redis updates; one was dropped");
            return;
        };
        let guard = customer.map(|customer| self.begin_invalidating(customer));
        runtime.spawn(async move {
            update.await;
            drop(guard);
            drop(permit);
        });
    }

    fn invalidating(&self) -> MutexGuard<'_, HashMap<String, (usize, Arc<Notify>)>> {
        lock(&self.invalidating)
    }

    fn begin_invalidating(self: &Arc<Self>, customer_id: &str) -> Invalidating {
        let mut map = self.invalidating();
        let entry = map
            .entry(customer_id.to_owned())
            .or_insert_with(|| (0, Arc::new(Notify::new())));
        entry.0 = entry.0.saturating_add(1);
        Invalidating {
            shared: Arc::clone(self),
            customer_id: customer_id.to_owned(),
        }
    }

    /// Waits until this instance's invalidations of the customer reached Redis (each is
    /// one command, bounded by its timeout).
    async fn invalidated(&self, customer_id: &str) {
        let notify;
        let notified;
        {
            let map = self.invalidating();
            let Some((_, found)) = map.get(customer_id) else {
                return;
            };
            notify = Arc::clone(found);
            notified = notify.notified();
        }
        let bound = self.redis.command_timeout().saturating_mul(2);
        let _ = tokio::time::timeout(bound, notified).await;
    }
}

/// An invalidation in flight; dropped when it reached Redis (or failed).
struct Invalidating {
    shared: Arc<Shared>,
    customer_id: String,
}

impl Drop for Invalidating {
    fn drop(&mut self) {
        let mut map = self.shared.invalidating();
        if let Some((count, notify)) = map.get_mut(&self.customer_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                notify.notify_waiters();
                map.remove(&self.customer_id);
            }
        }
    }
}
