//! One stripe of the ledger's intake: what threads of one stripe recorded since the
//! meter's task last collected it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Added;

/// A map keyed by ids: hashed with a per-process random seed (ids are caller input).
pub(super) type IdMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Units recorded through one stripe: written by the threads of that stripe (in practice
/// one at a time), emptied into the backlog by the meter's task once per flush.
#[derive(Debug, Default)]
pub(crate) struct Intake {
    /// customer → feature → units recorded since the last collection (two levels, so
    /// that a record looks up `&str`s and allocates only for a new key).
    pub(super) usage: IdMap<IdMap<i128>>,
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
            .and_then(|features| features.get_mut(feature_id))
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
                self.usage
                    .entry(customer_id.to_owned())
                    .or_default()
                    .insert(feature_id.to_owned(), i128::from(units));
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
            .flatten()
            .map(|(feature_id, units)| (feature_id.as_str(), *units))
    }

    /// Every key and its units, emptying the stripe (its totals stay).
    pub(super) fn take(&mut self) -> IdMap<IdMap<i128>> {
        self.keys = 0;
        self.units = 0;
        std::mem::take(&mut self.usage)
    }
}
