//! What the meter's handles and its background task share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::config::MeterConfig;
use super::stats::{Counters, ShutdownReport};
use crate::cache::EntitlementCache;
use crate::http::Transport;

/// State shared by the handles and the background task. It holds the client's transport
/// and cache, not the client, so that the client can own its meter without a cycle.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) transport: Arc<Transport>,
    pub(super) cache: Arc<EntitlementCache>,
    pub(super) config: MeterConfig,
    pub(super) counters: Counters,
    /// Wakes the task for an early flush.
    pub(super) wake: Notify,
    pub(super) closed: AtomicBool,
    /// Set by a shutdown: no report starts, and none lasts, past it.
    pub(super) deadline: Mutex<Option<Instant>>,
}

impl Shared {
    pub(super) fn new(
        transport: Arc<Transport>,
        cache: Arc<EntitlementCache>,
        config: MeterConfig,
    ) -> Self {
        Shared {
            transport,
            cache,
            config,
            counters: Counters::default(),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            deadline: Mutex::new(None),
        }
    }

    /// The shutdown deadline, once a shutdown started.
    pub(super) fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops taking usage and reports what is left.
    pub(super) fn close(&self) -> ShutdownReport {
        let (waiting, (unsent, unsent_events)) = {
            let mut pending = self.cache.ledger().lock();
            // Set under the ledger's lock: `record` checks it under the same lock.
            self.closed.store(true, Ordering::SeqCst);
            (pending.units(), pending.drain())
        };
        ShutdownReport {
            unsent,
            unsent_events,
            unknown: Counters::lines(&self.counters.unknown_lines),
            failed: Counters::lines(&self.counters.failed_lines),
            stats: self.counters.snapshot(waiting),
        }
    }
}
