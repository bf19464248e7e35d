//! The entitlement cache: per customer, one snapshot of all entitlements, and the usage
//! ledger.
//!
//! One edge call fetched with the customer id alone answers every feature check of that
//! customer until the snapshot is no longer fresh. The cache is bounded, on by
//! default (60 s, as the official SDK), and:
//!
//! - concurrent misses for one customer share **one** upstream call; the official SDK
//!   sends one per caller;
//! - no check waits long on Kelviq: a snapshot past its TTL but inside its *stale window*
//!   is answered at once while one background refresh runs (stale-while-revalidate,
//!   [`Freshness::Refreshing`]); a snapshot read in the last part of its TTL is refreshed
//!   in the background ahead of time, so a customer in steady use never waits; a check
//!   that must load (no usable snapshot) waits at most the
//!   [load timeout](CacheConfig::load_timeout), retries and `Retry-After` included, and a
//!   call it started runs on after it gave up, to fill the cache (below);
//! - when Kelviq is unreachable, times out, answers `5xx` or rate limits (`429`), the last
//!   snapshot is served for the stale window, and the answer says so
//!   ([`Freshness::Stale`]); past the window the error is returned (the official SDK serves
//!   stale data forever);
//! - after a failed refresh, further callers for that customer get the stale snapshot (or
//!   the error) at once for a backoff — the `429`'s `Retry-After` (up to 60 s) when longer —
//!   instead of each waiting for a failing call; an unknown customer (`404`) is remembered
//!   for [its own time](CacheConfig::unknown_customer_ttl), and at most
//!   [so many loads](CacheConfig::max_concurrent_loads) run at once, so made-up ids can
//!   neither cost one upstream call per check nor exhaust Kelviq's rate limit;
//! - usage this process reports is applied to the cached snapshot at once (`DELTA` adds,
//!   `SET` replaces), so access flips at the limit before any refresh;
//! - snapshots are shared (`Arc`): a check on a warm cache copies a pointer and allocates
//!   nothing.
//!
//! # Loads, and storms of them
//!
//! A load runs on its own task, shared by every check of the customer that arrives while
//! it runs. It waits for one of [`max_concurrent_loads`](CacheConfig::max_concurrent_loads)
//! permits until the [load timeout](CacheConfig::load_timeout) has passed (and makes no
//! call if none came); at most 16 loads per permit wait or run, and past that a check that
//! must load answers at once. Once it has a permit, its call runs to its end under its own
//! deadline — the client's request timeout, or the end of the load timeout if later —
//! holding the permit, and its snapshot is stored even if every caller gave up. The
//! callers' deadline bounds their wait, never the call: a call cut at it would be work
//! Kelviq does anyway and nobody keeps, and would free its permit while Kelviq still
//! works on it, so that Kelviq would see more calls at once than the cap.
//!
//! So in a storm of first checks for many customers, every check is answered within the
//! load timeout (with the snapshot, or without one and by the gate's failure policy), the
//! calls at Kelviq stay within the cap, and the cache fills at the cap's rate — permits ÷
//! call latency, 160 customers a second with 32 permits and 200 ms calls — for the
//! checks that come back. A check whose load got its permit late is answered without
//! the snapshot its call then stores.
//!
//! The call itself goes through the client's shared tier (crate-private, `tier.rs`):
//! alone, it fetches from Kelviq; in a [fleet](crate::fleet), it may take the snapshot
//! another instance loaded. Either way the cache makes the snapshot and stores it; the
//! tier reaches the cache only through the handle the cache gave it (to drop invalidated
//! snapshots, and to read fresh ones).
//!
//! # The index, and what bounds it
//!
//! Checks read a lock-free index ([`papaya`]): a read takes a per-thread epoch guard and
//! writes no memory that another core reads, so warm checks scale with cores and cost a
//! hash lookup. The index resizes in papaya's *blocking* mode: the store that doubles it
//! finishes the copy (other stores help, checks never wait), once per doubling, so a
//! store costs O(1) amortised. In papaya's default, incremental mode a copy advances only
//! with later stores, so once the loads stop half-way through one, every check probes the
//! old table and then the new one for good: measured over 10,000 warm customers, a check
//! took 471 ns that way and 95 ns in blocking mode (the `HashMap` baseline of the same
//! run: 120–160 ns). The index also owns the snapshots, and bounds itself on each store
//! (`bound.rs`): past [`max_customers`](CacheConfig::max_customers) the least recently
//! fetched snapshot is evicted, and a snapshot a little past its stale window is reclaimed,
//! at a constant cost per store on average. Eviction thus follows loads, not reads: a
//! customer in steady use is refreshed every TTL, which counts as a use.
//!
//! The house rule prefers moka for caching, and moka bounded the snapshots until it was
//! measured: beside the index, each snapshot cost moka about 400 bytes of bookkeeping (7
//! allocations: its hash-table entry, access and write deques, timer wheel, frequency
//! sketch), a fifth of what a cached customer cost, to evict on loads the index already
//! sees. The store-order queue costs 40–80 bytes per customer. moka still bounds the
//! small maps of failures and invalidations.
//!
//! # Memory
//!
//! A cached customer with 3 features (one entry each) takes **about 740 bytes** of
//! resident memory, measured at 100,000 customers (`cargo run --release -p
//! kelviq-examples --bin cache-memory`): 1,000,000 customers fit in about 700 MiB. Each
//! feature has a 40-byte check slot (`slot.rs`: the id's first bytes, the fetched answer,
//! an uncontended usage counter of 16 bytes; a snapshot's slots are in one array, so that
//! a check reads a line or two), and its entitlement as fetched, packed (`stored.rs`: the
//! entry Kelviq sent in 56 bytes instead of 128, its id once, ids and reset times of up to
//! 23 bytes inline), rebuilt when [`Snapshot::get`], `to_entitlements` or
//! `fetched_entitlements` ask for it, and on the stack for a check at or near a hard
//! limit or a usage `SET`. A customer with 16 features or more has a feature index
//! (below, a scan is faster), and a customer id of up to 23 bytes is kept inline in the
//! key and in the snapshot (a longer one is shared by both).
//!
//! # The usage ledger
//!
//! The cache reads the client's usage ledger (its own module, below the cache and the
//! meter): a freshly fetched snapshot counts the units the client's
//! [`UsageMeter`](crate::meter::UsageMeter) recorded and has not delivered yet, which
//! Kelviq's answer cannot include yet, and the units requests hold against a hard limit
//! are shared by every snapshot of the customer. A new snapshot takes back the rooms its
//! customer's holds granted on the old one.
//!
//! # Time
//!
//! Freshness, the stale window and the error backoff are measured on tokio's clock
//! (`tokio::time::Instant`), so tests on a paused clock (`tokio::time::advance`) see
//! snapshots age; so is the reclaim, a little after the stale window.
//!
//! Configure it with [`KelviqBuilder::entitlement_cache`](crate::KelviqBuilder::entitlement_cache),
//! or turn it off with [`KelviqBuilder::no_entitlement_cache`](crate::KelviqBuilder::no_entitlement_cache);
//! `has_access`, `get_entitlement`, `get_all_entitlements` and
//! [`Kelviq::entitlements_snapshot`](crate::Kelviq::entitlements_snapshot) read through it.

