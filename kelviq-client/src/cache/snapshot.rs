//! A customer's entitlements as cached, and how fresh they are.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use smol_str::SmolStr;

use super::slot::{Matches, Slot};
use super::stored::StoredEntitlement;
use crate::error::Error;
use crate::models::{Entitlement, Entitlements, FeatureIndex};
use once_cell::race::OnceBox;

use crate::usage::{Holds, HoldsRegistry};

/// All of a customer's entitlements at one moment, shared between every check that reads
/// them, plus the usage this process reported since.
///
/// Reported usage is kept beside the fetched entitlements, one counter per feature (an
/// atomic, spread over per-thread stripes when threads contend), so that applying it and
/// checking access never copy the snapshot nor make cores fight over one cache line. A
/// check reads one small slot per feature tried (the id's first bytes, the answer the
/// fetched entitlement gives, the counter), not the entitlements themselves, which are
/// kept packed (`stored.rs`) and rebuilt when asked for.
#[derive(Debug)]
pub struct Snapshot {
    customer_id: SmolStr,
    /// One per feature, in the order Kelviq sent them: together, so that a check trying
    /// several features reads a line or two.
    slots: Box<[Slot]>,
    /// The features' entitlements as fetched, packed, in the same order.
    stored: Box<[StoredEntitlement]>,
    /// For customers with many features.
    index: Option<Box<FeatureIndex>>,
    fetched_at: Instant,
    /// Made in code by a gate's fallback, not fetched from Kelviq.
    fallback: bool,
    /// The customer's holds on each hard-limited feature, by position (shared with the
    /// customer's other snapshots): allocated at the first hold on this snapshot, so a
    /// snapshot no gate holds on costs a pointer.
    holds: OnceBox<Vec<OnceLock<Arc<Holds>>>>,
    /// The earliest usage reset of a hard-limited feature, in whole seconds after
    /// `fetched_at` (rounded up): when a limit reached on this snapshot may have reopened.
    reset_after: Option<NonZeroU32>,
    /// [`RESET_RELOADED`], [`SUPERSEDED`].
    flags: AtomicU8,
}

/// A load was started because the reset passed (one per snapshot).
const RESET_RELOADED: u8 = 1;
/// A newer snapshot of the customer replaced this one in the cache.
const SUPERSEDED: u8 = 1 << 1;

/// A hard-limited feature's quota as a snapshot counts it ([`Snapshot::quota_counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuotaCounts {
    pub(crate) limit: i64,
    /// Kelviq's usage at the fetch plus the usage applied since.
    pub(crate) used: i64,
    /// Units held by requests in flight.
    pub(crate) held: i64,
    pub(crate) reset_at: Option<jiff::Timestamp>,
}

/// A snapshot's hard-limited feature (its position), as [`Snapshot::hard_feature`] found
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HardRef(usize);

/// One feature of a snapshot: its slot, and its entitlement as fetched.
#[derive(Debug, Clone, Copy)]
struct Feature<'a> {
    slot: &'a Slot,
    stored: &'a StoredEntitlement,
}

impl Feature<'_> {
    /// The entitlement as fetched, with the usage applied since.
    fn applied(self) -> Entitlement {
        let mut entitlement = self.stored.rebuild();
        let delta = self.slot.applied.get();
        if delta != 0 {
            entitlement.apply_usage(delta, false);
        }
        entitlement
    }
}

impl Snapshot {
    /// A snapshot of `entitlements` as aggregated from Kelviq's entries
    /// ([`Entitlements::from_raw`]): the stored form keeps the entries and aggregates them
    /// again when asked, so usage applied to `entitlements` beforehand would not be kept
    /// (usage applied since is kept beside, in the slots).
    pub(crate) fn new(entitlements: Entitlements) -> Self {
        let (customer_id, features, index) = entitlements.into_parts();
        let slots: Box<[Slot]> = features.iter().map(Slot::new).collect();
        let reset_after = next_reset(&features, &slots);
        // A new allocation of the packed size: collecting from the features' own vector
        // would reuse (and keep) their larger one.
        let mut stored = Vec::with_capacity(features.len());
        stored.extend(features.into_vec().into_iter().map(StoredEntitlement::new));
        let stored = stored.into_boxed_slice();
        Snapshot {
            customer_id,
            slots,
            stored,
            index,
            fetched_at: Instant::now(),
            fallback: false,
            holds: OnceBox::new(),
            reset_after,
            flags: AtomicU8::new(0),
        }
    }

