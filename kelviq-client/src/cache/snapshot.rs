//! A customer's entitlements as cached, and how fresh they are.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::models::{Entitlement, Entitlements};

/// All of a customer's entitlements at one moment, shared between every check that reads
/// them.
#[derive(Debug, Clone)]
pub struct Snapshot {
    entitlements: Entitlements,
    fetched_at: Instant,
}

impl Snapshot {
    pub(crate) fn new(entitlements: Entitlements) -> Self {
        Snapshot {
            entitlements,
            fetched_at: Instant::now(),
        }
    }

    /// A copy with usage applied to one feature, as old as this one.
    pub(crate) fn with_usage(&self, feature_id: &str, value: i64, set: bool) -> Self {
        let mut copy = self.clone();
        if let Some(entitlement) = copy.entitlements.get_mut(feature_id) {
            entitlement.apply_usage(value, set);
        }
        copy
    }

    /// The aggregated entitlements.
    pub fn entitlements(&self) -> &Entitlements {
        &self.entitlements
    }

    /// Whether the customer may use the feature (`false` for a feature it lacks).
    pub fn has_access(&self, feature_id: &str) -> bool {
        self.entitlements.has_access(feature_id)
    }

    /// One feature's entitlement.
    pub fn get(&self, feature_id: &str) -> Option<&Entitlement> {
        self.entitlements.get(feature_id)
    }

    /// How long ago it was fetched.
    pub fn age(&self) -> Duration {
        self.fetched_at.elapsed()
    }

    /// When it was fetched.
    pub fn fetched_at(&self) -> Instant {
        self.fetched_at
    }
}

/// Whether a cached answer is current.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Freshness {
    /// Fetched within the TTL (or just now).
    Fresh,
    /// Older than the TTL, served because the refresh failed with this error.
    Stale(Arc<Error>),
}

/// A snapshot and how fresh it is.
#[derive(Debug, Clone)]
pub struct CachedEntitlements {
    snapshot: Arc<Snapshot>,
    freshness: Freshness,
}

impl CachedEntitlements {
    pub(crate) fn fresh(snapshot: Arc<Snapshot>) -> Self {
        CachedEntitlements {
            snapshot,
            freshness: Freshness::Fresh,
        }
    }

    pub(crate) fn stale(snapshot: Arc<Snapshot>, error: Arc<Error>) -> Self {
        CachedEntitlements {
            snapshot,
            freshness: Freshness::Stale(error),
        }
    }

    /// The snapshot (cheap to clone: an `Arc`).
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// How fresh it is.
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// Whether it is stale (served because Kelviq could not be reached).
    pub fn is_stale(&self) -> bool {
        matches!(self.freshness, Freshness::Stale(_))
    }

    /// The snapshot, without the freshness.
    pub fn into_snapshot(self) -> Arc<Snapshot> {
        self.snapshot
    }
}