mod applied;
mod bound;
mod config;
mod single_flight;
mod slot;
mod snapshot;
mod stored;

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use moka::sync::Cache;
use papaya::{Compute, Operation};
use smol_str::SmolStr;
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub use config::CacheConfig;
pub use snapshot::{CachedSnapshot, Freshness, Snapshot};
pub(crate) use snapshot::{HardRef, QuotaCounts};

use crate::error::{Error, Result};
use crate::http::Transport;
use crate::log_limit::RateLimitedWarn;
use crate::telemetry;
use crate::tier::SharedTier;
use crate::usage::UsageLedger;
use bound::StoreOrder;
use config::{MAX_DURATION, MAX_RETRY_AFTER};
use single_flight::SingleFlight;

type Loaded = std::result::Result<Arc<Snapshot>, Arc<Error>>;

/// The cache itself; shared by the client and its usage meter.
pub(crate) struct EntitlementCache {
    /// The snapshots and the loads in flight: what the shared tier may reach too.
    local: LocalCache,
    ledger: Arc<UsageLedger>,
    /// What loads go through.
    transport: Arc<Transport>,
    /// Where loads come from: Kelviq, or the other instances of a fleet.
    tier: Arc<dyn SharedTier>,
    /// Stale answers served during an outage, warned about at most every [`WARN_EVERY`](crate::log_limit::WARN_EVERY).
    stale_warn: RateLimitedWarn,
    /// Checks answered without a load (queue full, load past its timeout), likewise.
    overload_warn: RateLimitedWarn,
}

