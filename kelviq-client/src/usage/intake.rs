//! One stripe of the ledger's intake: what threads of one stripe recorded since the
//! meter's task last collected it.
//!
//! A record looks its key up here, so the layout is what one lookup reads: one table
//! keyed by customer, whose entry holds the customer's first feature inline, with ids of
//! up to 23 bytes (most ids) stored in the entry itself ([`SmolStr`]). A record of a key
//! already waiting reads the table's control bytes and one entry, and nothing it points
//! to: with thousands of customers active, each line a lookup reads is a likely cache
//! miss, and two maps of heap strings (the obvious layout) read five or six.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use smol_str::SmolStr;

use super::Added;

/// A map keyed by ids: hashed with a per-process random seed (ids are caller input).
pub(super) type IdMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// One customer's units per feature: the first feature inline, any others beside.
#[derive(Debug)]
pub(super) struct Features {
    first: (SmolStr, i128),
    rest: Vec<(SmolStr, i128)>,
}

impl Features {
    fn units_mut(&mut self, feature_id: &str) -> Option<&mut i128> {
        if self.first.0 == feature_id {
            return Some(&mut self.first.1);
        }
        self.rest
            .iter_mut()
            .find(|(feature, _)| feature == feature_id)
            .map(|(_, units)| units)
    }

    /// Every feature and its units.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, i128)> {
        std::iter::once(&self.first)
            .chain(&self.rest)
            .map(|(feature_id, units)| (feature_id.as_str(), *units))
    }
}

/// Units recorded through one stripe: written by the threads of that stripe (in practice
/// one at a time), emptied into the backlog by the meter's task once per flush.
#[derive(Debug, Default)]
pub(crate) struct Intake {
    /// customer → its features' units recorded since the last collection.
    usage: HashMap<SmolStr, Features, foldhash::fast::RandomState>,
    /// Keys in `usage`.
    pub(super) keys: usize,
    /// The units in `usage`.
    pub(super) units: i128,
    /// Units ever recorded through this stripe.
    pub(super) recorded: i128,
    /// Units recorded since the last collection, for the `metrics` counter.
    pub(super) recorded_since_collected: i128,
    /// Records merged into a key already in `usage`.
    pub(super) coalesced: u64,
}

impl Intake {
    /// Adds units to a key. A new key takes one of the ledger's `entries`, unless
    /// `max_keys` are taken: then nothing changes ([`Added::Full`]).
    pub(crate) fn add(
        &mut self,
        customer_id: &str,
        feature_id: &str,
        units: i64,
        entries: &AtomicUsize,
        max_keys: usize,
    ) -> Added {
        let added = match self
            .usage
            .get_mut(customer_id)
            .and_then(|features| features.units_mut(feature_id))
        {
            Some(waiting) => {
                *waiting = waiting.saturating_add(i128::from(units));
                self.coalesced = self.coalesced.saturating_add(1);
                Added::Coalesced
            }
            None => {
                let taken = entries.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |taken| {
                    (taken < max_keys).then(|| taken.saturating_add(1))
                });
                if taken.is_err() {
                    return Added::Full;
                }
                let key = (SmolStr::new(feature_id), i128::from(units));
                match self.usage.get_mut(customer_id) {
                    Some(features) => features.rest.push(key),
                    None => {
                        self.usage.insert(
                            SmolStr::new(customer_id),
                            Features {
                                first: key,
                                rest: Vec::new(),
                            },
                        );
                    }
                }
                self.keys = self.keys.saturating_add(1);
                Added::New
            }
        };
        let units = i128::from(units);
        self.units = self.units.saturating_add(units);
        self.recorded = self.recorded.saturating_add(units);
        self.recorded_since_collected = self.recorded_since_collected.saturating_add(units);
        added
    }

    /// One customer's units, per feature.
    pub(super) fn units_of(&self, customer_id: &str) -> impl Iterator<Item = (&str, i128)> {
        self.usage
            .get(customer_id)
            .into_iter()
            .flat_map(Features::iter)
    }

    /// Every key and its units.
    pub(super) fn usage(&self) -> impl Iterator<Item = (&str, &str, i128)> {
        self.usage.iter().flat_map(|(customer_id, features)| {
            features
                .iter()
                .map(move |(feature_id, units)| (customer_id.as_str(), feature_id, units))
        })
    }

    /// Every key and its units, emptying the stripe (its totals stay).
    pub(super) fn take(&mut self) -> IdMap<IdMap<i128>> {
        self.keys = 0;
        self.units = 0;
        std::mem::take(&mut self.usage)
            .into_iter()
            .map(|(customer_id, features)| {
                let features = features
                    .iter()
                    .map(|(feature_id, units)| (feature_id.to_owned(), units))
                    .collect();
                (customer_id.into(), features)
            })
            .collect()
    }
}
