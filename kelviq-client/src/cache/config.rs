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
    pub(crate) unknown_customer_ttl: Duration,
    pub(crate) load_timeout: Duration,
    pub(crate) refresh_ahead: Option<Duration>,
    pub(crate) max_concurrent_loads: usize,
}

/// The longest duration any cache setting takes; longer ones are cut to it (moka, and
/// instants, cannot hold arbitrary durations).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The longest backoff a `Retry-After` from Kelviq sets for a customer.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl Default for CacheConfig {
    /// 10,000 customers, fresh for 60 s (the official SDK's TTL) and refreshed in the
    /// background during its last fifth, served stale for up to 5 minutes more while a
    /// refresh runs or Kelviq is down, 1 s between refresh attempts after a failure, unknown
    /// customers remembered for 60 s, a cold load waited for at most 500 ms, at most 32
    /// loads at once.
    fn default() -> Self {
        CacheConfig {
            max_customers: 10_000,
            ttl: Duration::from_secs(60),
            stale_window: Duration::from_secs(300),
            error_backoff: Duration::from_secs(1),
            unknown_customer_ttl: Duration::from_secs(60),
            load_timeout: Duration::from_millis(500),
            refresh_ahead: None,
            max_concurrent_loads: 32,
        }
    }
}

impl CacheConfig {
    /// The most customers kept (the least recently fetched are evicted first; default
    /// 10,000).
    pub fn max_customers(mut self, customers: u64) -> Self {
        self.max_customers = customers;
        self
    }

    /// How long a fetched snapshot answers checks without a new call (default 60 s; at
    /// most a year).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.min(MAX_DURATION);
        self
    }

    /// How long after it stopped being fresh a snapshot may still answer: at once, while
    /// one background refresh runs (stale-while-revalidate), and while Kelviq is
    /// unreachable, failing or rate limiting (default 5 minutes; zero disables stale
    /// answers; at most a year).
    pub fn stale_window(mut self, window: Duration) -> Self {
        self.stale_window = window.min(MAX_DURATION);
        self
    }

    /// After a failed refresh, how long checks for that customer skip the upstream call and
    /// answer from the stale snapshot (or with the error) at once (default 1 s; at most a
    /// year). A `429` sets the backoff to its `Retry-After` instead, up to 60 s, if longer.
    pub fn error_backoff(mut self, backoff: Duration) -> Self {
        self.error_backoff = backoff.min(MAX_DURATION);
        self
    }

    /// How long a customer Kelviq does not know (`404`) is remembered, so that made-up ids
    /// cost no upstream call each (default 60 s; at most a year).
    pub fn unknown_customer_ttl(mut self, ttl: Duration) -> Self {
        self.unknown_customer_ttl = ttl.min(MAX_DURATION);
        self
    }

    /// The longest a check waits for a snapshot that must be loaded (no usable one in the
    /// cache): the wait for a [load permit](CacheConfig::max_concurrent_loads) and the call,
    /// retries included; past it the check answers without the snapshot and the gate
    /// decides by its failure policy (default 500 ms; from 1 ms to a year). No
    /// `Retry-After` is ever waited out past it.
    ///
    /// It bounds the callers' wait, not the call. A load that got its permit within the
    /// load timeout makes its call and lets it run to its end in the background, under its
    /// own deadline: the client's [request timeout](crate::KelviqBuilder::timeout), or the
    /// end of the load timeout if that is later. Its snapshot is then cached for the checks
    /// that follow, though every caller gave up on it: a call cut short at the callers'
    /// deadline would be work Kelviq does anyway, for nothing, and beyond the cap of
    /// concurrent loads. A load that got no permit within the load timeout makes no call.
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.load_timeout = timeout.clamp(Duration::from_millis(1), MAX_DURATION);
        self
    }

    /// A snapshot read within this long of the end of its TTL is refreshed in the
    /// background, so that a customer in steady use never waits for a refresh (default:
    /// the last fifth of the TTL; zero turns it off).
    pub fn refresh_ahead(mut self, before_expiry: Duration) -> Self {
        self.refresh_ahead = Some(before_expiry.min(MAX_DURATION));
        self
    }

    /// The most snapshot loads in flight at once, whatever the number of customers (or of
    /// made-up ids): the most entitlement calls Kelviq works on at once for this cache. A
    /// call holds its permit until it ends — answered, failed, or past its own timeout,
    /// never cut short when its callers stop waiting — so Kelviq counts no more (a call
    /// that runs past the request timeout is cut, and its permit freed, while Kelviq may
    /// still be working on it). More loads wait their turn, up to the
    /// [load timeout](CacheConfig::load_timeout), at most 16 per permit; past that a check
    /// that must load answers at once without one (default 32; at least 1).
    ///
    /// At most `loads / latency` customers are loaded per second: with 32 permits and
    /// calls of 200 ms, 160 a second, however many checks ask at once.
    pub fn max_concurrent_loads(mut self, loads: usize) -> Self {
        self.max_concurrent_loads = loads.max(1);
        self
    }

    /// When, in a snapshot's age, a read starts a background refresh.
    pub(crate) fn refresh_from(&self) -> Duration {
        let ahead = self.refresh_ahead.unwrap_or(self.ttl / 5).min(self.ttl);
        self.ttl - ahead
    }
}
