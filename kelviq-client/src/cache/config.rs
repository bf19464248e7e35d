//! [`CacheConfig`]: size, freshness and the stale window.

use std::time::Duration;

/// How the entitlement cache behaves.
///
/// ```
/// use std::time::Duration;
/// use kelviq_client::CacheConfig;
///
/// let config = CacheConfig::default()
///     .max_customers(50_000)
///     .ttl(Duration::from_secs(30))
///     .stale_window(Duration::from_secs(600));
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CacheConfig {
    pub(crate) max_customers: u64,
    pub(crate) ttl: Duration,
    pub(crate) stale_window: Duration,
    pub(crate) error_backoff: Duration,
}

impl Default for CacheConfig {
    /// 10,000 customers, fresh for 60 s (the official SDK's TTL), served stale for up to
    /// 5 minutes more while Kelviq is down, 1 s between refresh attempts after a failure.
    fn default() -> Self {
        CacheConfig {
            max_customers: 10_000,
            ttl: Duration::from_secs(60),
            stale_window: Duration::from_secs(300),
            error_backoff: Duration::from_secs(1),
        }
    }
}

impl CacheConfig {
    /// The most customers kept (least recently used are evicted first; default 10,000).
    pub fn max_customers(mut self, customers: u64) -> Self {
        self.max_customers = customers;
        self
    }

    /// How long a fetched snapshot answers checks without a new call (default 60 s).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long after it stopped being fresh a snapshot may still answer when Kelviq is
    /// unreachable or failing (default 5 minutes; zero disables stale answers).
    pub fn stale_window(mut self, window: Duration) -> Self {
        self.stale_window = window;
        self
    }

    /// After a failed refresh, how long checks for that customer skip the upstream call and
    /// answer from the stale snapshot (or with the error) at once (default 1 s).
    pub fn error_backoff(mut self, backoff: Duration) -> Self {
        self.error_backoff = backoff;
        self
    }
}
