//! The ledger's backlog: usage collected from the intake and not delivered yet, one entry
//! per (customer, feature) with its retry state, and the events waiting to be sent. The
//! meter's task writes it; records of events queue into it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::time::Instant;

use super::intake::IdMap;
use super::{Batch, QueuedEvent, UsageLine};

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
    /// The collection that brought the key in: when more keys are due than may be sent,
    /// the oldest go first.
    since: u64,
}

/// The backlog, behind the ledger's backlog lock.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    /// customer → feature → waiting units.
    usage: IdMap<IdMap<Waiting>>,
    keys: usize,
    /// Batches taken out to be sent and not settled yet.
    in_flight: usize,
    /// The units waiting, summed over the keys.
    units: i128,
    /// Collections so far.
    round: u64,
    events: VecDeque<QueuedEvent>,
}

/// The most units one report carries: the report's type, `i64`.
pub(super) fn chunk(units: i128) -> i64 {
    i64::try_from(units).unwrap_or(if units < 0 { i64::MIN } else { i64::MAX })
}

impl Backlog {
    /// Merges what one intake stripe held. A key already waiting gives back the entry its
    /// intake copy took.
    pub(super) fn merge(&mut self, intake: IdMap<IdMap<i128>>, entries: &AtomicUsize) {
        let mut merged = 0usize;
        for (customer_id, features) in intake {
            let waiting = self.usage.entry(customer_id).or_default();
            for (feature_id, units) in features {
                self.units = self.units.saturating_add(units);
                match waiting.get_mut(&feature_id) {
                    Some(key) => {
                        key.units = key.units.saturating_add(units);
                        merged += 1;
                    }
                    None => {
                        waiting.insert(
                            feature_id,
                            Waiting {
                                units,
                                attempts: 0,
                                not_before: None,
                                since: self.round,
                            },
                        );
                        self.keys = self.keys.saturating_add(1);
                    }
                }
            }
        }
        release(entries, merged);
    }

    /// Closes a collection: keys merged from now on are younger.
    pub(super) fn next_round(&mut self) {
        self.round = self.round.wrapping_add(1);
    }

    /// Puts back a batch that was refused before processing (or not sent), merged with
    /// whatever was collected since, not to be sent before `not_before`. Never refused: the
    /// batch held its entry while in flight.
    pub(crate) fn put_back(&mut self, batch: Batch, not_before: Instant, entries: &AtomicUsize) {
        let Batch { line, attempts } = batch;
        self.in_flight = self.in_flight.saturating_sub(1);
        let units = i128::from(line.units);
        self.units = self.units.saturating_add(units);
        let round = self.round;
        let features = self.usage.entry(line.customer_id).or_default();
        let waiting = match features.get_mut(&line.feature_id) {
            Some(waiting) => {
                waiting.units = waiting.units.saturating_add(units);
                release(entries, 1);
                waiting
            }
            None => {
                self.keys = self.keys.saturating_add(1);
                features.entry(line.feature_id).or_insert(Waiting {
                    units,
                    attempts: 0,
                    not_before: None,
                    since: round,
                })
            }
        };
        waiting.attempts = waiting.attempts.max(attempts);
        waiting.not_before = Some(waiting.not_before.map_or(not_before, |t| t.max(not_before)));
    }

    /// `count` batches taken with [`Backlog::take_due`] were settled (sent, failed,
    /// unknown): their entries are free.
    pub(crate) fn settled(&mut self, count: usize, entries: &AtomicUsize) {
        self.in_flight = self.in_flight.saturating_sub(count);
        release(entries, count);
    }

    /// Takes the keys that may be sent at `now`, at most `quota` of them: the oldest
    /// (collected first) when more are due. A key whose total is beyond one report
    /// (`i64`) gives one report's worth and keeps the rest waiting.
    pub(crate) fn take_due(
        &mut self,
        now: Instant,
        quota: usize,
        entries: &AtomicUsize,
    ) -> Vec<Batch> {
        let is_due = |waiting: &Waiting| waiting.not_before.is_none_or(|at| at <= now);
        let mut rounds: Vec<u64> = self
            .usage
            .values()
            .flat_map(|features| features.values())
            .filter(|waiting| is_due(waiting))
            .map(|waiting| waiting.since)
            .collect();
        // Keys collected up to `oldest` may go; of those collected in round `oldest`
        // itself, only `of_oldest`.
        let (oldest, mut of_oldest) = if rounds.len() > quota {
            let Some(&mut cut) = quota
                .checked_sub(1)
                .map(|last| rounds.select_nth_unstable(last).1)
            else {
                return Vec::new();
            };
            let older = rounds.iter().filter(|&&round| round < cut).count();
            (cut, quota.saturating_sub(older))
        } else {
            (u64::MAX, usize::MAX)
        };
        let mut due = Vec::with_capacity(rounds.len().min(quota));
        let mut removed = 0usize;
        for (customer_id, features) in &mut self.usage {
            features.retain(|feature_id, waiting| {
                if !is_due(waiting) || waiting.since > oldest {
                    return true;
                }
                if waiting.since == oldest {
                    if of_oldest == 0 {
                        return true;
                    }
                    of_oldest -= 1;
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
        self.in_flight = self.in_flight.saturating_add(due.len());
        // A key split over several reports holds one entry per report in flight.
        let _ = entries.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |taken| {
            Some(taken.saturating_add(due.len().saturating_sub(removed)))
        });
        let taken = due.iter().fold(0i128, |sum, batch| {
            sum.saturating_add(batch.line.units.into())
        });
        self.units = self.units.saturating_sub(taken);
        due
    }

    /// One customer's waiting units, per feature.
    pub(super) fn units_of(&self, customer_id: &str) -> impl Iterator<Item = (&str, i128)> {
        self.usage
            .get(customer_id)
            .into_iter()
            .flatten()
            .map(|(feature_id, waiting)| (feature_id.as_str(), waiting.units))
    }

    /// Whether the key waits here.
    pub(super) fn contains(&self, customer_id: &str, feature_id: &str) -> bool {
        self.usage
            .get(customer_id)
            .is_some_and(|features| features.contains_key(feature_id))
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
            .flat_map(|features| features.values())
            .map(|waiting| waiting.not_before);
        let events = self.events.iter().map(|queued| queued.not_before);
        usage
            .chain(events)
            .map(|at| at.unwrap_or_else(Instant::now))
            .min()
    }

    /// Forgets every key (events stay).
    pub(super) fn clear_usage(&mut self) {
        self.keys = 0;
        self.units = 0;
        self.usage.clear();
    }

    /// Every event, emptying the queue.
    pub(super) fn drain_events(&mut self) -> Vec<QueuedEvent> {
        self.events.drain(..).collect()
    }

    /// Every key and its units.
    pub(super) fn usage(&self) -> impl Iterator<Item = (&str, &str, i128)> {
        self.usage.iter().flat_map(|(customer_id, features)| {
            features.iter().map(move |(feature_id, waiting)| {
                (customer_id.as_str(), feature_id.as_str(), waiting.units)
            })
        })
    }
}

/// Frees `count` of the ledger's entries.
fn release(entries: &AtomicUsize, count: usize) {
    if count > 0 {
        let _ = entries.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |taken| {
            Some(taken.saturating_sub(count))
        });
    }
}
