//! Warnings that an outage would repeat once per request (Kelviq unreachable, Redis down,
//! stale answers), logged at most once per period, each saying how many were held back.

use std::sync::atomic::{AtomicU64, Ordering};

use std::time::{Duration, Instant};

/// How often each kind of warning an outage repeats is logged, at most: one period for the
/// gate's `kelviq unavailable`, the cache's stale answers and refused loads, the client's
/// failed calls and the fleet's Redis failures (as the operating guide says).
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(10);

/// A `warn` at most once per period, saying how many were held back in between: an outage
/// must not flood the logs with one line per request. Real time (not tokio's): a log's
/// rate is about the wall clock.
#[derive(Debug)]
pub(crate) struct RateLimitedWarn {
    origin: Instant,
    /// Milliseconds since `origin` before which no warning is logged.
    next_ms: AtomicU64,
    suppressed: AtomicU64,
    period_ms: u64,
}

impl RateLimitedWarn {
    pub(crate) fn new(period: Duration) -> Self {
        RateLimitedWarn {
            origin: Instant::now(),
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// A warning logged at most every [`WARN_EVERY`].
    pub(crate) fn every_period() -> Self {
        Self::new(WARN_EVERY)
    }

    /// Whether to log now; if so, how many warnings were held back since the last one.
    pub(crate) fn allow(&self) -> Option<u64> {
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_ms.load(Ordering::Relaxed);
        if now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now.saturating_add(self.period_ms),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn warnings_are_held_back_within_a_period_and_counted() {
        let warn = RateLimitedWarn::new(Duration::from_secs(3600));
        assert_eq!(warn.allow(), Some(0));
        assert_eq!(warn.allow(), None);
        assert_eq!(warn.allow(), None);
        // A zero period lets every warning through, with the count held back so far.
        let every = RateLimitedWarn::new(Duration::ZERO);
        assert_eq!(every.allow(), Some(0));
        assert_eq!(every.allow(), Some(0));
        assert_eq!(warn.suppressed.load(Ordering::Relaxed), 2);
    }
}
