//! What the mock starts with: plans, their features, and customers subscribed to them.
//!
//! A [`Seed`] is built in Rust or read from JSON ([`Seed::from_json`]); the crate ships a
//! default ([`Seed::default`], `seed/default.json`) with a free and a pro customer.
//!
//! ```
//! use kelviq_mock::{Feature, Plan, Seed, SeedCustomer};
//!
//! let seed = Seed::empty()
//!     .plan(
//!         Plan::new("pro")
//!             .name("Pro")
//!             .price_units(4900)
//!             .feature(Feature::boolean("reports"))
//!             .feature(Feature::metered("api-calls").limit(1000))
//!             .feature(Feature::customizable("seats", 10)),
//!     )
//!     .customer(SeedCustomer::new("acme").email("ops@acme.test").subscribe("pro"));
//! assert!(seed.validate().is_ok());
//! ```
//!
//! The JSON form has the same shape, camelCase:
//!
//! ```json
//! {
//!   "plans": [{
//!     "identifier": "pro", "name": "Pro", "priceUnits": 4900, "currency": "USD",
//!     "licenseActivationLimit": 3,
//!     "features": [
//!       {"id": "reports", "type": "BOOLEAN"},
//!       {"id": "api-calls", "type": "METER", "limit": 1000, "hardLimit": true},
//!       {"id": "seats", "type": "CUSTOMIZABLE", "value": 10}
//!     ]
//!   }],
//!   "customers": [{
//!     "customerId": "acme", "email": "ops@acme.test", "name": "Acme",
//!     "subscriptions": [{"plan": "pro", "licenseKey": "ACME-PRO"}],
//!     "usage": {"api-calls": 12},
//!     "paymentMethod": true
//!   }]
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The plans and customers the mock starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// The plans customers can subscribe to.
    #[serde(default)]
    pub plans: Vec<Plan>,
    /// The customers that exist at start.
    #[serde(default)]
    pub customers: Vec<SeedCustomer>,
}

/// The kind of a feature, as the entitlements endpoint names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FeatureKind {
    /// On or off.
    Boolean,
    /// Counted usage, optionally against a limit.
    Meter,
    /// A configured value, such as retention days or seats.
    Customizable,
}

/// A feature of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Feature {
    /// The feature identifier (`featureId` on the wire).
    pub id: String,
    /// The kind of feature.
    #[serde(rename = "type")]
    pub kind: FeatureKind,
    /// For a metered feature, the usage limit per period (`None`: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// For a metered feature with a limit, whether access stops at the limit (default true).
    #[serde(default = "default_true")]
    pub hard_limit: bool,
    /// For a customizable feature, its configured value (reported as `usageLimit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
}

fn default_true() -> bool {
    true
}

impl Feature {
    /// An on/off feature.
    pub fn boolean(id: impl Into<String>) -> Self {
        Feature {
            id: id.into(),
            kind: FeatureKind::Boolean,
            limit: None,
            hard_limit: true,
            value: None,
        }
    }

    /// A metered feature, unlimited until [`Feature::limit`] is set.
    pub fn metered(id: impl Into<String>) -> Self {
        Feature {
            kind: FeatureKind::Meter,
            ..Feature::boolean(id)
        }
    }

    /// A customizable feature with its configured value.
    pub fn customizable(id: impl Into<String>, value: i64) -> Self {
        Feature {
            kind: FeatureKind::Customizable,
            value: Some(value),
            ..Feature::boolean(id)
        }
    }

    /// Sets the usage limit of a metered feature.
    #[must_use]
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Makes the limit soft: access continues past it (`hardLimit: false`).
    #[must_use]
    pub fn soft_limit(mut self) -> Self {
        self.hard_limit = false;
        self
    }
}

/// A plan customers subscribe to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// The plan identifier (`planIdentifier` on the wire).
    pub identifier: String,
    /// The display name (defaults to the identifier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The price per charge period in minor units (cents); 0 for a free plan.
    #[serde(default)]
    pub price_units: i64,
    /// The ISO currency code (default `USD`).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// When set, each subscription to the plan gets a license key with this many activations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_activation_limit: Option<i64>,
    /// The plan's features.
    #[serde(default)]
    pub features: Vec<Feature>,
}

fn default_currency() -> String {
    "USD".to_owned()
}

impl Plan {
    /// A free plan with no features.
    pub fn new(identifier: impl Into<String>) -> Self {
        Plan {
            identifier: identifier.into(),
            name: None,
            price_units: 0,
            currency: default_currency(),
            license_activation_limit: None,
            features: Vec::new(),
        }
    }

    /// Sets the display name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the price per period in minor units.
    #[must_use]
    pub fn price_units(mut self, units: i64) -> Self {
        self.price_units = units;
        self
    }