/// This instance's cache as the [shared tier](crate::tier) reaches it: the snapshots and
/// the loads in flight, without the way to load (which goes through the tier). The cache
/// makes it and hands it to its tier when it is built, so that invalidations the tier
/// hears of reach the cache through a handle the cache made, not a pointer back to the
/// cache. Clones share the cache's maps.
#[derive(Clone)]
pub(crate) struct LocalCache {
    /// `None` when the client was built without a cache: nothing is kept, every read loads.
    shelves: Option<Shelves>,
    loads: SingleFlight<Loaded>,
}

/// The read index: customer id → snapshot. Ids of up to 23 bytes are kept in the entry
/// ([`SmolStr`]), so a lookup compares the key without reading another cache line; longer
/// ones share the snapshot's copy.
type Index = papaya::HashMap<SmolStr, Arc<Snapshot>, foldhash::fast::RandomState>;

/// The cache's maps and settings; cloning shares them (a load's task stores into them).
#[derive(Clone)]
struct Shelves {
    config: CacheConfig,
    /// What checks read, and the snapshots' owner.
    index: Arc<Index>,
    /// What bounds the index: the order snapshots were stored in, to evict the least
    /// recently fetched past the capacity and reclaim those past their stale window.
    order: Arc<StoreOrder>,
    /// How long after its fetch a snapshot's memory is reclaimed at the latest.
    lifetime: Duration,
    /// Customers whose last load failed: the error, and until when no new load starts.
    failures: Cache<String, (Arc<Error>, Instant)>,
    /// When each customer was last invalidated: a load started before that is not stored.
    invalidated: Cache<String, Instant>,
    /// Loads in flight at once.
    permits: Arc<Semaphore>,
    /// The age from which a read starts a background refresh (refresh-ahead).
    refresh_from: Duration,
}

impl std::fmt::Debug for EntitlementCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("EntitlementCache");
        match &self.local.shelves {
            Some(shelves) => debug
                .field("config", &shelves.config)
                .field("customers", &shelves.index.len()),
            None => debug.field("config", &"disabled"),
        };
        debug.field("tier", &self.tier).finish()
    }
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("enabled", &self.shelves.is_some())
            .finish_non_exhaustive()
    }
}

/// How long after its stale window ends a snapshot's memory is reclaimed at the latest.
const RECLAIM_SLACK: Duration = Duration::from_secs(60);

/// How many loads may be in flight or waiting, per permit: past it a check that must load
/// answers at once without one (the gate's failure policy decides).
const MAX_QUEUED_PER_PERMIT: usize = 16;

/// How long a call that got its permit may run: its own budget, the client's request
/// `timeout` from now (retries within it), or until the load timeout ends if that is
/// later — never cut short because its callers stopped waiting: a call cut at the
/// callers' deadline is work Kelviq still does (beyond the cap of concurrent
/// loads) for an answer nobody keeps.
fn call_deadline(permit_by: Instant, timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or(now).max(permit_by)
}

/// The answer when no snapshot came within the load timeout (the load ran too long,
/// waited too long for a permit, or found the queue full): a timeout of the entitlement
/// call, which the gate's failure policy decides on.
fn unloaded() -> Error {
    Error::Timeout {
        method: Method::GET,
        path: "/entitlements",
    }
}

