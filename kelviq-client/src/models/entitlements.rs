//! Entitlements: the raw entries of the edge endpoint and their per-feature aggregate.

use std::collections::HashMap;

use serde::{Deserialize, Serialize, Serializer};
use smol_str::SmolStr;

use super::enums::FeatureType;

/// The raw answer of `GET /entitlements`: every entry, as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RawEntitlements {
    /// The customer the entries belong to.
    pub customer_id: String,
    /// One entry per (subscription, feature): a feature may appear several times.
    #[serde(default)]
    pub entitlements: Vec<EntitlementEntry>,
}

/// One raw entitlement entry, as sent: read it with its accessors (the ids are kept inline
/// up to 23 bytes, so a cached entry allocates nothing of its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EntitlementEntry {
    pub(crate) feature_id: SmolStr,
    #[serde(default)]
    pub(crate) feature_type: Option<FeatureType>,
    pub(crate) has_access: bool,
    #[serde(default)]
    pub(crate) reset_at: Option<SmolStr>,
    #[serde(default)]
    pub(crate) hard_limit: Option<bool>,
    #[serde(default)]
    pub(crate) usage_limit: Option<i64>,
    #[serde(default)]
    pub(crate) current_usage: Option<i64>,
    #[serde(default)]
    pub(crate) remaining: Option<i64>,
}

impl EntitlementEntry {
    /// The feature identifier (`featureId`).
    pub fn feature_id(&self) -> &str {
        &self.feature_id
    }

    /// The kind of feature (`featureType`), if sent.
    pub fn feature_type(&self) -> Option<&FeatureType> {
        self.feature_type.as_ref()
    }

    /// Whether this entry grants access (`hasAccess`).
    pub fn has_access(&self) -> bool {
        self.has_access
    }

    /// When usage resets (`resetAt`, `YYYY-MM-DD HH:MM:SS`), if sent.
    pub fn reset_at(&self) -> Option<&str> {
        self.reset_at.as_deref()
    }

    /// Whether access stops at the limit (`hardLimit`), if sent.
    pub fn hard_limit(&self) -> Option<bool> {
        self.hard_limit
    }

    /// The usage limit (metered) or configured value (customizable) (`usageLimit`).
    pub fn usage_limit(&self) -> Option<i64> {
        self.usage_limit
    }

    /// Usage so far (`currentUsage`).
    pub fn current_usage(&self) -> Option<i64> {
        self.current_usage
    }

    /// Usage left (`remaining`).
    pub fn remaining(&self) -> Option<i64> {
        self.remaining
    }
}

/// One feature's entitlement, aggregated over all its entries.
///
/// The entries of a feature are grouped and combined by the type of the first entry:
///
/// | type | limit | usage | remaining | hard limit | access |
/// |---|---|---|---|---|---|
/// | `METER` | sum of the limits; unlimited if any entry is | sum of the usages | limit − usage, at least 0 | any entry's | see below |
/// | `CUSTOMIZABLE` | the first entry's value | the first entry's (0 if none) | the first entry's | the first entry's | any entry's |
/// | other | none | 0 | none | false | any entry's |
///
/// Metered access: denied when a hard limit is reached (remaining 0), otherwise granted when
/// any entry grants it. Two deliberate differences from the official SDK, which recomputes
/// access as `remaining > 0` for every meter: a soft-limited meter past its limit keeps
/// access (the limit is soft), and a meter the service denies stays denied even without a
/// limit. An entry without a limit makes the whole feature unlimited, where the SDK would
/// add up the other entries' limits.
///
/// Serialized with the wire's field names, as the official SDK's aggregated entitlement:
/// `featureId`, `featureType`, `hasAccess`, `hardLimit`, `usageLimit` ([`limit`](Self::limit)),
/// `currentUsage` ([`usage`](Self::usage)), `remaining`, and `items` (the raw entries, as
/// sent); an unknown value is `null`:
///
/// ```json
/// {"featureId": "api-calls", "featureType": "METER", "hasAccess": true, "hardLimit": true,
///  "usageLimit": 100, "currentUsage": 12, "remaining": 88, "items": [{"featureId": "api-calls", ...}]}
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entitlement {
    /// The limit when `limited` (kept as two fields, not an `Option`: 16 bytes less per
    /// cached feature).
    limit_value: i64,
    limited: bool,
    /// The usage when `usage_known`.
    usage_value: i64,
    usage_known: bool,
    /// The raw entries; the feature id and type are the first one's.
    entries: Entries,
    kind: Kind,
    has_access: bool,
    /// Whether any entry grants access.
    any_access: bool,
    hard_limit: bool,
    /// Whether usage was applied to a customizable feature, whose remaining is then
    /// computed rather than the first entry's.
    usage_applied: bool,
}

