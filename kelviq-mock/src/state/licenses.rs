//! License keys and their activations.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::State;

/// One activation of a license on an instance (a machine, a seat).
#[derive(Debug, Clone)]
pub(crate) struct Activation {
    pub(crate) instance_id: String,
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

    pub(crate) fn license(&self, key: &str) -> Option<&License> {
        self.licenses.iter().find(|license| license.license_key == key)
    }

    pub(crate) fn license_mut(&mut self, key: &str) -> Option<&mut License> {
        self.licenses
            .iter_mut()
            .find(|license| license.license_key == key)
    }
}