impl EntitlementCache {
    /// A cache with `config`, or — `None` — one that keeps no snapshot; it loads through
    /// `transport` and the shared tier `join` makes of the cache's [`LocalCache`], and
    /// counts the units `ledger` holds for a customer in each snapshot it loads.
    ///
    /// # Errors
    ///
    /// `join`'s (a fleet that cannot be joined).
    pub(crate) fn new(
        config: Option<CacheConfig>,
        transport: Arc<Transport>,
        ledger: Arc<UsageLedger>,
        join: impl FnOnce(LocalCache) -> Result<Arc<dyn SharedTier>>,
    ) -> Result<Self> {
        let shelves = config.map(|config| {
            let lifetime = config
                .ttl
                .saturating_add(config.stale_window)
                .saturating_add(RECLAIM_SLACK)
                .min(MAX_DURATION);
            let failure_lifetime = config
                .error_backoff
                .max(config.unknown_customer_ttl)
                .max(MAX_RETRY_AFTER)
                .saturating_add(RECLAIM_SLACK)
                .min(MAX_DURATION);
            Shelves {
                index: Arc::new(
                    papaya::HashMap::builder()
                        .hasher(Default::default())
                        .resize_mode(papaya::ResizeMode::Blocking)
                        .build(),
                ),
                order: Arc::new(StoreOrder::default()),
                lifetime,
                failures: Cache::builder()
                    .max_capacity(config.max_customers)
                    .time_to_live(failure_lifetime)
                    .build(),
                // An invalidation must outlive every load that started before it: its
                // wait for a permit (the load timeout), then its call (`call_deadline`).
                invalidated: Cache::builder()
                    .max_capacity(config.max_customers)
                    .time_to_live(
                        config
                            .load_timeout
                            .saturating_mul(2)
                            .saturating_add(transport.timeout)
                            .saturating_add(Duration::from_secs(600))
                            .min(MAX_DURATION),
                    )
                    .build(),
                permits: Arc::new(Semaphore::new(config.max_concurrent_loads)),
                refresh_from: config.refresh_from(),
                config,
            }
        });
        let local = LocalCache {
            shelves,
            loads: SingleFlight::default(),
        };
        Ok(EntitlementCache {
            tier: join(local.clone())?,
            local,
            ledger,
            transport,
            stale_warn: RateLimitedWarn::every_period(),
            overload_warn: RateLimitedWarn::every_period(),
        })
    }

    /// The shared tier the cache loads through.
    pub(crate) fn tier(&self) -> &Arc<dyn SharedTier> {
        &self.tier
    }