/// How a feature's entries combine (the first entry's type), in one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Meter,
    Customizable,
    Other,
}

/// A feature's raw entries: most features have one, kept inline (no allocation of its
/// own), and never none.
#[derive(Debug, Clone, PartialEq)]
enum Entries {
    One(EntitlementEntry),
    Many(Box<[EntitlementEntry]>),
}

impl Entries {
    fn as_slice(&self) -> &[EntitlementEntry] {
        match self {
            Entries::One(entry) => std::slice::from_ref(entry),
            Entries::Many(entries) => entries,
        }
    }
}

/// What a feature's entries add up to, before any usage is applied.
#[derive(Debug, Clone, Copy)]
struct Summary {
    kind: Kind,
    any_access: bool,
    usage_limit: Option<i64>,
    current_usage: Option<i64>,
    hard_limit: bool,
}

impl Summary {
    /// Combines `items` by the type of the first entry (see [`Entitlement`]).
    fn of(first: &EntitlementEntry, items: &[EntitlementEntry]) -> Self {
        let kind = match first.feature_type {
            Some(FeatureType::Meter) => Kind::Meter,
            Some(FeatureType::Customizable) => Kind::Customizable,
            _ => Kind::Other,
        };
        let any_access = items.iter().any(|item| item.has_access);
        let (usage_limit, current_usage, hard_limit) = match kind {
            Kind::Meter => {
                let unlimited = items.iter().any(|item| item.usage_limit.is_none());
                let usage_limit = (!unlimited)
                    .then(|| saturating_sum(items.iter().filter_map(|i| i.usage_limit)));
                let reported = items.iter().any(|item| item.current_usage.is_some());
                let current_usage =
                    reported.then(|| saturating_sum(items.iter().filter_map(|i| i.current_usage)));
                let hard_limit = items.iter().any(|item| item.hard_limit == Some(true));
                (usage_limit, current_usage, hard_limit)
            }
            Kind::Customizable => (
                first.usage_limit,
                Some(first.current_usage.unwrap_or(0)),
                first.hard_limit == Some(true),
            ),
            Kind::Other => (None, Some(0), false),
        };
        Summary {
            kind,
            any_access,
            usage_limit,
            current_usage,
            hard_limit,
        }
    }
}

impl Entitlement {
    /// Aggregates the entries of one feature (all with the same `feature_id`); `None`
    /// without any.
    fn from_entries(mut items: Vec<EntitlementEntry>) -> Option<Self> {
        let summary = Summary::of(items.first()?, &items);
        let entries = if items.len() == 1 {
            Entries::One(items.pop()?)
        } else {
            Entries::Many(items.into_boxed_slice())
        };
        Some(Entitlement::summarised(summary, entries))
    }

    /// The aggregate of a feature with one entry (allocates nothing).
    pub(crate) fn from_entry(entry: EntitlementEntry) -> Self {
        let summary = Summary::of(&entry, std::slice::from_ref(&entry));
        Entitlement::summarised(summary, Entries::One(entry))
    }

    fn summarised(summary: Summary, entries: Entries) -> Self {
        let Summary {
            kind,
            any_access,
            usage_limit,
            current_usage,
            hard_limit,
        } = summary;
        let mut entitlement = Entitlement {
            limit_value: usage_limit.unwrap_or(0),
            limited: usage_limit.is_some(),
            usage_value: current_usage.unwrap_or(0),
            usage_known: current_usage.is_some(),
            entries,
            kind,
            has_access: any_access,
            any_access,
            hard_limit,
            usage_applied: false,
        };
        entitlement.recompute_meter();
        entitlement
    }

    /// The limit, `None` when unlimited or not metered.
    fn usage_limit_opt(&self) -> Option<i64> {
        self.limited.then_some(self.limit_value)
    }

    /// The usage, `None` when unknown.
    fn current_usage_opt(&self) -> Option<i64> {
        self.usage_known.then_some(self.usage_value)
    }

    fn set_usage(&mut self, usage: i64) {
        self.usage_value = usage;
        self.usage_known = true;
    }

    /// For a meter: access from the hard limit and the usage.
    fn recompute_meter(&mut self) {
        if self.kind == Kind::Meter {
            self.has_access = self.meter_access(self.current_usage_opt().unwrap_or(0));
        }
    }

