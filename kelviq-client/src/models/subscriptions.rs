//! Subscription objects, the answers to subscription changes, and the value sets of the
//! subscription operations.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tolerant::null_as_default;
use super::wire_enum::{closed_enum, open_enum};

closed_enum! {
    /// When a cancellation takes effect (`cancellation_type`).
    pub enum CancellationType {
        /// Access ends now.
        Immediate => "IMMEDIATE",
        /// Access ends with the current billing period.
        CurrentPeriodEnds => "CURRENT_PERIOD_ENDS",
        /// Access ends on the `cancellation_date` given with it.
        SpecificDate => "SPECIFIC_DATE",
    }
}

closed_enum! {
    /// What a price difference does when a subscription changes plan
    /// (`proration_behavior`). Omitted, the organisation's default applies.
    pub enum ProrationBehavior {
        /// An increase is charged at once.
        ImmediateCharge => "IMMEDIATE_CHARGE",
        /// The difference goes on the next invoice.
        ProrateNextInvoice => "PRORATE_NEXT_INVOICE",
        /// No proration: the new price applies from the next invoice.
        NoProration => "NO_PRORATION",
    }
}

closed_enum! {
    /// When a changed subscription becomes active (`payment_behavior`).
    pub enum PaymentBehavior {
        /// Only once the payment of the change succeeds.
        ActivateOnPayment => "activate_on_payment",
    }
}

open_enum! {
    /// How a subscription is billed, as the service reports it. The official SDK refuses
    /// any other value; here a new one is kept in `Unknown`.
    pub enum BillingType {
        /// Billed every period.
        Subscription => "SUBSCRIPTION",
        /// A one-time purchase.
        OneTime => "ONE_TIME",
    }
}

/// A subscription (or a one-time purchase) of a customer.
///
/// More tolerant than the official SDK: `trialDaysRemaining`, `features`, `files`, `links`
/// and `license` may be absent or `null` (read as 0 or empty), and an unknown
/// `billingType` does not fail the response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Subscription {
    /// Kelviq's id for the subscription (a UUID).
    pub id: String,
    /// The first day (`YYYY-MM-DD`).
    pub start_date: String,
    /// `SUBSCRIPTION` or `ONE_TIME`.
    pub billing_type: BillingType,
    /// Whole days left in the trial (0 without a trial).
    #[serde(default, deserialize_with = "null_as_default")]
    pub trial_days_remaining: i64,
    /// The id of the subscription at the payment provider.
    #[serde(default)]
    pub external_subscription_id: Option<String>,
    /// The last day of access, once cancelled (`YYYY-MM-DD`).
    #[serde(default)]
    pub end_date: Option<String>,
    /// When the current billing period started (ISO 8601).
    #[serde(default)]
    pub billing_period_start_time: Option<String>,
    /// When the current billing period ends (ISO 8601).
    #[serde(default)]
    pub billing_period_end_time: Option<String>,
    /// The price per period, a decimal as text (`"49.00"`).
    #[serde(default)]
    pub amount: Option<String>,
    /// The billing interval in words (`"1 month"`).
    #[serde(default)]
    pub recurrence: Option<String>,
    /// The currency code of `amount`.
    #[serde(default)]
    pub currency: Option<String>,
    /// The lifecycle state (`active`, `trialing`, `canceled`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// The unit of the billing interval (`MONTH`).
    #[serde(default)]
    pub recurrence_type: Option<String>,
    /// How many units of `recurrence_type` a period lasts.
    #[serde(default)]
    pub recurrence_unit: Option<i64>,
    /// When the next invoice is due.
    #[serde(default)]
    pub next_invoice_date: Option<String>,
    /// Your id for the customer.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The product the plan belongs to.
    #[serde(default)]
    pub product: Option<SubscriptionProduct>,
    /// The plan.
    #[serde(default)]
    pub plan: Option<PlanSummary>,
    /// The plan's features and their quantities, as sent.
    #[serde(default, deserialize_with = "null_as_default")]
    pub features: Vec<Value>,
    /// Files the customer can download.
    #[serde(default, deserialize_with = "null_as_default")]
    pub files: Vec<SubscriptionFile>,
    /// Links shown to the customer.
    #[serde(default, deserialize_with = "null_as_default")]
    pub links: Vec<SubscriptionLink>,
    /// The license keys issued with the subscription.
    #[serde(default, deserialize_with = "null_as_default")]
    pub license: Vec<LicenseSummary>,
}

/// The `product` of a subscription: the service sends either its identifier or an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum SubscriptionProduct {
    /// Only the product's identifier.
    Identifier(String),
    /// The product object.
    Details(Product),
}

impl SubscriptionProduct {
    /// The product's identifier, whichever form was sent.
    pub fn identifier(&self) -> Option<&str> {
        match self {
            SubscriptionProduct::Identifier(identifier) => Some(identifier),
            SubscriptionProduct::Details(product) => product.identifier.as_deref(),
        }
    }
}

/// A product. Subscriptions carry `id`, `identifier` and `name`; the plan of a license
/// also carries the tax code and timestamps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Product {
    /// Kelviq's id for the product.
    #[serde(default)]
    pub id: Option<String>,
    /// The product identifier.
    #[serde(default)]
    pub identifier: Option<String>,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The tax code.
    #[serde(default)]
    pub tax_code: Option<String>,
    /// When it was created (ISO 8601).
    #[serde(default)]
    pub created_on: Option<String>,
    /// When it was last modified (ISO 8601).
    #[serde(default)]
    pub modified_on: Option<String>,
}

