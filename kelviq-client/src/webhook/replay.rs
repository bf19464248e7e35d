//! [`ReplayGuard`]: remembers the `webhook-id`s of recent deliveries, so that the same
//! delivery is handled once.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::{Webhook, WebhookEvent};
use crate::sync::lock;

/// How many delivery ids a [`ReplayGuard`] remembers by default.
pub const DEFAULT_REPLAY_CAPACITY: usize = 10_000;

/// Why [`ReplayGuard::claim`] refused a delivery: its `webhook-id` was seen before, within
/// the window in which the verifier would still accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Duplicate {
    /// A delivery with this id was handled successfully.
    #[error("this webhook delivery was already processed")]
    Processed,
    /// A delivery with this id is being handled right now (its handler has not finished).
    #[error("this webhook delivery is being processed")]
    InProgress,
}

/// Refuses a second delivery of the same `webhook-id` while the verifier would still
/// accept it: an in-memory, bounded record of recent delivery ids.
///
/// A verified delivery cannot be replayed once its timestamp is out of the verifier's
/// [tolerance](Webhook::tolerance) (5 minutes by default), but within it, anyone who
/// captured one (a log, a proxy) can send it again and it verifies. The guard closes that
/// window: [`claim`](Self::claim) an event after verifying it, run the handler, then mark
/// the claim [`processed`](ReplayClaim::processed) on success or drop it on failure.
///
/// - **Only verified deliveries are recorded**, so a forger cannot fill the guard or block
///   a real delivery by sending its id first.
/// - **A failed delivery can be retried**: a claim dropped without
///   [`processed`](ReplayClaim::processed) (the handler failed, panicked or was cancelled)
///   forgets the id, so the sender's retry is handled. While a claim is held, the same id
///   is [`Duplicate::InProgress`]; once processed, [`Duplicate::Processed`].
/// - **How long an id is remembered**: until the verifier would refuse the delivery's
///   timestamp anyway (timestamp + tolerance, plus one second), measured on tokio's clock
///   from the claim; at most twice the tolerance. With the timestamp check
///   [disabled](Webhook::disable_timestamp_check), until evicted (next point).
/// - **Bounded**: at most `capacity` ids ([`DEFAULT_REPLAY_CAPACITY`] by default). At the
///   cap, expired ids go first; if every id is still live, the **oldest** is forgotten
///   (logged at `warn`) and the new delivery is accepted: only the sender's real
///   deliveries can fill the guard, so the policy keeps the endpoint available and the
///   most recent deliveries protected. Size the cap above the number of deliveries you
///   expect within twice the tolerance.
///
/// The record is per process: behind a load balancer with several instances, a replay
/// that reaches another instance is not recognised.
///
/// Cheap to clone (an `Arc` inside): clones share one record.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::{SystemTime, UNIX_EPOCH};
///
/// use kelviq_client::webhook::{self, Duplicate, ReplayGuard, Webhook};
///
/// let verifier = Webhook::new("whsec_test")?;
/// let guard = ReplayGuard::new(1_000);
/// let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs().to_string();
/// let body = br#"{"type":"subscription.updated"}"#;
/// let signature = webhook::sign("whsec_test", "msg_1", &now, body);
///
/// let event = verifier.verify_parts("msg_1", &now, &signature, body)?;
/// let claim = guard.claim(&event, &verifier)?;
/// // ... handle the event; on success:
/// claim.processed();
///
/// // The same delivery again, within the tolerance: verified, but refused by the guard.
/// let again = verifier.verify_parts("msg_1", &now, &signature, body)?;
/// assert_eq!(guard.claim(&again, &verifier).unwrap_err(), Duplicate::Processed);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ReplayGuard {
    seen: Arc<Mutex<Seen>>,
}

impl Default for ReplayGuard {
    /// A guard for [`DEFAULT_REPLAY_CAPACITY`] ids.
    fn default() -> Self {
        ReplayGuard::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seen = lock(&self.seen);
        f.debug_struct("ReplayGuard")
            .field("capacity", &seen.capacity)
            .field("ids", &seen.entries.len())
            .finish()
    }
}