    /// What is left of the limit at `usage` (at least 0; `None` without a limit).
    fn remaining_at(&self, usage: i64) -> Option<i64> {
        self.usage_limit_opt()
            .map(|limit| limit.saturating_sub(usage).max(0))
    }

    /// The access whatever the usage applied since the fetch, when that usage cannot
    /// change it: not a meter, or a meter without a hard limit (or without a limit) whose
    /// access does not hang on its usage.
    pub(crate) fn access_regardless_of_usage(&self) -> Option<bool> {
        let fixed = self.kind != Kind::Meter
            || (self.has_access == self.any_access
                && (!self.hard_limit || self.usage_limit_opt().is_none()));
        fixed.then_some(self.has_access)
    }

    /// For a meter with a hard limit whose access hangs on nothing else: the units left
    /// at the fetch (limit − usage). While the usage applied since stays below it, the
    /// access is the fetched one.
    pub(crate) fn hard_headroom(&self) -> Option<i64> {
        if self.kind != Kind::Meter || !self.hard_limit || self.has_access != self.any_access {
            return None;
        }
        self.usage_limit_opt()
            .map(|limit| limit.saturating_sub(self.current_usage_opt().unwrap_or(0)))
    }

    /// The earliest usage reset among the feature's entries (`resetAt`, UTC, as
    /// `YYYY-MM-DD HH:MM:SS` or RFC 3339), if one parses and is later than `now`.
    pub(crate) fn next_reset(&self, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
        self.items()
            .iter()
            .filter_map(|item| item.reset_at.as_deref())
            .filter_map(parse_reset)
            .filter(|reset| *reset > now)
            .min()
    }

    /// A meter's access at `usage`: denied once a hard limit is reached, else any entry's.
    fn meter_access(&self, usage: i64) -> bool {
        let limit_reached = self.hard_limit && self.remaining_at(usage) == Some(0);
        !limit_reached && self.any_access
    }

    /// Applies usage this process reported, before the service confirms it: `DELTA` adds
    /// (`set == false`), `SET` replaces. Only meters and customizable features change.
    pub fn apply_usage(&mut self, value: i64, set: bool) {
        if self.kind == Kind::Other {
            return;
        }
        let usage = if set {
            value
        } else {
            self.current_usage_opt().unwrap_or(0).saturating_add(value)
        };
        self.set_usage(usage);
        match self.kind {
            Kind::Meter => self.recompute_meter(),
            Kind::Customizable => self.usage_applied = true,
            Kind::Other => {}
        }
    }

    /// [`Entitlement::has_access`] once `delta` units of usage are added, computed without
    /// copying anything.
    pub(crate) fn has_access_with_delta(&self, delta: i64) -> bool {
        if delta == 0 || self.kind != Kind::Meter {
            return self.has_access;
        }
        self.meter_access(self.current_usage_opt().unwrap_or(0).saturating_add(delta))
    }

    /// The first entry (there is always one).
    fn first(&self) -> Option<&EntitlementEntry> {
        self.entries.as_slice().first()
    }

    /// The feature identifier.
    pub fn feature_id(&self) -> &str {
        self.first().map_or("", |entry| entry.feature_id.as_str())
    }

    /// The kind of feature (from the first entry).
    pub fn feature_type(&self) -> Option<&FeatureType> {
        self.first().and_then(|entry| entry.feature_type.as_ref())
    }

    /// Whether the customer may use the feature now.
    pub fn has_access(&self) -> bool {
        self.has_access
    }

    /// The usage limit (`None`: unlimited or not metered), or a customizable feature's value.
    pub fn limit(&self) -> Option<i64> {
        self.usage_limit_opt()
    }

    /// Usage so far (`None` for a meter that reported none).
    pub fn usage(&self) -> Option<i64> {
        self.current_usage_opt()
    }

    /// Usage left before the limit (`None`: unlimited or not metered).
    pub fn remaining(&self) -> Option<i64> {
        match self.kind {
            Kind::Meter => self.remaining_at(self.current_usage_opt().unwrap_or(0)),
            Kind::Customizable if self.usage_applied => {
                self.remaining_at(self.current_usage_opt().unwrap_or(0))
            }
            Kind::Customizable => self.first().and_then(|entry| entry.remaining),
            Kind::Other => None,
        }
    }