/// The plan of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PlanSummary {
    /// The plan identifier.
    #[serde(default)]
    pub identifier: Option<String>,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A downloadable file of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionFile {
    /// The file's id.
    #[serde(default)]
    pub id: Option<String>,
    /// The file name.
    #[serde(default)]
    pub name: Option<String>,
    /// Deprecated by the service: use `download_url`.
    #[serde(default)]
    pub file: Option<String>,
    /// Its position in the list.
    #[serde(default)]
    pub ordering: Option<i64>,
    /// Whether it is offered.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Where to download it.
    #[serde(default)]
    pub download_url: Option<String>,
}

/// A link of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionLink {
    /// The link text.
    #[serde(default)]
    pub name: Option<String>,
    /// The URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// A license key as a subscription lists it (the license endpoints return the fuller
/// [`LicenseDetails`](crate::models::LicenseDetails)). `Debug` prints the key as `***`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicenseSummary {
    /// Kelviq's id for the license.
    #[serde(default)]
    pub id: Option<String>,
    /// The key.
    #[serde(default)]
    pub license_key: Option<String>,
    /// When it was first activated (ISO 8601).
    #[serde(default)]
    pub activated_on: Option<String>,
    /// When it expires (ISO 8601).
    #[serde(default)]
    pub expires_on: Option<String>,
    /// How many instances are activated.
    #[serde(default)]
    pub activation_usage: Option<i64>,
    /// How many instances may be activated.
    #[serde(default)]
    pub activation_limit: Option<i64>,
    /// Whether the key is enabled.
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for LicenseSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseSummary")
            .field("id", &self.id)
            .field("license_key", &self.license_key.as_ref().map(|_| "***"))
            .field("activated_on", &self.activated_on)
            .field("expires_on", &self.expires_on)
            .field("activation_usage", &self.activation_usage)
            .field("activation_limit", &self.activation_limit)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// The answer to a cancellation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CancelledSubscription {
    /// The service's message.
    pub message: String,
}

/// The answer to an update: the id of the subscription that now holds the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UpdatedSubscription {
    /// The subscription's id.
    pub subscription_id: String,
}

/// What an update would cost, without doing it. Every field may be absent. Amounts are
/// decimals in the currency's major unit; the `*_units` twins are exact minor units
/// (cents), to prefer for arithmetic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionUpdatePreview {
    /// The currency code.
    #[serde(default)]
    pub currency: Option<String>,
    /// The price per period after the change.
    #[serde(default)]
    pub recurring_amount: Option<f64>,
    /// The price per period after the change, in minor units.
    #[serde(default)]
    pub recurring_amount_units: Option<i64>,
    /// What the change charges at once.
    #[serde(default)]
    pub amount_charged_immediately: Option<f64>,
    /// What the change charges at once, in minor units.
    #[serde(default)]
    pub amount_charged_immediately_units: Option<i64>,
    /// The next invoice after the change.
    #[serde(default)]
    pub next_invoice: Option<NextInvoice>,
    /// The lines of the quote.
    #[serde(default, deserialize_with = "null_as_default")]
    pub line_items: Vec<PreviewLineItem>,
}

/// The next invoice of a [`SubscriptionUpdatePreview`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NextInvoice {
    /// The amount due.
    #[serde(default)]
    pub amount_due: Option<f64>,
    /// The amount due, in minor units.
    #[serde(default)]
    pub amount_due_units: Option<i64>,
    /// When payment will be attempted (ISO 8601).
    #[serde(default)]
    pub next_payment_attempt: Option<String>,
}

/// One line of a [`SubscriptionUpdatePreview`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PreviewLineItem {
    /// What the line is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The amount (negative for a credit).
    #[serde(default)]
    pub amount: Option<f64>,
    /// The amount, in minor units.
    #[serde(default)]
    pub amount_units: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_minimal_subscription_reads_with_defaults_and_nulls() {
        let sub: Subscription = serde_json::from_value(json!({
            "id": "s1", "startDate": "2025-01-01", "billingType": "PAY_AS_YOU_GO",
            "trialDaysRemaining": null, "features": null, "files": null, "links": null,
            "license": null, "product": "prod_pro", "somethingNew": 1
        }))
        .unwrap();
        assert_eq!(
            sub.billing_type,
            BillingType::Unknown("PAY_AS_YOU_GO".to_owned())
        );
        assert_eq!(sub.trial_days_remaining, 0);
        assert!(sub.features.is_empty() && sub.files.is_empty() && sub.license.is_empty());
        assert_eq!(
            sub.product,
            Some(SubscriptionProduct::Identifier("prod_pro".to_owned()))
        );
        assert!(sub.plan.is_none());
    }

    #[test]
    fn the_product_may_be_an_object() {
        let sub: Subscription = serde_json::from_value(json!({
            "id": "s1", "startDate": "2025-01-01", "billingType": "ONE_TIME",
            "product": {"id": "p1", "identifier": "pro", "name": null}
        }))
        .unwrap();
        let product = sub.product.unwrap();
        assert_eq!(product.identifier(), Some("pro"));
        assert!(matches!(
            product,
            SubscriptionProduct::Details(Product { name: None, .. })
        ));
        assert_eq!(sub.billing_type, BillingType::OneTime);
    }

    #[test]
    fn request_enums_are_closed() {
        assert_eq!(
            PaymentBehavior::ActivateOnPayment.as_str(),
            "activate_on_payment"
        );
        assert!("NOW".parse::<CancellationType>().is_err());
        assert_eq!(
            serde_json::to_value(ProrationBehavior::NoProration).unwrap(),
            json!("NO_PRORATION")
        );
    }

    #[test]
    fn a_preview_may_be_empty() {
        let preview: SubscriptionUpdatePreview =
            serde_json::from_value(json!({"lineItems": null})).unwrap();
        assert_eq!(preview, SubscriptionUpdatePreview::default());
    }
}