    /// Whether snapshots are kept at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.local.shelves.is_some()
    }

    /// The customer's snapshot if it is fresh: the warm path, no allocation. A snapshot in
    /// the last part of its TTL also starts a background refresh (refresh-ahead).
    pub(crate) fn get_fresh(&self, customer_id: &str) -> Option<Arc<Snapshot>> {
        self.with_fresh(customer_id, Arc::clone)
    }

    /// `read` of the customer's snapshot if it is fresh, without taking a reference to it:
    /// nothing is written that another thread reads. As [`EntitlementCache::get_fresh`]
    /// otherwise.
    pub(crate) fn with_fresh<R>(
        &self,
        customer_id: &str,
        read: impl FnOnce(&Arc<Snapshot>) -> R,
    ) -> Option<R> {
        let shelves = self.local.shelves.as_ref()?;
        self.local.read_fresh(customer_id, |snapshot, age| {
            if age >= shelves.refresh_from {
                self.refresh(shelves, customer_id);
            }
            telemetry::cache_hit();
            read(snapshot)
        })
    }

    /// The customer's snapshot: the fresh one; else a stale one within its window, at once,
    /// while one background refresh runs (or, after a failed one, with its error); else
    /// one loaded now — waited for at most the load timeout. The loaded snapshot counts
    /// the ledger's undelivered units of the customer.
    pub(crate) async fn get(&self, customer_id: &str) -> Result<CachedSnapshot> {
        let Some(shelves) = &self.local.shelves else {
            telemetry::cache_miss();
            let entitlements =
                crate::resources::fetch_snapshot(&self.transport, customer_id, None).await?;
            let snapshot = counted(&self.ledger, customer_id, Snapshot::new(entitlements));
            return Ok(CachedSnapshot::fresh(Arc::new(snapshot)));
        };
        if let Some(snapshot) = self.get_fresh(customer_id) {
            tracing::trace!("entitlement cache hit");
            return Ok(CachedSnapshot::fresh(snapshot));
        }
        if let Some(snapshot) = shelves.usable(customer_id) {
            match shelves.failure(customer_id) {
                Some(error) if serves_stale(&error) => {
                    return Ok(self.serve_stale(snapshot, error));
                }
                Some(error) => {
                    telemetry::cache_miss();
                    return Err(Error::shared(error));
                }
                None => {}
            }
            self.refresh(shelves, customer_id);
            telemetry::cache_stale_answer(true);
            return Ok(CachedSnapshot::refreshing(snapshot));
        }
        telemetry::cache_miss();
        if let Some(error) = shelves.failure(customer_id) {
            return Err(Error::shared(error));
        }
        let loaded = self.wait_for_load(shelves, customer_id).await?;
        match loaded {
            Ok(snapshot) => Ok(CachedSnapshot::fresh(snapshot)),
            Err(error) => match shelves.usable(customer_id) {
                Some(snapshot) if serves_stale(&error) => Ok(self.serve_stale(snapshot, error)),
                _ => Err(Error::shared(error)),
            },
        }
    }

    /// Loads the customer's snapshot anew (or joins the load in flight) and waits for it,
    /// at most the load timeout: a usage reset passed, so the cached one may say a limit
    /// is reached that has reopened. Backing off after a failure, or without room for
    /// another load, it answers the error at once.
    pub(crate) async fn reload(&self, customer_id: &str) -> Result<Arc<Snapshot>> {
        let Some(shelves) = &self.local.shelves else {
            return self
                .get(customer_id)
                .await
                .map(CachedSnapshot::into_snapshot);
        };
        if let Some(error) = shelves.failure(customer_id) {
            return Err(Error::shared(error));
        }
        tracing::debug!("a usage reset passed: loading the entitlement snapshot anew");
        self.wait_for_load(shelves, customer_id)
            .await?
            .map_err(Error::shared)
    }

    /// The load of the customer's snapshot (the one in flight, or a new one), waited for
    /// at most the load timeout; [`unloaded`] when there is no room for another load or
    /// the timeout passed (warned about at most every [`WARN_EVERY`](crate::log_limit::WARN_EVERY)).
    async fn wait_for_load(&self, shelves: &Shelves, customer_id: &str) -> Result<Loaded> {
        if !self.has_room(shelves, customer_id) {
            let what = "too many entitlement loads waiting; answering without one";
            match self.overload_warn.allow() {
                Some(held_back) => tracing::warn!(held_back, "{what}"),
                None => tracing::debug!("{what}"),
            }
            return Err(unloaded());
        }
        let load = self.load(shelves, customer_id);
        tokio::time::timeout(shelves.config.load_timeout, load)
            .await
            .map_err(|_| {
                let timeout_ms =
                    u64::try_from(shelves.config.load_timeout.as_millis()).unwrap_or(u64::MAX);
                let what = "entitlement load still running at its timeout; answering without it";
                match self.overload_warn.allow() {
                    Some(held_back) => tracing::warn!(timeout_ms, held_back, "{what}"),
                    None => tracing::debug!(timeout_ms, "{what}"),
                }
                unloaded()
            })
    }

    /// Whether a load of the customer's snapshot is in flight.
    pub(crate) fn is_loading(&self, customer_id: &str) -> bool {
        self.local.loads.is_running(customer_id)
    }

    /// A stale answer, served because of `error`; logged at `warn` at most every
    /// [`WARN_EVERY`](crate::log_limit::WARN_EVERY) (else at `debug`): an outage would otherwise write one per check.
    fn serve_stale(&self, snapshot: Arc<Snapshot>, error: Arc<Error>) -> CachedSnapshot {
        let age_ms = u64::try_from(snapshot.age().as_millis()).unwrap_or(u64::MAX);
        let what = "kelviq unavailable: serving a stale entitlement snapshot";
        match self.stale_warn.allow() {
            Some(held_back) => tracing::warn!(error = %error, age_ms, held_back, "{what}"),
            None => tracing::debug!(error = %error, age_ms, "{what}"),
        }
        telemetry::cache_stale_answer(false);
        CachedSnapshot::stale(snapshot, error)
    }

    /// Starts a background refresh of the customer's snapshot, unless one runs, a failure
    /// backs off, or there is no runtime to run it on.
    fn refresh(&self, shelves: &Shelves, customer_id: &str) {
        if self.local.loads.is_running(customer_id)
            || !self.has_room(shelves, customer_id)
            || shelves.failure(customer_id).is_some()
            || tokio::runtime::Handle::try_current().is_err()
        {
            return;
        }
        tracing::debug!("refreshing an entitlement snapshot in the background");
        drop(self.load(shelves, customer_id));
    }

    /// Whether a new load may start: the loads in flight or waiting for a permit are
    /// bounded ([`MAX_QUEUED_PER_PERMIT`] per permit), so that a flood of made-up ids cannot
    /// grow the queue without end.
    fn has_room(&self, shelves: &Shelves, customer_id: &str) -> bool {
        self.local.loads.is_running(customer_id)
            || self.local.loads.len()
                < shelves
                    .config
                    .max_concurrent_loads
                    .saturating_mul(MAX_QUEUED_PER_PERMIT)
    }

    /// The load of the customer's snapshot: the one in flight, or a new one on its own
    /// task, which stores its result (a snapshot, or a failure to back off from) even when
    /// every caller gave up waiting. It waits for one of the cache's permits until the load
    /// timeout has passed, and gives up without a call if none came by then. A call, once
    /// it has its permit, runs to its end under its own deadline ([`call_deadline`]), not
    /// the callers': it holds the permit until then, so the calls Kelviq works on at once
    /// stay within the cap, and its answer fills the cache.
    fn load(
        &self,
        shelves: &Shelves,
        customer_id: &str,
    ) -> futures::future::Shared<futures::future::BoxFuture<'static, Loaded>> {
        let started = Instant::now();
        let shelves = shelves.clone();
        let ledger = Arc::clone(&self.ledger);
        let transport = Arc::clone(&self.transport);
        let tier = Arc::clone(&self.tier);
        let customer = customer_id.to_owned();
        self.local.loads.call(
            customer_id,
            || async move {
                let permit_by = started
                    .checked_add(shelves.config.load_timeout)
                    .unwrap_or(started);
                let permit = tokio::time::timeout_at(permit_by, shelves.permits.acquire()).await;
                let Ok(Ok(_permit)) = permit else {
                    // Waited the whole load timeout for a permit (or the semaphore is
                    // closed): no call, and nothing to back off from.
                    return Err(Arc::new(unloaded()));
                };
                let deadline = call_deadline(permit_by, transport.timeout);
                let fetched = tier.load(&transport, &customer, deadline).await;
                let loaded = fetched
                    .map(|fetched| Arc::new(counted(&ledger, &customer, fetched.into_snapshot())))
                    .map_err(Arc::new);
                match &loaded {
                    Ok(snapshot) => {
                        shelves.store(&customer, snapshot, started);
                        // Rooms granted to the stripes on the old snapshot's view.
                        ledger.holds().revoke(&customer);
                    }
                    Err(error) => {
                        telemetry::cache_load_error(error);
                        shelves.remember_failure(&customer, error);
                    }
                }
                loaded
            },
            || {
                Err(Arc::new(Error::Config(
                    "the entitlement load task panicked (a bug: please report it)".to_owned(),
                )))
            },
        )
    }

    /// How long the customer's checks skip loading after a failure, if they do now: what a
    /// `Retry-After` on a refusal of the customer's requests should say.
    pub(crate) fn backoff_remaining(&self, customer_id: &str) -> Option<Duration> {
        let shelves = self.local.shelves.as_ref()?;
        let (_, until) = shelves.failures.get(customer_id)?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Applies usage reported by this process to the customer's snapshot — `snapshot`
    /// when the caller holds it already, else the cached one, if any (`set`: replace,
    /// else add). Atomic per feature; nothing is copied.
    pub(crate) fn apply_usage(
        &self,
        snapshot: Option<&Snapshot>,
        customer_id: &str,
        feature_id: &str,
        value: i64,
        set: bool,
    ) {
        match snapshot {
            Some(snapshot) => snapshot.apply_usage(feature_id, value, set),
            None => {
                if let Some(shelves) = &self.local.shelves
                    && let Some(snapshot) = shelves.index.pin().get(customer_id)
                {
                    snapshot.apply_usage(feature_id, value, set);
                }
            }
        }
    }

    /// Forgets the customer's snapshot: the next check fetches, and a load already in
    /// flight is neither joined nor stored. This instance's only: the client tells the
    /// shared tier.
    pub(crate) fn invalidate(&self, customer_id: &str) {
        self.local.invalidate(customer_id);
    }

    /// Forgets every snapshot.
    pub(crate) fn invalidate_all(&self) {
        self.local.invalidate_all();
    }

    /// Runs moka's pending housekeeping (of the failures and invalidations; counts).
    pub(crate) fn run_pending_tasks(&self) {
        if let Some(shelves) = &self.local.shelves {
            shelves.failures.run_pending_tasks();
            shelves.invalidated.run_pending_tasks();
            telemetry::cache_customers(|| shelves.len());
        }
    }

    /// How many customers have a snapshot (fresh or within the stale window).
    pub(crate) fn len(&self) -> u64 {
        self.local.shelves.as_ref().map_or(0, Shelves::len)
    }
}