    /// Whether access stops at the limit.
    pub fn hard_limit(&self) -> bool {
        self.hard_limit
    }

    /// The raw entries this aggregate was built from.
    pub fn items(&self) -> &[EntitlementEntry] {
        self.entries.as_slice()
    }
}

/// How many features a customer may have before a lookup by feature id goes through an
/// index: below it, comparing the ids one by one is faster than hashing one and costs no
/// memory (a cached snapshot of a few features would spend more on an index than on the
/// features themselves).
const SCAN_LIMIT: usize = 16;

/// All of a customer's entitlements, one aggregate per feature, in first-seen order.
///
/// Serialized with the wire's field names, in the shape of the raw answer
/// ([`RawEntitlements`]) with one aggregated [`Entitlement`] per feature:
/// `{"customerId": "cust_pro", "entitlements": [{"featureId": ..., "items": [..]}, ..]}` —
/// what a "my plan" endpoint returns as is (`Json(snapshot.to_entitlements())`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kelviq_client::Error> {
/// # let mock = kelviq_mock::MockServer::start().await;
/// # let kelviq = kelviq_client::Kelviq::builder()
/// #     .access_token(mock.token()).api_url(mock.url()).edge_url(mock.edge_url()).build()?;
/// let all = kelviq.entitlements().get_all_entitlements("cust_pro").await?;
/// let json = serde_json::to_value(&all).expect("plain data");
/// assert_eq!(json["customerId"], "cust_pro");
/// let calls = json["entitlements"]
///     .as_array()
///     .and_then(|features| features.iter().find(|feature| feature["featureId"] == "api-calls"))
///     .expect("cust_pro has api-calls");
/// assert_eq!(calls["usageLimit"], 10_000);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entitlements {
    customer_id: SmolStr,
    features: Box<[Entitlement]>,
    /// Feature id → position, for customers with [`SCAN_LIMIT`] features or more.
    index: Option<Box<FeatureIndex>>,
}

/// Feature id → position in a customer's features, for customers with [`SCAN_LIMIT`]
/// features or more.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeatureIndex(HashMap<Box<str>, usize>);

impl FeatureIndex {
    /// The index of these ids (in order), if there are enough of them to need one.
    pub(crate) fn of<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Option<Box<Self>> {
        (ids.len() >= SCAN_LIMIT).then(|| {
            let positions = ids
                .enumerate()
                .map(|(position, id)| (Box::from(id), position));
            Box::new(FeatureIndex(positions.collect()))
        })
    }

    /// Where the feature is.
    pub(crate) fn position(&self, feature_id: &str) -> Option<usize> {
        self.0.get(feature_id).copied()
    }
}

impl Entitlements {
    /// Aggregates a raw response.
    pub fn from_raw(raw: RawEntitlements) -> Self {
        let mut groups: Vec<Vec<EntitlementEntry>> = Vec::new();
        let mut index: HashMap<SmolStr, usize> = HashMap::new();
        for entry in raw.entitlements {
            match index.get(&entry.feature_id) {
                Some(&position) => groups[position].push(entry),
                None => {
                    index.insert(entry.feature_id.clone(), groups.len());
                    groups.push(vec![entry]);
                }
            }
        }
        let features: Box<[Entitlement]> = groups
            .into_iter()
            .filter_map(Entitlement::from_entries)
            .collect();
        Entitlements::from_parts(SmolStr::from(raw.customer_id), features)
    }

    /// A customer's features, already aggregated.
    pub(crate) fn from_parts(customer_id: SmolStr, features: Box<[Entitlement]>) -> Self {
        let index = FeatureIndex::of(features.iter().map(Entitlement::feature_id));
        Entitlements {
            customer_id,
            features,
            index,
        }
    }

    /// The customer id, the features and their index.
    pub(crate) fn into_parts(self) -> (SmolStr, Box<[Entitlement]>, Option<Box<FeatureIndex>>) {
        (self.customer_id, self.features, self.index)
    }

