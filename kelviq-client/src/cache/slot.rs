//! What a check reads of one feature of a cached snapshot, packed into one slot: the
//! first bytes of the feature's id, the rule its fetched entitlement gives, and the usage
//! this process applied since.
//!
//! With thousands of customers active, each line a check reads is a likely cache miss.
//! Answering from the entitlement itself means comparing heap-allocated feature ids
//! (a line per feature tried, plus its string), then reading the entitlement's fields and
//! a separate usage counter. A slot is 40 bytes, a snapshot's slots are in one array
//! (the entitlements are kept apart, packed: `stored.rs`): a check compares the ids
//! inline (ids of up to [`HEAD`] bytes, most of them, entirely) and answers from the slot
//! alone unless the usage is near a hard limit.

use super::applied::AppliedUsage;
use crate::models::{Entitlement, FeatureType};

/// How many bytes of a feature id a slot keeps.
const HEAD: usize = 12;

/// How a feature's fetched entitlement answers a check, given the usage applied since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The same answer whatever the usage (not metered, no hard limit, unlimited).
    Fixed(bool),
    /// The fetched answer while the applied usage stays below the slot's headroom (a
    /// hard limit); else computed.
    BelowHeadroom(bool),
    /// Computed from the entitlement and the applied usage.
    Computed,
}

/// One feature's slot.
#[derive(Debug)]
pub(super) struct Slot {
    /// The id's first [`HEAD`] bytes, zero-padded.
    head: [u8; HEAD],
    /// The id's length, saturated at `u8::MAX`.
    len: u8,
    rule: Rule,
    /// Whether usage counts (metered and customizable features).
    counts_usage: bool,
    /// What was left of the hard limit at the fetch ([`Rule::BelowHeadroom`]).
    headroom: i64,
    /// Usage applied since the fetch.
    pub(super) applied: AppliedUsage,
}

/// How a slot compares with an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Matches {
    /// Not this feature.
    No,
    /// This feature: the id is short enough that the slot holds all of it.
    Yes,
    /// The slot's bytes match, but the id is longer than them: compare it whole.
    Maybe,
}

impl Slot {
    pub(super) fn new(entitlement: &Entitlement) -> Self {
        let id = entitlement.feature_id().as_bytes();
        let mut head = [0; HEAD];
        let kept = id.len().min(HEAD);
        head[..kept].copy_from_slice(&id[..kept]);
        let headroom = entitlement.hard_headroom();
        let rule = match (entitlement.access_regardless_of_usage(), headroom) {
            (Some(access), _) => Rule::Fixed(access),
            (None, Some(_)) => Rule::BelowHeadroom(entitlement.has_access()),
            (None, None) => Rule::Computed,
        };
        Slot {
            head,
            len: u8::try_from(id.len()).unwrap_or(u8::MAX),
            rule,
            counts_usage: matches!(
                entitlement.feature_type(),
                Some(FeatureType::Meter | FeatureType::Customizable)
            ),
            headroom: headroom.unwrap_or(0),
            applied: AppliedUsage::default(),
        }
    }

    /// Whether this is the slot of `feature_id`.
    pub(super) fn matches(&self, feature_id: &str) -> Matches {
        let id = feature_id.as_bytes();
        if u8::try_from(id.len()).unwrap_or(u8::MAX) != self.len {
            return Matches::No;
        }
        let kept = id.len().min(HEAD);
        if self.head.get(..kept) != id.get(..kept) {
            return Matches::No;
        }
        if id.len() <= HEAD {
            Matches::Yes
        } else {
            Matches::Maybe
        }
    }

    /// Whether usage counts for this feature.
    pub(super) fn counts_usage(&self) -> bool {
        self.counts_usage
    }

    /// What was left of the hard limit at the fetch, when a hard limit decides.
    pub(super) fn hard_headroom(&self) -> Option<i64> {
        matches!(self.rule, Rule::BelowHeadroom(_)).then_some(self.headroom)
    }

