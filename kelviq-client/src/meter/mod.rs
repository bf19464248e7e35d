//! The usage meter: record usage on the request path without waiting, deliver it in the
//! background, never lose a unit silently and never count one twice.
//!
//! [`UsageMeter::record`] adds units to a pending total per (customer, feature) and returns
//! at once. A background task sends one `DELTA` report per key per flush interval (early
//! when many keys are pending), and settles each report:
//!
//! | outcome | what happens | counted as |
//! |---|---|---|
//! | Kelviq confirmed it | done | `sent` |
//! | refused before processing: connection refused, `429`, `503` | kept pending, merged with newer units, retried with backoff | `pending` (and `retried`) |
//! | unknown: timeout, dropped connection, other `5xx` | **not** resent (it may have counted); logged with customer, feature and units | `unknown` |
//! | refused: other `4xx` | logged with the response body | `failed` |
//!
//! So every recorded unit ends as `sent`, `pending`, `failed` or `unknown`
//! ([`MeterStats`]), and [`UsageMeter::shutdown`] returns what could not be sent. Usage
//! is also applied at once to the customer's cached entitlements (when the client has the
//! entitlement cache), so access flips at a limit before any refresh.
//!
//! Events ([`UsageMeter::record_event`]) go through the meter too. They carry an
//! idempotency key, so they are retried on unknown outcomes as well (up to 10 deliveries,
//! then counted failed): delivered at least once, and de-duplicated by Kelviq — assuming
//! the service honours the key, as its event API suggests; the official SDK documents no
//! more than that.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kelviq_client::Error> {
//! # let mock = kelviq_mock::MockServer::start().await;
//! use std::time::Duration;
//! use kelviq_client::Kelviq;
//! use kelviq_client::meter::UsageMeter;
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .build()?;
//! let meter = UsageMeter::builder(kelviq).start()?;
//! for _ in 0..100 {
//!     meter.record("cust_pro", "api-calls", 1)?;
//! }
//! let report = meter.shutdown(Duration::from_secs(5)).await;
//! assert_eq!(report.stats.sent, 100);
//! assert!(report.stats.sent_requests < 100);
//! # assert_eq!(mock.usage_total("cust_pro", "api-calls"), 112);
//! # Ok(())
//! # }
//! ```

mod pending;
mod stats;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot};

pub use stats::{MeterStats, ShutdownReport, UsageLine};

use crate::cache::Snapshot;
use crate::client::Kelviq;
use crate::error::{Error, Result};
use crate::resources::{ReportEvent, require};
use pending::{Pending, QueuedEvent};
use stats::Counters;
use worker::Command;

/// Records usage and events and delivers them in the background. Cheap to clone; clones
/// share one pending set and one background task.
#[derive(Clone, Debug)]
pub struct UsageMeter {
    handle: Arc<Handle>,
}

/// Configures a [`UsageMeter`].
#[derive(Debug)]
#[must_use]
pub struct UsageMeterBuilder {
    client: Kelviq,
    config: MeterConfig,
}

#[derive(Debug, Clone)]
struct MeterConfig {
    flush_interval: Duration,
    max_pending_keys: usize,
    concurrency: usize,
    retry_backoff: Duration,
    max_retry_backoff: Duration,
}

impl MeterConfig {
    /// Full-jitter exponential backoff after `attempts` refused attempts.
    fn backoff(&self, attempts: u32) -> Duration {
        let ceiling = self
            .retry_backoff
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)))
            .min(self.max_retry_backoff);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

/// State shared by the handles and the background task.
#[derive(Debug)]
pub(crate) struct Shared {
    client: Kelviq,
    config: MeterConfig,
    pending: Mutex<Pending>,
    counters: Counters,
    /// Wakes the task for an early flush.
    wake: Notify,
    closed: AtomicBool,
    /// Set by a shutdown: no report starts, and none lasts, past it.
    deadline: Mutex<Option<Instant>>,
}

impl Shared {
    /// The customer's units waiting to be sent (not those in flight, which Kelviq may
    /// already count), per feature.
    pub(crate) fn waiting_for(&self, customer_id: &str) -> Vec<(String, i64)> {
        self.lock_pending().waiting_for(customer_id)
    }

    /// The shutdown deadline, once a shutdown started.
    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops taking usage and reports what is left.
    fn close(&self) -> ShutdownReport {
        self.closed.store(true, Ordering::SeqCst);
        let (waiting, (unsent, unsent_events)) = {
            let mut pending = self.lock_pending();
            (pending.units(), pending.drain())
        };
        ShutdownReport {
            unsent,
            unsent_events,
            unknown: Counters::lines(&self.counters.unknown_lines),
            failed: Counters::lines(&self.counters.failed_lines),
            stats: self.counters.snapshot(waiting),
        }
    }
}

/// Owned by the handles; when the last one goes, the task drains and stops.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.shared.closed.load(Ordering::SeqCst) {
            return;
        }
        let pending = self.shared.lock_pending().lines();
        if !pending.is_empty() {
            tracing::warn!(
                ?pending,
                "usage meter dropped with pending usage; it tries to send it for a few seconds \
                 (call UsageMeter::shutdown to wait for the result)"
            );
        }
    }
}

