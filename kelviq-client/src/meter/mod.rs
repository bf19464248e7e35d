//! The usage meter: record usage on the request path without waiting, deliver it in the
//! background, never lose a unit silently and never count one twice.
//!
//! Each client has one meter, [`Kelviq::usage_meter`](crate::Kelviq::usage_meter), started
//! on the current tokio runtime the first time it is asked for, with the settings given to
//! [`KelviqBuilder::usage_meter`](crate::KelviqBuilder::usage_meter) ([`MeterConfig`]). It
//! writes what it records into the client's usage ledger (the client's, which its
//! entitlement cache reads too), so the usage applies to the client's cached snapshots at once and a freshly fetched
//! snapshot still counts what has not been delivered.
//!
//! [`UsageMeter::record`] adds units to a pending total per (customer, feature) and returns
//! at once: it takes a lock of its thread's own stripe of the ledger, so records on many
//! cores do not wait for each other (about as dear as incrementing a counter in a
//! `Mutex<HashMap>`, see the README's figures). A background task sends one `DELTA` report
//! per key per flush interval, within a budget of reports per second
//! ([`MeterConfig::max_reports_per_second`]: with more keys than a flush may send, each
//! key waits longer, its units still coalescing), and settles each report:
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
//! # Limits, and what a crash loses
//!
//! Pending usage lives **in process memory** (the client's usage ledger),
//! bounded by [`MeterConfig::max_keys`] keys and [`MeterConfig::max_events`] events: at the
//! cap a record of a new key (or a new event) fails with [`Error::MeterFull`] and is
//! counted ([`MeterStats::refused`], [`MeterStats::events_refused`]), while keys already
//! pending keep coalescing and nothing pending is dropped. A clean
//! [`UsageMeter::shutdown`] hands back every unit it could not send. A crash (an abort, a
//! `kill -9`, a panic that takes the process down) loses **what is pending at that
//! moment**: at most one flush interval's worth of usage while Kelviq is healthy and the
//! keys in use fit the report budget (else each key's delay, `keys / budget`), more while
//! it refuses or is down (the backlog keeps growing, up to the caps). Watch
//! [`UsageMeter::stats`] (`pending`, `pending_keys`, `events_pending`) to know how much is
//! exposed. In a [fleet](crate::fleet) (cargo feature `redis`), each flush pushes the
//! usage to Redis instead, where it survives the instance: a crash then loses at most what
//! was recorded since the last flush (see the fleet's *Durable usage*).
//!
//! Amounts never wrap: a key's pending total is kept wider than a report and sent in
//! several reports when it outgrows one, the counters are `i128`, and usage applied to
//! cached snapshots saturates. A `Retry-After` from Kelviq is honoured up to 60 s.
//!
//! If the background task ever ends without a shutdown (a bug, or its tokio runtime
//! stopped), the meter does not pretend: [`UsageMeter::record`] and [`UsageMeter::flush`]
//! fail with [`Error::MeterStopped`], [`MeterStats::stopped`] is set, units that were in
//! flight count as unknown, and [`UsageMeter::shutdown`] still reports what is pending.
//! It is not restarted: a task that died once would most likely die again, and a loud
//! error is better than usage silently piling up.
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
//!
//! let kelviq = Kelviq::builder()
//!     .access_token(mock.token())
//!     .api_url(mock.url())
//!     .edge_url(mock.edge_url())
//!     .build()?;
//! let meter = kelviq.usage_meter()?;
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

mod config;
mod pacer;
mod shared;
pub(crate) mod stats;
pub(crate) mod worker;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

pub use config::MeterConfig;
pub use stats::{MeterStats, ShutdownReport, UsageLine};
// What the shared tier works with when the meter hands its usage off (see `tier`): this,
// its counters (`stats`) and its way to report (`worker`).
pub(crate) use shared::Shared;

use crate::cache::{EntitlementCache, HardRef, Snapshot};
use crate::error::{Error, Result};
use crate::http::Transport;
use crate::resources::{ReportEvent, require};
use crate::sync::lock;
use crate::tier::SharedTier;
use crate::usage::{Added, QueuedEvent, UsageLedger};
use stats::{Counters, LOGGED_LINES};
use worker::Command;

