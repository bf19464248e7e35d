//! The background task: flush on an interval (or early), settle each report, drain on
//! shutdown.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::shared::Shared;
use super::stats::{Counters, ShutdownReport};
use crate::cache::{Batch, QueuedEvent, UsageLine};
use crate::error::Error;
use crate::resources::{self, ReportUsage};

/// What a handle asks the worker.
pub(crate) enum Command {
    /// Send what is due now, then answer.
    Flush(oneshot::Sender<()>),
    /// Send what can be sent before the deadline, then stop and report.
    Shutdown {
        deadline: Instant,
        reply: Option<oneshot::Sender<ShutdownReport>>,
    },
}

/// How many deliveries of one event are tried before it is given up (counted failed).
const MAX_EVENT_ATTEMPTS: u32 = 10;

/// How long the worker keeps trying after every handle was dropped without a shutdown.
const DROP_DEADLINE: Duration = Duration::from_secs(5);

/// The longest wait the worker schedules (a longer `Retry-After` or interval is cut to it).
const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// `delay` from now, at most [`MAX_WAIT`]: never overflows.
fn after(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay.min(MAX_WAIT)).unwrap_or(now)
}

/// Runs until shut down, or until every handle is gone (then drains for a short while).
pub(crate) async fn run(shared: Arc<Shared>, mut commands: mpsc::UnboundedReceiver<Command>) {
    // The first flush comes one interval after the start (an interval's first tick would
    // fire at once).
    let interval = shared.config.flush_interval;
    let mut ticks = tokio::time::interval_at(after(interval), interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let command = tokio::select! {
            _ = ticks.tick() => None,
            () = shared.wake.notified() => None,
            command = commands.recv() => Some(command.unwrap_or(Command::Shutdown {
                deadline: after(DROP_DEADLINE),
                reply: None,
            })),
        };
        match command {
            None => flush(&shared).await,
            Some(Command::Flush(reply)) => {
                flush(&shared).await;
                let _ = reply.send(());
            }
            Some(Command::Shutdown { deadline, reply }) => {
                *shared
                    .deadline
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(deadline);
                drain(&shared, deadline).await;
                let report = shared.close();
                if !report.unsent.is_empty() || !report.unsent_events.is_empty() {
                    tracing::warn!(
                        unsent = ?report.unsent,
                        unsent_events = report.unsent_events.len(),
                        "usage meter stopped with usage it could not send"
                    );
                }
                if let Some(reply) = reply {
                    let _ = reply.send(report);
                }
                return;
            }
        }
    }
}

/// Sends, until the deadline, everything pending — waiting out backoffs that end before
/// it. Requests already sent are allowed to finish, so their outcome is accounted for.
async fn drain(shared: &Shared, deadline: Instant) {
    loop {
        flush(shared).await;
        let next = {
            let pending = shared.cache.ledger().lock();
            if pending.is_empty() {
                return;
            }
            pending.next_due()
        };
        match next {
            Some(at) if at < deadline => {
                tokio::time::sleep_until(at.max(Instant::now())).await;
            }
            _ => return,
        }
    }
}

/// Sends every due report and event once.
async fn flush(shared: &Shared) {
    let now = Instant::now();
    let (batches, events) = {
        let mut pending = shared.cache.ledger().lock();
        let batches = pending.take_due(now);
        let units: i64 = batches.iter().map(|batch| batch.line.units).sum();
        Counters::add(&shared.counters.in_flight, units);
        (batches, pending.take_due_events(now))
    };
    if batches.is_empty() && events.is_empty() {
        return;
    }
    let concurrency = shared.config.concurrency;
    futures::stream::iter(batches)
        .for_each_concurrent(concurrency, |batch| send_usage(shared, batch))
        .await;
    futures::stream::iter(events)
        .for_each_concurrent(concurrency, |queued| send_event(shared, queued))
        .await;
}

/// How a failed report is settled.
enum Settlement {
    /// Kelviq certainly did not process it: keep it pending and try again.
    Retry,
    /// Kelviq may have processed it: count it unknown, never send it again.
    Unknown,
    /// Kelviq refused it: count it failed.
    Failed,
    /// Kelviq answered 2xx with a body the client could not read: it counted.
    Sent,
}

