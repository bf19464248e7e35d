//! The report budget: at most so many reports a second, bursts of up to a second's worth.
//!
//! A generic cell rate algorithm (GCRA): one instant, the theoretical arrival time of the
//! next report, moved on by one emission interval per report. Small enough to write here;
//! it runs on tokio's clock, so paused-time tests see it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::lock;

/// Hands out send times at most `rate` a second.
#[derive(Debug)]
pub(super) struct Pacer {
    /// Time between two reports at the full rate.
    interval: Duration,
    /// How far ahead of the rate a burst may go: a second's worth, less one report.
    tolerance: Duration,
    /// The theoretical arrival time of the next report.
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// A pacer of `rate` reports a second (at least one).
    pub(super) fn new(rate: u32) -> Self {
        let rate = rate.max(1);
        let interval = Duration::from_secs(1) / rate;
        Pacer {
            interval,
            tolerance: interval.saturating_mul(rate - 1),
            next: Mutex::new(None),
        }
    }

    /// Reserves the next report's slot: the time it may be sent (now, or later).
    pub(super) fn reserve(&self) -> Instant {
        let now = Instant::now();
        let mut next = lock(&self.next);
        let arrival = next.map_or(now, |next| next.max(now));
        *next = Some(arrival.checked_add(self.interval).unwrap_or(arrival));
        arrival
            .checked_sub(self.tolerance)
            .map_or(now, |at| at.max(now))
    }

    /// Gives a reserved slot back (its report was not sent), so that the budget is not
    /// spent on it.
    pub(super) fn release(&self) {
        let mut next = lock(&self.next);
        if let Some(at) = *next {
            *next = at.checked_sub(self.interval).or(Some(at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_second_s_worth_at_once_then_the_rate() {
        let pacer = Pacer::new(10);
        let start = Instant::now();
        let slots: Vec<Duration> = (0..25).map(|_| pacer.reserve() - start).collect();
        assert!(slots[..10].iter().all(Duration::is_zero));
        assert_eq!(slots[10], Duration::from_millis(100));
        assert_eq!(slots[24], Duration::from_millis(1_500));
        // After an idle while, the burst is available again.
        tokio::time::advance(Duration::from_secs(5)).await;
        let now = Instant::now();
        assert!((0..10).all(|_| pacer.reserve() == now));
        assert!(pacer.reserve() > now);
        pacer.release();
        pacer.release();
        assert_eq!(pacer.reserve(), now);
    }
}
