//! Refunds and their value sets.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tolerant::null_as_default;
use super::wire_enum::{closed_enum, open_enum};

closed_enum! {
    /// Why you refund, as you can give it to
    /// [`RefundsApi::create`](crate::RefundsApi::create). A refund read back may also carry
    /// `DASHBOARD_INITIATED`: see [`RecordedRefundReason`].
    pub enum RefundReason {
        /// The order was charged twice.
        Duplicate => "DUPLICATE",
        /// The charge was fraudulent.
        Fraudulent => "FRAUDULENT",
        /// The customer asked for it.
        RequestedByCustomer => "REQUESTED_BY_CUSTOMER",
        /// Any other reason.
        Other => "OTHER",
    }
}

open_enum! {
    /// The reason recorded on a [`Refund`]: the values of [`RefundReason`], plus
    /// `DASHBOARD_INITIATED` for refunds made in the dashboard, plus any value the service
    /// adds later.
    pub enum RecordedRefundReason {
        /// The order was charged twice.
        Duplicate => "DUPLICATE",
        /// Made in the Kelviq dashboard.
        DashboardInitiated => "DASHBOARD_INITIATED",
        /// The charge was fraudulent.
        Fraudulent => "FRAUDULENT",
        /// The customer asked for it.
        RequestedByCustomer => "REQUESTED_BY_CUSTOMER",
        /// Any other reason.
        Other => "OTHER",
    }
}

impl From<RefundReason> for RecordedRefundReason {
    fn from(reason: RefundReason) -> Self {
        RecordedRefundReason::from(reason.as_str())
    }
}

open_enum! {
    /// Where a refund stands. Also the `status` filter of
    /// [`RefundsApi::list`](crate::RefundsApi::list).
    pub enum RefundStatus {
        /// Accepted, not yet sent to the payment provider.
        Pending => "PENDING",
        /// With the payment provider.
        Processing => "PROCESSING",
        /// The money went back to the customer.
        Succeeded => "SUCCEEDED",
        /// It failed; see [`Refund::failure_reason`].
        Failed => "FAILED",
        /// It was canceled.
        Canceled => "CANCELED",
    }
}

/// A refund of (part of) an order.
///
/// Unlike the official SDK, a `reason` or `status` this crate does not know is kept in
/// `Unknown(..)` instead of failing the call (and a whole list with it), and an `order` of
/// `null` reads as empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Refund {
    /// Kelviq's id for the refund.
    pub id: String,
    /// The amount refunded, in minor units of the currency (cents).
    pub amount_units: i64,
    /// The amount refunded, in the currency's major unit (`24.5`).
    pub amount: f64,
    /// The ISO 4217 currency code, when the service sends it (the reference does not list
    /// this field).
    #[serde(default)]
    pub currency: Option<String>,
    /// Where the refund stands.
    pub status: RefundStatus,
    /// Why it was refunded, if a reason was given.
    #[serde(default)]
    pub reason: Option<RecordedRefundReason>,
    /// Your internal note.
    #[serde(default)]
    pub internal_note: Option<String>,
    /// Why it failed, for a failed refund.
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// The order refunded, as sent (empty when the service sends none). Its id is
    /// [`Refund::order_id`].
    #[serde(default, deserialize_with = "null_as_default")]
    pub order: Map<String, Value>,
    /// When it was created (ISO 8601), when the service sends it (the reference does not
    /// list this field).
    #[serde(default)]
    pub created_on: Option<String>,
}

impl Refund {
    /// The id of the order refunded (`order.id`), if the service sent it.
    pub fn order_id(&self) -> Option<&str> {
        self.order.get("id").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_reason_and_status_are_kept() {
        let refund: Refund = serde_json::from_value(json!({
            "id": "r1", "amountUnits": 250, "amount": 2.5,
            "status": "REVERSED", "reason": "CHARGEBACK_LOST",
            "internalNote": null, "failureReason": null, "order": null
        }))
        .unwrap();
        assert_eq!(refund.status, RefundStatus::Unknown("REVERSED".to_owned()));
        assert_eq!(
            refund.reason,
            Some(RecordedRefundReason::Unknown("CHARGEBACK_LOST".to_owned()))
        );
        assert!(refund.order.is_empty());
        assert_eq!(refund.order_id(), None);
        assert_eq!(refund.currency, None);
    }

    #[test]
    fn known_values_and_the_order_id() {
        let refund: Refund = serde_json::from_value(json!({
            "id": "r1", "amountUnits": 250, "amount": 2.5, "status": "SUCCEEDED",
            "reason": "DASHBOARD_INITIATED", "order": {"id": "o1", "amountUnits": 4900}
        }))
        .unwrap();
        assert_eq!(refund.status, RefundStatus::Succeeded);
        assert_eq!(
            refund.reason,
            Some(RecordedRefundReason::DashboardInitiated)
        );
        assert_eq!(refund.order_id(), Some("o1"));
    }

    #[test]
    fn request_reasons_are_closed_and_map_onto_recorded_ones() {
        assert!("DASHBOARD_INITIATED".parse::<RefundReason>().is_err());
        for reason in RefundReason::ALL {
            let recorded = RecordedRefundReason::from(*reason);
            assert_eq!(recorded.as_str(), reason.as_str());
            assert!(!matches!(recorded, RecordedRefundReason::Unknown(_)));
        }
    }
}
