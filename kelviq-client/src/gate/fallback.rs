//! [`Fallback`]: entitlements configured in code, answered when Kelviq cannot be reached
//! and a customer has no usable snapshot ([`FailurePolicy::Fallback`](super::FailurePolicy::Fallback)).

use smol_str::SmolStr;

use crate::cache::Snapshot;
use crate::models::{EntitlementEntry, Entitlements, FeatureType, RawEntitlements};

/// The entitlements a gate answers with when Kelviq cannot be reached and a customer has no
/// usable snapshot: the features listed are granted (without limits), every other one is
/// refused as not in the plan. Every decision made on them is *degraded*: the request's
/// context says so ([`RequestContext::is_degraded`](super::RequestContext::is_degraded),
/// [`Snapshot::is_fallback`]) and the gate counts them
/// ([`Gate::fallback_decisions`](super::Gate::fallback_decisions)).
///
/// To answer "as if on plan X", grant that plan's features:
///
/// ```
/// use kelviq_client::gate::{FailurePolicy, Fallback};
///
/// const FREE_PLAN: [&str; 2] = ["dashboard", "api-calls"];
/// let policy = FailurePolicy::fallback(Fallback::new().grant_all(FREE_PLAN));
/// assert!(matches!(policy, FailurePolicy::Fallback(_)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Fallback {
    features: Vec<String>,
}

impl Fallback {
    /// Grants nothing (every feature is refused, known customers are let through a gate
    /// that requires nothing).
    pub fn new() -> Self {
        Fallback::default()
    }

    /// Grants `feature` (an id, or a [`feature!`](crate::feature) type).
    pub fn grant(mut self, feature: impl Into<String>) -> Self {
        self.features.push(feature.into());
        self
    }

    /// Grants every one of `features`.
    pub fn grant_all<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.features.extend(features.into_iter().map(Into::into));
        self
    }

    /// The features granted.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// The customer's snapshot made of these entitlements, marked as a fallback.
    pub(crate) fn snapshot(&self, customer_id: &str) -> Snapshot {
        let entitlements = self
            .features
            .iter()
            .map(|feature| EntitlementEntry {
                feature_id: SmolStr::from(feature),
                feature_type: Some(FeatureType::Boolean),
                has_access: true,
                reset_at: None,
                hard_limit: None,
                usage_limit: None,
                current_usage: None,
                remaining: None,
            })
            .collect();
        Snapshot::fallback(Entitlements::from_raw(RawEntitlements {
            customer_id: customer_id.to_owned(),
            entitlements,
        }))
    }
}
