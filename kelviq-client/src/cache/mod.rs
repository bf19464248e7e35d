//! The entitlement cache: per customer, one snapshot of all entitlements.
//!
//! One edge call fetched with the customer id alone answers every feature check of that
//! customer until the snapshot is no longer fresh. The cache is bounded (`moka`), and:
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
//! Enable it with [`KelviqBuilder::entitlement_cache`](crate::KelviqBuilder::entitlement_cache);
//! `has_access`, `get_entitlement`, `get_all_entitlements` and
//! [`Kelviq::entitlements_snapshot`](crate::Kelviq::entitlements_snapshot) then read through it.

mod config;
mod single_flight;
mod snapshot;

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::ops::compute::Op;
use moka::sync::Cache;

pub use config::CacheConfig;
pub use snapshot::{CachedEntitlements, Freshness, Snapshot};

use crate::error::{Error, Result};
use single_flight::SingleFlight;

type Loaded = std::result::Result<Arc<Snapshot>, Arc<Error>>;

/// The cache itself; lives inside the client.
pub(crate) struct EntitlementCache {
    config: CacheConfig,
    shelves: Shelves,
    loads: SingleFlight<Loaded>,
}

/// The cache's maps; cloning shares them (a load's task stores into them).
#[derive(Clone)]
struct Shelves {
    /// Snapshots, kept until the end of their stale window; fresh while younger than `ttl`.
    snapshots: Cache<String, Arc<Snapshot>>,
    /// Customers whose last refresh failed, for `error_backoff`.
    failures: Cache<String, Arc<Error>>,
    /// When each customer was last invalidated: a load started before that is not stored.
    invalidated: Cache<String, Instant>,
}

impl std::fmt::Debug for EntitlementCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntitlementCache")
            .field("config", &self.config)
            .field("customers", &self.shelves.snapshots.entry_count())
            .finish()
    }
}

/// Expires a snapshot a fixed time after it was fetched, however often it is read or
/// updated (applied usage does not make a snapshot younger).
struct SinceFetched(Duration);

impl moka::Expiry<String, Arc<Snapshot>> for SinceFetched {
    fn expire_after_create(
        &self,
        _: &String,
        snapshot: &Arc<Snapshot>,
        _: Instant,
    ) -> Option<Duration> {
        Some(self.0.saturating_sub(snapshot.age()))
    }

    /// A refreshed snapshot starts its own time to live (moka's default would keep the
    /// replaced snapshot's deadline).
    fn expire_after_update(
        &self,
        _: &String,
        snapshot: &Arc<Snapshot>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.0.saturating_sub(snapshot.age()))
    }
}

impl EntitlementCache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        let snapshots = Cache::builder()
            .max_capacity(config.max_customers)
            .expire_after(SinceFetched(config.ttl.saturating_add(config.stale_window)))
            .build();
        let failures = Cache::builder()
            .max_capacity(config.max_customers)
            .time_to_live(config.error_backoff.max(Duration::from_millis(1)))
            .build();
        let invalidated = Cache::builder()
            .max_capacity(config.max_customers)
            .time_to_live(Duration::from_secs(600))
            .build();
        EntitlementCache {
            config,
            shelves: Shelves {
                snapshots,
                failures,
                invalidated,
            },
            loads: SingleFlight::default(),
        }
    }

    /// The customer's snapshot if it is fresh: the warm path, no allocation.
    pub(crate) fn get_fresh(&self, customer_id: &str) -> Option<Arc<Snapshot>> {
        self.shelves
            .snapshots
            .get(customer_id)
            .filter(|snapshot| snapshot.age() < self.config.ttl)
    }

    /// The customer's snapshot: the fresh one, else one fetched by `load` (one call for all
    /// concurrent callers), else — when the failure allows it — the stale one.
    pub(crate) async fn get<F>(&self, customer_id: &str, load: F) -> Result<CachedEntitlements>
    where
        F: Future<Output = Result<Snapshot>> + Send + 'static,
    {
        if let Some(snapshot) = self.get_fresh(customer_id) {
            tracing::trace!("entitlement cache hit");
            return Ok(CachedEntitlements::fresh(snapshot));
        }
        if let Some(error) = self.shelves.failures.get(customer_id) {
            return self.fall_back(customer_id, error);
        }
        let started = Instant::now();
        let shelves = self.shelves.clone();
        let customer = customer_id.to_owned();
        let loaded = self
            .loads
            .run(
                customer_id,
                || async move {
                    // Stored by the load itself, so that it lands even when every caller
                    // gave up waiting.
                    let loaded = load.await.map(Arc::new).map_err(Arc::new);
                    match &loaded {
                        Ok(snapshot) => shelves.store(&customer, snapshot, started),
                        // Kelviq down, or a customer it does not know: back off either
                        // way, so neither an outage nor made-up ids cost a call per check.
                        Err(error) if serves_stale(error) || is_unknown_customer(error) => {
                            shelves.failures.insert(customer, Arc::clone(error));
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
            Err(error) => self.fall_back(customer_id, error),
        }
    }

    /// After a failed load: the stale snapshot if the failure is one Kelviq being down
    /// explains and the snapshot is within the window; the error otherwise.
    fn fall_back(&self, customer_id: &str, error: Arc<Error>) -> Result<CachedEntitlements> {
        if serves_stale(&error)
            && let Some(snapshot) = self.shelves.snapshots.get(customer_id)
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

    /// Applies usage reported by this process to the cached snapshot, if any (`set`:
    /// replace, else add). Atomic per feature; nothing is copied.
    pub(crate) fn apply_usage(&self, customer_id: &str, feature_id: &str, value: i64, set: bool) {
        if let Some(snapshot) = self.shelves.snapshots.get(customer_id) {
            snapshot.apply_usage(feature_id, value, set);
        }
    }

    /// Forgets the customer's snapshot: the next check fetches, and a load already in
    /// flight is neither joined nor stored.
    pub(crate) fn invalidate(&self, customer_id: &str) {
        self.shelves
            .invalidated
            .insert(customer_id.to_owned(), Instant::now());
        self.loads.forget(customer_id);
        self.shelves.snapshots.invalidate(customer_id);
        self.shelves.failures.invalidate(customer_id);
    }

    /// Forgets every snapshot.
    pub(crate) fn invalidate_all(&self) {
        self.shelves.snapshots.invalidate_all();
        self.shelves.failures.invalidate_all();
        self.shelves.invalidated.invalidate_all();
    }

    /// Runs moka's pending housekeeping (evictions, counts).
    pub(crate) fn run_pending_tasks(&self) {
        self.shelves.snapshots.run_pending_tasks();
        self.shelves.failures.run_pending_tasks();
        self.shelves.invalidated.run_pending_tasks();
    }

    /// How many customers have a snapshot (fresh or within the stale window).
    pub(crate) fn len(&self) -> u64 {
        self.shelves.snapshots.entry_count()
    }
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
