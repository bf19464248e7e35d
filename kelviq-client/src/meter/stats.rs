//! What the meter counted: every recorded unit ends as sent, pending, failed or unknown.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::resources::ReportEvent;
use crate::sync::lock;
use crate::usage::Locked;
pub use crate::usage::UsageLine;

/// How many pending lines a warning lists (the count is always given).
pub(crate) const LOGGED_LINES: usize = 20;

/// A snapshot of the meter's counters.
///
/// Units balance: `recorded == sent + failed + unknown + pending`, each counted on its own
/// (`pending` is what the pending set holds plus what is in flight). Unit totals are
/// `i128`: every record is an `i64`, so no sequence of records can wrap them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MeterStats {
    /// Units recorded with [`UsageMeter::record`](super::UsageMeter::record).
    pub recorded: i128,
    /// Units Kelviq confirmed; in a [fleet](crate::fleet), units handed to the fleet's
    /// Redis too (`pushed`), which the holder of the delivery lease delivers.
    pub sent: i128,
    /// Of `sent`, the units handed to the fleet's Redis (durable usage, cargo feature
    /// `redis`): delivered to the fleet, whichever instance then delivers them to Kelviq
    /// (see [`FleetStats`](crate::fleet::FleetStats)'s `usage_*` counters). Zero alone.
    pub pushed: i128,
    /// Usage reports Kelviq confirmed (one per key per flush, whatever the records).
    pub sent_requests: u64,
    /// Records merged into a key that was already pending.
    pub coalesced: u64,
    /// Reports refused before processing (connection refused, `429`, `503`) and kept
    /// pending to be retried.
    pub retried: u64,
    /// Units Kelviq refused (`4xx`): logged with the response, never retried.
    pub failed: i128,
    /// Units whose report may or may not have counted (timeout, dropped connection, `5xx`
    /// other than `503`, a send cut short by the shutdown deadline): logged, never
    /// retried, so never counted twice.
    pub unknown: i128,
    /// Units recorded and not yet settled (waiting, or in flight).
    pub pending: i128,
    /// (customer, feature) keys waiting in the pending set (not those in flight); never
    /// more than [`MeterConfig::max_keys`](super::MeterConfig::max_keys).
    pub pending_keys: u64,
    /// Records refused because the pending set was full
    /// ([`Error::MeterFull`](crate::Error::MeterFull)); not counted in `recorded`.
    pub refused: u64,
    /// Per-response amounts a [`Gate`](crate::gate::Gate) refused to meter (negative):
    /// logged, nothing recorded.
    pub refused_amounts: u64,
    /// Units a [`Gate`](crate::gate::Gate) refused to meter because a request asked for
    /// more than it held of a hard limit ([`Metered::Capped`](crate::gate::Metered::Capped)):
    /// its hold was recorded, these units were not.
    pub over_hold: i128,
    /// Events recorded with [`UsageMeter::record_event`](super::UsageMeter::record_event).
    pub events_recorded: u64,
    /// Events Kelviq confirmed.
    pub events_sent: u64,
    /// Event deliveries retried (events carry an idempotency key, so any retryable failure
    /// is retried).
    pub events_retried: u64,
    /// Events Kelviq refused (`4xx`), or given up after their last attempt.
    pub events_failed: u64,
    /// Events recorded and not yet settled.
    pub events_pending: u64,
    /// Events refused because the queue was full
    /// ([`Error::MeterFull`](crate::Error::MeterFull)); not counted in `events_recorded`.
    pub events_refused: u64,
    /// The background task ended without a shutdown (a panic, or its runtime stopped):
    /// nothing is delivered any more and records fail with
    /// [`Error::MeterStopped`](crate::Error::MeterStopped).
    pub stopped: bool,
}

/// What [`UsageMeter::shutdown`](super::UsageMeter::shutdown) could not deliver, and the
/// final counters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Usage still pending at the deadline (never sent, safe to report again).
    pub unsent: Vec<UsageLine>,
    /// Events still pending at the deadline (with their idempotency keys: safe to send
    /// again).
    pub unsent_events: Vec<ReportEvent>,
    /// Usage whose delivery is unknown (never more than the meter kept; see
    /// [`MeterStats::unknown`] for the total).
    pub unknown: Vec<UsageLine>,
    /// Usage Kelviq refused.
    pub failed: Vec<UsageLine>,
    /// The counters at the end.
    pub stats: MeterStats,
}

/// The most unknown or failed lines kept for the shutdown report; the counters go on.
const MAX_LINES: usize = 10_000;

/// The unit totals of delivery, changed together under one lock (always taken after the
/// ledger's); what was recorded is counted in the ledger's intake.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Units {
    pub(crate) sent: i128,
    /// Of `sent`, handed to the fleet's Redis.
    pub(crate) pushed: i128,
    pub(crate) failed: i128,
    pub(crate) unknown: i128,
    /// Units taken out of the pending set and not yet settled.
    pub(crate) in_flight: i128,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) units: Mutex<Units>,
    pub(crate) sent_requests: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) refused_amounts: AtomicU64,
    pub(crate) over_hold: Mutex<i128>,
    pub(crate) events_recorded: AtomicU64,
    pub(crate) events_sent: AtomicU64,
    pub(crate) events_retried: AtomicU64,
    pub(crate) events_failed: AtomicU64,
    pub(crate) events_refused: AtomicU64,
    pub(crate) stopped: AtomicBool,
    pub(crate) unknown_lines: Mutex<Vec<UsageLine>>,
    pub(crate) failed_lines: Mutex<Vec<UsageLine>>,
}

impl Counters {
    /// Changes the unit totals; returns them as changed.
    pub(crate) fn units(&self, change: impl FnOnce(&mut Units)) -> Units {
        let mut units = lock(&self.units);
        change(&mut units);
        *units
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps a line for the shutdown report, up to a bound.
    pub(crate) fn keep(lines: &Mutex<Vec<UsageLine>>, line: UsageLine) {
        let mut lines = lock(lines);
        if lines.len() < MAX_LINES {
            lines.push(line);
        }
    }

    pub(crate) fn lines(lines: &Mutex<Vec<UsageLine>>) -> Vec<UsageLine> {
        lock(lines).clone()
    }

    /// Events recorded and not settled (queued or in flight).
    pub(crate) fn events_pending(&self) -> u64 {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        count(&self.events_recorded)
            .saturating_sub(count(&self.events_sent).saturating_add(count(&self.events_failed)))
    }

    /// The counters, with the `ledger` (locked, so that units are in one place).
    pub(crate) fn snapshot(&self, ledger: &Locked<'_>) -> MeterStats {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let units = *lock(&self.units);
        let waiting = ledger.units();
        let keys = ledger.keys();
        MeterStats {
            recorded: ledger.recorded(),
            sent: units.sent,
            pushed: units.pushed,
            sent_requests: count(&self.sent_requests),
            coalesced: ledger.coalesced(),
            retried: count(&self.retried),
            failed: units.failed,
            unknown: units.unknown,
            pending: waiting.saturating_add(units.in_flight),
            pending_keys: u64::try_from(keys).unwrap_or(u64::MAX),
            refused: count(&self.refused),
            refused_amounts: count(&self.refused_amounts),
            over_hold: *lock(&self.over_hold),
            events_recorded: count(&self.events_recorded),
            events_sent: count(&self.events_sent),
            events_retried: count(&self.events_retried),
            events_failed: count(&self.events_failed),
            events_pending: self.events_pending(),
            events_refused: count(&self.events_refused),
            stopped: self.stopped.load(Ordering::SeqCst),
        }
    }
}
