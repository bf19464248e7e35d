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
    units: i64,
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

/// The pending set, behind the ledger's lock.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// customer → feature → waiting units (two levels, so that a record looks up `&str`s
    /// and allocates only for a new key).
    usage: HashMap<String, HashMap<String, Waiting>>,
    keys: usize,
    /// The units waiting, summed over the keys.
    units: i64,
    events: VecDeque<QueuedEvent>,
}

impl Pending {
    /// Adds units to a key; whether the key was already pending (the record coalesced).
    pub(crate) fn add(&mut self, customer_id: &str, feature_id: &str, units: i64) -> bool {
        self.units = self.units.saturating_add(units);
        if let Some(waiting) = self
            .usage
            .get_mut(customer_id)
            .and_then(|features| features.get_mut(feature_id))
        {
            waiting.units = waiting.units.saturating_add(units);
            return true;
        }
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
        self.keys += 1;
        false
    }

    /// Puts back a batch that was refused before processing, merged with whatever was
    /// recorded since, not to be sent before `not_before`.
    pub(crate) fn put_back(&mut self, batch: Batch, not_before: Instant) {
        let Batch { line, attempts } = batch;
        self.add(&line.customer_id, &line.feature_id, line.units);
        if let Some(waiting) = self
            .usage
            .get_mut(&line.customer_id)
            .and_then(|features| features.get_mut(&line.feature_id))
        {
            waiting.attempts = waiting.attempts.max(attempts);
            waiting.not_before = Some(waiting.not_before.map_or(not_before, |t| t.max(not_before)));
        }
    }

    /// Takes every key that may be sent at `now`.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Batch> {
        let mut due = Vec::new();
        for (customer_id, features) in &mut self.usage {
            features.retain(|feature_id, waiting| {
                if waiting.not_before.is_some_and(|at| at > now) {
                    return true;
                }
                due.push(Batch {
                    line: UsageLine {
                        customer_id: customer_id.clone(),
                        feature_id: feature_id.clone(),
                        units: waiting.units,
                    },
                    attempts: waiting.attempts,
                });
                false
            });
        }
        self.usage.retain(|_, features| !features.is_empty());
        self.keys -= due.len();
        self.units -= due.iter().map(|batch| batch.line.units).sum::<i64>();
        due
    }

    /// One customer's waiting units, per feature.
    pub(crate) fn waiting_for(&self, customer_id: &str) -> Vec<(String, i64)> {
        self.usage
            .get(customer_id)
            .map(|features| {
                features
                    .iter()
                    .map(|(feature_id, waiting)| (feature_id.clone(), waiting.units))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The units waiting.
    pub(crate) fn units(&self) -> i64 {
        self.units
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

    /// Everything still waiting, emptying the set.
    pub(crate) fn drain(&mut self) -> (Vec<UsageLine>, Vec<ReportEvent>) {
        let lines = self
            .usage
            .drain()
            .flat_map(|(customer_id, features)| {
                features
                    .into_iter()
                    .map(move |(feature_id, waiting)| UsageLine {
                        customer_id: customer_id.clone(),
                        feature_id,
                        units: waiting.units,
                    })
            })
            .collect();
        self.keys = 0;
        self.units = 0;
        let events = self.events.drain(..).map(|queued| queued.event).collect();
        (lines, events)
    }

    /// Everything still waiting, without taking it.
    pub(crate) fn lines(&self) -> Vec<UsageLine> {
        self.usage
            .iter()
            .flat_map(|(customer_id, features)| {
                features.iter().map(move |(feature_id, waiting)| UsageLine {
                    customer_id: customer_id.clone(),
                    feature_id: feature_id.clone(),
                    units: waiting.units,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn records_coalesce_per_key_and_put_back_merges() {
        let mut pending = Pending::default();
        assert!(!pending.add("c", "f", 1));
        assert!(pending.add("c", "f", 2));
        assert!(!pending.add("c", "g", 5));
        assert_eq!(pending.keys(), 2);
        let now = Instant::now();
        let mut due = pending.take_due(now);
        due.sort_by(|a, b| a.line.feature_id.cmp(&b.line.feature_id));
        assert_eq!(due[0].line.units, 3);
        assert!(pending.is_empty());
        pending.add("c", "f", 4);
        let later = now + Duration::from_secs(60);
        pending.put_back(due.swap_remove(0), later);
        assert!(pending.take_due(now).is_empty());
        let again = pending.take_due(later);
        assert_eq!(again[0].line.units, 7);
        assert_eq!(pending.keys(), 0);
    }
}
