//! The answer to a one-time charge.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tolerant::lenient;

/// A one-time charge: the purchase the charge made (`CreateChargeResponse`).
///
/// Every field is optional, as in the official SDK. Unlike it, a field of an unexpected
/// type (or `null`) reads as `None` (or empty) instead of failing the call: this is decoded
/// after the customer's payment method was charged, and a surprising detail must not turn
/// a completed charge into an error that invites charging again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Charge {
    /// The id of the purchase.
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// The customer charged (your id for them).
    #[serde(default, deserialize_with = "lenient")]
    pub customer_id: Option<String>,
    /// The amount charged, a decimal as text (`"49.00"`).
    #[serde(default, deserialize_with = "lenient")]
    pub amount: Option<String>,
    /// The ISO 4217 currency code of `amount`.
    #[serde(default, deserialize_with = "lenient")]
    pub currency: Option<String>,
    /// The state of the purchase (`active`, ...).
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
    /// How it is billed (`ONE_TIME`).
    #[serde(default, deserialize_with = "lenient")]
    pub billing_type: Option<String>,
    /// When it starts (`YYYY-MM-DD`).
    #[serde(default, deserialize_with = "lenient")]
    pub start_date: Option<String>,
    /// When it ends (`YYYY-MM-DD`), if it does.
    #[serde(default, deserialize_with = "lenient")]
    pub end_date: Option<String>,
    /// Start of the billing period (ISO 8601).
    #[serde(default, deserialize_with = "lenient")]
    pub billing_period_start_time: Option<String>,
    /// End of the billing period (ISO 8601).
    #[serde(default, deserialize_with = "lenient")]
    pub billing_period_end_time: Option<String>,
    /// The recurrence in words (`1 month`); none for a one-time charge.
    #[serde(default, deserialize_with = "lenient")]
    pub recurrence: Option<String>,
    /// The number of recurrence units.
    #[serde(default, deserialize_with = "lenient")]
    pub recurrence_unit: Option<i64>,
    /// The recurrence unit (`MONTH`).
    #[serde(default, deserialize_with = "lenient")]
    pub recurrence_type: Option<String>,
    /// Trial days left.
    #[serde(default, deserialize_with = "lenient")]
    pub trial_days_remaining: Option<i64>,
    /// The product bought.
    #[serde(default, deserialize_with = "lenient")]
    pub product: Option<ChargeProduct>,
    /// The plan bought.
    #[serde(default, deserialize_with = "lenient")]
    pub plan: Option<ChargePlan>,
    /// The feature quantities of the purchase, as sent (objects such as
    /// `{"identifier": "seats", "quantity": 5}`).
    #[serde(default, deserialize_with = "lenient")]
    pub features: Vec<Value>,
}

/// The product of a [`Charge`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChargeProduct {
    /// Kelviq's id for the product.
    #[serde(default)]
    pub id: Option<String>,
    /// The product identifier.
    #[serde(default)]
    pub identifier: Option<String>,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// The plan of a [`Charge`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChargePlan {
    /// The plan identifier.
    #[serde(default)]
    pub identifier: Option<String>,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn odd_fields_read_as_none_instead_of_failing() {
        let charge: Charge = serde_json::from_value(json!({
            "id": "sub_1",
            "amount": 49.0,
            "trialDaysRemaining": null,
            "recurrenceUnit": "1",
            "product": "Pro",
            "plan": {"identifier": "pro", "name": null, "extra": 1},
            "features": null,
            "somethingNew": true
        }))
        .unwrap();
        assert_eq!(charge.id.as_deref(), Some("sub_1"));
        assert_eq!(charge.amount, None);
        assert_eq!(charge.trial_days_remaining, None);
        assert_eq!(charge.recurrence_unit, None);
        assert_eq!(charge.product, None);
        assert_eq!(
            charge.plan,
            Some(ChargePlan {
                identifier: Some("pro".to_owned()),
                name: None
            })
        );
        assert!(charge.features.is_empty());
    }

    #[test]
    fn an_empty_object_is_a_charge() {
        assert_eq!(
            serde_json::from_value::<Charge>(json!({})).unwrap(),
            Charge::default()
        );
    }
}