    /// A snapshot of entitlements fetched at `fetched_at` (earlier than now: by another
    /// instance of a fleet, which shared them), so that it ages from its fetch.
    pub(crate) fn fetched_at_time(entitlements: Entitlements, fetched_at: Instant) -> Self {
        let snapshot = Snapshot::new(entitlements);
        let fetched_at = fetched_at.min(snapshot.fetched_at);
        // The reset is counted from now: from the fetch, it is that much later.
        let age = snapshot
            .fetched_at
            .saturating_duration_since(fetched_at)
            .as_secs();
        let age = u32::try_from(age).unwrap_or(u32::MAX);
        Snapshot {
            fetched_at,
            reset_after: snapshot
                .reset_after
                .and_then(|after| NonZeroU32::new(after.get().saturating_add(age))),
            ..snapshot
        }
    }

    /// A snapshot of entitlements configured in code, answered while Kelviq cannot be
    /// reached ([`Fallback`](crate::gate::Fallback)).
    pub(crate) fn fallback(entitlements: Entitlements) -> Self {
        Snapshot {
            fallback: true,
            ..Snapshot::new(entitlements)
        }
    }

    /// Whether these entitlements come from a gate's fallback, configured in code, rather
    /// than from Kelviq: decisions made on them are degraded.
    pub fn is_fallback(&self) -> bool {
        self.fallback
    }

