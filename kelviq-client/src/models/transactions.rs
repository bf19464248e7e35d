//! Transactions: the money movements of the account, and their value sets.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tolerant::null_as_default;
use super::wire_enum::open_enum;

open_enum! {
    /// The outcome of a transaction. Also the `status` filter of
    /// [`TransactionsApi::list`](crate::TransactionsApi::list). Lower-case on the wire.
    pub enum TransactionStatus {
        /// The money moved.
        Success => "success",
        /// It failed.
        Failure => "failure",
        /// Not settled yet.
        Pending => "pending",
    }
}

open_enum! {
    /// What moved the money.
    pub enum TransactionType {
        /// A payment by a customer.
        Charge => "CHARGE",
        /// Money given back to a customer.
        Refund => "REFUND",
        /// A payment disputed by the customer's bank.
        Chargeback => "CHARGEBACK",
        /// A dispute decided in your favour.
        ChargebackReversal => "CHARGEBACK_REVERSAL",
        /// A credit to your balance.
        Credit => "CREDIT",
        /// A payout to your bank account.
        Payout => "PAYOUT",
        /// A manual adjustment.
        Adjustment => "ADJUSTMENT",
    }
}

open_enum! {
    /// A component of the merchant-of-record fee. Lower-case on the wire.
    pub enum MorFeeName {
        /// The percentage fee.
        BaseFee => "base_fee",
        /// The fixed fee per transaction.
        FixedFee => "fixed_fee",
        /// The surcharge for international payments.
        InternationalFee => "international_fee",
        /// The surcharge for subscriptions.
        SubscriptionFee => "subscription_fee",
        /// The currency conversion fee.
        ConversionFee => "conversion_fee",
        /// A correction of the fee.
        FeeAdjustment => "fee_adjustment",
    }
}

/// A money movement: a charge, a refund, a payout, ...
///
/// Amounts are floats in the currency's major unit (`49.0`); refunds are negative. Unlike
/// the official SDK, a `status`, `transactionType` or fee name this crate does not know is
/// kept in `Unknown(..)` instead of failing the whole list, and `order` or
/// `morFeeBreakdown` sent as `null` read as empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Transaction {
    /// Kelviq's id for the transaction.
    pub id: String,
    /// When it happened (ISO 8601).
    pub created_on: String,
    /// The ISO 4217 currency code.
    pub currency: String,
    /// The currency symbol (`$`).
    pub currency_symbol: String,
    /// The total amount.
    pub amount_total: f64,
    /// The merchant-of-record fee; its parts are in [`Transaction::mor_fee_breakdown`].
    pub mor_fee: f64,
    /// The tax collected.
    pub collected_tax: f64,
    /// What is paid out to you: the total less fee and tax.
    pub net_payout: f64,
    /// The outcome.
    pub status: TransactionStatus,
    /// What moved the money.
    pub transaction_type: TransactionType,
    /// The kind of payment method (`card`).
    pub payment_method_type: String,
    /// Whether the money has been settled to your balance.
    pub is_settled: bool,
    /// The order the transaction belongs to, as sent (empty when the service sends none).
    /// Its id is [`Transaction::order_id`].
    #[serde(default, deserialize_with = "null_as_default")]
    pub order: Map<String, Value>,
    /// The parts of the merchant-of-record fee.
    #[serde(default, deserialize_with = "null_as_default")]
    pub mor_fee_breakdown: Vec<MorFee>,
    /// When the money becomes available for payout (ISO 8601).
    #[serde(default)]
    pub available_on: Option<String>,
    /// The payment method's display name (`Visa`).
    #[serde(default)]
    pub payment_method_name: Option<String>,
    /// The last four digits of the card.
    #[serde(default)]
    pub last4: Option<String>,
}

impl Transaction {
    /// The id of the order (`order.id`), if the service sent it: what
    /// [`RefundsApi::create`](crate::RefundsApi::create) takes.
    pub fn order_id(&self) -> Option<&str> {
        self.order.get("id").and_then(Value::as_str)
    }
}

/// One component of a transaction's merchant-of-record fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MorFee {
    /// Which fee.
    pub name: MorFeeName,
    /// The rate, a decimal as text (`"5.00"` for 5 %), for percentage fees.
    #[serde(default)]
    pub percentage: Option<String>,
    /// The fee in minor units of `currency` (cents).
    pub value_units: i64,
    /// The ISO 4217 currency code.
    pub currency: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn transaction(status: &str, kind: &str, fee: &str, breakdown: bool) -> Value {
        let breakdown = if breakdown {
            json!([{"name": fee, "percentage": null, "valueUnits": 50, "currency": "USD"}])
        } else {
            Value::Null
        };
        json!({
            "id": "t1", "createdOn": "2025-01-02T03:04:05Z", "currency": "USD",
            "currencySymbol": "$", "amountTotal": 49.0, "morFee": 0.5, "collectedTax": 0.0,
            "netPayout": 48.5, "status": status, "transactionType": kind,
            "paymentMethodType": "card", "isSettled": false,
            "order": null, "morFeeBreakdown": breakdown
        })
    }

    #[test]
    fn unknown_server_values_are_kept() {
        let tx: Transaction =
            serde_json::from_value(transaction("disputed", "PAYOUT_REVERSAL", "fx_fee", true))
                .unwrap();
        assert_eq!(tx.status, TransactionStatus::Unknown("disputed".to_owned()));
        assert_eq!(
            tx.transaction_type,
            TransactionType::Unknown("PAYOUT_REVERSAL".to_owned())
        );
        assert_eq!(
            tx.mor_fee_breakdown[0].name,
            MorFeeName::Unknown("fx_fee".to_owned())
        );
        assert_eq!(tx.order_id(), None);
        assert_eq!(tx.available_on, None);
    }

    #[test]
    fn known_values_and_a_null_breakdown() {
        let tx: Transaction =
            serde_json::from_value(transaction("pending", "CHARGEBACK_REVERSAL", "", false))
                .unwrap();
        assert_eq!(tx.status, TransactionStatus::Pending);
        assert_eq!(tx.transaction_type, TransactionType::ChargebackReversal);
        assert!(tx.mor_fee_breakdown.is_empty());
        assert!(tx.order.is_empty());
    }
}
