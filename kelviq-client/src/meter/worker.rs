//! The background task: flush on an interval within the report budget, settle each
//! report, drain on shutdown.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::shared::Shared;
use super::stats::{Counters, LOGGED_LINES, ShutdownReport};
use crate::error::Error;
use crate::resources::{self, ReportUsage};
use crate::telemetry::{self, Report};
use crate::usage::{Batch, QueuedEvent, UsageLine};

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
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest `Retry-After` the meter honours (a longer one is cut to it).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// `delay` from now, at most [`MAX_WAIT`]: never overflows.
pub(crate) fn after(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay.min(MAX_WAIT)).unwrap_or(now)
}

/// Marks the meter stopped if the task ends without a shutdown: a panic unwinds through
/// it, a runtime that stops drops it.
struct Supervision(Arc<Shared>);

impl Drop for Supervision {
    fn drop(&mut self) {
        // A no-op after a shutdown (the meter is closed then).
        self.0.stop();
    }
}

/// What the task was asked while it waited or flushed.
#[derive(Default)]
struct Asked {
    /// Flush callers to answer after the next complete flush.
    flushes: Vec<oneshot::Sender<()>>,
    /// A shutdown was asked: its deadline is already set, so that reports in flight are
    /// cut at it.
    shutdown: bool,
    /// Who waits for the shutdown's report (nobody when every handle is gone).
    report: Option<oneshot::Sender<ShutdownReport>>,
}

impl Asked {
    /// Takes a command (`None`: every handle is gone).
    fn take(&mut self, shared: &Shared, command: Option<Command>) {
        match command {
            Some(Command::Flush(reply)) => self.flushes.push(reply),
            Some(Command::Shutdown { deadline, reply }) => {
                shared.set_deadline(deadline);
                self.shutdown = true;
                self.report = reply;
            }
            None => {
                shared.set_deadline(after(DROP_DEADLINE));
                self.shutdown = true;
            }
        }
    }
}

