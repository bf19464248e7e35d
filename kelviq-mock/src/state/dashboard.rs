//! Changes made "in Kelviq's dashboard": not through the API, but announced like any other.

use serde_json::json;

use super::State;

/// Why a dashboard change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DashboardError {
    UnknownCustomer,
    UnknownPlan,
}

impl State {
    /// Moves the customer to `plan`: its oldest active subscription changes plan (same
    /// charge period; chosen feature quantities the new plan still has are kept), or, with
    /// none, a monthly subscription starts. Returns the subscription id.
    pub(crate) fn set_plan(
        &mut self,
        customer_id: &str,
        plan: &str,
    ) -> Result<String, DashboardError> {
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
                Ok(id)
            }
            None => Ok(self.subscribe(customer_id, plan, "MONTHLY", Vec::new(), None, None)),
        }
    }

    /// Sets the customer's usage of a feature, as a `SET` report would, without recording
    /// a report; announced as `customer.updated`.
    pub(crate) fn set_usage(
        &mut self,
        customer_id: &str,
        feature_id: &str,
        value: i64,
    ) -> Result<(), DashboardError> {
        if self.customer(customer_id).is_none() {
            return Err(DashboardError::UnknownCustomer);
        }
        self.usage
            .insert((customer_id.to_owned(), feature_id.to_owned()), value);
        self.notify(
            "customer.updated",
            customer_id,
            json!({"customerId": customer_id, "featureId": feature_id, "usage": value}),
        );
        Ok(())
    }
}
