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
//!
//! A limit check need not sum the stripes (lines the other cores write) while the usage is
//! far from the limit: each stripe may hold up to its share of the headroom (what was left
//! of the limit at the fetch, less the base, over the stripes), and the write that takes a
//! stripe to its share sets a flag (`crowded`, cleared only by a `SET`). While no stripe is
//! crowded the sum is below the headroom, so [`AppliedUsage::surely_below`] answers from
//! the base and the flag, lines no one writes then.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crossbeam_utils::CachePadded;
use once_cell::race::OnceBox;

use crate::stripes;

/// Units of usage applied to one feature since the snapshot was fetched: 16 bytes until
/// threads contend (a cached customer has one per feature).
#[derive(Debug, Default)]
pub(crate) struct AppliedUsage {
    base: AtomicI64,
    /// Boxed twice so that the uncontended counter holds one thin pointer, not a slice's
    /// two words.
    stripes: OnceBox<Stripes>,
}

/// One padded counter per thread stripe, and whether one reached its share of the
/// headroom. Aligned to a cache line pair, as [`CachePadded`] is: every add and check of a
/// hot customer reads it, so no allocation a core writes may share its line.
#[derive(Debug)]
#[repr(align(128))]
struct Stripes {
    cells: Box<[CachePadded<AtomicI64>]>,
    crowded: AtomicBool,
}

/// Adds `value` to `counter`, saturating at `i64`'s bounds: the new value, and whether the
/// first attempt won.
fn saturating_add(counter: &AtomicI64, value: i64) -> (i64, bool) {
    let current = counter.load(Ordering::Relaxed);
    let new = current.saturating_add(value);
    if counter
        .compare_exchange(current, new, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        return (new, true);
    }
    let old = counter
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
            Some(current.saturating_add(value))
        })
        .unwrap_or_else(|current| current);
    (old.saturating_add(value), false)
}

/// Each stripe's share of `headroom` above `base`, over `stripes` stripes.
fn share(headroom: i64, base: i64, stripes: usize) -> i64 {
    let stripes = i64::try_from(stripes).unwrap_or(i64::MAX).max(1);
    headroom.saturating_sub(base) / stripes
}

/// One zeroed stripe per thread stripe.
fn new_stripes() -> Box<Stripes> {
    Box::new(Stripes {
        cells: (0..stripes::count())
            .map(|_| CachePadded::new(AtomicI64::new(0)))
            .collect(),
        crowded: AtomicBool::new(false),
    })
}

impl AppliedUsage {
    /// Adds units (saturating: a huge amount pins the usage at a bound instead of
    /// wrapping round). `headroom`: what was left of a hard limit at the fetch, if the
    /// feature has one (the same for every call on one counter).
    pub(crate) fn add(&self, value: i64, headroom: Option<i64>) {
        if let Some(stripes) = self.stripes.get() {
            if let Some(cell) = stripes.cells.get(stripes::current()) {
                let (units, _) = saturating_add(cell, value);
                if let Some(headroom) = headroom
                    && !stripes.crowded.load(Ordering::Relaxed)
                    && units
                        >= share(
                            headroom,
                            self.base.load(Ordering::Relaxed),
                            stripes.cells.len(),
                        )
                {
                    stripes.crowded.store(true, Ordering::Relaxed);
                }
            }
            return;
        }
        if !saturating_add(&self.base, value).1 {
            // Another thread wrote between the load and the swap: from now on each thread
            // writes its own stripe.
            self.stripes.get_or_init(new_stripes);
        }
    }

    /// Replaces the units (stripes that threads write at the same moment may be lost:
    /// a `SET` replaces whatever was there).
    pub(crate) fn set(&self, value: i64) {
        self.base.store(value, Ordering::Relaxed);
        if let Some(stripes) = self.stripes.get() {
            for cell in &stripes.cells {
                cell.store(0, Ordering::Relaxed);
            }
            stripes.crowded.store(false, Ordering::Relaxed);
        }
    }

    /// Whether the units are certainly below `headroom` without summing the stripes
    /// (exactly, while there are none): `false` means "sum them" ([`AppliedUsage::get`]), not "at or above". Only for the
    /// `headroom` every [`AppliedUsage::add`] of this counter was given.
    pub(crate) fn surely_below(&self, headroom: i64) -> bool {
        let Some(stripes) = self.stripes.get() else {
            // One counter: exact.
            return self.base.load(Ordering::Relaxed) < headroom;
        };
        // Every stripe is below its share while none is crowded, so the sum is below
        // base + stripes × share ≤ headroom.
        share(
            headroom,
            self.base.load(Ordering::Relaxed),
            stripes.cells.len(),
        ) > 0
            && !stripes.crowded.load(Ordering::Relaxed)
    }

    /// The units applied (within `i64`'s bounds).
    pub(crate) fn get(&self) -> i64 {
        let base = self.base.load(Ordering::Relaxed);
        let Some(stripes) = self.stripes.get() else {
            return base;
        };
        let sum = stripes.cells.iter().fold(i128::from(base), |sum, stripe| {
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
                        applied.add(1, None);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(applied.get(), 80_000);
        applied.add(i64::MAX, None);
        applied.add(i64::MAX, None);
        assert_eq!(applied.get(), i64::MAX);
        applied.set(-3);
        assert_eq!(applied.get(), -3);
        applied.add(i64::MIN, None);
        assert_eq!(applied.get(), i64::MIN);
    }

    #[test]
    fn contention_spreads_writes_over_stripes() {
        let applied = AppliedUsage::default();
        applied.add(2, None);
        assert!(applied.stripes.get().is_none(), "uncontended: one atomic");
        // What a write that loses its race does.
        applied.stripes.get_or_init(new_stripes);
        applied.add(5, None);
        assert_eq!(applied.base.load(Ordering::Relaxed), 2);
        assert_eq!(applied.get(), 7);
    }

    #[test]
    fn a_limit_check_sums_the_stripes_only_near_the_headroom() {
        let stripes = i64::try_from(stripes::count()).unwrap();
        let headroom = 2 + 10 * stripes;
        let applied = AppliedUsage::default();
        applied.add(2, Some(headroom));
        // Uncontended: the base alone is the exact answer.
        assert!(applied.surely_below(headroom));
        assert!(applied.surely_below(3));
        assert!(!applied.surely_below(2));
        applied.stripes.get_or_init(new_stripes);
        // Each stripe's share is 10: nine units are surely below, the tenth crowds.
        applied.add(9, Some(headroom));
        assert!(applied.surely_below(headroom));
        applied.add(1, Some(headroom));
        assert!(!applied.surely_below(headroom));
        assert_eq!(applied.get(), 12);
        // A SET starts over.
        applied.set(0);
        assert!(applied.surely_below(headroom));
        // No room at all: never sure.
        assert!(!applied.surely_below(0));
    }
}
