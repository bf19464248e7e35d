//! Units *reserved*: held by requests in flight against a feature's hard limit, until each
//! request settles (a success keeps what it used, anything else gives it back).
//!
//! One [`Holds`] per customer and hard-limited feature, shared by every snapshot of the
//! customer (a snapshot refreshed while requests are in flight still counts their holds:
//! the [`HoldsRegistry`] hands the same one to each), so that a request is admitted only
//! while
//!
//! ```text
//! held + amount ≤ left   where   left = limit − (Kelviq's usage + undelivered units)
//! ```
//!
//! `left` comes from the snapshot the request is judged on (its headroom at the fetch less
//! the usage applied since); `held` from here.
//!
//! # Exact, and scaling with cores
//!
//! Alone, a `Holds` is one number under a lock, `granted`: the units taken from the limit
//! (the lock is a thread's own while one thread at a time uses it, so it costs about an
//! uncontended atomic each way). Every hold and every settle takes it, which is exact and
//! simple. A hot customer on several cores would make them take turns on that lock, so
//! the first time two threads contend for it (or after a few dozen holds) each
//! [stripe](crate::stripes) gets a padded cell: a *room*, units pre-granted to the stripe
//! out of what is left, and *released*, units of settled holds. A hold takes its amount
//! from its stripe's room with one compare-and-swap, a settle adds its whole hold to
//! released (the kept part is in the snapshot's applied usage by then, the rest is free),
//! neither touching the lock. `granted` is then the sum of the rooms, the units held, and
//! released units not yet folded:
//!
//! ```text
//! granted = Σ room + held + Σ released
//! ```
//!
//! A hold that finds too little room takes the lock: it folds released units out of
//! `granted` (kept ones are in the snapshot's applied usage already: the settle applied
//! them first, so a slow path that folds them sees them there), grants from
//! `left − granted`,
//! and, when that is short, takes every stripe's room back (an atomic swap, so that no
//! stripe can hold from a room being taken) and tries again. Each room granted is a small
//! slice of what is left (`left / (2 × stripes)`), so near the limit rooms are empty and
//! every hold is decided exactly under the lock. Usage that arrives outside a hold (a
//! record of the feature, a fleet's sync, a new snapshot) takes the rooms back
//! ([`Holds::revoke`]), since they were sized from a view that no longer holds.
//!
//! Units given back never go to a room: a room is only ever sized by the lock's exact
//! count, so usage that arrived meanwhile is always seen before more is granted. The one
//! approximation errs towards refusing: a released unit not yet folded is still counted
//! in `granted` (a kept one in the snapshot too) for a moment; the next slow path folds
//! it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, TryLockError, Weak};

use crossbeam_utils::CachePadded;
use once_cell::race::OnceBox;
use smol_str::SmolStr;

use crate::stripes;
use crate::sync::lock;

/// How many holds go through the lock before the stripes are made without contention: a
/// customer in steady use gets them, one seen a few times per TTL never does (they cost
/// a padded line per stripe).
const STRIPES_AFTER: u32 = 32;

/// Units reserved on one customer's hard-limited feature. See the module docs.
///
/// Aligned to a cache line pair, as [`CachePadded`] is: a hot customer's holds are read by
/// every core on every request, so no allocation that a core writes may share their line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Holds {
    /// Units taken from the limit: rooms, held units, unfolded spent units.
    granted: Mutex<i64>,
    /// Holds decided under the lock so far, until the stripes exist.
    locked_holds: AtomicU32,
    stripes: OnceBox<Stripes>,
}

/// The cells, behind a pointer read by every hold and settle: aligned as [`Holds`] is.
#[derive(Debug)]
#[repr(align(128))]
struct Stripes {
    cells: Box<[CachePadded<Cell>]>,
}

#[derive(Debug, Default)]
struct Cell {
    /// Units pre-granted to this stripe and not held.
    room: AtomicI64,
    /// Units of holds settled on this stripe, still counted in `granted`.
    released: AtomicI64,
}