impl LocalCache {
    /// `read` of the customer's snapshot (and its age) if it is fresh; nothing else: no
    /// count, no refresh — unlike [`EntitlementCache::with_fresh`], the check built on it.
    /// The tier reads through it (fast limits raise a fresh snapshot by the usage the
    /// other instances recorded), and cannot start a load: a load goes through the tier,
    /// which this handle does not reach.
    #[inline]
    pub(crate) fn read_fresh<R>(
        &self,
        customer_id: &str,
        read: impl FnOnce(&Arc<Snapshot>, Duration) -> R,
    ) -> Option<R> {
        let shelves = self.shelves.as_ref()?;
        let index = shelves.index.pin();
        let snapshot = index.get(customer_id)?;
        let age = snapshot.age();
        if age >= shelves.config.ttl {
            return None;
        }
        Some(read(snapshot, age))
    }

    /// Forgets the customer's snapshot: the next check fetches, and a load already in
    /// flight is neither joined nor stored.
    pub(crate) fn invalidate(&self, customer_id: &str) {
        let Some(shelves) = &self.shelves else {
            return;
        };
        shelves
            .invalidated
            .insert(customer_id.to_owned(), Instant::now());
        self.loads.forget(customer_id);
        if let Some(removed) = shelves.index.pin().remove(customer_id) {
            // Requests admitted on it judge their further holds on the next one.
            removed.supersede();
        }
        shelves.failures.invalidate(customer_id);
    }

