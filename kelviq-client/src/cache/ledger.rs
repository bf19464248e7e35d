//! The usage ledger: usage this process recorded and has not delivered yet, coalesced per
//! (customer, feature), and the events waiting to be sent.
//!
//! The ledger is owned by the [entitlement cache](super): the usage meter writes what it
//! records into it and takes from it what it delivers; a freshly fetched snapshot reads
//! from it the units Kelviq has not counted yet. Nothing else holds usage state, so the
//! client never asks a meter for anything.
//!
//! **This is the seam where shared state goes.** Run alone, the ledger is this in-memory
//! map behind one lock; run as a fleet, the same operations (record, take what is due,
//! put back, read one customer's waiting units) map onto a shared store, so that pending
//! usage survives an instance and one instance delivers it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use crate::resources::ReportEvent;

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

/// The ledger: the pending set behind one lock.
#[derive(Debug, Default)]
pub(crate) struct UsageLedger {
    pending: Mutex<Pending>,
}

impl UsageLedger {
    /// The pending set, locked. Callers keep the lock short: the request path records
    /// through it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One customer's units waiting to be sent (not those in flight, which Kelviq may
    /// already count), per feature.
    pub(crate) fn waiting_for(&self, customer_id: &str) -> Vec<(String, i64)> {
        self.lock().waiting_for(customer_id)
    }
}

/// Units of one key waiting to be sent.
#[derive(Debug)]
struct Waiting {
    /// Wider than a report (`i64`), so that merging records never wraps; a total beyond
    /// `i64` is sent in several reports.
    units: i128,
    /// Failed attempts so far (for the backoff).
    attempts: u32,
    /// Not to be sent before this (after a refused attempt).
    not_before: Option<Instant>,
}

/// One report about to be sent, taken out of the pending set.
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

/// What [`Pending::add`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// Merged into a key already pending.
    Coalesced,
    /// A new key.
    New,
    /// Refused: the key is new and the pending set holds its maximum of keys. Nothing
    /// changed.
    Full,
}

/// The pending set, behind the ledger's lock.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// customer → feature → waiting units (two levels, so that a record looks up `&str`s
    /// and allocates only for a new key).
    usage: HashMap<String, HashMap<String, Waiting>>,
    keys: usize,
    /// Keys taken out to be sent and not settled yet: they count against the key cap, so
    /// that putting them back never takes the set past it.
    in_flight_keys: usize,
    /// The units waiting, summed over the keys.
    units: i128,
    events: VecDeque<QueuedEvent>,
}

/// The most units one report carries: the report's type, `i64`.
fn chunk(units: i128) -> i64 {
    i64::try_from(units).unwrap_or(if units < 0 { i64::MIN } else { i64::MAX })
}

impl Pending {
    /// Adds units to a key, unless the key is new and `max_keys` keys are pending (or in
    /// flight) already: a full set refuses new keys and keeps everything it holds.
    pub(crate) fn add(
        &mut self,
        customer_id: &str,
        feature_id: &str,
        units: i64,
        max_keys: usize,
    ) -> Added {
        if let Some(waiting) = self
            .usage
            .get_mut(customer_id)
            .and_then(|features| features.get_mut(feature_id))
        {
            waiting.units = waiting.units.saturating_add(i128::from(units));
            self.units = self.units.saturating_add(i128::from(units));
            return Added::Coalesced;
        }
        if self.keys.saturating_add(self.in_flight_keys) >= max_keys {
            return Added::Full;
        }
        self.insert(customer_id, feature_id, i128::from(units));
        Added::New
    }

    /// Adds a new key (the caller checked it is not pending).
    fn insert(&mut self, customer_id: &str, feature_id: &str, units: i128) {
        self.units = self.units.saturating_add(units);
        self.usage
            .entry(customer_id.to_owned())
            .or_default()
            .insert(
                feature_id.to_owned(),
                Waiting {
                    units,
                    attempts: 0,
                    not_before: None,
                },
            );
        self.keys = self.keys.saturating_add(1);
    }

