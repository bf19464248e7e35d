//! Changes made "in Kelviq's dashboard": not through the API, but announced like any other.
//!
//! As strict as the dashboard: a usage is set only for a metered or customizable feature
//! of one of the customer's active subscriptions, and never below 0. A change that changes
//! nothing (the plan the customer is on, the usage it has) is no change: the state is left
//! as it is and nothing is announced, as the service sends no webhook for it.

use serde_json::json;

use super::State;
use crate::seed::FeatureKind;

/// Why a dashboard change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DashboardError {
    UnknownCustomer,
    UnknownPlan,
    /// No active subscription of the customer includes the feature.
    UnknownFeature,
    /// The feature is a boolean one: it has no usage.
    BooleanFeature,
    /// A usage below 0.
    NegativeUsage,
}

/// What a plan change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlanChange {
    /// The subscription on the plan now.
    pub(crate) subscription_id: String,
    /// `false` when the customer already was on the plan: nothing changed, nothing was
    /// announced.
    pub(crate) changed: bool,
}

impl State {
    /// Moves the customer to `plan`: its oldest active subscription changes plan (same
    /// charge period; chosen feature quantities the new plan still has are kept), or, with
    /// none, a monthly subscription starts. Returns the subscription id; when that
    /// subscription is on `plan` already, nothing changes.
    pub(crate) fn set_plan(
        &mut self,
        customer_id: &str,
        plan: &str,
    ) -> Result<PlanChange, DashboardError> {
        if self.customer(customer_id).is_none() {
            return Err(DashboardError::UnknownCustomer);
        }
        let Some(features) = self.plan(plan).map(|plan| {
            plan.features
                .iter()
                .map(|feature| feature.id.clone())
                .collect::<Vec<_>>()
        }) else {
            return Err(DashboardError::UnknownPlan);
        };
        let current = self
            .active_subscriptions(customer_id)
            .first()
            .map(|sub| (*sub).clone());
        match current {
            Some(before) if before.plan == plan => Ok(PlanChange {
                subscription_id: before.id,
                changed: false,
            }),
            Some(before) => {
                let kept = before
                    .features
                    .iter()
                    .filter(|line| features.contains(&line.identifier))
                    .cloned()
                    .collect();
                let after = before.changed(plan, &before.charge_period, kept, None, self.now());
                let id = after.id.clone();
                self.replace_subscription(after);
                Ok(PlanChange {
                    subscription_id: id,
                    changed: true,
                })
            }
            None => Ok(PlanChange {
                subscription_id: self.subscribe(
                    customer_id,
                    plan,
                    "MONTHLY",
                    Vec::new(),
                    None,
                    None,
                ),
                changed: true,
            }),
        }
    }

    /// Whether the customer's usage of `feature_id` can be set: a metered or customizable
    /// feature of one of its active subscriptions.
    pub(crate) fn check_usage_feature(
        &self,
        customer_id: &str,
        feature_id: &str,
    ) -> Result<(), DashboardError> {
        if self.customer(customer_id).is_none() {
            return Err(DashboardError::UnknownCustomer);
        }
        match self.feature_kind(customer_id, feature_id) {
            Some(FeatureKind::Meter | FeatureKind::Customizable) => Ok(()),
            Some(FeatureKind::Boolean) => Err(DashboardError::BooleanFeature),
            None => Err(DashboardError::UnknownFeature),
        }
    }

    /// Sets the customer's usage of a feature ([`check_usage_feature`](Self::check_usage_feature)),
    /// as a `SET` report would, without recording a report; announced as
    /// `customer.updated`. `Ok(false)`: the usage already was `value`, and nothing changed
    /// or was announced.
    pub(crate) fn set_usage(
        &mut self,
        customer_id: &str,
        feature_id: &str,
        value: i64,
    ) -> Result<bool, DashboardError> {
        self.check_usage_feature(customer_id, feature_id)?;
        if value < 0 {
            return Err(DashboardError::NegativeUsage);
        }
        if self.usage_of(customer_id, feature_id) == value {
            return Ok(false);
        }
        self.usage
            .insert((customer_id.to_owned(), feature_id.to_owned()), value);
        self.notify(
            "customer.updated",
            customer_id,
            json!({"customerId": customer_id, "featureId": feature_id, "usage": value}),
        );
        Ok(true)
    }
}
