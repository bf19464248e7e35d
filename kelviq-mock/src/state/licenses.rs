//! License keys and their activations.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};

use super::State;

/// One activation of a license on an instance (a machine, a seat).
#[derive(Debug, Clone)]
pub(crate) struct Activation {
    pub(crate) instance_id: String,
    #[expect(
        dead_code,
        reason = "recorded for inspection; no route or accessor reads it yet"
    )]
    pub(crate) instance_name: Option<String>,
    pub(crate) metadata: Option<Map<String, Value>>,
    pub(crate) activated_at: Timestamp,
    /// Set by `POST /license/deactivate/`; a deactivated instance no longer counts.
    pub(crate) deactivated_at: Option<Timestamp>,
}

/// A license key issued with a subscription.
#[derive(Debug, Clone)]
pub(crate) struct License {
    pub(crate) id: String,
    pub(crate) license_key: String,
    pub(crate) customer_id: String,
    pub(crate) plan: String,
    pub(crate) subscription_id: String,
    pub(crate) activation_limit: i64,
    pub(crate) expires_on: Option<Timestamp>,
    pub(crate) enabled: bool,
    pub(crate) activations: Vec<Activation>,
}

impl License {
    /// How many instances are active now.
    pub(crate) fn activation_usage(&self) -> i64 {
        let active = self
            .activations
            .iter()
            .filter(|activation| activation.deactivated_at.is_none())
            .count();
        i64::try_from(active).unwrap_or(i64::MAX)
    }

    /// The activation of `instance_id`, if it is still active.
    pub(crate) fn active_instance(&self, instance_id: &str) -> Option<&Activation> {
        self.activations.iter().find(|activation| {
            activation.instance_id == instance_id && activation.deactivated_at.is_none()
        })
    }

    /// When the license was first activated (deactivated instances included).
    pub(crate) fn first_activated_on(&self) -> Option<Timestamp> {
        self.activations
            .iter()
            .map(|activation| activation.activated_at)
            .min()
    }
}

impl State {
    /// Issues a license key for a subscription (generated when `key` is `None`).
    pub(crate) fn issue_license(
        &mut self,
        customer_id: &str,
        plan: &str,
        subscription_id: &str,
        activation_limit: i64,
        key: Option<String>,
    ) {
        let id = self.new_uuid();
        let license_key = match key {
            Some(key) => key,
            None => self.new_token().to_uppercase(),
        };
        self.licenses.push(License {
            id,
            license_key,
            customer_id: customer_id.to_owned(),
            plan: plan.to_owned(),
            subscription_id: subscription_id.to_owned(),
            activation_limit,
            expires_on: None,
            enabled: true,
            activations: Vec::new(),
        });
    }

    /// When the license stops working: its own expiry, else the start (UTC midnight) of its
    /// subscription's end date, if one is set.
    pub(crate) fn license_expires_on(&self, license: &License) -> Option<Timestamp> {
        license.expires_on.or_else(|| {
            self.subscription(&license.subscription_id)
                .and_then(|sub| sub.end_date)
                .and_then(|end| end.to_zoned(TimeZone::UTC).ok())
                .map(|zoned| zoned.timestamp())
        })
    }

    /// Whether the license has expired: past its expiry, or its subscription no longer
    /// grants access.
    pub(crate) fn license_expired(&self, license: &License) -> bool {
        let today = self.today();
        let past_expiry = license
            .expires_on
            .is_some_and(|expires_on| expires_on <= self.now());
        let subscription_active = self
            .subscription(&license.subscription_id)
            .is_some_and(|sub| sub.is_active(today));
        past_expiry || !subscription_active
    }

    /// After a subscription changed plan: its licenses take the new plan and activation
    /// limit, or are disabled when the new plan issues none; a license is issued when the
    /// new plan issues them and the subscription has none yet.
    pub(crate) fn sync_licenses(&mut self, subscription_id: &str) {
        let Some(sub) = self.subscription(subscription_id) else {
            return;
        };
        let customer_id = sub.customer_id.clone();
        let plan = sub.plan.clone();
        let limit = self
            .plan(&plan)
            .and_then(|plan| plan.license_activation_limit);
        let mut has_license = false;
        for license in self
            .licenses
            .iter_mut()
            .filter(|license| license.subscription_id == subscription_id)
        {
            has_license = true;
            match limit {
                Some(limit) => {
                    license.plan.clone_from(&plan);
                    license.activation_limit = limit;
                    license.enabled = true;
                }
                None => license.enabled = false,
            }
        }
        if let (false, Some(limit)) = (has_license, limit) {
            self.issue_license(&customer_id, &plan, subscription_id, limit, None);
        }
    }

    pub(crate) fn license(&self, key: &str) -> Option<&License> {
        self.licenses
            .iter()
            .find(|license| license.license_key == key)
    }

    pub(crate) fn license_mut(&mut self, key: &str) -> Option<&mut License> {
        self.licenses
            .iter_mut()
            .find(|license| license.license_key == key)
    }
}