impl ReplayGuard {
    /// A guard that remembers at most `capacity` delivery ids (at least 1: `0` is taken
    /// as 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        ReplayGuard {
            seen: Arc::new(Mutex::new(Seen {
                capacity: capacity.max(1),
                next_generation: 0,
                entries: HashMap::new(),
                order: VecDeque::new(),
            })),
        }
    }

    /// How many ids the guard remembers at most.
    pub fn capacity(&self) -> usize {
        lock(&self.seen).capacity
    }

    /// How many ids the guard remembers now (claimed or processed, not yet expired).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        lock(&self.seen)
            .entries
            .values()
            .filter(|entry| !entry.expired(now))
            .count()
    }

    /// Whether the guard remembers no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims a delivery that `verifier` accepted: the first claim of its
    /// [`id`](WebhookEvent::id) within the window wins; mark it
    /// [`processed`](ReplayClaim::processed) once handled, or drop it to let a retry in.
    ///
    /// # Errors
    ///
    /// [`Duplicate::Processed`] if a delivery with this id was processed within the
    /// window, [`Duplicate::InProgress`] if one is being handled.
    pub fn claim(
        &self,
        event: &WebhookEvent,
        verifier: &Webhook,
    ) -> Result<ReplayClaim, Duplicate> {
        let remember_for = verifier
            .timestamp_tolerance()
            .map(|tolerance| window(event.unix_timestamp(), SystemTime::now(), tolerance));
        self.claim_id(event.id(), remember_for)
    }

    /// Claims `id`, remembered for `remember_for` (`None`: until evicted).
    fn claim_id(&self, id: &str, remember_for: Option<Duration>) -> Result<ReplayClaim, Duplicate> {
        let now = Instant::now();
        let expires = remember_for.and_then(|duration| now.checked_add(duration));
        let mut seen = lock(&self.seen);
        if let Some(entry) = seen.entries.get(id).filter(|entry| !entry.expired(now)) {
            return Err(match entry.state {
                State::InProgress => Duplicate::InProgress,
                State::Processed => Duplicate::Processed,
            });
        }
        seen.make_room(now);
        let generation = seen.next_generation;
        seen.next_generation = seen.next_generation.wrapping_add(1);
        seen.entries.insert(
            id.to_owned(),
            Entry {
                generation,
                expires,
                state: State::InProgress,
            },
        );
        seen.order.push_back((generation, id.to_owned()));
        Ok(ReplayClaim {
            seen: Arc::clone(&self.seen),
            id: id.to_owned(),
            generation,
            settled: false,
        })
    }
}

/// How long to remember a delivery signed at `timestamp` (unix seconds), verified at `now`:
/// until the verifier would refuse it anyway, `timestamp + tolerance`, plus a second for
/// the verifier's whole-second rounding; between 1 s and twice the tolerance plus 1 s.
fn window(timestamp: u64, now: SystemTime, tolerance: Duration) -> Duration {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| i128::from(since.as_secs()));
    let tolerance = i128::from(tolerance.as_secs());
    let remaining = i128::from(timestamp) + tolerance + 1 - now;
    let remaining = remaining.clamp(1, 2 * tolerance + 1);
    Duration::from_secs(u64::try_from(remaining).unwrap_or(u64::MAX))
}

/// A delivery id held by one handler: mark it [`processed`](Self::processed) once the
/// delivery is handled; dropping it instead forgets the id, so that the sender's retry is
/// handled.
#[must_use = "dropping the claim forgets the delivery id at once"]
pub struct ReplayClaim {
    seen: Arc<Mutex<Seen>>,
    id: String,
    generation: u64,
    settled: bool,
}

impl fmt::Debug for ReplayClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayClaim")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ReplayClaim {
    /// The delivery id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The delivery was handled: the same id is now [`Duplicate::Processed`] until its
    /// window ends.
    pub fn processed(mut self) {
        self.settled = true;
        let mut seen = lock(&self.seen);
        if let Some(entry) = seen.entries.get_mut(&self.id)
            && entry.generation == self.generation
        {
            entry.state = State::Processed;
        }
    }

    /// The delivery was not handled: forget the id, so that a retry is handled. The same
    /// as dropping the claim.
    pub fn release(self) {}
}

impl Drop for ReplayClaim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut seen = lock(&self.seen);
        if seen
            .entries
            .get(&self.id)
            .is_some_and(|entry| entry.generation == self.generation)
        {
            seen.entries.remove(&self.id);
        }
    }
}

/// The record: each live id has one entry and one `order` item with the same generation;
/// `order` may also hold stale items of released or replaced ids. `order.len()` never
/// exceeds `capacity`, so neither does `entries.len()`.
struct Seen {
    capacity: usize,
    next_generation: u64,
    entries: HashMap<String, Entry>,
    /// Claim order, oldest first.
    order: VecDeque<(u64, String)>,
}

struct Entry {
    generation: u64,
    expires: Option<Instant>,
    state: State,
}

#[derive(Clone, Copy)]
enum State {
    InProgress,
    Processed,
}

impl Entry {
    fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }
}

impl Seen {
    /// Whether the `order` item `(generation, id)` is the live one of its id.
    fn is_live(&self, generation: u64, id: &str, now: Instant) -> bool {
        self.entries
            .get(id)
            .is_some_and(|entry| entry.generation == generation && !entry.expired(now))
    }

