//! What the meter counted: every recorded unit ends as sent, pending, failed or unknown.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

pub use crate::cache::UsageLine;
use crate::resources::ReportEvent;

/// A snapshot of the meter's counters.
///
/// Units balance: `recorded == sent + failed + unknown + pending`, each counted on its own
/// (`pending` is what the pending set holds plus what is in flight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MeterStats {
    /// Units recorded with [`UsageMeter::record`](super::UsageMeter::record).
    pub recorded: i64,
    /// Units Kelviq confirmed.
    pub sent: i64,
    /// Usage reports Kelviq confirmed (one per key per flush, whatever the records).
    pub sent_requests: u64,
    /// Records merged into a key that was already pending.
    pub coalesced: u64,
    /// Reports refused before processing (connection refused, `429`, `503`) and kept
    /// pending to be retried.
    pub retried: u64,
    /// Units Kelviq refused (`4xx`): logged with the response, never retried.
    pub failed: i64,
    /// Units whose report may or may not have counted (timeout, dropped connection, `5xx`
    /// other than `503`): logged, never retried, so never counted twice.
    pub unknown: i64,
    /// Units recorded and not yet settled (waiting, or in flight).
    pub pending: i64,
    /// Events recorded with [`UsageMeter::record_event`](super::UsageMeter::record_event).
    pub events_recorded: u64,
    /// Events Kelviq confirmed.
    pub events_sent: u64,
    /// Event deliveries retried (events carry an idempotency key, so any retryable failure
    /// is retried).
    pub events_retried: u64,
    /// Events Kelviq refused (`4xx`).
    pub events_failed: u64,
    /// Events recorded and not yet settled.
    pub events_pending: u64,
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

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) recorded: AtomicI64,
    pub(crate) sent: AtomicI64,
    pub(crate) sent_requests: AtomicU64,
    pub(crate) coalesced: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) failed: AtomicI64,
    pub(crate) unknown: AtomicI64,
    /// Units taken out of the pending set and not yet settled.
    pub(crate) in_flight: AtomicI64,
    pub(crate) events_recorded: AtomicU64,
    pub(crate) events_sent: AtomicU64,
    pub(crate) events_retried: AtomicU64,
    pub(crate) events_failed: AtomicU64,
    pub(crate) unknown_lines: Mutex<Vec<UsageLine>>,
    pub(crate) failed_lines: Mutex<Vec<UsageLine>>,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicI64, units: i64) {
        counter.fetch_add(units, Ordering::Relaxed);
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps a line for the shutdown report, up to a bound.
    pub(crate) fn keep(lines: &Mutex<Vec<UsageLine>>, line: UsageLine) {
        let mut lines = lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() < MAX_LINES {
            lines.push(line);
        }
    }

    pub(crate) fn lines(lines: &Mutex<Vec<UsageLine>>) -> Vec<UsageLine> {
        lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The counters, with `waiting` units in the pending set.
    pub(crate) fn snapshot(&self, waiting: i64) -> MeterStats {
        let load = |counter: &AtomicI64| counter.load(Ordering::Relaxed);
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let recorded = load(&self.recorded);
        let sent = load(&self.sent);
        let failed = load(&self.failed);
        let unknown = load(&self.unknown);
        let events_recorded = count(&self.events_recorded);
        let events_sent = count(&self.events_sent);
        let events_failed = count(&self.events_failed);
        MeterStats {
            recorded,
            sent,
            sent_requests: count(&self.sent_requests),
            coalesced: count(&self.coalesced),
            retried: count(&self.retried),
            failed,
            unknown,
            pending: waiting + load(&self.in_flight),
            events_recorded,
            events_sent,
            events_retried: count(&self.events_retried),
            events_failed,
            events_pending: events_recorded.saturating_sub(events_sent + events_failed),
        }
    }
}