    /// Puts back a batch that was refused before processing (or not sent), merged with
    /// whatever was recorded since, not to be sent before `not_before`. Never refused: the
    /// key was counted against the cap while in flight.
    pub(crate) fn put_back(&mut self, batch: Batch, not_before: Instant) {
        let Batch { line, attempts } = batch;
        self.settled(1);
        let units = i128::from(line.units);
        match self
            .usage
            .get_mut(&line.customer_id)
            .and_then(|features| features.get_mut(&line.feature_id))
        {
            Some(waiting) => {
                waiting.units = waiting.units.saturating_add(units);
                self.units = self.units.saturating_add(units);
            }
            None => self.insert(&line.customer_id, &line.feature_id, units),
        }
        if let Some(waiting) = self
            .usage
            .get_mut(&line.customer_id)
            .and_then(|features| features.get_mut(&line.feature_id))
        {
            waiting.attempts = waiting.attempts.max(attempts);
            waiting.not_before = Some(waiting.not_before.map_or(not_before, |t| t.max(not_before)));
        }
    }

    /// `keys` batches taken with [`Pending::take_due`] were settled (sent, failed, unknown).
    pub(crate) fn settled(&mut self, keys: usize) {
        self.in_flight_keys = self.in_flight_keys.saturating_sub(keys);
    }

