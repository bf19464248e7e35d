//! The usage ledger: the one home of a unit of usage, from the moment a request holds it
//! until Kelviq has it (or it is counted as failed or unknown).
//!
//! # A unit's life
//!
//! ```text
//!            hold (admission, or a handler's reserve)
//!   ──────────────► RESERVED ─── settle: not a success, dropped, unused part ──► (given back)
//!                      │
//!                      │ settle: a success keeps what it used
//!                      ▼
//!   record ───────► RECORDED (intake: one stripe per thread)
//!                      │ the meter's task collects, once per flush
//!                      ▼
//!                   PENDING (backlog: coalesced per customer and feature)
//!                      │ taken within the report budget          ▲ refused before processing
//!                      ▼                                         │ (429, 503, refused): retried
//!                   IN FLIGHT ───────────────────────────────────┘
//!                      │
//!          ┌───────────┼────────────────┐
//!          ▼           ▼                ▼
//!      DELIVERED     FAILED          UNKNOWN
//!      (Kelviq      (refused:       (timeout, dropped
//!       counts it)   other 4xx)      connection, 5xx: never resent)
//! ```
//!
//! **The invariant.** Every unit admitted is in exactly one of these states, and their sum
//! is what was admitted: `reserved + recorded + pending + in flight + delivered + failed +
//! unknown` (given-back units leave the count). The meter's [`MeterStats`] read the
//! recorded-to-unknown part (`recorded == sent + failed + unknown + pending`); the
//! [`Holds`] the reserved part. In a fleet (cargo feature `redis`), *pending* units
//! are pushed to Redis and delivered by whichever instance holds the delivery lease (see
//! the `fleet` module).
//!
//! **Who does what.** The gate holds and settles through [`Holds`] (one per customer and
//! hard-limited feature, shared by the customer's snapshots through the
//! [`HoldsRegistry`]); the meter records into the intake and drains the backlog; the
//! entitlement cache reads what a customer has not delivered ([`UsageLedger::waiting_for`])
//! and what it holds, so that a limit is judged on
//! `limit − (Kelviq's usage + undelivered + reserved)`. The client owns the ledger (one per
//! client, shared with its cache and its meter), and nobody else keeps a copy of a unit.
//!
//! [`MeterStats`]: crate::meter::MeterStats
//!
//! # Recorded and pending: two parts, so that recording scales with cores
//!
//! - The **intake**: one small map per [stripe](crate::stripes), each behind its own lock.
//!   A record locks its thread's stripe — a lock no other core takes, in practice — and
//!   adds to a key there: no lock, counter or cache line is shared by all records.
//! - The **backlog**: what the meter's task collected from the intake (once per flush,
//!   merging each key's stripes into one total), with each key's retry state and the
//!   events. Only the task (and event records) take its lock.
//!
//! A key is in at most one place per stripe and once in the backlog; the ledger's `entries`
//! count every such place (and every report in flight) against
//! [`MeterConfig::max_keys`](crate::meter::MeterConfig::max_keys), so memory stays bounded.
//! An atomic touched only when a key is new to a stripe.
//!
//! Locks are always taken in one order: intake stripes (ascending), then the backlog, then
//! the meter's unit counters.

mod backlog;
mod holds;
mod intake;
#[cfg(test)]
mod model;

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard};

use crossbeam_utils::CachePadded;
use tokio::time::Instant;

use crate::resources::ReportEvent;
use crate::stripes;
use crate::sync::lock;
pub(crate) use backlog::Backlog;
use backlog::chunk;
pub(crate) use holds::{Holds, HoldsRegistry};
pub(crate) use intake::Intake;

/// One customer's usage of one feature, in units.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UsageLine {
    /// The customer.
    pub customer_id: String,
    /// The feature.
    pub feature_id: String,
    /// How many units.
    pub units: i64,
}

/// One report about to be sent, taken out of the backlog.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) line: UsageLine,
    pub(crate) attempts: u32,
}

/// One event about to be sent.
#[derive(Debug, Clone)]
pub(crate) struct QueuedEvent {
    pub(crate) event: ReportEvent,
    pub(crate) attempts: u32,
    pub(crate) not_before: Option<Instant>,
}

/// What [`Intake::add`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// Merged into a key already in the stripe.
    Coalesced,
    /// A new key.
    New,
    /// Refused: the key is new and the ledger holds its maximum of keys. Nothing changed.
    Full,
}

/// The ledger: the intake stripes and the backlog.
#[derive(Debug)]
pub(crate) struct UsageLedger {
    intake: Box<[CachePadded<Mutex<Intake>>]>,
    backlog: Mutex<Backlog>,
    /// Keys held in the intake stripes and the backlog, and reports in flight.
    entries: AtomicUsize,
    /// The units reserved by requests in flight, per customer and hard-limited feature.
    holds: HoldsRegistry,
}