    /// Forgets every snapshot.
    pub(crate) fn invalidate_all(&self) {
        if let Some(shelves) = &self.shelves {
            let index = shelves.index.pin();
            for snapshot in index.values() {
                snapshot.supersede();
            }
            index.clear();
            shelves.order.clear();
            shelves.failures.invalidate_all();
            shelves.invalidated.invalidate_all();
        }
    }
}

/// A freshly fetched snapshot, counting the customer's units still waiting in the ledger:
/// Kelviq's answer cannot include them yet.
fn counted(ledger: &UsageLedger, customer_id: &str, snapshot: Snapshot) -> Snapshot {
    for (feature_id, units) in ledger.waiting_for(customer_id) {
        snapshot.apply_usage(&feature_id, units, false);
    }
    snapshot
}

impl Shelves {
    /// Keeps a newly fetched snapshot unless a newer one is already there, or the customer
    /// was invalidated after the load started (the snapshot may predate the change that
    /// caused the invalidation).
    fn store(&self, customer_id: &str, snapshot: &Arc<Snapshot>, started: Instant) {
        if self
            .invalidated
            .get(customer_id)
            .is_some_and(|invalidated| invalidated >= started)
        {
            return;
        }
        // The key shares the snapshot's own copy of the id (Kelviq answers with it).
        let shared = snapshot.shared_customer_id();
        let customer = if shared == customer_id {
            shared.clone()
        } else {
            SmolStr::new(customer_id)
        };
        let index = self.index.pin();
        let stored = index.compute(customer.clone(), |current| match current {
            Some((_, current)) if current.fetched_at() >= snapshot.fetched_at() => {
                Operation::Abort(())
            }
            _ => Operation::Insert(Arc::clone(snapshot)),
        });
        if let Compute::Updated { old: (_, old), .. } = &stored {
            old.supersede();
        }
        if matches!(stored, Compute::Inserted(..) | Compute::Updated { .. }) {
            let capacity = usize::try_from(self.config.max_customers).unwrap_or(usize::MAX);
            self.order.stored(
                &self.index,
                customer,
                snapshot.fetched_at(),
                capacity,
                self.lifetime,
            );
        }
        self.failures.invalidate(customer_id);
        telemetry::cache_customers(|| self.len());
    }