    /// Takes every key that may be sent at `now`. A key whose total is beyond one report
    /// (`i64`) gives one report's worth and keeps the rest pending.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Batch> {
        let mut due = Vec::new();
        let mut removed = 0usize;
        for (customer_id, features) in &mut self.usage {
            features.retain(|feature_id, waiting| {
                if waiting.not_before.is_some_and(|at| at > now) {
                    return true;
                }
                let units = chunk(waiting.units);
                waiting.units = waiting.units.saturating_sub(i128::from(units));
                due.push(Batch {
                    line: UsageLine {
                        customer_id: customer_id.clone(),
                        feature_id: feature_id.clone(),
                        units,
                    },
                    attempts: waiting.attempts,
                });
                let rest = waiting.units != 0;
                if !rest {
                    removed += 1;
                }
                rest
            });
        }
        self.usage.retain(|_, features| !features.is_empty());
        self.keys = self.keys.saturating_sub(removed);
        self.in_flight_keys = self.in_flight_keys.saturating_add(due.len());
        let taken = due.iter().fold(0i128, |sum, batch| {
            sum.saturating_add(batch.line.units.into())
        });
        self.units = self.units.saturating_sub(taken);
        due
    }

    /// One customer's waiting units, per feature (beyond `i64`: `i64`'s bound).
    pub(crate) fn waiting_for(&self, customer_id: &str) -> Vec<(String, i64)> {
        self.usage
            .get(customer_id)
            .map(|features| {
                features
                    .iter()
                    .map(|(feature_id, waiting)| (feature_id.clone(), chunk(waiting.units)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The units waiting.
    pub(crate) fn units(&self) -> i128 {
        self.units
    }

    /// How many events are queued (not those in flight).
    pub(crate) fn events(&self) -> usize {
        self.events.len()
    }

    /// How many keys wait.
    pub(crate) fn keys(&self) -> usize {
        self.keys
    }

    /// Queues an event.
    pub(crate) fn push_event(&mut self, event: QueuedEvent) {
        self.events.push_back(event);
    }

    /// Takes every event that may be sent at `now`, in order.
    pub(crate) fn take_due_events(&mut self, now: Instant) -> Vec<QueuedEvent> {
        let (due, waiting): (Vec<_>, Vec<_>) = self
            .events
            .drain(..)
            .partition(|queued| queued.not_before.is_none_or(|at| at <= now));
        self.events = waiting.into();
        due
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys == 0 && self.events.is_empty()
    }

    /// The earliest time something waiting may be sent.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let usage = self
            .usage
            .values()
            .flat_map(HashMap::values)
            .map(|waiting| waiting.not_before);
        let events = self.events.iter().map(|queued| queued.not_before);
        usage
            .chain(events)
            .map(|at| at.unwrap_or_else(Instant::now))
            .min()
    }

    /// Everything still waiting, emptying the set (a total beyond `i64` as several lines).
    pub(crate) fn drain(&mut self) -> (Vec<UsageLine>, Vec<ReportEvent>) {
        let mut lines = Vec::with_capacity(self.keys);
        for (customer_id, features) in self.usage.drain() {
            for (feature_id, waiting) in features {
                push_lines(&mut lines, &customer_id, &feature_id, waiting.units);
            }
        }
        self.keys = 0;
        self.units = 0;
        let events = self.events.drain(..).map(|queued| queued.event).collect();
        (lines, events)
    }

    /// Everything still waiting, without taking it.
    pub(crate) fn lines(&self) -> Vec<UsageLine> {
        let mut lines = Vec::with_capacity(self.keys);
        for (customer_id, features) in &self.usage {
            for (feature_id, waiting) in features {
                push_lines(&mut lines, customer_id, feature_id, waiting.units);
            }
        }
        lines
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
    use std::time::Duration;

    use super::*;

    #[test]
    fn records_coalesce_per_key_and_put_back_merges() {
        let mut pending = Pending::default();
        assert_eq!(pending.add("c", "f", 1, 10), Added::New);
        assert_eq!(pending.add("c", "f", 2, 10), Added::Coalesced);
        assert_eq!(pending.add("c", "g", 5, 10), Added::New);
        assert_eq!(pending.keys(), 2);
        let now = Instant::now();
        let mut due = pending.take_due(now);
        due.sort_by(|a, b| a.line.feature_id.cmp(&b.line.feature_id));
        assert_eq!(due[0].line.units, 3);
        assert!(pending.is_empty());
        pending.add("c", "f", 4, 10);
        let later = now + Duration::from_secs(60);
        pending.put_back(due.swap_remove(0), later);
        assert!(pending.take_due(now).is_empty());
        let again = pending.take_due(later);
        assert_eq!(again[0].line.units, 7);
        assert_eq!(pending.keys(), 0);
    }

    #[test]
    fn a_full_set_refuses_new_keys_only_and_put_back_never_fails() {
        let mut pending = Pending::default();
        assert_eq!(pending.add("c", "f", 1, 2), Added::New);
        assert_eq!(pending.add("c", "g", 1, 2), Added::New);
        assert_eq!(pending.add("c", "h", 1, 2), Added::Full);
        assert_eq!(pending.add("c", "f", 1, 2), Added::Coalesced);
        let now = Instant::now();
        let due = pending.take_due(now);
        // In flight, the two keys still count against the cap.
        assert_eq!(pending.add("d", "f", 1, 2), Added::Full);
        for batch in due {
            pending.put_back(batch, now);
        }
        assert_eq!(pending.keys(), 2);
        assert_eq!(pending.units(), 3);
    }

    #[test]
    fn totals_beyond_one_report_are_split_never_wrapped() {
        let mut pending = Pending::default();
        pending.add("c", "f", i64::MAX, 10);
        pending.add("c", "f", i64::MAX, 10);
        pending.add("c", "f", 3, 10);
        assert_eq!(pending.units(), 2 * i128::from(i64::MAX) + 3);
        let lines = pending.lines();
        assert_eq!(lines.len(), 3);
        let now = Instant::now();
        let first = pending.take_due(now);
        assert_eq!(first[0].line.units, i64::MAX);
        assert_eq!(pending.keys(), 1);
        let second = pending.take_due(now);
        assert_eq!(second[0].line.units, i64::MAX);
        let (rest, _) = pending.drain();
        assert_eq!(rest[0].units, 3);
        pending.add("c", "f", i64::MIN, 10);
        pending.add("c", "f", i64::MIN, 10);
        let (lines, _) = pending.drain();
        assert_eq!(
            lines.iter().map(|l| i128::from(l.units)).sum::<i128>(),
            2 * i128::from(i64::MIN)
        );
    }

    proptest::proptest! {
        #[test]
        fn units_are_exact_through_take_and_put_back(
            steps in proptest::collection::vec(
                (0usize..3, proptest::prop_oneof![
                    proptest::strategy::Just(i64::MAX),
                    proptest::strategy::Just(i64::MIN),
                    proptest::num::i64::ANY,
                ], proptest::bool::ANY),
                0..24,
            )
        ) {
            let mut pending = Pending::default();
            let now = Instant::now();
            let mut recorded: i128 = 0;
            let mut delivered: i128 = 0;
            for (key, amount, deliver) in steps {
                let added = pending.add("c", ["f", "g", "h"][key], amount, 2);
                if added != Added::Full {
                    recorded += i128::from(amount);
                }
                for batch in pending.take_due(now) {
                    if deliver {
                        delivered += i128::from(batch.line.units);
                        pending.settled(1);
                    } else {
                        pending.put_back(batch, now);
                    }
                }
                proptest::prop_assert_eq!(recorded, delivered + pending.units());
                proptest::prop_assert!(pending.keys() <= 2);
            }
            let (lines, _) = pending.drain();
            let rest: i128 = lines.iter().map(|line| i128::from(line.units)).sum();
            proptest::prop_assert_eq!(recorded, delivered + rest);
        }
    }
}