impl Stripes {
    fn new() -> Box<Stripes> {
        Box::new(Stripes {
            cells: (0..stripes::count())
                .map(|_| CachePadded::default())
                .collect(),
        })
    }

    fn current(&self) -> Option<&Cell> {
        self.cells.get(stripes::current()).map(|cell| &**cell)
    }
}

impl Holds {
    /// Holds between `at_least` and `want` units (as many as the limit allows), if at
    /// least `max(at_least, 1)` are left: a request at the limit is refused whatever its
    /// amount. `left` computes the units the limit leaves on the caller's snapshot
    /// (`headroom − applied usage`); it is read after released units are folded. Returns the
    /// units held, or `None` (refused).
    pub(crate) fn hold(&self, at_least: i64, want: i64, left: impl Fn() -> i64) -> Option<i64> {
        let at_least = at_least.max(0);
        let want = want.max(at_least);
        if let Some(stripes) = self.stripes.get()
            && let Some(cell) = stripes.current()
            && take_room(&cell.room, want)
        {
            return Some(want);
        }
        let mut granted = match self.granted.try_lock() {
            Ok(granted) => granted,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                self.stripes.get_or_init(Stripes::new);
                lock(&self.granted)
            }
        };
        if self.stripes.get().is_none()
            && self.locked_holds.fetch_add(1, Ordering::Relaxed) >= STRIPES_AFTER
        {
            self.stripes.get_or_init(Stripes::new);
        }
        let stripes = self.stripes.get();
        if let Some(stripes) = stripes {
            let released = stripes.cells.iter().fold(0i64, |sum, cell| {
                sum.saturating_add(cell.released.swap(0, Ordering::SeqCst))
            });
            *granted = granted.saturating_sub(released);
        }
        let need = at_least.max(1);
        let mut available = left().saturating_sub(*granted);
        if available < want.max(1)
            && let Some(stripes) = stripes
        {
            let rooms = stripes.cells.iter().fold(0i64, |sum, cell| {
                sum.saturating_add(cell.room.swap(0, Ordering::SeqCst))
            });
            *granted = granted.saturating_sub(rooms);
            available = left().saturating_sub(*granted);
        }
        if available < need {
            return None;
        }
        let held = want.min(available);
        *granted = granted.saturating_add(held);
        if let Some(stripes) = stripes
            && let Some(cell) = stripes.current()
        {
            let slice = available.saturating_sub(held)
                / i64::try_from(stripes.cells.len().saturating_mul(2))
                    .unwrap_or(i64::MAX)
                    .max(1);
            if slice > 0 {
                cell.room.fetch_add(slice, Ordering::SeqCst);
                *granted = granted.saturating_add(slice);
            }
        }
        Some(held)
    }

    /// Settles a hold of `held` units: the units the request kept are usage now (the
    /// caller applied them to the snapshot first), the rest is free again.
    pub(crate) fn settle(&self, held: i64) {
        let held = held.max(0);
        if held == 0 {
            return;
        }
        if let Some(stripes) = self.stripes.get()
            && let Some(cell) = stripes.current()
        {
            cell.released.fetch_add(held, Ordering::SeqCst);
            return;
        }
        let mut granted = lock(&self.granted);
        *granted = granted.saturating_sub(held);
    }

    /// Takes every stripe's room back: usage arrived outside a hold, or a new snapshot
    /// changed what is left, so rooms sized from the old view may be too large.
    pub(crate) fn revoke(&self) {
        let Some(stripes) = self.stripes.get() else {
            return;
        };
        let mut granted = lock(&self.granted);
        let rooms = stripes.cells.iter().fold(0i64, |sum, cell| {
            sum.saturating_add(cell.room.swap(0, Ordering::SeqCst))
        });
        *granted = granted.saturating_sub(rooms);
    }

    /// Holds whose stripes exist from the start (as for a hot customer).
    #[cfg(test)]
    pub(crate) fn striped() -> Holds {
        let holds = Holds::default();
        holds.stripes.get_or_init(Stripes::new);
        holds
    }

    /// Units held by requests in flight now (a moment's view): what the quota headers and
    /// problem details count as taken besides the usage. One uncontended lock and a read of
    /// each stripe.
    pub(crate) fn held(&self) -> i64 {
        let granted = *lock(&self.granted);
        let Some(stripes) = self.stripes.get() else {
            return granted;
        };
        stripes
            .cells
            .iter()
            .fold(granted, |held, cell| {
                held.saturating_sub(cell.room.load(Ordering::SeqCst))
                    .saturating_sub(cell.released.load(Ordering::SeqCst))
            })
            .max(0)
    }
}

