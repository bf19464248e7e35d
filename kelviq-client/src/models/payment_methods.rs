//! Saved payment methods.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tolerant::null_as_default;
use super::wire_enum::open_enum;

open_enum! {
    /// Whether a payment method can be charged. Lower-case on the wire.
    pub enum PaymentMethodStatus {
        /// Ready to be charged.
        Succeeded => "succeeded",
        /// The customer must complete a step (3-D Secure, say) first.
        RequiresAction => "requires_action",
    }
}

/// A customer's saved payment method.
///
/// Unlike the official SDK, a `status` this crate does not know is kept in `Unknown(..)`
/// instead of failing the whole list, and `methodData` sent as `null` reads as empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PaymentMethod {
    /// Kelviq's id for the payment method (an integer, unlike most ids).
    pub id: i64,
    /// Whose it is.
    pub customer: PaymentMethodCustomer,
    /// The kind of method (`card`).
    pub method_type: String,
    /// Details of the method as sent, such as a card's `brand`, `last4`, `expMonth`,
    /// `expYear` (empty when the service sends none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub method_data: Map<String, Value>,
    /// Whether it is the customer's default method (the one charges use).
    pub is_default: bool,
    /// Whether it can be charged.
    pub status: PaymentMethodStatus,
    /// When it was saved (ISO 8601).
    pub created_on: String,
    /// When it was last changed (ISO 8601).
    pub modified_on: String,
}

/// The customer a [`PaymentMethod`] belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PaymentMethodCustomer {
    /// Your id for the customer.
    pub customer_id: String,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The billing address, if one is known.
    #[serde(default)]
    pub billing_address: Option<BillingAddress>,
}

/// A postal billing address; every line is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BillingAddress {
    /// The country (ISO 3166-1 alpha-2 code).
    #[serde(default)]
    pub country: Option<String>,
    /// The first street line.
    #[serde(default)]
    pub line1: Option<String>,
    /// The second street line.
    #[serde(default)]
    pub line2: Option<String>,
    /// The postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// The city.
    #[serde(default)]
    pub city: Option<String>,
    /// The state, county or province.
    #[serde(default)]
    pub state: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_status_is_kept_and_the_address_is_read() {
        let method: PaymentMethod = serde_json::from_value(json!({
            "id": 7,
            "customer": {"customerId": "c1", "billingAddress": {"country": "DE", "postalCode": "10115"}},
            "methodType": "sepa_debit", "methodData": null, "isDefault": false,
            "status": "requires_confirmation",
            "createdOn": "2025-01-02T03:04:05Z", "modifiedOn": "2025-01-02T03:04:05Z"
        }))
        .unwrap();
        assert_eq!(method.id, 7);
        assert_eq!(
            method.status,
            PaymentMethodStatus::Unknown("requires_confirmation".to_owned())
        );
        assert!(method.method_data.is_empty());
        let address = method.customer.billing_address.unwrap();
        assert_eq!(address.country.as_deref(), Some("DE"));
        assert_eq!(address.postal_code.as_deref(), Some("10115"));
        assert_eq!(method.customer.email, None);
    }

    #[test]
    fn known_status() {
        let status: PaymentMethodStatus = serde_json::from_str("\"requires_action\"").unwrap();
        assert_eq!(status, PaymentMethodStatus::RequiresAction);
    }
}