    /// What was left of the hard limit at the fetch, when requests hold units of this
    /// feature: a hard limit decides, and the fetch granted access or the limit was
    /// reached (a hold is then refused). `None` for a feature denied for another reason.
    pub(super) fn holdable_headroom(&self) -> Option<i64> {
        match self.rule {
            Rule::BelowHeadroom(access) if access || self.headroom <= 0 => Some(self.headroom),
            _ => None,
        }
    }

    /// The answer, when the slot alone gives it: always for a fixed rule, and below the
    /// headroom for a hard limit (reading only lines no other core writes while the
    /// usage is far from it). `None`: compute it from the entitlement and
    /// [`AppliedUsage::get`].
    pub(super) fn quick_access(&self) -> Option<bool> {
        match self.rule {
            Rule::Fixed(access) => Some(access),
            Rule::BelowHeadroom(access) if self.applied.surely_below(self.headroom) => Some(access),
            Rule::BelowHeadroom(_) | Rule::Computed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Entitlements, RawEntitlements};

    fn entitlements(json: serde_json::Value) -> Entitlements {
        let raw: RawEntitlements =
            serde_json::from_value(serde_json::json!({"customerId": "c", "entitlements": json}))
                .unwrap();
        Entitlements::from_raw(raw)
    }

    #[test]
    fn a_slot_is_small() {
        assert!(size_of::<Slot>() <= 40, "{}", size_of::<Slot>());
    }

    #[test]
    fn ids_match_inline_when_short_and_need_a_whole_compare_when_long() {
        let features = entitlements(serde_json::json!([
            {"featureId": "api-calls", "featureType": "BOOLEAN", "hasAccess": true},
            {"featureId": "a-feature-id-longer-than-the-head", "featureType": "BOOLEAN", "hasAccess": true},
            {"featureId": "", "featureType": "BOOLEAN", "hasAccess": true},
        ]));
        let slots: Vec<Slot> = features.iter().map(Slot::new).collect();
        assert_eq!(slots[0].matches("api-calls"), Matches::Yes);
        assert_eq!(slots[0].matches("api-call"), Matches::No);
        assert_eq!(slots[0].matches("api-callz"), Matches::No);
        assert_eq!(slots[0].matches("api-calls\0"), Matches::No);
        assert_eq!(
            slots[1].matches("a-feature-id-longer-than-the-head"),
            Matches::Maybe
        );
        assert_eq!(
            slots[1].matches("a-feature-id-lXnger-than-the-head"),
            Matches::Maybe,
            "past the head only a whole compare tells"
        );
        assert_eq!(slots[1].matches("a-feature-id-lo"), Matches::No);
        assert_eq!(slots[2].matches(""), Matches::Yes);
        assert_eq!(slots[0].matches(&"x".repeat(300)), Matches::No);
    }

    #[test]
    fn rules_follow_the_entitlement() {
        let features = entitlements(serde_json::json!([
            {"featureId": "flag", "featureType": "BOOLEAN", "hasAccess": false},
            {"featureId": "hard", "featureType": "METER", "hasAccess": true,
             "hardLimit": true, "usageLimit": 10, "currentUsage": 7},
            {"featureId": "soft", "featureType": "METER", "hasAccess": true,
             "hardLimit": false, "usageLimit": 10, "currentUsage": 70},
            {"featureId": "seats", "featureType": "CUSTOMIZABLE", "hasAccess": true, "usageLimit": 5},
        ]));
        let slots: Vec<Slot> = features.iter().map(Slot::new).collect();
        assert_eq!(slots[0].quick_access(), Some(false));
        assert!(!slots[0].counts_usage());
        assert_eq!(slots[1].hard_headroom(), Some(3));
        assert_eq!(slots[1].quick_access(), Some(true));
        assert!(slots[1].counts_usage());
        slots[1].applied.add(3, Some(3));
        assert_eq!(slots[1].quick_access(), None, "at the limit: computed");
        assert_eq!(slots[2].quick_access(), Some(true), "{:?}", slots[2]);
        assert_eq!(slots[2].hard_headroom(), None);
        assert!(slots[3].counts_usage());
    }
}
