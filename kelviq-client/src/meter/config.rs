//! [`MeterConfig`]: how often the usage meter flushes, how many reports a second it may
//! send, how much it sends at once, how it backs off.

use std::time::Duration;

use crate::error::{Error, Result};

/// The longest flush interval or backoff accepted: a day.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// How the client's usage meter delivers usage; given to
/// [`KelviqBuilder::usage_meter`](crate::KelviqBuilder::usage_meter).
///
/// ```
/// use std::time::Duration;
/// use kelviq_client::meter::MeterConfig;
///
/// let config = MeterConfig::default()
///     .flush_interval(Duration::from_millis(500))
///     .max_reports_per_second(500)
///     .max_keys(50_000)
///     .concurrency(16);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct MeterConfig {
    pub(crate) flush_interval: Duration,
    pub(crate) max_reports_per_second: u32,
    pub(crate) max_keys: usize,
    pub(crate) max_events: usize,
    pub(crate) concurrency: usize,
    pub(crate) retry_backoff: Duration,
    pub(crate) max_retry_backoff: Duration,
}

impl Default for MeterConfig {
    /// A flush every second, at most 200 reports a second, at most 100,000 pending keys
    /// and 10,000 queued events, 8 reports in flight, retries backing off from 100 ms up
    /// to 10 s.
    fn default() -> Self {
        MeterConfig {
            flush_interval: Duration::from_secs(1),
            max_reports_per_second: 200,
            max_keys: 100_000,
            max_events: 10_000,
            concurrency: 8,
            retry_backoff: Duration::from_millis(100),
            max_retry_backoff: Duration::from_secs(10),
        }
    }
}

impl MeterConfig {
    /// How often pending usage is sent (default 1 s; must be more than zero and at most a
    /// day, else `build()` fails with [`Error::Config`]).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// The most reports (usage and events) sent to Kelviq per second (default 200; must
    /// not be zero), bursts of up to a second's worth included. Kelviq has no batch
    /// endpoint for usage, so each pending (customer, feature) key is one report per
    /// flush, and Kelviq rate limits.
    ///
    /// Up to `max_reports_per_second × flush_interval` keys are sent per flush, the
    /// longest-waiting first; the others keep coalescing and go in the next flushes. So,
    /// with `K` keys in use, each key is reported every `max(flush_interval, K / budget)`:
    /// at the default budget, 10,000 busy customers (one metered feature each) are each
    /// reported every 50 s instead of every second. Totals stay exact, only the delay grows
    /// (and, with it, what a crash can lose: see the [module documentation](super)). Usage
    /// applies to the cached snapshots at once either way, so limits do not wait for it.
    pub fn max_reports_per_second(mut self, reports: u32) -> Self {
        self.max_reports_per_second = reports;
        self
    }

    /// The most (customer, feature) keys pending at once, in flight included (default
    /// 100,000; must not be zero). At the cap, a record of a **new** key is refused with
    /// [`Error::MeterFull`] and counted in [`MeterStats::refused`](super::MeterStats::refused);
    /// records of keys already pending still add to them, and nothing pending is ever
    /// dropped. Memory for pending usage stays bounded whatever Kelviq does.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// The most events queued at once, in flight included (default 10,000; must not be
    /// zero). At the cap, [`UsageMeter::record_event`](super::UsageMeter::record_event)
    /// fails with [`Error::MeterFull`] and counts it in
    /// [`MeterStats::events_refused`](super::MeterStats::events_refused); queued events
    /// are never dropped.
    pub fn max_events(mut self, events: usize) -> Self {
        self.max_events = events;
        self
    }

    /// How many reports are in flight at once (default 8; must not be zero).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests;
        self
    }

    /// The backoff ceiling after the first refused attempt of a key, doubled after each
    /// further one (default 100 ms), up to `max` (default 10 s). Both at most a day, else
    /// `build()` fails with [`Error::Config`].
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_backoff = initial;
        self.max_retry_backoff = max;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a zero flush interval, concurrency, report budget, key or
    /// event cap, and
    /// for a flush interval or backoff longer than a day.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.flush_interval.is_zero()
            || self.concurrency == 0
            || self.max_reports_per_second == 0
        {
            return Err(Error::Config(
                "the meter's flush interval, concurrency and max_reports_per_second must be \
                 greater than zero"
                    .to_owned(),
            ));
        }
        if self.max_keys == 0 || self.max_events == 0 {
            return Err(Error::Config(
                "the meter's max_keys and max_events must be greater than zero".to_owned(),
            ));
        }
        for (name, value) in [
            ("flush interval", self.flush_interval),
            ("retry backoff", self.retry_backoff),
            ("maximum retry backoff", self.max_retry_backoff),
        ] {
            if value > MAX_DURATION {
                return Err(Error::Config(format!(
                    "the meter's {name} must be at most a day, got {value:?}"
                )));
            }
        }
        Ok(())
    }

    /// How many keys one periodic flush sends at most: a flush interval's worth of the
    /// report budget (at least one).
    pub(crate) fn keys_per_flush(&self) -> usize {
        let per_flush = self.flush_interval.as_secs_f64() * f64::from(self.max_reports_per_second);
        // Float to integer casts saturate; the product is finite and non-negative.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let keys = per_flush.ceil() as usize;
        keys.max(1)
    }

    /// Full-jitter exponential backoff after `attempts` refused attempts.
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        let ceiling = self
            .retry_backoff
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)))
            .min(self.max_retry_backoff);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}
