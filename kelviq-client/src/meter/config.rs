//! [`MeterConfig`]: how often the usage meter flushes, how much it sends at once, how it
//! backs off.

use std::time::Duration;

use crate::error::{Error, Result};

/// How the client's usage meter delivers usage; given to
/// [`KelviqBuilder::usage_meter`](crate::KelviqBuilder::usage_meter).
///
/// ```
/// use std::time::Duration;
/// use kelviq_client::meter::MeterConfig;
///
/// let config = MeterConfig::default()
///     .flush_interval(Duration::from_millis(500))
///     .max_pending_keys(5_000)
///     .concurrency(16);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct MeterConfig {
    pub(crate) flush_interval: Duration,
    pub(crate) max_pending_keys: usize,
    pub(crate) concurrency: usize,
    pub(crate) retry_backoff: Duration,
    pub(crate) max_retry_backoff: Duration,
}

impl Default for MeterConfig {
    /// A flush every second (early at 1,000 pending keys), 8 reports in flight, retries
    /// backing off from 100 ms up to 10 s.
    fn default() -> Self {
        MeterConfig {
            flush_interval: Duration::from_secs(1),
            max_pending_keys: 1_000,
            concurrency: 8,
            retry_backoff: Duration::from_millis(100),
            max_retry_backoff: Duration::from_secs(10),
        }
    }
}

impl MeterConfig {
    /// How often pending usage is sent (default 1 s; must not be zero).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Flush early once this many (customer, feature) keys are pending (default 1,000).
    pub fn max_pending_keys(mut self, keys: usize) -> Self {
        self.max_pending_keys = keys;
        self
    }

    /// How many reports are in flight at once (default 8; must not be zero).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests;
        self
    }

    /// The backoff ceiling after the first refused attempt of a key, doubled after each
    /// further one (default 100 ms), up to `max` (default 10 s).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_backoff = initial;
        self.max_retry_backoff = max;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a zero flush interval or concurrency.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.flush_interval.is_zero() || self.concurrency == 0 {
            return Err(Error::Config(
                "the meter's flush interval and concurrency must be greater than zero".to_owned(),
            ));
        }
        Ok(())
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