    /// The customer these entitlements belong to.
    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }

    /// One feature's entitlement, `None` if the customer does not have it.
    pub fn get(&self, feature_id: &str) -> Option<&Entitlement> {
        self.position(feature_id)
            .and_then(|position| self.features.get(position))
    }

    /// One feature's entitlement, mutably.
    pub fn get_mut(&mut self, feature_id: &str) -> Option<&mut Entitlement> {
        self.position(feature_id)
            .and_then(|position| self.features.get_mut(position))
    }

    /// Where a feature is in [`Entitlements::iter`]'s order.
    fn position(&self, feature_id: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.position(feature_id),
            None => self
                .features
                .iter()
                .position(|feature| feature.feature_id() == feature_id),
        }
    }

    /// Whether the customer may use the feature: `false` for a feature it does not have.
    pub fn has_access(&self, feature_id: &str) -> bool {
        self.get(feature_id).is_some_and(Entitlement::has_access)
    }

    /// Every feature, in first-seen order.
    pub fn iter(&self) -> impl Iterator<Item = &Entitlement> {
        self.features.iter()
    }

    /// How many features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether the customer has no feature at all.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

impl Serialize for Entitlement {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AggregateWire {
            feature_id: self.feature_id(),
            feature_type: self.feature_type(),
            has_access: self.has_access(),
            hard_limit: self.hard_limit(),
            usage_limit: self.limit(),
            current_usage: self.usage(),
            remaining: self.remaining(),
            items: self.items(),
        }
        .serialize(serializer)
    }
}

impl Serialize for Entitlements {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AllWire {
            customer_id: self.customer_id(),
            entitlements: &self.features,
        }
        .serialize(serializer)
    }
}

/// An [`Entitlement`] as serialized: the wire's names, in the order of the raw entries'.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AggregateWire<'a> {
    feature_id: &'a str,
    feature_type: Option<&'a FeatureType>,
    has_access: bool,
    hard_limit: bool,
    usage_limit: Option<i64>,
    current_usage: Option<i64>,
    remaining: Option<i64>,
    items: &'a [EntitlementEntry],
}

/// [`Entitlements`] as serialized: the raw answer's shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AllWire<'a> {
    customer_id: &'a str,
    entitlements: &'a [Entitlement],
}

impl<'a> IntoIterator for &'a Entitlements {
    type Item = &'a Entitlement;
    type IntoIter = std::slice::Iter<'a, Entitlement>;

    fn into_iter(self) -> Self::IntoIter {
        self.features.iter()
    }
}

/// The sum of values from the network, pinned at `i64`'s bounds instead of wrapping (or
/// panicking in a debug build).
/// A `resetAt` value as a UTC instant: Kelviq's `YYYY-MM-DD HH:MM:SS` (UTC), or an RFC 3339
/// timestamp. Anything else (or a value too long to be either) is no reset.
fn parse_reset(reset: &str) -> Option<jiff::Timestamp> {
    let reset = reset.trim();
    if reset.len() > 64 {
        return None;
    }
    reset
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|reset| reset.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|reset| reset.timestamp())
        .or_else(|| reset.parse::<jiff::Timestamp>().ok())
}