impl UsageMeterBuilder {
    /// How often pending usage is sent (default 1 s).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.config.flush_interval = interval;
        self
    }

    /// Flush early once this many (customer, feature) keys are pending (default 1,000).
    pub fn max_pending_keys(mut self, keys: usize) -> Self {
        self.config.max_pending_keys = keys;
        self
    }

    /// How many reports are in flight at once (default 8).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.config.concurrency = requests;
        self
    }

    /// The backoff ceiling after the first refused attempt of a key, doubled after each
    /// further one (default 100 ms), up to `max` (default 10 s).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.retry_backoff = initial;
        self.config.max_retry_backoff = max;
        self
    }

    /// Starts the background task on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] outside a tokio runtime, or for a zero flush interval or
    /// concurrency.
    pub fn start(self) -> Result<UsageMeter> {
        if self.config.flush_interval.is_zero() || self.config.concurrency == 0 {
            return Err(Error::Config(
                "the meter's flush interval and concurrency must be greater than zero".to_owned(),
            ));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config("the usage meter must be started inside a tokio runtime".to_owned())
        })?;
        let shared = Arc::new(Shared {
            client: self.client,
            config: self.config,
            pending: Mutex::new(Pending::default()),
            counters: Counters::default(),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            deadline: Mutex::new(None),
        });
        let (commands, receiver) = mpsc::unbounded_channel();
        shared.client.register_meter(Arc::downgrade(&shared));
        runtime.spawn(worker::run(Arc::clone(&shared), receiver));
        Ok(UsageMeter {
            handle: Arc::new(Handle { shared, commands }),
        })
    }
}

impl UsageMeter {
    /// A builder for a meter that reports through `client`.
    pub fn builder(client: Kelviq) -> UsageMeterBuilder {
        UsageMeterBuilder {
            client,
            config: MeterConfig {
                flush_interval: Duration::from_secs(1),
                max_pending_keys: 1_000,
                concurrency: 8,
                retry_backoff: Duration::from_millis(100),
                max_retry_backoff: Duration::from_secs(10),
            },
        }
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Records `amount` units (a `DELTA`, which may be negative) of a customer's feature.
    /// Returns at once: nothing is sent on the caller's path.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id; [`Error::MeterClosed`] after
    /// [`UsageMeter::shutdown`]. Nothing is recorded then.
    pub fn record(&self, customer_id: &str, feature_id: &str, amount: i64) -> Result<()> {
        self.record_on(None, customer_id, feature_id, amount)
    }

    /// [`UsageMeter::record`], applying the usage to `snapshot` — the customer's cached
    /// snapshot the caller already holds — instead of looking it up in the cache again.
    /// For adapters that gated the request with that snapshot.
    ///
    /// # Errors
    ///
    /// As [`UsageMeter::record`].
    pub fn record_on(
        &self,
        snapshot: Option<&Snapshot>,
        customer_id: &str,
        feature_id: &str,
        amount: i64,
    ) -> Result<()> {
        require("customer_id", customer_id)?;
        require("feature_id", feature_id)?;
        let shared = self.shared();
        let keys = {
            let mut pending = shared.lock_pending();
            // Checked under the lock: `close` drains under it, so no unit slips in after.
            if shared.closed.load(Ordering::SeqCst) {
                return Err(Error::MeterClosed);
            }
            if pending.add(customer_id, feature_id, amount) {
                Counters::bump(&shared.counters.coalesced);
            }
            Counters::add(&shared.counters.recorded, amount);
            pending.keys()
        };
        match snapshot {
            Some(snapshot) => snapshot.apply_usage(feature_id, amount, false),
            None => shared
                .client
                .apply_usage_to_cache(customer_id, feature_id, amount, false),
        }
        if keys >= shared.config.max_pending_keys {
            shared.wake.notify_one();
        }
        Ok(())
    }

    /// Records an event, to be delivered at least once; returns its idempotency key
    /// (generated when the event has none).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] as for `report_event`; [`Error::MeterClosed`] after shutdown.
    pub fn record_event(&self, mut event: ReportEvent) -> Result<String> {
        event.validate()?;
        let key = event.fill_defaults().to_owned();
        let shared = self.shared();
        let mut pending = shared.lock_pending();
        if shared.closed.load(Ordering::SeqCst) {
            return Err(Error::MeterClosed);
        }
        pending.push_event(QueuedEvent {
            event,
            attempts: 0,
            not_before: None,
        });
        Counters::bump(&shared.counters.events_recorded);
        Ok(key)
    }

    /// The counters now.
    pub fn stats(&self) -> MeterStats {
        let shared = self.shared();
        // The pending set and the in-flight counter change together under the lock.
        let pending = shared.lock_pending();
        shared.counters.snapshot(pending.units())
    }

    /// Sends everything that is due now and waits for the outcomes (keys in backoff stay
    /// pending).
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.handle.commands.send(Command::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// Sends what can be sent before `deadline` (waiting out backoffs that end before it),
    /// stops the background task and reports what is left. No report starts after the
    /// deadline and none outlasts it (one cut short by it counts as unknown); what was not
    /// sent is returned. Later records fail with [`Error::MeterClosed`].
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let (reply, report) = oneshot::channel();
        let command = Command::Shutdown {
            deadline: Instant::now() + deadline,
            reply: Some(reply),
        };
        if self.handle.commands.send(command).is_ok()
            && let Ok(report) = report.await
        {
            return report;
        }
        // The task is gone (its runtime stopped, or an earlier shutdown): report as is.
        self.shared().close()
    }
}