    /// Sets the currency code.
    #[must_use]
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = currency.into();
        self
    }

    /// Issues a license key with `limit` activations for each subscription.
    #[must_use]
    pub fn license_activation_limit(mut self, limit: i64) -> Self {
        self.license_activation_limit = Some(limit);
        self
    }

    /// Adds a feature.
    #[must_use]
    pub fn feature(mut self, feature: Feature) -> Self {
        self.features.push(feature);
        self
    }

    /// The display name, or the identifier when none was set.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.identifier)
    }
}

/// A subscription a seeded customer starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedSubscription {
    /// The plan identifier.
    pub plan: String,
    /// The charge period (default `MONTHLY`).
    #[serde(default = "default_charge_period")]
    pub charge_period: String,
    /// The license key issued for it (when the plan issues licenses); generated if `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_key: Option<String>,
}

fn default_charge_period() -> String {
    "MONTHLY".to_owned()
}

/// A customer that exists when the mock starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedCustomer {
    /// The caller's customer id (`customerId` on the wire).
    pub customer_id: String,
    /// The email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Active subscriptions, in order (entitlement entries follow this order).
    #[serde(default)]
    pub subscriptions: Vec<SeedSubscription>,
    /// Usage already recorded this period, per metered feature.
    #[serde(default)]
    pub usage: BTreeMap<String, i64>,
    /// Whether the customer has a saved card (needed for one-time charges).
    #[serde(default)]
    pub payment_method: bool,
}

impl SeedCustomer {
    /// A customer with no email, subscription or usage.
    pub fn new(customer_id: impl Into<String>) -> Self {
        SeedCustomer {
            customer_id: customer_id.into(),
            email: None,
            name: None,
            subscriptions: Vec::new(),
            usage: BTreeMap::new(),
            payment_method: false,
        }
    }

    /// Sets the email address.
    #[must_use]
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the display name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Subscribes the customer to `plan` (monthly).
    #[must_use]
    pub fn subscribe(mut self, plan: impl Into<String>) -> Self {
        self.subscriptions.push(SeedSubscription {
            plan: plan.into(),
            charge_period: default_charge_period(),
            license_key: None,
        });
        self
    }

    /// Subscribes the customer to `plan` with a known license key.
    #[must_use]
    pub fn subscribe_with_license(
        mut self,
        plan: impl Into<String>,
        license_key: impl Into<String>,
    ) -> Self {
        self.subscriptions.push(SeedSubscription {
            plan: plan.into(),
            charge_period: default_charge_period(),
            license_key: Some(license_key.into()),
        });
        self
    }

    /// Sets the usage already recorded for a metered feature.
    #[must_use]
    pub fn usage(mut self, feature: impl Into<String>, amount: i64) -> Self {
        self.usage.insert(feature.into(), amount);
        self
    }

