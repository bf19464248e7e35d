//! The entitlement cache: per customer, one snapshot of all entitlements, and the usage
//! ledger.
//!
//! One edge call fetched with the customer id alone answers every feature check of that
//! customer until the snapshot is no longer fresh. The cache is bounded (`moka`), on by
//! default (60 s, as the official SDK), and:
//!
//! - concurrent misses for one customer share **one** upstream call; the official SDK
//!   sends one per caller;
//! - when Kelviq is unreachable, times out or answers `5xx`, the last snapshot is served
//!   for a bounded *stale window* after it stopped being fresh, and the answer says so
//!   ([`Freshness::Stale`]); past the window the error is returned (the official SDK serves
//!   stale data forever);
//! - after a failed refresh, further callers for that customer get the stale snapshot (or
//!   the error) at once for a short backoff, instead of each waiting for a failing call;
//!   an unknown customer (`404`) is remembered for the same backoff, so made-up ids do not
//!   cost one upstream call per check;
//! - usage this process reports is applied to the cached snapshot at once (`DELTA` adds,
//!   `SET` replaces), so access flips at the limit before any refresh;
//! - snapshots are shared (`Arc`): a check on a warm cache copies a pointer and allocates
//!   nothing.
//!
//! # The usage ledger
//!
//! The cache owns the usage ledger: the usage the client's
//! [`UsageMeter`](crate::meter::UsageMeter) recorded and has not delivered yet. A freshly
//! fetched snapshot counts those units, which Kelviq's answer cannot include yet. The ledger
//! and the snapshot shelves are the one place where usage and entitlement state lives:
//! this is where state shared between instances plugs in.
//!
//! # Time
//!
//! Freshness, the stale window and the error backoff are measured on tokio's clock
//! (`tokio::time::Instant`), so tests on a paused clock (`tokio::time::advance`) see
//! snapshots age. moka's own expiry only reclaims memory, a little after the stale window.
//!
//! Configure it with [`KelviqBuilder::entitlement_cache`](crate::KelviqBuilder::entitlement_cache),
//! or turn it off with [`KelviqBuilder::no_entitlement_cache`](crate::KelviqBuilder::no_entitlement_cache);
//! `has_access`, `get_entitlement`, `get_all_entitlements` and
//! [`Kelviq::entitlements_snapshot`](crate::Kelviq::entitlements_snapshot) read through it.

mod config;
mod ledger;
mod single_flight;
mod snapshot;

use std::sync::Arc;
use std::time::Duration;

use moka::ops::compute::Op;
use moka::sync::Cache;
use tokio::time::Instant;

pub use config::CacheConfig;
pub use ledger::UsageLine;
pub(crate) use ledger::{Added, Batch, QueuedEvent, UsageLedger};
pub use snapshot::{CachedEntitlements, Freshness, Snapshot};

use crate::error::{Error, Result};
use crate::models::Entitlements;
use single_flight::SingleFlight;

type Loaded = std::result::Result<Arc<Snapshot>, Arc<Error>>;

/// The cache itself; shared by the client and its usage meter.
pub(crate) struct EntitlementCache {
    /// `None` when the client was built without a cache: nothing is kept, every read loads.
    shelves: Option<Shelves>,
    loads: SingleFlight<Loaded>,
    ledger: Arc<UsageLedger>,
}

/// The cache's maps and settings; cloning shares them (a load's task stores into them).
#[derive(Clone)]
struct Shelves {
    config: CacheConfig,
    /// Snapshots, kept until a little after the end of their stale window.
    snapshots: Cache<String, Arc<Snapshot>>,
    /// Customers whose last refresh failed, and when: skipped for `error_backoff`.
    failures: Cache<String, (Arc<Error>, Instant)>,
    /// When each customer was last invalidated: a load started before that is not stored.
    invalidated: Cache<String, Instant>,
}

impl std::fmt::Debug for EntitlementCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("EntitlementCache");
        match &self.shelves {
            Some(shelves) => debug
                .field("config", &shelves.config)
                .field("customers", &shelves.snapshots.entry_count()),
            None => debug.field("config", &"disabled"),
        };
        debug.finish()
    }
}