/// Runs until shut down, or until every handle is gone (then drains for a short while).
/// Commands are read while a flush is under way too: a shutdown never waits for a flush
/// to end on its own, it cuts the reports in flight at its deadline.
pub(crate) async fn run(shared: Arc<Shared>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let _supervision = Supervision(Arc::clone(&shared));
    // The first flush comes one interval after the start (an interval's first tick would
    // fire at once).
    let interval = shared.config.flush_interval.min(MAX_WAIT);
    let mut ticks = tokio::time::interval_at(after(interval), interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut asked = Asked::default();
    loop {
        if !asked.shutdown && asked.flushes.is_empty() {
            tokio::select! {
                _ = ticks.tick() => {}
                command = commands.recv() => asked.take(&shared, command),
            }
        }
        if asked.shutdown {
            let deadline = shared.deadline().unwrap_or_else(Instant::now);
            drain(&shared, deadline).await;
            shared.tier.leave(&shared, deadline).await;
            let report = shared.close();
            if !report.unsent.is_empty() || !report.unsent_events.is_empty() {
                tracing::warn!(
                    unsent_keys = report.unsent.len(),
                    first = ?report.unsent.iter().take(LOGGED_LINES).collect::<Vec<_>>(),
                    unsent_events = report.unsent_events.len(),
                    "usage meter stopped with usage it could not send"
                );
            }
            for flush in asked.flushes.drain(..) {
                let _ = flush.send(());
            }
            if let Some(reply) = asked.report.take() {
                let _ = reply.send(report);
            }
            return;
        }
        let answering = std::mem::take(&mut asked.flushes);
        // A periodic flush sends a flush interval's worth of the budget; a flush asked for
        // sends everything due.
        let quota = if answering.is_empty() {
            shared.config.keys_per_flush()
        } else {
            usize::MAX
        };
        let flushing = flush(&shared, quota);
        tokio::pin!(flushing);
        loop {
            tokio::select! {
                biased;
                () = &mut flushing => break,
                command = commands.recv(), if !asked.shutdown => {
                    asked.take(&shared, command);
                }
            }
        }
        for flush in answering {
            let _ = flush.send(());
        }
    }
}

/// Sends, until the deadline, everything pending — waiting out backoffs that end before
/// it. Reports in flight at the deadline are cut short (counted unknown).
async fn drain(shared: &Shared, deadline: Instant) {
    loop {
        if Instant::now() >= deadline {
            return;
        }
        flush(shared, usize::MAX).await;
        let next = {
            let backlog = shared.ledger.backlog();
            if backlog.is_empty() {
                return;
            }
            backlog.next_due()
        };
        match next {
            Some(at) if at < deadline => {
                tokio::time::sleep_until(at.max(Instant::now())).await;
            }
            _ => return,
        }
    }
}

/// Collects the intake, then sends due reports — at most `quota` keys, the oldest first —
/// and every due event, once each, within the report budget.
async fn flush(shared: &Shared, quota: usize) {
    let ledger = &shared.ledger;
    telemetry::meter_recorded(ledger.collect());
    // In a fleet, the usage goes to Redis; what Redis does not take is sent below, alone.
    if shared.deadline().is_none() {
        shared.tier.hand_off(shared).await;
    }
    send_local(shared, quota).await;
    shared.tier.deliver(shared, quota).await;
}

/// Sends due reports of the local backlog — at most `quota` keys, the oldest first — and
/// every due event, once each, within the report budget.
async fn send_local(shared: &Shared, quota: usize) {
    let ledger = &shared.ledger;
    let now = Instant::now();
    let (batches, events) = {
        let mut backlog = ledger.backlog();
        let batches = backlog.take_due(now, quota, ledger.entries());
        let taken = batches.iter().fold(0i128, |sum, batch| {
            sum.saturating_add(batch.line.units.into())
        });
        let totals = shared.counters.units(|units| {
            units.in_flight = units.in_flight.saturating_add(taken);
        });
        telemetry::meter_pending(
            backlog.keys(),
            backlog.units().saturating_add(totals.in_flight),
        );
        (batches, backlog.take_due_events(now))
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

/// Waits for the report's slot in the budget. When the slot comes at or after the
/// shutdown deadline, the slot is given back and the report is not to be sent before the
/// returned time (so that a drain does not take it again before its deadline).
async fn paced(shared: &Shared, deadline: Option<Instant>) -> Result<(), Instant> {
    let slot = shared.pacer.reserve();
    if let Some(deadline) = deadline.filter(|deadline| slot >= *deadline) {
        shared.pacer.release();
        return Err(slot.max(deadline));
    }
    tokio::select! {
        () = tokio::time::sleep_until(slot) => Ok(()),
        () = shared.deadline_reached() => {
            shared.pacer.release();
            Err(shared.deadline().unwrap_or(slot).max(slot))
        }
    }
}

/// How a failed report is settled.
#[derive(Clone, Copy)]
pub(crate) enum Settlement {
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

/// What became of one report.
pub(crate) enum Reported {
    /// Not sent (nothing to send, or no budget slot before the shutdown deadline): still
    /// pending, not to be sent before the given time.
    NotSent(Instant),
    /// Sent, and settled so; a refusal says when to come back.
    Settled {
        settlement: Settlement,
        retry_after: Duration,
    },
}

/// Sends one usage report within the budget, cut short by the shutdown deadline, and says
/// how to settle it (logged when it failed). `attempts` is how often it was refused before.
pub(crate) async fn report(shared: &Shared, line: &UsageLine, attempts: u32) -> Reported {
    let deadline = shared.deadline();
    let slot = if line.units == 0 {
        Err(Instant::now())
    } else {
        paced(shared, deadline).await
    };
    if let Err(not_before) = slot {
        return Reported::NotSent(not_before);
    }
    let report = ReportUsage::delta(&line.customer_id, &line.feature_id, line.units);
    // During a shutdown a report goes once, without the client's retries: the meter's
    // own bookkeeping keeps what is refused.
    let send = resources::send_usage(&shared.transport, &report, deadline, deadline.is_none());
    let result = tokio::select! {
        result = send => Some(result),
        () = shared.deadline_reached() => None,
    };
    let settlement = match &result {
        Some(Ok(_)) => Settlement::Sent,
        Some(Err(error)) => settle(error),
        // Cut by the shutdown deadline: it may have reached Kelviq.
        None => Settlement::Unknown,
    };
    // A refusal that says when to come back (`Retry-After`) is not retried sooner — but
    // never later than a minute, whatever the header says.
    let retry_after = result
        .as_ref()
        .and_then(|result| result.as_ref().err())
        .and_then(Error::as_api)
        .and_then(|api| api.retry_after)
        .unwrap_or_default()
        .min(MAX_RETRY_AFTER);
    match &result {
        Some(Err(error)) => log_settlement(&settlement, error, line, attempts),
        Some(Ok(_)) => {}
        None => tracing::warn!(
            customer_id = line.customer_id,
            feature_id = line.feature_id,
            units = line.units,
            "usage report cut short by the shutdown deadline; outcome unknown, not resent"
        ),
    }
    Reported::Settled {
        settlement,
        retry_after,
    }
}

async fn send_usage(shared: &Shared, batch: Batch) {
    let line = &batch.line;
    let counters = &shared.counters;
    let ledger = &shared.ledger;
    let (settlement, retry_after) = match report(shared, line, batch.attempts).await {
        Reported::Settled {
            settlement,
            retry_after,
        } => (settlement, retry_after),
        Reported::NotSent(not_before) => {
            // Nothing to send, or no slot before the shutdown deadline: not sent, so still
            // pending (and returned unsent).
            let mut backlog = ledger.backlog();
            counters.units(|units| {
                units.in_flight = units.in_flight.saturating_sub(line.units.into());
            });
            if line.units == 0 {
                backlog.settled(1, ledger.entries());
            } else {
                backlog.put_back(batch, not_before, ledger.entries());
            }
            return;
        }
    };
    // Settled under the backlog's lock, so that `stats` sees the units in exactly one place.
    let mut backlog = ledger.backlog();
    let units = i128::from(line.units);
    let totals = counters.units(|totals| {
        totals.in_flight = totals.in_flight.saturating_sub(units);
        match settlement {
            Settlement::Sent => totals.sent = totals.sent.saturating_add(units),
            Settlement::Unknown => totals.unknown = totals.unknown.saturating_add(units),
            Settlement::Failed => totals.failed = totals.failed.saturating_add(units),
            Settlement::Retry => {}
        }
    });
    telemetry::meter_report(
        match settlement {
            Settlement::Sent => Report::Sent,
            Settlement::Retry => Report::Retried,
            Settlement::Unknown => Report::Unknown,
            Settlement::Failed => Report::Failed,
        },
        units,
    );
    let kept = match settlement {
        Settlement::Sent => {
            backlog.settled(1, ledger.entries());
            Counters::bump(&counters.sent_requests);
            None
        }
        Settlement::Retry => {
            Counters::bump(&counters.retried);
            let attempts = batch.attempts.saturating_add(1);
            let not_before = after(shared.config.backoff(attempts).max(retry_after));
            backlog.put_back(
                Batch {
                    line: batch.line,
                    attempts,
                },
                not_before,
                ledger.entries(),
            );
            None
        }
        Settlement::Unknown => Some((&counters.unknown_lines, batch.line)),
        Settlement::Failed => Some((&counters.failed_lines, batch.line)),
    };
    if kept.is_some() {
        backlog.settled(1, ledger.entries());
    }
    telemetry::meter_pending(
        backlog.keys(),
        backlog.units().saturating_add(totals.in_flight),
    );
    drop(backlog);
    if let Some((lines, line)) = kept {
        Counters::keep(lines, line);
    }
}

/// Logs how a failed report was settled: what was lost, refused or kept, with amounts.
fn log_settlement(settlement: &Settlement, error: &Error, line: &UsageLine, attempts: u32) {
    let (customer_id, feature_id, units) = (&line.customer_id, &line.feature_id, line.units);
    match settlement {
        Settlement::Sent => tracing::warn!(error = %error, customer_id, feature_id, units,
            "usage report accepted with an unreadable response"),
        Settlement::Retry => tracing::debug!(error = %error, customer_id, feature_id, units,
            attempts = attempts.saturating_add(1), "usage report refused before processing; kept pending"),
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
    if let Err(not_before) = paced(shared, deadline).await {
        shared.ledger.backlog().push_event(QueuedEvent {
            not_before: Some(not_before),
            ..queued
        });
        return;
    }
    let send = resources::send_event(
        &shared.transport,
        queued.event.clone(),
        deadline,
        deadline.is_none(),
    );
    let result = tokio::select! {
        result = send => result,
        () = shared.deadline_reached() => {
            // Cut by the shutdown deadline. The event carries its idempotency key, so it
            // stays queued (and is returned unsent): sending it again is safe.
            tracing::debug!("event delivery cut short by the shutdown deadline; kept");
            shared.ledger.backlog().push_event(queued);
            return;
        }
    };
    let counters = &shared.counters;
    match result {
        Ok(_) => Counters::bump(&counters.events_sent),
        Err(error)
            if error.is_retryable() && queued.attempts.saturating_add(1) < MAX_EVENT_ATTEMPTS =>
        {
            Counters::bump(&counters.events_retried);
            let attempts = queued.attempts.saturating_add(1);
            let retry_after = error
                .as_api()
                .and_then(|api| api.retry_after)
                .unwrap_or_default()
                .min(MAX_RETRY_AFTER);
            tracing::debug!(error = %error, attempts, "event delivery failed; it carries an idempotency key and will be retried");
            shared.ledger.backlog().push_event(QueuedEvent {
                event: queued.event,
                attempts,
                not_before: Some(after(shared.config.backoff(attempts).max(retry_after))),
            });
        }
        Err(error) => {
            tracing::error!(error = %error, "event refused by kelviq; given up");
            Counters::bump(&counters.events_failed);
        }
    }
}