impl Default for UsageLedger {
    fn default() -> Self {
        UsageLedger {
            intake: (0..stripes::count())
                .map(|_| CachePadded::new(Mutex::default()))
                .collect(),
            backlog: Mutex::default(),
            entries: AtomicUsize::new(0),
            holds: HoldsRegistry::default(),
        }
    }
}

impl UsageLedger {
    /// The calling thread's intake stripe, locked: where a record goes.
    pub(crate) fn intake(&self) -> MutexGuard<'_, Intake> {
        let stripe = stripes::current();
        match self.intake.get(stripe).or_else(|| self.intake.first()) {
            Some(intake) => lock(intake),
            // INVARIANT: there is at least one stripe (`stripes::count() >= 2`); an empty
            // slice cannot be built by `Default`.
            None => unreachable!("the ledger has intake stripes"),
        }
    }

    /// The backlog, locked. Not while holding it: an intake stripe.
    pub(crate) fn backlog(&self) -> MutexGuard<'_, Backlog> {
        lock(&self.backlog)
    }

    /// The units reserved by requests in flight.
    pub(crate) fn holds(&self) -> &HoldsRegistry {
        &self.holds
    }

    /// The entries held (the key cap's count).
    pub(crate) fn entries(&self) -> &AtomicUsize {
        &self.entries
    }

    /// Moves every stripe's keys into the backlog (the meter's task, once per flush);
    /// returns the units recorded since the last collection.
    pub(crate) fn collect(&self) -> i128 {
        let mut recorded = 0i128;
        for stripe in &self.intake {
            let mut intake = lock(stripe);
            recorded =
                recorded.saturating_add(std::mem::take(&mut intake.recorded_since_collected));
            if intake.keys == 0 {
                continue;
            }
            // Merged under both locks, so that the units are always in exactly one place.
            let mut backlog = self.backlog();
            backlog.merge(intake.take(), &self.entries);
        }
        self.backlog().next_round();
        recorded
    }

    /// Every stripe and the backlog, locked (in the ledger's order): a consistent view.
    pub(crate) fn lock_all(&self) -> Locked<'_> {
        let intake = self.intake.iter().map(|stripe| lock(stripe)).collect();
        Locked {
            intake,
            backlog: self.backlog(),
        }
    }

    /// One customer's units waiting to be sent (not those in flight, which Kelviq may
    /// already count), per feature.
    pub(crate) fn waiting_for(&self, customer_id: &str) -> Vec<(String, i64)> {
        let locked = self.lock_all();
        let mut units: Vec<(String, i128)> = Vec::new();
        let all = locked
            .intake
            .iter()
            .flat_map(|intake| intake.units_of(customer_id))
            .chain(locked.backlog.units_of(customer_id));
        for (feature_id, more) in all {
            match units.iter_mut().find(|(feature, _)| feature == feature_id) {
                Some((_, total)) => *total = total.saturating_add(more),
                None => units.push((feature_id.to_owned(), more)),
            }
        }
        units
            .into_iter()
            .map(|(feature_id, units)| (feature_id, chunk(units)))
            .collect()
    }
}

/// The whole ledger, locked: see [`UsageLedger::lock_all`].
pub(crate) struct Locked<'a> {
    intake: Vec<MutexGuard<'a, Intake>>,
    /// The backlog.
    pub(crate) backlog: MutexGuard<'a, Backlog>,
}

impl Locked<'_> {
    /// Units ever recorded.
    pub(crate) fn recorded(&self) -> i128 {
        self.intake
            .iter()
            .fold(0, |sum, intake| sum.saturating_add(intake.recorded))
    }

    /// Records merged into a pending key.
    pub(crate) fn coalesced(&self) -> u64 {
        self.intake
            .iter()
            .fold(0, |sum, intake| sum.saturating_add(intake.coalesced))
    }

    /// Units waiting (not in flight).
    pub(crate) fn units(&self) -> i128 {
        self.intake
            .iter()
            .fold(self.backlog.units(), |sum, intake| {
                sum.saturating_add(intake.units)
            })
    }

    /// Distinct keys waiting (not in flight): a key recorded on several stripes, or
    /// recorded again while it waits in the backlog, counts once.
    pub(crate) fn keys(&self) -> usize {
        let mut seen: HashSet<(&str, &str), foldhash::fast::RandomState> = HashSet::default();
        let in_intake = self.intake.iter().flat_map(|intake| intake.usage());
        for (customer_id, feature_id, _) in in_intake {
            if !self.backlog.contains(customer_id, feature_id) {
                seen.insert((customer_id, feature_id));
            }
        }
        self.backlog.keys().saturating_add(seen.len())
    }

    /// Everything waiting, as report lines (a total beyond `i64` as several lines).
    pub(crate) fn lines(&self) -> Vec<UsageLine> {
        let mut lines = Vec::new();
        let intake = self.intake.iter().flat_map(|intake| intake.usage());
        for (customer_id, feature_id, units) in intake.chain(self.backlog.usage()) {
            push_lines(&mut lines, customer_id, feature_id, units);
        }
        lines
    }

    /// Everything waiting, emptying the ledger: report lines, and events.
    pub(crate) fn drain(&mut self) -> (Vec<UsageLine>, Vec<ReportEvent>) {
        let lines = self.lines();
        for intake in &mut self.intake {
            intake.take();
        }
        self.backlog.clear_usage();
        let events = self
            .backlog
            .drain_events()
            .into_iter()
            .map(|queued| queued.event)
            .collect();
        (lines, events)
    }
}