/// Reclaims a snapshot's memory a fixed (real) time after it was stored, however often it
/// is read or updated; freshness itself is judged on tokio's clock.
struct Reclaim(Duration);

impl moka::Expiry<String, Arc<Snapshot>> for Reclaim {
    fn expire_after_create(
        &self,
        _: &String,
        _: &Arc<Snapshot>,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(self.0)
    }

    /// A refreshed snapshot starts its own lifetime (moka's default would keep the
    /// replaced snapshot's deadline).
    fn expire_after_update(
        &self,
        _: &String,
        _: &Arc<Snapshot>,
        _: std::time::Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.0)
    }
}

/// How long after its stale window ends a snapshot's memory is reclaimed at the latest.
const RECLAIM_SLACK: Duration = Duration::from_secs(60);

impl EntitlementCache {
    /// A cache with `config`, or — `None` — one that keeps no snapshot.
    pub(crate) fn new(config: Option<CacheConfig>) -> Self {
        let shelves = config.map(|config| {
            let lifetime = config
                .ttl
                .saturating_add(config.stale_window)
                .saturating_add(RECLAIM_SLACK);
            Shelves {
                snapshots: Cache::builder()
                    .max_capacity(config.max_customers)
                    .expire_after(Reclaim(lifetime))
                    .build(),
                failures: Cache::builder()
                    .max_capacity(config.max_customers)
                    .time_to_live(config.error_backoff.saturating_add(RECLAIM_SLACK))
                    .build(),
                invalidated: Cache::builder()
                    .max_capacity(config.max_customers)
                    .time_to_live(Duration::from_secs(600))
                    .build(),
                config,
            }
        });
        EntitlementCache {
            shelves,
            loads: SingleFlight::default(),
            ledger: Arc::new(UsageLedger::default()),
        }
    }

    /// Whether snapshots are kept at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.shelves.is_some()
    }

    /// The usage ledger.
    pub(crate) fn ledger(&self) -> &UsageLedger {
        &self.ledger
    }

    /// The customer's snapshot if it is fresh: the warm path, no allocation.
    pub(crate) fn get_fresh(&self, customer_id: &str) -> Option<Arc<Snapshot>> {
        let shelves = self.shelves.as_ref()?;
        shelves
            .snapshots
            .get(customer_id)
            .filter(|snapshot| snapshot.age() < shelves.config.ttl)
    }

    /// The customer's snapshot: the fresh one, else one fetched by `load` (one call for all
    /// concurrent callers), else — when the failure allows it — the stale one. The fetched
    /// snapshot counts the ledger's undelivered units of the customer.
    pub(crate) async fn get<F>(&self, customer_id: &str, load: F) -> Result<CachedEntitlements>
    where
        F: Future<Output = Result<Entitlements>> + Send + 'static,
    {
        let Some(shelves) = &self.shelves else {
            let snapshot = counted(&self.ledger, customer_id, load.await?);
            return Ok(CachedEntitlements::fresh(Arc::new(snapshot)));
        };
        if let Some(snapshot) = self.get_fresh(customer_id) {
            tracing::trace!("entitlement cache hit");
            return Ok(CachedEntitlements::fresh(snapshot));
        }
        if let Some((error, _)) = shelves
            .failures
            .get(customer_id)
            .filter(|(_, at)| at.elapsed() < shelves.config.error_backoff)
        {
            return shelves.fall_back(customer_id, error);
        }
        let started = Instant::now();
        let task_shelves = shelves.clone();
        let ledger = Arc::clone(&self.ledger);
        let customer = customer_id.to_owned();
        let loaded = self
            .loads
            .run(
                customer_id,
                || async move {
                    // Stored by the load itself, so that it lands even when every caller
                    // gave up waiting.
                    let loaded = load
                        .await
                        .map(|entitlements| Arc::new(counted(&ledger, &customer, entitlements)))
                        .map_err(Arc::new);
                    match &loaded {
                        Ok(snapshot) => task_shelves.store(&customer, snapshot, started),
                        // Kelviq down, or a customer it does not know: back off either
                        // way, so neither an outage nor made-up ids cost a call per check.
                        Err(error) if serves_stale(error) || is_unknown_customer(error) => {
                            task_shelves
                                .failures
                                .insert(customer, (Arc::clone(error), Instant::now()));
                        }
                        Err(_) => {}
                    }
                    loaded
                },
                || {
                    Err(Arc::new(Error::Config(
                        "the entitlement load task panicked".to_owned(),
                    )))
                },
            )
            .await;
        match loaded {
            Ok(snapshot) => Ok(CachedEntitlements::fresh(snapshot)),
            Err(error) => shelves.fall_back(customer_id, error),
        }
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
                if let Some(snapshot) = self
                    .shelves
                    .as_ref()
                    .and_then(|shelves| shelves.snapshots.get(customer_id))
                {
                    snapshot.apply_usage(feature_id, value, set);
                }
            }
        }
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
        shelves.snapshots.invalidate(customer_id);
        shelves.failures.invalidate(customer_id);
    }

    /// Forgets every snapshot.
    pub(crate) fn invalidate_all(&self) {
        if let Some(shelves) = &self.shelves {
            shelves.snapshots.invalidate_all();
            shelves.failures.invalidate_all();
            shelves.invalidated.invalidate_all();
        }
    }

    /// Runs moka's pending housekeeping (evictions, counts).
    pub(crate) fn run_pending_tasks(&self) {
        if let Some(shelves) = &self.shelves {
            shelves.snapshots.run_pending_tasks();
            shelves.failures.run_pending_tasks();
            shelves.invalidated.run_pending_tasks();
        }
    }

    /// How many customers have a snapshot (fresh or within the stale window).
    pub(crate) fn len(&self) -> u64 {
        self.shelves
            .as_ref()
            .map_or(0, |shelves| shelves.snapshots.entry_count())
    }
}