    /// A feature's slot and stored entitlement: found by the slots' inline ids (a whole
    /// compare only for ids longer than a slot keeps), or by the snapshot's index for a
    /// customer with many features.
    fn feature(&self, feature_id: &str) -> Option<Feature<'_>> {
        self.feature_at(self.position(feature_id)?)
    }

    /// The feature at a position.
    fn feature_at(&self, position: usize) -> Option<Feature<'_>> {
        Some(Feature {
            slot: self.slots.get(position)?,
            stored: self.stored.get(position)?,
        })
    }

    /// A feature's position: found by the slots' inline ids (a whole compare only for ids
    /// longer than a slot keeps), or by the snapshot's index for a customer with many
    /// features.
    fn position(&self, feature_id: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.position(feature_id),
            None => self
                .slots
                .iter()
                .enumerate()
                .find(|(position, slot)| match slot.matches(feature_id) {
                    Matches::Yes => true,
                    Matches::No => false,
                    Matches::Maybe => self
                        .stored
                        .get(*position)
                        .is_some_and(|stored| stored.id() == feature_id),
                })
                .map(|(position, _)| position),
        }
    }

    /// Every feature, in order.
    fn features(&self) -> impl Iterator<Item = Feature<'_>> {
        self.slots
            .iter()
            .zip(&self.stored)
            .map(|(slot, stored)| Feature { slot, stored })
    }

    /// The customer id, inline when short, else shared (the cache keys the snapshot by
    /// it).
    pub(crate) fn shared_customer_id(&self) -> &SmolStr {
        &self.customer_id
    }

    /// The customer these entitlements belong to.
    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }

    /// Applies usage reported by this process: `set` replaces the usage, else `value` is
    /// added. Only metered and customizable features count usage.
    pub(crate) fn apply_usage(&self, feature_id: &str, value: i64, set: bool) {
        let Some(position) = self.position(feature_id) else {
            return;
        };
        let Some(Feature { slot, stored }) = self.feature_at(position) else {
            return;
        };
        if !slot.counts_usage() {
            return;
        }
        if set {
            let fetched = stored.with(|entitlement| entitlement.usage().unwrap_or(0));
            slot.applied.set(value.saturating_sub(fetched));
        } else {
            // Saturating: a huge amount pins the usage at a bound (a hard limit then denies)
            // instead of wrapping round to a small or negative usage.
            slot.applied.add(value, slot.hard_headroom());
        }
        // Usage that arrived outside a hold: rooms granted on the old view may be too large.
        if (set || value > 0)
            && let Some(holds) = self.holds_at(position)
        {
            holds.revoke();
        }
    }

    /// The hard-limited feature `feature_id`, if a hard limit decides it and the fetch
    /// granted it access or found the limit reached: where a request holds its units.
    pub(crate) fn hard_feature(&self, feature_id: &str) -> Option<HardRef> {
        let position = self.position(feature_id)?;
        self.slots.get(position)?.holdable_headroom()?;
        Some(HardRef(position))
    }

    /// The customer's holds on the feature at `position`, if a hold on this snapshot
    /// attached them.
    fn holds_at(&self, position: usize) -> Option<&Arc<Holds>> {
        self.holds.get()?.get(position)?.get()
    }

    /// Holds between `at_least` and `want` units of a hard-limited feature, against
    /// `limit − (Kelviq's usage + undelivered + held)`: the units held, or `None` when the
    /// limit leaves fewer than `max(at_least, 1)`. The customer's holds come from
    /// `registry` (the same for each of its snapshots).
    pub(crate) fn hold(
        &self,
        registry: &HoldsRegistry,
        hard: HardRef,
        at_least: i64,
        want: i64,
    ) -> Option<i64> {
        let slot = self.slots.get(hard.0)?;
        let headroom = slot.holdable_headroom()?;
        let table = self
            .holds
            .get_or_init(|| Box::new(self.slots.iter().map(|_| OnceLock::new()).collect()));
        let holds = table.get(hard.0)?.get_or_init(|| {
            let id = self.stored.get(hard.0).map_or("", |stored| stored.id());
            registry.of(&self.customer_id, id)
        });
        holds.hold(at_least, want, || {
            headroom.saturating_sub(slot.applied.get())
        })
    }

    /// Settles a hold of `held` units of a hard-limited feature of which `kept` were used:
    /// the kept units are applied to this snapshot (they are usage now), the rest given
    /// back.
    pub(crate) fn settle(&self, hard: HardRef, held: i64, kept: i64) {
        let kept = kept.clamp(0, held.max(0));
        if kept > 0
            && let Some(slot) = self.slots.get(hard.0)
        {
            slot.applied.add(kept, slot.hard_headroom());
        }
        if let Some(holds) = self.holds_at(hard.0) {
            holds.settle(held);
        }
    }

    /// The counts of a hard-limited feature's quota, without I/O: its limit, the usage
    /// (Kelviq's at the fetch plus what this process applied since, delivered or not), the
    /// units held by requests in flight, and the earliest `resetAt` ahead. `None` when
    /// the feature has no limit.
    pub(crate) fn quota_counts(&self, hard: HardRef) -> Option<QuotaCounts> {
        let slot = self.slots.get(hard.0)?;
        let stored = self.stored.get(hard.0)?;
        let now = jiff::Timestamp::now();
        let (limit, fetched, reset_at) = stored.with(|entitlement| {
            (
                entitlement.limit(),
                entitlement.usage().unwrap_or(0),
                entitlement.next_reset(now),
            )
        });
        Some(QuotaCounts {
            limit: limit?,
            used: fetched.saturating_add(slot.applied.get()),
            held: self.holds_at(hard.0).map_or(0, |holds| holds.held()),
            reset_at,
        })
    }

    /// The hard-limited feature's id.
    pub(crate) fn hard_feature_id(&self, hard: HardRef) -> &str {
        self.stored.get(hard.0).map_or("", |stored| stored.id())
    }

    /// Whether a usage reset of a hard-limited feature passed since the fetch, and no load
    /// was started for it yet: the first caller to see it (`true`) loads the customer
    /// anew, so that a limit reached in the old period reopens at the reset, not at the
    /// TTL. One load per snapshot at most: a snapshot fetched after the reset with the
    /// same `resetAt` (a stale or hostile answer) has no reset ahead, so nothing loops.
    pub(crate) fn take_reset(&self) -> bool {
        self.reset_passed()
            && self.flags.fetch_or(RESET_RELOADED, Ordering::AcqRel) & RESET_RELOADED == 0
    }

    /// Whether a usage reset of a hard-limited feature passed since the fetch.
    pub(crate) fn reset_passed(&self) -> bool {
        self.reset_after
            .is_some_and(|after| self.age() >= Duration::from_secs(u64::from(after.get())))
    }

    /// Marks the snapshot replaced by a newer one in the cache.
    pub(crate) fn supersede(&self) {
        self.flags.fetch_or(SUPERSEDED, Ordering::Release);
    }

    /// Whether a newer snapshot replaced this one in the cache: usage kept by requests
    /// admitted on this one is applied to the newer one too.
    pub(crate) fn is_superseded(&self) -> bool {
        self.flags.load(Ordering::Acquire) & SUPERSEDED != 0
    }

    /// Whether the customer may use the feature (`false` for a feature it lacks), counting
    /// the usage this process reported. Allocates nothing: far from a hard limit it reads
    /// the feature's slot only; at or near one it rebuilds a one-entry feature's
    /// entitlement on the stack (or reads a stored one) to compute the answer.
    pub fn has_access(&self, feature_id: &str) -> bool {
        let Some(Feature { slot, stored }) = self.feature(feature_id) else {
            return false;
        };
        // Read only what can change the answer: a hot customer's usage, spread over the
        // stripes other cores write, is summed only near its limit.
        if let Some(access) = slot.quick_access() {
            return access;
        }
        stored.with(|entitlement| entitlement.has_access_with_delta(slot.applied.get()))
    }

    /// One feature's entitlement, counting the usage this process reported.
    pub fn get(&self, feature_id: &str) -> Option<Entitlement> {
        self.feature(feature_id).map(Feature::applied)
    }

    /// Every entitlement, counting the usage this process reported.
    pub fn to_entitlements(&self) -> Entitlements {
        Entitlements::from_parts(
            self.customer_id.clone(),
            self.features().map(Feature::applied).collect(),
        )
    }

    /// The entitlements as Kelviq sent them, without the usage reported since (rebuilt
    /// from the packed copy: a new value on each call).
    pub fn fetched_entitlements(&self) -> Entitlements {
        Entitlements::from_parts(
            self.customer_id.clone(),
            self.stored.iter().map(StoredEntitlement::rebuild).collect(),
        )
    }

    /// How long ago it was fetched (on tokio's clock, so paused-time tests see it age).
    pub fn age(&self) -> Duration {
        self.fetched_at.elapsed()
    }

    /// When it was fetched, on tokio's clock.
    pub fn fetched_at(&self) -> Instant {
        self.fetched_at
    }
}

