//! Per-thread stripes: how the request path avoids writing memory that every core writes.
//!
//! State written on every request (usage recorded, usage applied to a hot customer's
//! snapshot) is split into a few stripes, and each thread writes its own: two cores never
//! fight over one cache line, and a lock a thread takes is, in practice, its own. Readers
//! (the meter's background task, a limit check) sum the stripes.
//!
//! The count is the machine's parallelism rounded up to a power of two, doubled (threads
//! outnumber cores in most runtimes), at most [`MAX_STRIPES`]; a thread gets its stripe
//! round-robin the first time it asks, and keeps it.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most stripes, whatever the machine.
pub(crate) const MAX_STRIPES: usize = 256;

/// How many stripes (a power of two, at least 2).
pub(crate) fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .saturating_mul(2)
            .checked_next_power_of_two()
            .unwrap_or(MAX_STRIPES)
            .clamp(2, MAX_STRIPES)
    })
}

/// The calling thread's stripe, below [`count`].
pub(crate) fn current() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<Option<usize>> = const { Cell::new(None) };
    }
    let stripe = STRIPE.with(|stripe| match stripe.get() {
        Some(index) => index,
        None => {
            let index = NEXT.fetch_add(1, Ordering::Relaxed);
            stripe.set(Some(index));
            index
        }
    });
    // `count` is a power of two.
    stripe & (count() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_spread_over_stripes_and_keep_theirs() {
        assert!(count().is_power_of_two() && count() >= 2);
        let mine = current();
        assert_eq!(current(), mine);
        let others: Vec<usize> = (0..count())
            .map(|_| std::thread::spawn(current).join().unwrap())
            .collect();
        assert!(others.iter().all(|&stripe| stripe < count()));
        // Round-robin: `count` threads in a row cover every stripe.
        let mut seen = others.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), count());
    }
}