/// A snapshot of freshly fetched entitlements that counts the customer's units still
/// waiting in the ledger: Kelviq's answer cannot include them yet.
fn counted(ledger: &UsageLedger, customer_id: &str, entitlements: Entitlements) -> Snapshot {
    let snapshot = Snapshot::new(entitlements);
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
        self.snapshots
            .entry(customer_id.to_owned())
            .and_compute_with(|current| match current {
                Some(current) if current.value().fetched_at() >= snapshot.fetched_at() => Op::Nop,
                _ => Op::Put(Arc::clone(snapshot)),
            });
        self.failures.invalidate(customer_id);
    }

    /// After a failed load: the stale snapshot if the failure is one Kelviq being down
    /// explains and the snapshot is within its stale window; the error otherwise.
    fn fall_back(&self, customer_id: &str, error: Arc<Error>) -> Result<CachedEntitlements> {
        let usable_for = self.config.ttl.saturating_add(self.config.stale_window);
        if serves_stale(&error)
            && let Some(snapshot) = self
                .snapshots
                .get(customer_id)
                .filter(|snapshot| snapshot.age() < usable_for)
        {
            tracing::warn!(
                error = %error,
                age_ms = u64::try_from(snapshot.age().as_millis()).unwrap_or(u64::MAX),
                "kelviq unavailable: serving a stale entitlement snapshot"
            );
            return Ok(CachedEntitlements::stale(snapshot, error));
        }
        Err(Error::shared(error))
    }
}

/// Whether Kelviq answered that it does not know the customer (`404`).
fn is_unknown_customer(error: &Error) -> bool {
    error.status() == Some(http::StatusCode::NOT_FOUND)
}

/// Whether a failed load may be answered with a stale snapshot: Kelviq unreachable, a
/// timeout, or a `5xx`. A `4xx` (unknown customer, bad token) never serves stale data.
fn serves_stale(error: &Error) -> bool {
    match error {
        Error::Timeout { .. } | Error::Transport { .. } => true,
        Error::Api(api) => api.status.is_server_error(),
        Error::Shared(inner) => serves_stale(inner),
        _ => false,
    }
}