/// `units` of one key as report lines, each within `i64`.
fn push_lines(lines: &mut Vec<UsageLine>, customer_id: &str, feature_id: &str, mut units: i128) {
    loop {
        let part = chunk(units);
        lines.push(UsageLine {
            customer_id: customer_id.to_owned(),
            feature_id: feature_id.to_owned(),
            units: part,
        });
        units = units.saturating_sub(i128::from(part));
        if units == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;

    fn record(
        ledger: &UsageLedger,
        customer: &str,
        feature: &str,
        units: i64,
        max: usize,
    ) -> Added {
        ledger
            .intake()
            .add(customer, feature, units, ledger.entries(), max)
    }

    #[test]
    fn records_coalesce_per_key_and_put_back_merges() {
        let ledger = UsageLedger::default();
        assert_eq!(record(&ledger, "c", "f", 1, 10), Added::New);
        assert_eq!(record(&ledger, "c", "f", 2, 10), Added::Coalesced);
        assert_eq!(record(&ledger, "c", "g", 5, 10), Added::New);
        assert_eq!(ledger.lock_all().keys(), 2);
        assert_eq!(ledger.collect(), 8);
        let now = Instant::now();
        let entries = ledger.entries();
        let mut due = ledger.backlog().take_due(now, usize::MAX, entries);
        due.sort_by(|a, b| a.line.feature_id.cmp(&b.line.feature_id));
        assert_eq!(due[0].line.units, 3);
        assert!(ledger.backlog().is_empty());
        record(&ledger, "c", "f", 4, 10);
        ledger.collect();
        let later = now + Duration::from_secs(60);
        ledger
            .backlog()
            .put_back(due.swap_remove(0), later, entries);
        assert!(
            ledger
                .backlog()
                .take_due(now, usize::MAX, entries)
                .is_empty()
        );
        let again = ledger.backlog().take_due(later, usize::MAX, entries);
        assert_eq!(again[0].line.units, 7);
        assert_eq!(ledger.lock_all().keys(), 0);
        // One report (g's) still in flight, one (f's) just taken.
        assert_eq!(entries.load(Ordering::Relaxed), 2);
        ledger.backlog().settled(2, entries);
        assert_eq!(entries.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_key_cap_counts_every_place_a_key_is_and_put_back_never_fails() {
        let ledger = UsageLedger::default();
        let entries = ledger.entries();
        assert_eq!(record(&ledger, "c", "f", 1, 2), Added::New);
        assert_eq!(record(&ledger, "c", "g", 1, 2), Added::New);
        assert_eq!(record(&ledger, "c", "h", 1, 2), Added::Full);
        assert_eq!(record(&ledger, "c", "f", 1, 2), Added::Coalesced);
        ledger.collect();
        let now = Instant::now();
        let due = ledger.backlog().take_due(now, usize::MAX, entries);
        // In flight, the two keys still count against the cap.
        assert_eq!(record(&ledger, "d", "f", 1, 2), Added::Full);
        for batch in due {
            ledger.backlog().put_back(batch, now, entries);
        }
        assert_eq!(ledger.lock_all().keys(), 2);
        assert_eq!(ledger.lock_all().units(), 3);
        // A key recorded again while waiting in the backlog takes a second entry until it
        // is collected (merged), then gives it back.
        assert_eq!(record(&ledger, "c", "f", 1, 3), Added::New);
        assert_eq!(entries.load(Ordering::Relaxed), 3);
        ledger.collect();
        assert_eq!(entries.load(Ordering::Relaxed), 2);
        assert_eq!(ledger.lock_all().units(), 4);
    }

    #[test]
    fn a_flush_quota_sends_the_longest_waiting_keys_first() {
        let ledger = UsageLedger::default();
        let entries = ledger.entries();
        let now = Instant::now();
        for customer in ["a", "b", "c"] {
            record(&ledger, customer, "f", 1, 100);
        }
        ledger.collect();
        for customer in ["d", "e"] {
            record(&ledger, customer, "f", 1, 100);
        }
        ledger.collect();
        let first = ledger.backlog().take_due(now, 2, entries);
        assert_eq!(first.len(), 2);
        assert!(
            first
                .iter()
                .all(|batch| ["a", "b", "c"].contains(&batch.line.customer_id.as_str()))
        );
        let second = ledger.backlog().take_due(now, 2, entries);
        let customers: Vec<&str> = second.iter().map(|b| b.line.customer_id.as_str()).collect();
        assert_eq!(second.len(), 2);
        // The last of the first round goes before the second round.
        assert_eq!(
            customers
                .iter()
                .filter(|c| ["a", "b", "c"].contains(c))
                .count(),
            1
        );
        assert_eq!(ledger.backlog().take_due(now, 2, entries).len(), 1);
        assert!(ledger.backlog().take_due(now, 0, entries).is_empty());
    }

    #[test]
    fn waiting_units_sum_every_stripe_and_the_backlog() {
        let ledger = Arc::new(UsageLedger::default());
        record(&ledger, "c", "f", 2, 100);
        ledger.collect();
        record(&ledger, "c", "f", 3, 100);
        let other = Arc::clone(&ledger);
        std::thread::spawn(move || {
            record(&other, "c", "f", 4, 100);
            record(&other, "c", "g", 1, 100);
            record(&other, "d", "f", 1, 100);
        })
        .join()
        .unwrap();
        let mut waiting = ledger.waiting_for("c");
        waiting.sort();
        assert_eq!(waiting, vec![("f".to_owned(), 9), ("g".to_owned(), 1)]);
        assert_eq!(ledger.lock_all().recorded(), 11);
        let (lines, _) = ledger.lock_all().drain();
        assert_eq!(lines.iter().map(|line| line.units).sum::<i64>(), 11);
        assert_eq!(ledger.lock_all().units(), 0);
    }

    #[test]
    fn totals_beyond_one_report_are_split_never_wrapped() {
        let ledger = UsageLedger::default();
        let entries = ledger.entries();
        record(&ledger, "c", "f", i64::MAX, 10);
        record(&ledger, "c", "f", i64::MAX, 10);
        record(&ledger, "c", "f", 3, 10);
        assert_eq!(ledger.lock_all().units(), 2 * i128::from(i64::MAX) + 3);
        assert_eq!(ledger.lock_all().lines().len(), 3);
        ledger.collect();
        let now = Instant::now();
        let first = ledger.backlog().take_due(now, usize::MAX, entries);
        assert_eq!(first[0].line.units, i64::MAX);
        assert_eq!(ledger.backlog().keys(), 1);
        let second = ledger.backlog().take_due(now, usize::MAX, entries);
        assert_eq!(second[0].line.units, i64::MAX);
        let (rest, _) = ledger.lock_all().drain();
        assert_eq!(rest[0].units, 3);
        record(&ledger, "c", "f", i64::MIN, 10);
        record(&ledger, "c", "f", i64::MIN, 10);
        let (lines, _) = ledger.lock_all().drain();
        assert_eq!(
            lines.iter().map(|l| i128::from(l.units)).sum::<i128>(),
            2 * i128::from(i64::MIN)
        );
    }

    proptest::proptest! {
        #[test]
        fn units_are_exact_through_collect_take_and_put_back(
            steps in proptest::collection::vec(
                (0usize..3, proptest::prop_oneof![
                    proptest::strategy::Just(i64::MAX),
                    proptest::strategy::Just(i64::MIN),
                    proptest::num::i64::ANY,
                ], proptest::bool::ANY, 0usize..3),
                0..24,
            )
        ) {
            let ledger = UsageLedger::default();
            let entries = ledger.entries();
            let now = Instant::now();
            let mut recorded: i128 = 0;
            let mut delivered: i128 = 0;
            for (key, amount, deliver, quota) in steps {
                let added = record(&ledger, "c", ["f", "g", "h"][key], amount, 2);
                if added != Added::Full {
                    recorded += i128::from(amount);
                }
                ledger.collect();
                let due = ledger.backlog().take_due(now, quota, entries);
                for batch in due {
                    if deliver {
                        delivered += i128::from(batch.line.units);
                        ledger.backlog().settled(1, entries);
                    } else {
                        ledger.backlog().put_back(batch, now, entries);
                    }
                }
                proptest::prop_assert_eq!(recorded, delivered + ledger.lock_all().units());
                proptest::prop_assert!(ledger.lock_all().keys() <= 2);
            }
            let (lines, _) = ledger.lock_all().drain();
            let rest: i128 = lines.iter().map(|line| i128::from(line.units)).sum();
            proptest::prop_assert_eq!(recorded, delivered + rest);
        }
    }
}
