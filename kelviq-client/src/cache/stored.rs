//! A cached feature's entitlement as stored: its raw entry packed into 56 bytes, and the
//! [`Entitlement`] rebuilt from it when asked for.
//!
//! A cached customer keeps the entries Kelviq sent, so that [`Snapshot::get`] returns them
//! ([`Entitlement::items`]). As [`EntitlementEntry`]s they take 128 bytes each, most of them
//! options and a repeated feature id; packed, a one-entry feature (most of them) keeps its
//! id once, the three numbers and their presence in 25 bytes and the reset time inline.
//! Features with several entries, or with a type this version does not know, keep the
//! entitlement as it was.
//!
//! [`Snapshot::get`]: super::Snapshot::get

use smol_str::SmolStr;

use crate::models::{Entitlement, EntitlementEntry, FeatureType};

/// One feature's fetched entitlement.
#[derive(Debug)]
pub(super) struct StoredEntitlement {
    id: SmolStr,
    entries: Entries,
}

#[derive(Debug)]
enum Entries {
    /// The one entry, packed.
    One(Packed),
    /// Several entries, or one of an unknown type: the entitlement as it was.
    Full(Box<Entitlement>),
}

/// One entry without its feature id (the stored entitlement's).
#[derive(Debug)]
struct Packed {
    reset_at: Option<SmolStr>,
    usage_limit: i64,
    current_usage: i64,
    remaining: i64,
    /// Bits: [`PRESENT_LIMIT`], [`PRESENT_USAGE`], [`PRESENT_REMAINING`], [`HAS_ACCESS`],
    /// [`HARD_KNOWN`], [`HARD`].
    flags: u8,
    feature_type: Option<KnownType>,
}

const PRESENT_LIMIT: u8 = 1;
const PRESENT_USAGE: u8 = 1 << 1;
const PRESENT_REMAINING: u8 = 1 << 2;
const HAS_ACCESS: u8 = 1 << 3;
const HARD_KNOWN: u8 = 1 << 4;
const HARD: u8 = 1 << 5;

/// The feature types an entry can be packed with.
#[derive(Debug, Clone, Copy)]
enum KnownType {
    Meter,
    Boolean,
    Customizable,
}

impl StoredEntitlement {
    pub(super) fn new(entitlement: Entitlement) -> Self {
        // The entry's own id: a long one is shared, not copied.
        let id = entitlement
            .items()
            .first()
            .map_or_else(SmolStr::default, |entry| entry.feature_id.clone());
        let entries = match entitlement.items() {
            [entry] => Packed::new(entry).map(Entries::One),
            _ => None,
        }
        .unwrap_or_else(|| Entries::Full(Box::new(entitlement)));
        StoredEntitlement { id, entries }
    }

    /// The feature id.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// `read`'s answer about the entitlement as it was fetched: a one-entry feature is
    /// rebuilt on the stack (no allocation; an id or reset time over 23 bytes is shared,
    /// one count), any other is lent as it is stored.
    pub(super) fn with<R>(&self, read: impl FnOnce(&Entitlement) -> R) -> R {
        match &self.entries {
            Entries::One(_) => read(&self.rebuild()),
            Entries::Full(entitlement) => read(entitlement),
        }
    }

    /// The entitlement as it was fetched: equal to the one this was stored from (a copy:
    /// allocates for a feature with several entries or of a type this version does not
    /// know).
    pub(super) fn rebuild(&self) -> Entitlement {
        match &self.entries {
            Entries::One(packed) => Entitlement::from_entry(packed.unpack(&self.id)),
            Entries::Full(entitlement) => (**entitlement).clone(),
        }
    }
}

impl Packed {
    /// `None` for an entry of a type this version does not know.
    fn new(entry: &EntitlementEntry) -> Option<Self> {
        let feature_type = match &entry.feature_type {
            None => None,
            Some(FeatureType::Meter) => Some(KnownType::Meter),
            Some(FeatureType::Boolean) => Some(KnownType::Boolean),
            Some(FeatureType::Customizable) => Some(KnownType::Customizable),
            Some(_) => return None,
        };
        let bit = |set: bool, bit: u8| if set { bit } else { 0 };
        Some(Packed {
            reset_at: entry.reset_at.clone(),
            usage_limit: entry.usage_limit.unwrap_or(0),
            current_usage: entry.current_usage.unwrap_or(0),
            remaining: entry.remaining.unwrap_or(0),
            flags: bit(entry.usage_limit.is_some(), PRESENT_LIMIT)
                | bit(entry.current_usage.is_some(), PRESENT_USAGE)
                | bit(entry.remaining.is_some(), PRESENT_REMAINING)
                | bit(entry.has_access, HAS_ACCESS)
                | bit(entry.hard_limit.is_some(), HARD_KNOWN)
                | bit(entry.hard_limit == Some(true), HARD),
            feature_type,
        })
    }