/// The earliest usage reset of the hard-limited features, in whole seconds from now
/// (rounded up; `resetAt` is wall-clock time: its distance from now, measured from now on
/// tokio's clock). Resets in the past, unparsable ones and those more than a year ahead
/// are none.
fn next_reset(features: &[Entitlement], slots: &[Slot]) -> Option<NonZeroU32> {
    const HORIZON_SECS: u64 = 366 * 24 * 60 * 60;
    let now = jiff::Timestamp::now();
    let reset = slots
        .iter()
        .zip(features)
        .filter(|(slot, _)| slot.hard_headroom().is_some())
        .map(|(_, entitlement)| entitlement)
        .filter_map(|entitlement| entitlement.next_reset(now))
        .min()?;
    let wait = Duration::try_from(reset.duration_since(now)).ok()?;
    let secs = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0));
    if secs > HORIZON_SECS {
        return None;
    }
    NonZeroU32::new(u32::try_from(secs).ok()?)
}

/// Whether a cached answer is current.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Freshness {
    /// Fetched within the TTL (or just now).
    Fresh,
    /// Older than the TTL, served because the refresh failed with this error.
    Stale(Arc<Error>),
    /// Older than the TTL, served at once while one refresh runs in the background
    /// (stale-while-revalidate).
    Refreshing,
}

/// A snapshot and how fresh it is.
#[derive(Debug, Clone)]
pub struct CachedSnapshot {
    snapshot: Arc<Snapshot>,
    freshness: Freshness,
}

impl CachedSnapshot {
    pub(crate) fn fresh(snapshot: Arc<Snapshot>) -> Self {
        CachedSnapshot {
            snapshot,
            freshness: Freshness::Fresh,
        }
    }

    pub(crate) fn stale(snapshot: Arc<Snapshot>, error: Arc<Error>) -> Self {
        CachedSnapshot {
            snapshot,
            freshness: Freshness::Stale(error),
        }
    }

    pub(crate) fn refreshing(snapshot: Arc<Snapshot>) -> Self {
        CachedSnapshot {
            snapshot,
            freshness: Freshness::Refreshing,
        }
    }

    /// The snapshot (cheap to clone: an `Arc`).
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// How fresh it is.
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// Whether it is stale: older than the TTL, served while it is refreshed or because
    /// Kelviq could not be reached.
    pub fn is_stale(&self) -> bool {
        matches!(self.freshness, Freshness::Stale(_) | Freshness::Refreshing)
    }