fn settle(error: &Error) -> Settlement {
    match error {
        Error::Decode { .. } => Settlement::Sent,
        _ if error.is_not_processed() && error.is_retryable() => Settlement::Retry,
        Error::Timeout { .. } | Error::Transport { .. } => Settlement::Unknown,
        Error::Api(api) if api.status.is_server_error() => Settlement::Unknown,
        Error::Shared(inner) => settle(inner),
        _ => Settlement::Failed,
    }
}

async fn send_usage(shared: &Shared, batch: Batch) {
    let line = &batch.line;
    if line.units == 0 {
        return;
    }
    let deadline = shared.deadline();
    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        // Past the shutdown deadline: not sent, so still pending (and returned unsent).
        let mut pending = shared.cache.ledger().lock();
        Counters::add(&shared.counters.in_flight, -line.units);
        pending.put_back(batch, Instant::now());
        return;
    }
    let report = ReportUsage::delta(&line.customer_id, &line.feature_id, line.units);
    let result = resources::send_usage(&shared.transport, &report, deadline).await;
    let settlement = match &result {
        Ok(_) => Settlement::Sent,
        Err(error) => settle(error),
    };
    // A refusal that says when to come back (`Retry-After`) is not retried sooner.
    let retry_after = result
        .as_ref()
        .err()
        .and_then(Error::as_api)
        .and_then(|api| api.retry_after)
        .unwrap_or_default();
    if let Err(error) = &result {
        log_settlement(&settlement, error, line, batch.attempts);
    }
    let counters = &shared.counters;
    // Settled under the pending lock, so that `stats` sees the units in exactly one place.
    let mut pending = shared.cache.ledger().lock();
    Counters::add(&counters.in_flight, -line.units);
    match settlement {
        Settlement::Sent => {
            Counters::add(&counters.sent, line.units);
            Counters::bump(&counters.sent_requests);
        }
        Settlement::Retry => {
            Counters::bump(&counters.retried);
            let attempts = batch.attempts.saturating_add(1);
            let not_before = after(shared.config.backoff(attempts).max(retry_after));
            pending.put_back(
                Batch {
                    line: batch.line,
                    attempts,
                },
                not_before,
            );
        }
        Settlement::Unknown => {
            Counters::add(&counters.unknown, line.units);
            Counters::keep(&counters.unknown_lines, batch.line);
        }
        Settlement::Failed => {
            Counters::add(&counters.failed, line.units);
            Counters::keep(&counters.failed_lines, batch.line);
        }
    }
}

/// Logs how a failed report was settled: what was lost, refused or kept, with amounts.
fn log_settlement(settlement: &Settlement, error: &Error, line: &UsageLine, attempts: u32) {
    let (customer_id, feature_id, units) = (&line.customer_id, &line.feature_id, line.units);
    match settlement {
        Settlement::Sent => tracing::warn!(error = %error, customer_id, feature_id, units,
            "usage report accepted with an unreadable response"),
        Settlement::Retry => tracing::debug!(error = %error, customer_id, feature_id, units,
            attempts = attempts + 1, "usage report refused before processing; kept pending"),
        Settlement::Unknown => tracing::warn!(error = %error, customer_id, feature_id, units,
            "usage report outcome unknown; not resent, to never count it twice"),
        Settlement::Failed => {
            let body = error.as_api().map(|api| api.body.to_string());
            tracing::error!(error = %error, body = body.as_deref().unwrap_or(""), customer_id,
                feature_id, units, "usage report refused by kelviq; given up");
        }
    }
}

async fn send_event(shared: &Shared, queued: QueuedEvent) {
    let deadline = shared.deadline();
    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        shared.cache.ledger().lock().push_event(queued);
        return;
    }
    let result = resources::send_event(&shared.transport, queued.event.clone(), deadline).await;
    let counters = &shared.counters;
    match result {
        Ok(_) => Counters::bump(&counters.events_sent),
        Err(error) if error.is_retryable() && queued.attempts + 1 < MAX_EVENT_ATTEMPTS => {
            Counters::bump(&counters.events_retried);
            let attempts = queued.attempts.saturating_add(1);
            tracing::debug!(error = %error, attempts, "event delivery failed; it carries an idempotency key and will be retried");
            shared.cache.ledger().lock().push_event(QueuedEvent {
                event: queued.event,
                attempts,
                not_before: Some(after(shared.config.backoff(attempts))),
            });
        }
        Err(error) => {
            tracing::error!(error = %error, "event refused by kelviq; given up");
            Counters::bump(&counters.events_failed);
        }
    }
}