/// Takes `want` units from `room` if it has them (`max(want, 1)`: a room of 0 holds
/// nothing, not even a hold of 0).
fn take_room(room: &AtomicI64, want: i64) -> bool {
    room.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |units| {
        (units >= want.max(1)).then(|| units.saturating_sub(want))
    })
    .is_ok()
}

/// Every customer's [`Holds`], per hard-limited feature: what gives each new snapshot of a
/// customer the same holds as the last. Weak references: holds live as long as a snapshot
/// or a request refers to them, and the map is swept of dead ones as it doubles.
#[derive(Debug, Default)]
pub(crate) struct HoldsRegistry {
    map: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    customers: HashMap<SmolStr, Vec<(SmolStr, Weak<Holds>)>, foldhash::fast::RandomState>,
    /// The size at which the next sweep runs.
    sweep_at: usize,
}

/// The least size the registry is swept at.
const MIN_SWEEP: usize = 1024;

impl HoldsRegistry {
    /// The holds of a customer's feature: the live ones, or new ones.
    pub(crate) fn of(&self, customer_id: &str, feature_id: &str) -> Arc<Holds> {
        let mut registry = lock(&self.map);
        if registry.customers.len() >= registry.sweep_at.max(MIN_SWEEP) {
            registry.sweep();
        }
        let features = registry
            .customers
            .entry(SmolStr::new(customer_id))
            .or_default();
        if let Some(holds) = features
            .iter()
            .find(|(feature, _)| feature == feature_id)
            .and_then(|(_, holds)| holds.upgrade())
        {
            return holds;
        }
        let holds = Arc::new(Holds::default());
        features.retain(|(feature, holds)| feature != feature_id && holds.strong_count() > 0);
        features.push((SmolStr::new(feature_id), Arc::downgrade(&holds)));
        holds
    }

    /// Takes back the rooms of every live hold of the customer (a new snapshot of it).
    pub(crate) fn revoke(&self, customer_id: &str) {
        let live: Vec<Arc<Holds>> = lock(&self.map)
            .customers
            .get(customer_id)
            .into_iter()
            .flatten()
            .filter_map(|(_, holds)| holds.upgrade())
            .collect();
        for holds in live {
            holds.revoke();
        }
    }

    /// How many customers the registry keeps an entry for.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.map).customers.len()
    }
}