fn saturating_sum(values: impl Iterator<Item = i64>) -> i64 {
    values.fold(0, i64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entitlements(entries: serde_json::Value) -> Entitlements {
        let raw: RawEntitlements =
            serde_json::from_value(json!({"customerId": "c", "entitlements": entries})).unwrap();
        Entitlements::from_raw(raw)
    }

    fn meter(
        limit: Option<i64>,
        usage: Option<i64>,
        hard: bool,
        access: bool,
    ) -> serde_json::Value {
        json!({"featureId": "calls", "featureType": "METER", "hasAccess": access,
               "hardLimit": hard, "usageLimit": limit, "currentUsage": usage, "remaining": null})
    }

    #[test]
    fn meters_add_up_across_entries() {
        let all = entitlements(json!([
            meter(Some(10), Some(10), true, false),
            meter(Some(5), Some(2), true, true),
        ]));
        let calls = all.get("calls").unwrap();
        assert_eq!(calls.limit(), Some(15));
        assert_eq!(calls.usage(), Some(12));
        assert_eq!(calls.remaining(), Some(3));
        assert!(calls.has_access());
        assert_eq!(calls.items().len(), 2);
    }

    #[test]
    fn huge_entries_saturate_instead_of_wrapping() {
        let all = entitlements(json!([
            meter(Some(i64::MAX), Some(i64::MAX), true, true),
            meter(Some(i64::MAX), Some(i64::MAX), true, true),
        ]));
        let calls = all.get("calls").unwrap();
        assert_eq!(calls.limit(), Some(i64::MAX));
        assert_eq!(calls.usage(), Some(i64::MAX));
        assert!(!calls.has_access());
    }

    #[test]
    fn a_hard_limit_reached_denies_and_a_soft_one_does_not() {
        let hard = entitlements(json!([meter(Some(10), Some(10), true, true)]));
        assert!(!hard.has_access("calls"));
        assert_eq!(hard.get("calls").unwrap().remaining(), Some(0));
        let soft = entitlements(json!([meter(Some(10), Some(14), false, true)]));
        assert!(soft.has_access("calls"));
        assert_eq!(soft.get("calls").unwrap().remaining(), Some(0));
    }

    #[test]
    fn an_unlimited_entry_makes_the_feature_unlimited_and_the_server_can_deny() {
        let mixed = entitlements(json!([
            meter(Some(10), Some(10), true, false),
            meter(None, Some(3), true, true)
        ]));
        let calls = mixed.get("calls").unwrap();
        assert_eq!(calls.limit(), None);
        assert_eq!(calls.remaining(), None);
        assert!(calls.has_access());
        let denied = entitlements(json!([meter(None, None, false, false)]));
        assert!(!denied.has_access("calls"));
        assert_eq!(denied.get("calls").unwrap().usage(), None);
    }

    #[test]
    fn customizable_and_boolean_take_the_first_entry_and_any_access() {
        let all = entitlements(json!([
            {"featureId": "seats", "featureType": "CUSTOMIZABLE", "hasAccess": false, "usageLimit": 10, "currentUsage": null, "remaining": 10, "hardLimit": false},
            {"featureId": "seats", "featureType": "CUSTOMIZABLE", "hasAccess": true, "usageLimit": 99, "currentUsage": 4, "remaining": 95},
            {"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": false},
            {"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": true},
            {"featureId": "beta", "featureType": null, "hasAccess": false}
        ]));
        let seats = all.get("seats").unwrap();
        assert_eq!(seats.limit(), Some(10));
        assert_eq!(seats.usage(), Some(0));
        assert!(seats.has_access());
        assert!(all.has_access("reports"));
        assert!(!all.has_access("beta"));
        assert!(!all.has_access("unknown"));
        let order: Vec<&str> = all.iter().map(Entitlement::feature_id).collect();
        assert_eq!(order, ["seats", "reports", "beta"]);
    }

    #[test]
    fn serialized_with_the_wire_names_and_rebuilt_from_their_items() {
        let mut all = entitlements(json!([
            meter(Some(10), Some(8), true, true),
            meter(Some(5), None, true, true),
            {"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": true,
             "resetAt": null, "hardLimit": null, "usageLimit": null, "currentUsage": null,
             "remaining": null}
        ]));
        all.get_mut("calls").unwrap().apply_usage(2, false);
        let serialized = serde_json::to_value(&all).unwrap();
        let entry = |limit: i64, usage: Option<i64>| {
            json!({"featureId": "calls", "featureType": "METER", "hasAccess": true,
                   "resetAt": null, "hardLimit": true, "usageLimit": limit,
                   "currentUsage": usage, "remaining": null})
        };
        assert_eq!(
            serialized,
            json!({"customerId": "c", "entitlements": [
                {"featureId": "calls", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 15, "currentUsage": 10, "remaining": 5,
                 "items": [entry(10, Some(8)), entry(5, None)]},
                {"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": true,
                 "hardLimit": false, "usageLimit": null, "currentUsage": 0, "remaining": null,
                 "items": [{"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": true,
                            "resetAt": null, "hardLimit": null, "usageLimit": null,
                            "currentUsage": null, "remaining": null}]}
            ]})
        );
        // The items are the raw entries: they rebuild the aggregate (before the usage this
        // process applied, which the aggregate's own members carry).
        let items: Vec<serde_json::Value> = serialized["entitlements"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|feature| feature["items"].as_array().unwrap().clone())
            .collect();
        let rebuilt = entitlements(serde_json::Value::Array(items));
        let mut applied = rebuilt.clone();
        applied.get_mut("calls").unwrap().apply_usage(2, false);
        assert_eq!(applied, all);
        assert_eq!(rebuilt.get("calls").unwrap().usage(), Some(8));
    }

    #[test]
    fn applied_usage_flips_access_at_the_limit_and_set_replaces() {
        let mut all = entitlements(json!([meter(Some(10), Some(8), true, true)]));
        let calls = all.get_mut("calls").unwrap();
        calls.apply_usage(1, false);
        assert!(calls.has_access());
        calls.apply_usage(1, false);
        assert!(!calls.has_access());
        assert_eq!(calls.remaining(), Some(0));
        calls.apply_usage(3, true);
        assert_eq!(calls.usage(), Some(3));
        assert!(calls.has_access());
    }
}