/// Records usage and events and delivers them in the background: the client's meter, from
/// [`Kelviq::usage_meter`](crate::Kelviq::usage_meter). Cheap to clone; clones share one
/// background task.
#[derive(Clone, Debug)]
pub struct UsageMeter {
    handle: Arc<Handle>,
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
        let pending = self.shared.ledger.lock_all().lines();
        if !pending.is_empty() {
            tracing::warn!(
                keys = pending.len(),
                first = ?pending.iter().take(LOGGED_LINES).collect::<Vec<_>>(),
                "usage meter dropped with pending usage; it tries to send it for a few seconds \
                 (call UsageMeter::shutdown to wait for the result)"
            );
        }
    }
}

impl UsageMeter {
    /// Starts a meter for a client's transport and cache on the current tokio runtime.
    pub(crate) fn start(
        transport: Arc<Transport>,
        cache: Arc<EntitlementCache>,
        ledger: Arc<UsageLedger>,
        tier: Arc<dyn SharedTier>,
        config: MeterConfig,
    ) -> Result<UsageMeter> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(
                "the usage meter must be started inside a tokio runtime (Kelviq::usage_meter, \
                 or building a gate, starts it)"
                    .to_owned(),
            )
        })?;
        let shared = Arc::new(Shared::new(transport, cache, ledger, tier, config));
        let (commands, receiver) = mpsc::unbounded_channel();
        runtime.spawn(worker::run(Arc::clone(&shared), receiver));
        Ok(UsageMeter {
            handle: Arc::new(Handle { shared, commands }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Records `amount` units (a `DELTA`, which may be negative) of a customer's feature.
    /// Returns at once: nothing is sent on the caller's path.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id, or a customer id longer than the client's
    /// maximum ([`KelviqBuilder::max_customer_id_len`](crate::KelviqBuilder::max_customer_id_len));
    /// [`Error::MeterClosed`] after [`UsageMeter::shutdown`]; [`Error::MeterStopped`] if
    /// the background task is gone; [`Error::MeterFull`] for a new key when
    /// [`MeterConfig::max_keys`] keys are pending. Nothing is recorded then.
    pub fn record(&self, customer_id: &str, feature_id: &str, amount: i64) -> Result<()> {
        self.record_on(None, customer_id, feature_id, amount)
    }

    /// [`UsageMeter::record`], applying the usage to `snapshot` — the customer's cached
    /// snapshot the caller already holds — instead of looking it up in the cache again.
    /// For the gate, which admitted the request on that snapshot.
    ///
    /// # Errors
    ///
    /// As [`UsageMeter::record`].
    pub(crate) fn record_on(
        &self,
        snapshot: Option<&Snapshot>,
        customer_id: &str,
        feature_id: &str,
        amount: i64,
    ) -> Result<()> {
        self.add_to_ledger(customer_id, feature_id, amount)?;
        self.shared()
            .cache
            .apply_usage(snapshot, customer_id, feature_id, amount, false);
        Ok(())
    }

    /// Records `kept` units of a request's hold of `held` units on a hard-limited feature
    /// of `snapshot` (the one the request was admitted on), and settles the hold: the kept
    /// units move from held to recorded, the rest is given back — all of it when the
    /// record is refused. A newer snapshot of the customer that replaced `snapshot`
    /// meanwhile gets the kept units too.
    ///
    /// # Errors
    ///
    /// As [`UsageMeter::record`].
    pub(crate) fn record_held(
        &self,
        snapshot: &Snapshot,
        hard: HardRef,
        held: i64,
        customer_id: &str,
        feature_id: &str,
        kept: i64,
    ) -> Result<()> {
        if let Err(error) = self.add_to_ledger(customer_id, feature_id, kept) {
            snapshot.settle(hard, held, 0);
            return Err(error);
        }
        snapshot.settle(hard, held, kept);
        if snapshot.is_superseded() {
            self.shared()
                .cache
                .apply_usage(None, customer_id, feature_id, kept, false);
        }
        Ok(())
    }

    /// Adds `amount` units of a key to the ledger's intake (not to any snapshot).
    fn add_to_ledger(&self, customer_id: &str, feature_id: &str, amount: i64) -> Result<()> {
        crate::resources::customer_id(&self.shared().transport, customer_id)?;
        require("feature_id", feature_id)?;
        let shared = self.shared();
        let ledger = &shared.ledger;
        let mut intake = ledger.intake();
        // Checked under the stripe's lock: `close` drains under it, so no unit slips in
        // after.
        if let Err(error) = self.usable() {
            drop(intake);
            return Err(self.refused(error));
        }
        let max_keys = shared.config.max_keys;
        let added = intake.add(customer_id, feature_id, amount, ledger.entries(), max_keys);
        drop(intake);
        if added == Added::Full {
            let before = shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            if before == 0 {
                tracing::warn!(
                    customer_id,
                    feature_id,
                    amount,
                    max_keys,
                    "usage meter full: records of new keys are refused (counted in \
                     MeterStats::refused; logged at debug from now on)"
                );
            } else {
                tracing::debug!(
                    customer_id,
                    feature_id,
                    amount,
                    max_keys,
                    "usage meter full: record of a new key refused"
                );
            }
            return Err(Error::MeterFull {
                what: "keys",
                limit: max_keys,
            });
        }
        Ok(())
    }

    /// Whether records are taken: not after a shutdown, nor once the task is gone. Called
    /// under a ledger lock; an error goes through [`UsageMeter::refused`] once the lock is
    /// released.
    fn usable(&self) -> Result<()> {
        let shared = self.shared();
        if shared.closed.load(Ordering::SeqCst) {
            return Err(Error::MeterClosed);
        }
        if shared.stopped() || self.handle.commands.is_closed() {
            return Err(Error::MeterStopped);
        }
        Ok(())
    }

    /// A refusal of [`UsageMeter::usable`]: the task may be gone without its guard having
    /// run yet (a runtime that dropped it), so a stopped meter says so, once, here.
    fn refused(&self, error: Error) -> Error {
        if matches!(error, Error::MeterStopped) {
            self.shared().stop();
        }
        error
    }

    /// Counts a per-response amount a gate refused (negative).
    pub(crate) fn refuse_amount(&self) {
        Counters::bump(&self.shared().counters.refused_amounts);
    }

    /// Counts units a gate refused to meter beyond a request's hold of a hard limit.
    pub(crate) fn refuse_over_hold(&self, units: i64) {
        let mut over_hold = lock(&self.shared().counters.over_hold);
        *over_hold = over_hold.saturating_add(i128::from(units));
    }

    /// Records an event, to be delivered at least once; returns its idempotency key
    /// (generated when the event has none).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] as for `report_event`; [`Error::MeterClosed`] after shutdown;
    /// [`Error::MeterStopped`] if the background task is gone; [`Error::MeterFull`] when
    /// [`MeterConfig::max_events`] events are queued or in flight.
    pub fn record_event(&self, mut event: ReportEvent) -> Result<String> {
        event.validate()?;
        let key = event.fill_defaults().to_owned();
        let shared = self.shared();
        let mut backlog = shared.ledger.backlog();
        if let Err(error) = self.usable() {
            drop(backlog);
            return Err(self.refused(error));
        }
        let limit = shared.config.max_events;
        if shared.counters.events_pending() >= u64::try_from(limit).unwrap_or(u64::MAX) {
            drop(backlog);
            Counters::bump(&shared.counters.events_refused);
            tracing::debug!(max_events = limit, "usage meter full: event refused");
            return Err(Error::MeterFull {
                what: "events",
                limit,
            });
        }
        backlog.push_event(QueuedEvent {
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
        // The ledger and the in-flight counter change together under the ledger's locks.
        let ledger = shared.ledger.lock_all();
        shared.counters.snapshot(&ledger)
    }

    /// Whether the meter was shut down (records fail with [`Error::MeterClosed`]).
    pub fn is_closed(&self) -> bool {
        self.shared().closed.load(Ordering::SeqCst)
    }

    /// Sends everything that is due now and waits for the outcomes (keys in backoff stay
    /// pending).
    ///
    /// # Errors
    ///
    /// [`Error::MeterClosed`] after a shutdown; [`Error::MeterStopped`] if the background
    /// task is gone.
    pub async fn flush(&self) -> Result<()> {
        let (reply, done) = oneshot::channel();
        if self.handle.commands.send(Command::Flush(reply)).is_ok() && done.await.is_ok() {
            return Ok(());
        }
        if self.is_closed() {
            return Err(Error::MeterClosed);
        }
        self.shared().stop();
        Err(Error::MeterStopped)
    }

    /// Sends what can be sent before `deadline` (waiting out backoffs that end before it),
    /// stops the background task and reports what is left. Returns within the deadline
    /// (plus a few milliseconds of bookkeeping) whatever Kelviq does: no report starts
    /// after it, reports sent during the shutdown go once, without the client's retries,
    /// and a report still in flight at the deadline — periodic flushes included — is cut
    /// short and counted unknown (it may have reached Kelviq). Every line not delivered is
    /// in the report: `unsent` (never sent, safe to send again), `unknown`, `failed`. A
    /// deadline beyond a day is cut to a day. Later records fail with
    /// [`Error::MeterClosed`].
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let (reply, report) = oneshot::channel();
        let now = Instant::now();
        let deadline = now.checked_add(deadline.min(MAX_DEADLINE)).unwrap_or(now);
        let command = Command::Shutdown {
            deadline,
            reply: Some(reply),
        };
        if self.handle.commands.send(command).is_ok() {
            // The task honours the deadline; the margin only guards against a task that
            // cannot run (a blocked runtime), so that the caller's deadline still holds.
            let guard = deadline.checked_add(SHUTDOWN_MARGIN).unwrap_or(deadline);
            match tokio::time::timeout_at(guard, report).await {
                Ok(Ok(report)) => return report,
                Ok(Err(_)) => {}
                Err(_) => tracing::warn!(
                    "usage meter's task did not finish by the shutdown deadline; \
                     reporting what is pending now (units in flight stay counted pending)"
                ),
            }
        }
        // The task is gone (its runtime stopped, or an earlier shutdown): report as is.
        self.shared().close()
    }
}

/// The longest shutdown deadline honoured (a larger one is cut to it).
const MAX_DEADLINE: Duration = Duration::from_secs(24 * 60 * 60);

/// How long past its deadline a shutdown waits for the task's report before reporting
/// without it.
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kelviq;

    #[tokio::test]
    async fn a_panic_in_the_task_stops_the_meter_loudly() {
        let kelviq = Kelviq::new("k").unwrap();
        let shared = Arc::new(Shared::new(
            Arc::clone(&kelviq.inner.transport),
            Arc::clone(&kelviq.inner.cache),
            Arc::clone(&kelviq.inner.ledger),
            Arc::clone(&kelviq.inner.tier),
            MeterConfig::default(),
        ));
        let (commands, receiver) = mpsc::unbounded_channel();
        let meter = UsageMeter {
            handle: Arc::new(Handle {
                shared: Arc::clone(&shared),
                commands,
            }),
        };
        meter.record("c", "f", 3).unwrap();
        let task = tokio::spawn(async move {
            let run = worker::run(shared, receiver);
            tokio::pin!(run);
            // Poll it once, so that it is running (and supervised), then fail.
            tokio::select! {
                biased;
                () = &mut run => {}
                () = std::future::ready(()) => {}
            }
            panic!("a bug in the meter's task");
        });
        assert!(task.await.unwrap_err().is_panic());
        assert!(meter.stats().stopped);
        assert!(matches!(
            meter.record("c", "f", 1),
            Err(Error::MeterStopped)
        ));
        assert!(matches!(meter.flush().await, Err(Error::MeterStopped)));
        let report = meter.shutdown(Duration::from_secs(1)).await;
        assert_eq!(report.unsent[0].units, 3);
        assert_eq!(report.stats.recorded, 3);
    }
}