    fn unpack(&self, id: &SmolStr) -> EntitlementEntry {
        let is = |bit: u8| self.flags & bit != 0;
        EntitlementEntry {
            feature_id: id.clone(),
            feature_type: self.feature_type.map(|known| match known {
                KnownType::Meter => FeatureType::Meter,
                KnownType::Boolean => FeatureType::Boolean,
                KnownType::Customizable => FeatureType::Customizable,
            }),
            has_access: is(HAS_ACCESS),
            reset_at: self.reset_at.clone(),
            hard_limit: is(HARD_KNOWN).then_some(is(HARD)),
            usage_limit: is(PRESENT_LIMIT).then_some(self.usage_limit),
            current_usage: is(PRESENT_USAGE).then_some(self.current_usage),
            remaining: is(PRESENT_REMAINING).then_some(self.remaining),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::models::{Entitlements, RawEntitlements};

    fn feature_type() -> impl Strategy<Value = Option<FeatureType>> {
        prop_oneof![
            Just(None),
            Just(Some(FeatureType::Meter)),
            Just(Some(FeatureType::Boolean)),
            Just(Some(FeatureType::Customizable)),
            Just(Some(FeatureType::Unknown("SEATS_V2".to_owned()))),
        ]
    }

    fn number() -> impl Strategy<Value = Option<i64>> {
        proptest::option::of(prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            -5i64..50
        ])
    }

    fn entry(id: &'static str) -> impl Strategy<Value = EntitlementEntry> {
        (
            feature_type(),
            any::<bool>(),
            proptest::option::of(prop_oneof![
                Just("2026-12-01 00:00:00"),
                Just("a reset time longer than twenty-three bytes"),
            ]),
            proptest::option::of(any::<bool>()),
            number(),
            number(),
            number(),
        )
            .prop_map(
                move |(feature_type, has_access, reset_at, hard_limit, limit, usage, remaining)| {
                    EntitlementEntry {
                        feature_id: SmolStr::from(id),
                        feature_type,
                        has_access,
                        reset_at: reset_at.map(SmolStr::from),
                        hard_limit,
                        usage_limit: limit,
                        current_usage: usage,
                        remaining,
                    }
                },
            )
    }

    proptest! {
        /// Packing loses nothing: every field of every entry, and so every aggregate,
        /// comes back (checked to fail when a presence bit or the hard-limit bits are
        /// dropped).
        #[test]
        fn a_stored_entitlement_rebuilds_the_one_it_came_from(
            short in proptest::collection::vec(entry("calls"), 1..3),
            long in proptest::collection::vec(entry("a-feature-id-longer-than-23-bytes"), 1..2),
        ) {
            let fetched = Entitlements::from_raw(RawEntitlements {
                customer_id: "c".to_owned(),
                entitlements: short.into_iter().chain(long).collect(),
            });
            for entitlement in &fetched {
                let stored = StoredEntitlement::new(entitlement.clone());
                prop_assert_eq!(stored.id(), entitlement.feature_id());
                prop_assert_eq!(&stored.rebuild(), entitlement);
                prop_assert_eq!(&stored.with(Entitlement::clone), entitlement);
            }
        }
    }

    #[test]
    fn a_one_entry_feature_of_a_known_type_is_packed() {
        let fetched = Entitlements::from_raw(
            serde_json::from_value(serde_json::json!({
                "customerId": "c",
                "entitlements": [
                    {"featureId": "calls", "featureType": "METER", "hasAccess": true},
                    {"featureId": "new", "featureType": "SOMETHING_NEW", "hasAccess": true},
                    {"featureId": "twice", "hasAccess": true},
                    {"featureId": "twice", "hasAccess": false},
                ]
            }))
            .unwrap(),
        );
        let packed: Vec<bool> = fetched
            .iter()
            .map(|entitlement| {
                matches!(
                    StoredEntitlement::new(entitlement.clone()).entries,
                    Entries::One(_)
                )
            })
            .collect();
        assert_eq!(packed, [true, false, false]);
        // What the memory figures count on.
        assert!(size_of::<Packed>() <= 56);
        assert!(size_of::<StoredEntitlement>() <= 80);
    }
}