    /// Makes room for one more id: drops expired and stale items from the front, then, at
    /// the cap, everywhere, and then forgets the oldest live ids.
    fn make_room(&mut self, now: Instant) {
        while let Some((generation, id)) = self.order.front() {
            if self.is_live(*generation, id, now) {
                break;
            }
            self.forget_front();
        }
        if self.order.len() < self.capacity {
            return;
        }
        let Seen { entries, order, .. } = self;
        entries.retain(|_, entry| !entry.expired(now));
        order.retain(|(generation, id)| {
            entries
                .get(id)
                .is_some_and(|entry| entry.generation == *generation)
        });
        let mut evicted = 0_usize;
        while self.order.len() >= self.capacity {
            self.forget_front();
            evicted = evicted.saturating_add(1);
        }
        if evicted > 0 {
            tracing::warn!(
                capacity = self.capacity,
                evicted,
                "kelviq webhook replay guard full: the oldest delivery ids are forgotten"
            );
        }
    }

    /// Pops the oldest `order` item and, if it is its id's current one, the id's entry.
    fn forget_front(&mut self) {
        if let Some((generation, id)) = self.order.pop_front()
            && self
                .entries
                .get(&id)
                .is_some_and(|entry| entry.generation == generation)
        {
            self.entries.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Option<Duration> = Some(Duration::from_secs(60));

    #[tokio::test(start_paused = true)]
    async fn an_id_is_refused_within_its_window_and_accepted_after() {
        let guard = ReplayGuard::new(10);
        guard.claim_id("a", WINDOW).unwrap().processed();
        assert_eq!(
            guard.claim_id("a", WINDOW).unwrap_err(),
            Duplicate::Processed
        );
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            guard.claim_id("a", WINDOW).unwrap_err(),
            Duplicate::Processed
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(guard.is_empty());
        guard.claim_id("a", WINDOW).unwrap().processed();
        assert_eq!(guard.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_in_progress_refuses_the_same_id_and_a_dropped_one_lets_it_in() {
        let guard = ReplayGuard::new(10);
        let claim = guard.claim_id("a", WINDOW).unwrap();
        assert_eq!(claim.id(), "a");
        assert_eq!(
            guard.claim_id("a", WINDOW).unwrap_err(),
            Duplicate::InProgress
        );
        drop(claim);
        assert!(guard.is_empty());
        let retry = guard.claim_id("a", WINDOW).unwrap();
        retry.release();
        guard.claim_id("a", WINDOW).unwrap().processed();
        assert_eq!(
            guard.claim_id("a", WINDOW).unwrap_err(),
            Duplicate::Processed
        );
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_expired_ids_go_first_then_the_oldest() {
        let guard = ReplayGuard::new(3);
        guard
            .claim_id("short", Some(Duration::from_secs(1)))
            .unwrap()
            .processed();
        guard.claim_id("b", WINDOW).unwrap().processed();
        guard.claim_id("c", WINDOW).unwrap().processed();
        tokio::time::advance(Duration::from_secs(2)).await;
        guard.claim_id("d", WINDOW).unwrap().processed();
        for id in ["b", "c", "d"] {
            assert_eq!(
                guard.claim_id(id, WINDOW).unwrap_err(),
                Duplicate::Processed
            );
        }
        // Full of live ids: the oldest, b, is forgotten.
        guard.claim_id("e", WINDOW).unwrap().processed();
        assert_eq!(guard.len(), 3);
        for id in ["c", "d", "e"] {
            assert_eq!(
                guard.claim_id(id, WINDOW).unwrap_err(),
                Duplicate::Processed
            );
        }
        guard.claim_id("b", WINDOW).unwrap().processed();
    }

    #[tokio::test(start_paused = true)]
    async fn released_claims_never_grow_the_record_past_the_cap() {
        let guard = ReplayGuard::new(4);
        guard.claim_id("kept", None).unwrap().processed();
        for _ in 0..1_000 {
            drop(guard.claim_id("failing", WINDOW).unwrap());
        }
        for id in 0..1_000 {
            guard.claim_id(&id.to_string(), None).unwrap().processed();
            let seen = lock(&guard.seen);
            assert!(seen.order.len() <= 4 && seen.entries.len() <= 4);
        }
        assert_eq!(guard.len(), 4);
        assert_eq!(guard.capacity(), 4);
        assert_eq!(ReplayGuard::new(0).capacity(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_forgotten_at_the_cap_settles_without_effect() {
        let guard = ReplayGuard::new(1);
        let old = guard.claim_id("a", WINDOW).unwrap();
        guard.claim_id("b", WINDOW).unwrap().processed();
        old.processed();
        assert_eq!(guard.len(), 1);
        guard.claim_id("a", WINDOW).unwrap().processed();
    }

    #[test]
    fn the_window_ends_when_the_verifier_would_refuse_the_timestamp() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let tolerance = Duration::from_secs(300);
        let secs = |s: u64| Duration::from_secs(s);
        assert_eq!(window(1_000_000, now, tolerance), secs(301));
        assert_eq!(window(1_000_000 - 300, now, tolerance), secs(1));
        assert_eq!(window(1_000_000 + 300, now, tolerance), secs(601));
        assert_eq!(window(0, now, tolerance), secs(1));
        assert_eq!(window(u64::MAX, now, tolerance), secs(601));
        assert_eq!(
            window(5, now, Duration::MAX),
            Duration::from_secs(u64::MAX - 999_994)
        );
    }
}
