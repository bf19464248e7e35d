//! Usage applied to one feature of a cached snapshot: an adder that is one atomic while
//! one thread at a time writes it, and spreads over per-thread stripes once threads
//! contend.
//!
//! Every record of a hot customer adds to this counter and every limit check reads it.
//! One atomic would be a cache line that every core writes on every request; one padded
//! stripe per thread for every feature of every cached customer would cost kilobytes per
//! customer. So, as Java's `LongAdder`: a base atomic, and the stripes allocated the first
//! time a write finds the base contended (a failed compare-and-swap). Reads sum them.
//! Hand-written because it is this small and must saturate instead of wrapping; the
//! stripes are [`crossbeam_utils::CachePadded`], so two never share a line.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

use crossbeam_utils::CachePadded;

use crate::stripes;

/// Units of usage applied to one feature since the snapshot was fetched: 24 bytes until
/// threads contend (a cached customer has one per feature).
#[derive(Debug, Default)]
pub(crate) struct AppliedUsage {
    base: AtomicI64,
    /// Boxed twice so that the uncontended counter holds one thin pointer, not a slice's
    /// two words.
    stripes: OnceLock<Box<Stripes>>,
}

/// One padded counter per thread stripe.
type Stripes = Box<[CachePadded<AtomicI64>]>;

/// Adds `value` to `counter`, saturating at `i64`'s bounds; whether the first attempt won.
fn saturating_add(counter: &AtomicI64, value: i64) -> bool {
    let current = counter.load(Ordering::Relaxed);
    let first = counter.compare_exchange(
        current,
        current.saturating_add(value),
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    if first.is_ok() {
        return true;
    }
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
        Some(current.saturating_add(value))
    });
    false
}

/// One zeroed stripe per thread stripe.
fn new_stripes() -> Box<Stripes> {
    Box::new(
        (0..stripes::count())
            .map(|_| CachePadded::new(AtomicI64::new(0)))
            .collect(),
    )
}

impl AppliedUsage {
    /// Adds units (saturating: a huge amount pins the usage at a bound instead of
    /// wrapping round).
    pub(crate) fn add(&self, value: i64) {
        if let Some(stripes) = self.stripes.get() {
            if let Some(stripe) = stripes.get(stripes::current()) {
                saturating_add(stripe, value);
            }
            return;
        }
        if !saturating_add(&self.base, value) {
            // Another thread wrote between the load and the swap: from now on each thread
            // writes its own stripe.
            self.stripes.get_or_init(new_stripes);
        }
    }

    /// Replaces the units (stripes that threads write at the same moment may be lost:
    /// a `SET` replaces whatever was there).
    pub(crate) fn set(&self, value: i64) {
        self.base.store(value, Ordering::Relaxed);
        for stripe in self
            .stripes
            .get()
            .into_iter()
            .flat_map(|stripes| stripes.iter())
        {
            stripe.store(0, Ordering::Relaxed);
        }
    }

    /// The units applied (within `i64`'s bounds).
    pub(crate) fn get(&self) -> i64 {
        let base = self.base.load(Ordering::Relaxed);
        let Some(stripes) = self.stripes.get() else {
            return base;
        };
        let sum = stripes.iter().fold(i128::from(base), |sum, stripe| {
            sum.saturating_add(i128::from(stripe.load(Ordering::Relaxed)))
        });
        i64::try_from(sum).unwrap_or(if sum < 0 { i64::MIN } else { i64::MAX })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn adds_from_many_threads_are_exact_and_saturate() {
        let applied = Arc::new(AppliedUsage::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let applied = Arc::clone(&applied);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        applied.add(1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(applied.get(), 80_000);
        applied.add(i64::MAX);
        applied.add(i64::MAX);
        assert_eq!(applied.get(), i64::MAX);
        applied.set(-3);
        assert_eq!(applied.get(), -3);
        applied.add(i64::MIN);
        assert_eq!(applied.get(), i64::MIN);
    }

    #[test]
    fn contention_spreads_writes_over_stripes() {
        let applied = AppliedUsage::default();
        applied.add(2);
        assert!(applied.stripes.get().is_none(), "uncontended: one atomic");
        // What a write that loses its race does.
        applied.stripes.get_or_init(new_stripes);
        applied.add(5);
        assert_eq!(applied.base.load(Ordering::Relaxed), 2);
        assert_eq!(applied.get(), 7);
    }
}
