//! Locking that survives a panic: the one way this crate takes a `std::sync::Mutex`.
//!
//! A thread that panics while holding a lock poisons it. Every lock here guards state that
//! each critical section leaves consistent (counters, queues, maps updated in one step), and
//! the state is usage and cache bookkeeping that must keep working for the other requests:
//! so a poisoned lock is taken as it is rather than turned into a second panic.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