    /// Gives the customer a saved default card.
    #[must_use]
    pub fn payment_method(mut self) -> Self {
        self.payment_method = true;
        self
    }
}

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The JSON does not have the seed's shape.
    #[error("invalid seed JSON")]
    Json(#[from] serde_json::Error),
    /// The seed file could not be read.
    #[error("cannot read seed file {path}")]
    Io {
        /// The path given.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The seed is well-formed but inconsistent.
    #[error("invalid seed: {0}")]
    Invalid(String),
}

const DEFAULT_SEED: &str = include_str!("../seed/default.json");

impl Default for Seed {
    /// The seed shipped in `seed/default.json`: plans `free` and `pro`, customers
    /// `cust_free` and `cust_pro`.
    fn default() -> Self {
        // INVARIANT: the shipped seed is valid JSON of this shape; a unit test parses it.
        #[allow(clippy::expect_used)]
        Seed::from_json(DEFAULT_SEED).expect("the shipped default seed is valid")
    }
}

impl Seed {
    /// No plans and no customers.
    pub fn empty() -> Self {
        Seed {
            plans: Vec::new(),
            customers: Vec::new(),
        }
    }

    /// Reads a seed from JSON and validates it.
    ///
    /// # Errors
    ///
    /// [`SeedError::Json`] when the text is not a seed, [`SeedError::Invalid`] when it
    /// names unknown plans or repeats an identifier.
    pub fn from_json(json: &str) -> Result<Self, SeedError> {
        let seed: Seed = serde_json::from_str(json)?;
        seed.validate()?;
        Ok(seed)
    }

    /// Reads a seed from a JSON file.
    ///
    /// # Errors
    ///
    /// [`SeedError::Io`] when the file cannot be read, else as [`Seed::from_json`].
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, SeedError> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|source| SeedError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Seed::from_json(&json)
    }

    /// Adds a plan.
    #[must_use]
    pub fn plan(mut self, plan: Plan) -> Self {
        self.plans.push(plan);
        self
    }

    /// Adds a customer.
    #[must_use]
    pub fn customer(mut self, customer: SeedCustomer) -> Self {
        self.customers.push(customer);
        self
    }

    /// Checks that identifiers are unique and non-empty, that every subscription names a
    /// known plan, that usage is only given for metered features the customer has, and that
    /// features are consistent with their kind.
    ///
    /// # Errors
    ///
    /// [`SeedError::Invalid`] naming the first problem found.
    pub fn validate(&self) -> Result<(), SeedError> {
        let invalid = |message: String| Err(SeedError::Invalid(message));
        let mut plan_ids = BTreeSet::new();
        for plan in &self.plans {
            if plan.identifier.is_empty() {
                return invalid("a plan has an empty identifier".to_owned());
            }
            if !plan_ids.insert(plan.identifier.as_str()) {
                return invalid(format!("plan \"{}\" is defined twice", plan.identifier));
            }
            if plan.price_units < 0 {
                return invalid(format!("plan \"{}\" has a negative price", plan.identifier));
            }
            let mut feature_ids = BTreeSet::new();
            for feature in &plan.features {
                if feature.id.is_empty() || !feature_ids.insert(feature.id.as_str()) {
                    return invalid(format!(
                        "plan \"{}\" has an empty or repeated feature id \"{}\"",
                        plan.identifier, feature.id
                    ));
                }
                let consistent = match feature.kind {
                    FeatureKind::Boolean => feature.limit.is_none() && feature.value.is_none(),
                    FeatureKind::Meter => feature.value.is_none(),
                    FeatureKind::Customizable => feature.limit.is_none() && feature.value.is_some(),
                };
                if !consistent {
                    return invalid(format!(
                        "feature \"{}\" of plan \"{}\": BOOLEAN takes neither limit nor value, \
                         METER takes a limit, CUSTOMIZABLE takes a value",
                        feature.id, plan.identifier
                    ));
                }
            }
        }
        let mut customer_ids = BTreeSet::new();
        for customer in &self.customers {
            if customer.customer_id.is_empty() {
                return invalid("a customer has an empty customerId".to_owned());
            }
            if !customer_ids.insert(customer.customer_id.as_str()) {
                return invalid(format!(
                    "customer \"{}\" is defined twice",
                    customer.customer_id
                ));
            }
            for subscription in &customer.subscriptions {
                if !plan_ids.contains(subscription.plan.as_str()) {
                    return invalid(format!(
                        "customer \"{}\" subscribes to unknown plan \"{}\"",
                        customer.customer_id, subscription.plan
                    ));
                }
                if !crate::state::CHARGE_PERIODS.contains(&subscription.charge_period.as_str()) {
                    return invalid(format!(
                        "customer \"{}\": unknown charge period \"{}\"",
                        customer.customer_id, subscription.charge_period
                    ));
                }
            }
            for feature in customer.usage.keys() {
                let metered = customer.subscriptions.iter().any(|subscription| {
                    self.plans
                        .iter()
                        .filter(|plan| plan.identifier == subscription.plan)
                        .flat_map(|plan| &plan.features)
                        .any(|f| f.id == *feature && f.kind == FeatureKind::Meter)
                });
                if !metered {
                    return invalid(format!(
                        "customer \"{}\" has usage for \"{feature}\", which none of its plans meters",
                        customer.customer_id
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_parses_and_has_a_free_and_a_pro_customer() {
        let seed = Seed::default();
        let ids: Vec<&str> = seed
            .customers
            .iter()
            .map(|c| c.customer_id.as_str())
            .collect();
        assert_eq!(ids, ["cust_free", "cust_pro"]);
    }

    #[test]
    fn unknown_plan_is_refused() {
        let seed = Seed::empty().customer(SeedCustomer::new("a").subscribe("nope"));
        assert!(matches!(seed.validate(), Err(SeedError::Invalid(m)) if m.contains("nope")));
    }

    #[test]
    fn unknown_json_fields_are_refused() {
        assert!(matches!(
            Seed::from_json(r#"{"plans": [], "customer": []}"#),
            Err(SeedError::Json(_))
        ));
    }

    #[test]
    fn builder_and_json_agree() {
        let built = Seed::empty()
            .plan(Plan::new("p").feature(Feature::metered("calls").limit(5).soft_limit()))
            .customer(SeedCustomer::new("c").subscribe("p").usage("calls", 2));
        let json = serde_json::to_string(&built).unwrap();
        assert_eq!(Seed::from_json(&json).unwrap(), built);
    }
}