impl Registry {
    /// Drops the entries no snapshot or request refers to any more.
    fn sweep(&mut self) {
        self.customers.retain(|_, features| {
            features.retain(|(_, holds)| holds.strong_count() > 0);
            !features.is_empty()
        });
        self.sweep_at = self.customers.len().saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    #[test]
    fn holds_are_exact_alone_and_give_back_on_settle() {
        let holds = Holds::default();
        let left = || 3;
        assert_eq!(holds.hold(1, 1, left), Some(1));
        assert_eq!(holds.hold(1, 1, left), Some(1));
        assert_eq!(holds.hold(1, 1, left), Some(1));
        assert_eq!(holds.hold(1, 1, left), None, "3 held of 3");
        assert_eq!(holds.held(), 3);
        holds.settle(1);
        assert_eq!(holds.held(), 2);
        assert_eq!(holds.hold(1, 1, left), Some(1));
        // Partial: up to 10, at least 1, with nothing left.
        assert_eq!(holds.hold(1, 10, left), None);
        holds.settle(3);
        assert_eq!(holds.hold(1, 10, left), Some(3));
        assert_eq!(
            holds.hold(0, 0, left),
            None,
            "at the limit even 0 is refused"
        );
    }

    #[test]
    fn a_kept_unit_moves_from_the_holds_to_the_applied_usage() {
        let holds = Holds::default();
        let applied = AtomicI64::new(0);
        let left = || 5 - applied.load(Ordering::SeqCst);
        assert_eq!(holds.hold(2, 2, left), Some(2));
        applied.fetch_add(2, Ordering::SeqCst);
        holds.settle(2);
        assert_eq!(holds.held(), 0);
        assert_eq!(holds.hold(1, 4, left), Some(3));
        assert_eq!(holds.hold(1, 1, left), None);
    }

    #[test]
    fn striped_holds_never_pass_the_limit_from_many_threads() {
        for limit in [1i64, 3, 50, 1_000] {
            let holds = Arc::new(Holds::default());
            holds.stripes.get_or_init(Stripes::new);
            let applied = Arc::new(AtomicI64::new(0));
            let start = Arc::new(AtomicBool::new(false));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (holds, applied, start) =
                        (Arc::clone(&holds), Arc::clone(&applied), Arc::clone(&start));
                    std::thread::spawn(move || {
                        while !start.load(Ordering::Relaxed) {
                            std::hint::spin_loop();
                        }
                        let mut kept = 0;
                        for i in 0..2_000 {
                            let left = || limit - applied.load(Ordering::SeqCst);
                            if let Some(held) = holds.hold(1, 1, left) {
                                // Every other request fails and gives its unit back.
                                let keep = i64::from(i % 2 == 0) * held;
                                applied.fetch_add(keep, Ordering::SeqCst);
                                holds.settle(held);
                                kept += keep;
                            }
                        }
                        kept
                    })
                })
                .collect();
            start.store(true, Ordering::Relaxed);
            let kept: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(kept, limit.min(8 * 1_000), "limit {limit}");
            assert_eq!(holds.held(), 0);
        }
    }

    /// Units given back after usage arrived outside a hold are not handed out again on the
    /// old view: only the lock's count grants, and it sees the usage.
    #[test]
    fn units_given_back_are_granted_again_only_after_a_recount() {
        for holds in [Holds::default(), Holds::striped()] {
            let applied = AtomicI64::new(0);
            let left = || 10 - applied.load(Ordering::SeqCst);
            assert_eq!(holds.hold(5, 5, left), Some(5));
            applied.fetch_add(8, Ordering::SeqCst);
            holds.revoke();
            holds.settle(5);
            assert_eq!(holds.hold(1, 10, left), Some(2));
            assert_eq!(holds.hold(1, 1, left), None);
        }
    }

    #[test]
    fn revoking_takes_the_rooms_back() {
        let holds = Holds::default();
        holds.stripes.get_or_init(Stripes::new);
        assert_eq!(holds.hold(1, 1, || 1_000), Some(1));
        // The stripe got a room: the next holds take it without the lock.
        assert!(
            holds
                .stripes
                .get()
                .unwrap()
                .current()
                .unwrap()
                .room
                .load(Ordering::SeqCst)
                > 0
        );
        holds.revoke();
        assert_eq!(*lock(&holds.granted), 1);
        // What is left shrank to 1 (usage recorded elsewhere): exactly one more.
        assert_eq!(holds.hold(1, 1, || 2), Some(1));
        assert_eq!(holds.hold(1, 1, || 2), None);
    }

    #[test]
    fn the_registry_shares_live_holds_and_forgets_dead_ones() {
        let registry = HoldsRegistry::default();
        let a = registry.of("c", "f");
        assert!(Arc::ptr_eq(&a, &registry.of("c", "f")));
        assert!(!Arc::ptr_eq(&a, &registry.of("c", "g")));
        drop(a);
        for i in 0..3 * MIN_SWEEP {
            drop(registry.of(&format!("c{i}"), "f"));
        }
        assert!(registry.len() <= 2 * MIN_SWEEP, "{}", registry.len());
    }
}
