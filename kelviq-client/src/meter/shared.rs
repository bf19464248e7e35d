//! What the meter's handles and its background task share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;
use tokio::time::Instant;

use super::config::MeterConfig;
use super::pacer::Pacer;
use super::stats::{Counters, MeterStats, ShutdownReport};
use crate::cache::EntitlementCache;
use crate::http::Transport;
use crate::tier::SharedTier;
use crate::usage::UsageLedger;

/// State shared by the handles and the background task. It holds the client's transport,
/// cache, usage ledger and shared tier, not the client, so that the client can own its
/// meter without a cycle. The shared tier works with the ledger, counters and settings
/// when the meter hands its usage off.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(super) transport: Arc<Transport>,
    /// Where records apply at once (the customer's cached snapshot).
    pub(super) cache: Arc<EntitlementCache>,
    /// Where records go, and what the task drains.
    pub(crate) ledger: Arc<UsageLedger>,
    /// The other instances the usage may be handed to ([`SharedTier::hand_off`]).
    pub(super) tier: Arc<dyn SharedTier>,
    pub(crate) config: MeterConfig,
    pub(crate) counters: Counters,
    /// The report budget.
    pub(super) pacer: Pacer,
    pub(super) closed: AtomicBool,
    /// Set by a shutdown: no report starts, and none lasts, past it. A watch, so that
    /// reports already in flight when the shutdown comes are cut at its deadline too.
    pub(super) deadline: watch::Sender<Option<Instant>>,
}

impl Shared {
    pub(super) fn new(
        transport: Arc<Transport>,
        cache: Arc<EntitlementCache>,
        ledger: Arc<UsageLedger>,
        tier: Arc<dyn SharedTier>,
        config: MeterConfig,
    ) -> Self {
        Shared {
            transport,
            cache,
            ledger,
            tier,
            pacer: Pacer::new(config.max_reports_per_second),
            config,
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            deadline: watch::Sender::new(None),
        }
    }

    /// The shutdown deadline, once a shutdown started.
    pub(super) fn deadline(&self) -> Option<Instant> {
        *self.deadline.borrow()
    }

    /// Sets the shutdown deadline (an earlier one stays).
    pub(super) fn set_deadline(&self, deadline: Instant) {
        self.deadline.send_modify(|current| {
            *current = Some(current.map_or(deadline, |current| current.min(deadline)));
        });
    }

    /// Resolves once a shutdown deadline is set and reached; never otherwise.
    pub(super) async fn deadline_reached(&self) {
        let mut deadline = self.deadline.subscribe();
        loop {
            let current = *deadline.borrow_and_update();
            match current {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => return,
                        changed = deadline.changed() => if changed.is_err() {
                            tokio::time::sleep_until(at).await;
                            return;
                        },
                    }
                }
                None => {
                    if deadline.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }

    /// Whether the background task ended without a shutdown.
    pub(super) fn stopped(&self) -> bool {
        self.counters.stopped.load(Ordering::SeqCst)
    }

    /// The task ended without a shutdown (a panic, or its runtime stopped): records fail
    /// from now on, and units that were in flight — sent or not, nobody knows — count as
    /// unknown, so that the units still balance.
    pub(super) fn stop(&self) {
        let backlog = self.ledger.backlog();
        if self.closed.load(Ordering::SeqCst) || self.stopped() {
            return;
        }
        let queued_events = backlog.events();
        self.counters.stopped.store(true, Ordering::SeqCst);
        // Events in flight were lost with the task: given up.
        let queued = u64::try_from(queued_events).unwrap_or(u64::MAX);
        let lost_events = self.counters.events_pending().saturating_sub(queued);
        self.counters
            .events_failed
            .fetch_add(lost_events, Ordering::Relaxed);
        let mut lost = 0;
        self.counters.units(|units| {
            lost = units.in_flight;
            units.unknown = units.unknown.saturating_add(units.in_flight);
            units.in_flight = 0;
        });
        crate::telemetry::meter_lost(lost);
        tracing::error!(
            units_in_flight = %lost,
            events_in_flight = lost_events,
            "usage meter's background task stopped unexpectedly; records now fail \
             (units in flight counted unknown, pending units kept for the shutdown report)"
        );
    }

    /// Stops taking usage and reports what is left.
    pub(super) fn close(&self) -> ShutdownReport {
        let mut ledger = self.ledger.lock_all();
        // Set under the ledger's locks: records check it under one of them.
        self.closed.store(true, Ordering::SeqCst);
        let stats = self.counters.snapshot(&ledger);
        let (unsent, unsent_events) = ledger.drain();
        drop(ledger);
        ShutdownReport {
            unsent,
            unsent_events,
            unknown: Counters::lines(&self.counters.unknown_lines),
            failed: Counters::lines(&self.counters.failed_lines),
            stats: MeterStats {
                pending_keys: 0,
                ..stats
            },
        }
    }
}