    /// How many customers have a snapshot.
    fn len(&self) -> u64 {
        u64::try_from(self.index.len()).unwrap_or(u64::MAX)
    }

    /// Remembers a failed load, to back off from: Kelviq down or rate limiting for the
    /// error backoff (a `429`'s `Retry-After`, up to 60 s, when longer), a customer it does
    /// not know for the unknown-customer time. Other errors (a bad token) are not
    /// remembered.
    fn remember_failure(&self, customer_id: &str, error: &Arc<Error>) {
        let backoff = if is_unknown_customer(error) {
            self.config.unknown_customer_ttl
        } else if serves_stale(error) {
            let retry_after = error
                .as_api()
                .and_then(|api| api.retry_after)
                .unwrap_or_default()
                .min(MAX_RETRY_AFTER);
            self.config.error_backoff.max(retry_after)
        } else {
            return;
        };
        let now = Instant::now();
        let until = now.checked_add(backoff).unwrap_or(now);
        self.failures
            .insert(customer_id.to_owned(), (Arc::clone(error), until));
    }

    /// The error of the customer's last load, while its backoff lasts.
    fn failure(&self, customer_id: &str) -> Option<Arc<Error>> {
        self.failures
            .get(customer_id)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(error, _)| error)
    }

    /// The customer's snapshot if it is within its stale window (fresh ones included).
    fn usable(&self, customer_id: &str) -> Option<Arc<Snapshot>> {
        let usable_for = self.config.ttl.saturating_add(self.config.stale_window);
        self.index
            .pin()
            .get(customer_id)
            .filter(|snapshot| snapshot.age() < usable_for)
            .cloned()
    }
}

/// Whether Kelviq answered that it does not know the customer (`404`).
fn is_unknown_customer(error: &Error) -> bool {
    error.status() == Some(http::StatusCode::NOT_FOUND)
}

/// Whether a failed load may be answered with a stale snapshot: Kelviq unreachable, a
/// timeout, a `5xx` or a `429`. Another `4xx` (unknown customer, bad token) never serves
/// stale data.
fn serves_stale(error: &Error) -> bool {
    match error {
        Error::Timeout { .. } | Error::Transport { .. } => true,
        Error::Api(api) => {
            api.status.is_server_error() || api.status == http::StatusCode::TOO_MANY_REQUESTS
        }
        Error::Shared(inner) => serves_stale(inner),
        _ => false,
    }
}