    /// The snapshot, without the freshness.
    pub fn into_snapshot(self) -> Arc<Snapshot> {
        self.snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::RawEntitlements;

    fn snapshot() -> Snapshot {
        let raw: RawEntitlements = serde_json::from_value(serde_json::json!({
            "customerId": "c",
            "entitlements": [
                {"featureId": "calls", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 10, "currentUsage": 7},
                {"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": true}
            ]
        }))
        .unwrap();
        Snapshot::new(Entitlements::from_raw(raw))
    }

    /// A feature of several entries is stored whole, not packed: it answers as its
    /// entitlement does, near the limit and after a `set` too.
    #[test]
    fn a_feature_of_several_entries_answers_as_its_entitlement() {
        let raw: RawEntitlements = serde_json::from_value(serde_json::json!({
            "customerId": "c",
            "entitlements": [
                {"featureId": "calls", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 3, "currentUsage": 1},
                {"featureId": "calls", "featureType": "METER", "hasAccess": true,
                 "hardLimit": false, "usageLimit": 2, "currentUsage": 1}
            ]
        }))
        .unwrap();
        let fetched = Entitlements::from_raw(raw);
        let snapshot = Snapshot::new(fetched.clone());
        assert_eq!(snapshot.fetched_entitlements(), fetched);
        // A limit of 5 (hard), 2 used.
        snapshot.apply_usage("calls", 2, false);
        assert!(snapshot.has_access("calls"));
        snapshot.apply_usage("calls", 1, false);
        assert!(!snapshot.has_access("calls"));
        let calls = snapshot.get("calls").unwrap();
        assert_eq!((calls.usage(), calls.items().len()), (Some(5), 2));
        snapshot.apply_usage("calls", 4, true);
        assert!(snapshot.has_access("calls"));
        assert_eq!(snapshot.get("calls").unwrap().remaining(), Some(1));
    }

    #[test]
    fn applied_usage_flips_access_without_copying() {
        let snapshot = snapshot();
        snapshot.apply_usage("calls", 2, false);
        assert!(snapshot.has_access("calls"));
        assert_eq!(snapshot.get("calls").unwrap().remaining(), Some(1));
        snapshot.apply_usage("calls", 1, false);
        assert!(!snapshot.has_access("calls"));
        assert_eq!(
            snapshot
                .fetched_entitlements()
                .get("calls")
                .unwrap()
                .usage(),
            Some(7)
        );
        snapshot.apply_usage("calls", 4, true);
        assert_eq!(snapshot.get("calls").unwrap().usage(), Some(4));
        assert!(snapshot.has_access("calls"));
        snapshot.apply_usage("reports", 5, false);
        assert!(snapshot.has_access("reports"));
        assert_eq!(
            snapshot.to_entitlements().get("calls").unwrap().usage(),
            Some(4)
        );
        assert!(!snapshot.has_access("unknown"));
    }

    #[test]
    fn a_customer_with_many_features_is_checked_through_the_index() {
        let features: Vec<serde_json::Value> = (0..40)
            .map(|i| {
                serde_json::json!({"featureId": format!("feature-{i}"), "featureType": "METER",
                 "hasAccess": true, "hardLimit": true, "usageLimit": 2, "currentUsage": i % 2})
            })
            .collect();
        let raw: RawEntitlements = serde_json::from_value(
            serde_json::json!({"customerId": "c", "entitlements": features}),
        )
        .unwrap();
        let snapshot = Snapshot::new(Entitlements::from_raw(raw));
        assert!(snapshot.index.is_some());
        assert!(snapshot.has_access("feature-0") && snapshot.has_access("feature-39"));
        assert!(!snapshot.has_access("feature-40"));
        snapshot.apply_usage("feature-39", 1, false);
        assert!(
            !snapshot.has_access("feature-39"),
            "1 + 1 reaches the limit of 2"
        );
        assert!(snapshot.has_access("feature-38"));
    }

    #[test]
    fn huge_amounts_saturate_and_keep_the_hard_limit() {
        let snapshot = snapshot();
        snapshot.apply_usage("calls", i64::MAX, false);
        snapshot.apply_usage("calls", i64::MAX, false);
        assert!(!snapshot.has_access("calls"));
        assert_eq!(snapshot.get("calls").unwrap().usage(), Some(i64::MAX));
        assert_eq!(snapshot.get("calls").unwrap().remaining(), Some(0));
        snapshot.apply_usage("calls", i64::MIN, true);
        snapshot.apply_usage("calls", i64::MIN, false);
        assert!(snapshot.has_access("calls"));
        assert_eq!(snapshot.get("calls").unwrap().usage(), Some(i64::MIN + 7));
        assert_eq!(
            snapshot.to_entitlements().get("calls").unwrap().remaining(),
            Some(i64::MAX)
        );
    }

    /// A metered feature as Kelviq could send it, from the strategy's values.
    fn metered(
        feature_id: &str,
        has_access: bool,
        hard_limit: Option<bool>,
        usage_limit: Option<i64>,
        current_usage: Option<i64>,
    ) -> serde_json::Value {
        serde_json::json!({
            "featureId": feature_id, "featureType": "METER", "hasAccess": has_access,
            "hardLimit": hard_limit, "usageLimit": usage_limit, "currentUsage": current_usage,
        })
    }

    proptest::proptest! {
        /// The slots answer as the entitlement itself does with the applied usage counted
        /// (`get`), whatever the limits, the usage applied (added or set) and the id's length.
        #[test]
        fn slots_answer_as_the_entitlement_does(
            has_access in proptest::bool::ANY,
            hard_limit in proptest::option::weighted(0.9, proptest::bool::weighted(0.8)),
            usage_limit in proptest::option::weighted(0.9, -1i64..8),
            current_usage in proptest::option::of(-1i64..8),
            changes in proptest::collection::vec((-2i64..4, proptest::bool::weighted(0.1)), 0..12),
            long_ids in proptest::bool::ANY,
        ) {
            let (calls, twin) = if long_ids {
                ("calls-of-the-metered-api", "calls-of-the-metered-apx")
            } else {
                ("calls", "callz")
            };
            let raw: RawEntitlements = serde_json::from_value(serde_json::json!({
                "customerId": "c",
                "entitlements": [
                    {"featureId": twin, "featureType": "BOOLEAN", "hasAccess": !has_access},
                    metered(calls, has_access, hard_limit, usage_limit, current_usage),
                    {"featureId": "seats", "featureType": "CUSTOMIZABLE", "hasAccess": true,
                     "usageLimit": usage_limit},
                ]
            }))
            .unwrap();
            let fetched = Entitlements::from_raw(raw);
            let snapshot = Snapshot::new(fetched.clone());
            proptest::prop_assert_eq!(&snapshot.fetched_entitlements(), &fetched);
            for (amount, set) in changes {
                snapshot.apply_usage(calls, amount, set);
                snapshot.apply_usage("seats", amount, set);
                snapshot.apply_usage(twin, amount, set);
                for feature in [calls, twin, "seats"] {
                    let expected = snapshot.get(feature).unwrap().has_access();
                    proptest::prop_assert_eq!(snapshot.has_access(feature), expected, "{}", feature);
                }
            }
            proptest::prop_assert_eq!(snapshot.has_access(twin), !has_access);
            proptest::prop_assert!(!snapshot.has_access("call"));
        }

        #[test]
        fn applied_usage_saturates_never_wraps(
            amounts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(i64::MAX),
                    proptest::strategy::Just(i64::MIN),
                    proptest::num::i64::ANY,
                    0i64..100,
                ],
                0..16,
            )
        ) {
            let snapshot = snapshot();
            let mut expected: i64 = 0;
            for &amount in &amounts {
                snapshot.apply_usage("calls", amount, false);
                expected = expected.saturating_add(amount);
                let _ = snapshot.has_access("calls");
                let _ = snapshot.to_entitlements();
            }
            let usage = snapshot.get("calls").and_then(|e| e.usage());
            proptest::prop_assert_eq!(usage, Some(7i64.saturating_add(expected)));
            // Only non-negative amounts: the usage is their sum, pinned at the bound, and a
            // hard limit denies once it is reached.
            if amounts.iter().all(|&a| a >= 0) {
                let sum: i128 = amounts.iter().map(|&a| i128::from(a)).sum();
                proptest::prop_assert_eq!(snapshot.has_access("calls"), sum < 3);
            }
        }
    }
}
