//! License keys: activations, deactivations, validations and the license details object.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::subscriptions::{Product, Subscription};

/// A license key with its customer, plan and subscription.
///
/// The key unlocks the product for whoever holds it: `Debug` prints it as `***`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicenseDetails {
    /// Kelviq's id for the license.
    pub id: String,
    /// The key.
    pub license_key: String,
    /// When it was first activated (ISO 8601).
    #[serde(default)]
    pub activated_on: Option<String>,
    /// When it expires (ISO 8601); `None`: never.
    #[serde(default)]
    pub expires_on: Option<String>,
    /// How many instances are activated.
    pub activation_usage: i64,
    /// How many instances may be activated.
    pub activation_limit: i64,
    /// Whether the key is enabled.
    pub enabled: bool,
    /// The customer the key belongs to.
    #[serde(default)]
    pub customer: Option<LicenseCustomer>,
    /// The plan the key was issued for.
    #[serde(default)]
    pub plan: Option<LicensePlan>,
    /// The subscription the key was issued with.
    #[serde(default)]
    pub subscription: Option<Subscription>,
}

impl std::fmt::Debug for LicenseDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseDetails")
            .field("id", &self.id)
            .field("license_key", &"***")
            .field("activated_on", &self.activated_on)
            .field("expires_on", &self.expires_on)
            .field("activation_usage", &self.activation_usage)
            .field("activation_limit", &self.activation_limit)
            .field("enabled", &self.enabled)
            .field("customer", &self.customer)
            .field("plan", &self.plan)
            .field("subscription", &self.subscription)
            .finish()
    }
}

/// The customer of a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicenseCustomer {
    /// Your id for the customer.
    pub customer_id: String,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The email address.
    #[serde(default)]
    pub email: Option<String>,
}

/// The plan of a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicensePlan {
    /// The plan identifier.
    pub identifier: String,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The description.
    #[serde(default)]
    pub description: Option<String>,
    /// The product the plan belongs to.
    #[serde(default)]
    pub product: Option<Product>,
    /// The plan's version.
    #[serde(default)]
    pub version: Option<i64>,
    /// Whether this is the plan's latest version.
    #[serde(default)]
    pub is_latest: Option<bool>,
}

/// The answer to an activation: the new instance and the license.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicenseActivation {
    /// The id of the activated instance: keep it to validate or deactivate it.
    pub instance_id: String,
    /// When it was activated (ISO 8601).
    pub activated_at: String,
    /// When the activation expires (ISO 8601); `None`: never.
    #[serde(default)]
    pub expires_on: Option<String>,
    /// The license.
    pub license: LicenseDetails,
}

/// The answer to a deactivation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicenseDeactivation {
    /// The service's message.
    pub message: String,
    /// When the instance was deactivated (ISO 8601).
    pub deactivated_at: String,
}

/// The verdict on a license key (and instance).
///
/// An invalid key may come back either as this with `valid: false` or as an
/// [`Error::Api`](crate::Error::Api), depending on the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicenseValidation {
    /// Whether the key (and instance) may be used.
    pub valid: bool,
    /// Why, as a code (`VALID`, `EXPIRED`, ...; the set is the service's).
    pub code: String,
    /// Why, in words.
    pub detail: String,
    /// The instance's metadata, if an instance was given and has some.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// The license, when the key exists.
    #[serde(default)]
    pub license: Option<LicenseDetails>,
}
