//! Entitlements, computed from active subscriptions and reported usage.
//!
//! A customer gets one entry per (active subscription, plan feature), oldest subscription
//! first, so a feature in two subscriptions appears twice — the case the client must
//! aggregate (`kelviq-api.md` section 5.1). Usage is kept per (customer, feature) and
//! spread over a metered feature's entries in order: each entry takes up to its limit, the
//! last takes the rest.

use serde::Serialize;

use super::State;
use crate::seed::FeatureKind;
use crate::wire::format_reset_at;

/// One entry of `GET /entitlements`, camelCase as on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EntitlementEntry {
    pub(crate) feature_id: String,
    pub(crate) feature_type: &'static str,
    pub(crate) has_access: bool,
    pub(crate) reset_at: Option<String>,
    pub(crate) hard_limit: Option<bool>,
    pub(crate) usage_limit: Option<i64>,
    pub(crate) current_usage: Option<i64>,
    pub(crate) remaining: Option<i64>,
}

impl State {
    /// The customer's current usage of a feature (0 when nothing was reported).
    pub(crate) fn usage_of(&self, customer_id: &str, feature_id: &str) -> i64 {
        self.usage
            .get(&(customer_id.to_owned(), feature_id.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Starts a new usage period: every customer's usage of its metered features is 0.
    pub(crate) fn reset_metered_usage(&mut self) {
        let metered: Vec<(String, String)> = self
            .usage
            .keys()
            .filter(|(customer, feature)| {
                self.feature_kind(customer, feature) == Some(FeatureKind::Meter)
            })
            .cloned()
            .collect();
        for key in metered {
            self.usage.insert(key, 0);
        }
    }

    /// Whether any active subscription of the customer includes the feature, and its kind.
    pub(crate) fn feature_kind(&self, customer_id: &str, feature_id: &str) -> Option<FeatureKind> {
        self.active_subscriptions(customer_id)
            .into_iter()
            .filter_map(|sub| self.plan(&sub.plan))
            .flat_map(|plan| &plan.features)
            .find(|feature| feature.id == feature_id)
            .map(|feature| feature.kind)
    }

    /// Every entitlement entry of the customer, optionally for one feature only.
    pub(crate) fn entitlements(
        &self,
        customer_id: &str,
        feature_id: Option<&str>,
    ) -> Vec<EntitlementEntry> {
        let reset_at = match self.period_end {
            Some(end) => crate::wire::format_reset_instant(end),
            None => format_reset_at(self.now()),
        };
        let features: Vec<_> = self
            .active_subscriptions(customer_id)
            .into_iter()
            .filter_map(|sub| self.plan(&sub.plan))
            .flat_map(|plan| &plan.features)
            .filter(|feature| feature_id.is_none_or(|wanted| feature.id == wanted))
            .collect();
        let mut left: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
        let mut entries = Vec::with_capacity(features.len());
        for (index, feature) in features.iter().enumerate() {
            let entry = match feature.kind {
                FeatureKind::Boolean => EntitlementEntry {
                    feature_id: feature.id.clone(),
                    feature_type: "BOOLEAN",
                    has_access: true,
                    reset_at: None,
                    hard_limit: None,
                    usage_limit: None,
                    current_usage: None,
                    remaining: None,
                },
                FeatureKind::Customizable => {
                    let usage = self.usage_of(customer_id, &feature.id);
                    EntitlementEntry {
                        feature_id: feature.id.clone(),
                        feature_type: "CUSTOMIZABLE",
                        has_access: true,
                        reset_at: None,
                        hard_limit: Some(false),
                        usage_limit: feature.value,
                        current_usage: Some(usage),
                        remaining: feature.value.map(|value| (value - usage).max(0)),
                    }
                }
                FeatureKind::Meter => {
                    let unassigned = left
                        .entry(feature.id.as_str())
                        .or_insert_with(|| self.usage_of(customer_id, &feature.id));
                    let is_last = !features[index + 1..]
                        .iter()
                        .any(|later| later.id == feature.id);
                    let usage = match feature.limit {
                        Some(limit) if !is_last => (*unassigned).clamp(0, limit.max(0)),
                        _ => *unassigned,
                    };
                    *unassigned -= usage;
                    let remaining = feature.limit.map(|limit| (limit - usage).max(0));
                    EntitlementEntry {
                        feature_id: feature.id.clone(),
                        feature_type: "METER",
                        has_access: !feature.hard_limit || remaining.is_none_or(|r| r > 0),
                        reset_at: Some(reset_at.clone()),
                        hard_limit: Some(feature.hard_limit),
                        usage_limit: feature.limit,
                        current_usage: Some(usage),
                        remaining,
                    }
                }
            };
            entries.push(entry);
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{Feature, Plan, Seed, SeedCustomer};

    fn state(seed: Seed) -> State {
        seed.validate().unwrap();
        State::from_seed(&seed, 1, "http://127.0.0.1:1".to_owned())
    }

    #[test]
    fn usage_fills_entries_in_order_and_access_follows_the_hard_limit() {
        let seed = Seed::empty()
            .plan(Plan::new("base").feature(Feature::metered("calls").limit(10)))
            .plan(Plan::new("addon").feature(Feature::metered("calls").limit(5)))
            .customer(
                SeedCustomer::new("c")
                    .subscribe("base")
                    .subscribe("addon")
                    .usage("calls", 12),
            );
        let entries = state(seed).entitlements("c", None);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].current_usage, Some(10));
        assert_eq!(entries[0].remaining, Some(0));
        assert!(!entries[0].has_access);
        assert_eq!(entries[1].current_usage, Some(2));
        assert_eq!(entries[1].remaining, Some(3));
        assert!(entries[1].has_access);
    }

    #[test]
    fn soft_limits_keep_access_and_unlimited_meters_have_no_remaining() {
        let seed = Seed::empty()
            .plan(
                Plan::new("p")
                    .feature(Feature::metered("soft").limit(1).soft_limit())
                    .feature(Feature::metered("free")),
            )
            .customer(
                SeedCustomer::new("c")
                    .subscribe("p")
                    .usage("soft", 3)
                    .usage("free", 7),
            );
        let entries = state(seed).entitlements("c", None);
        assert!(entries[0].has_access);
        assert_eq!(entries[0].current_usage, Some(3));
        assert_eq!(entries[0].remaining, Some(0));
        assert_eq!(entries[1].remaining, None);
        assert_eq!(entries[1].current_usage, Some(7));
        assert!(entries[1].has_access);
    }

    #[test]
    fn feature_filter_and_unknown_customer() {
        let state = state(Seed::default());
        let entries = state.entitlements("cust_pro", Some("reports"));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].feature_type, "BOOLEAN");
        assert!(state.entitlements("cust_free", Some("reports")).is_empty());
        assert!(state.entitlements("nobody", None).is_empty());
    }
}
