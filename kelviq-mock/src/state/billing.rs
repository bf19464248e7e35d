//! Money: orders, transactions, refunds and saved payment methods.

use jiff::Timestamp;

use super::State;

/// An order: what one charge bought.
#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) plan: String,
    pub(crate) amount_units: i64,
    pub(crate) currency: String,
    pub(crate) refunded_units: i64,
    pub(crate) created_on: Timestamp,
}

/// A money movement, as `GET /transaction/` lists it.
#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub(crate) id: String,
    pub(crate) order_id: String,
    pub(crate) customer_id: String,
    /// `CHARGE` or `REFUND`.
    pub(crate) transaction_type: &'static str,
    /// `success`, `failure` or `pending`.
    pub(crate) status: &'static str,
    /// Positive for charges, negative for refunds.
    pub(crate) amount_units: i64,
    pub(crate) currency: String,
    pub(crate) created_on: Timestamp,
}

/// A refund of (part of) an order.
#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub(crate) id: String,
    pub(crate) order_id: String,
    pub(crate) amount_units: i64,
    pub(crate) currency: String,
    pub(crate) reason: Option<String>,
    pub(crate) internal_note: Option<String>,
    /// `PENDING`, `PROCESSING`, `SUCCEEDED`, `FAILED` or `CANCELED`.
    pub(crate) status: &'static str,
    pub(crate) created_on: Timestamp,
}

/// A saved payment method.
#[derive(Debug, Clone)]
pub(crate) struct PaymentMethod {
    /// An integer id, as on the real service.
    pub(crate) id: i64,
    pub(crate) customer_id: String,
    pub(crate) method_type: &'static str,
    pub(crate) brand: &'static str,
    pub(crate) last4: &'static str,
    pub(crate) is_default: bool,
    pub(crate) created_on: Timestamp,
}

impl State {
    /// Records a paid order and its successful charge transaction; returns the order id.
    pub(crate) fn charge(
        &mut self,
        customer_id: &str,
        plan: &str,
        amount_units: i64,
        currency: &str,
    ) -> String {
        let now = self.now();
        let order_id = self.new_uuid();
        self.orders.push(Order {
            id: order_id.clone(),
            customer_id: customer_id.to_owned(),
            plan: plan.to_owned(),
            amount_units,
            currency: currency.to_owned(),
            refunded_units: 0,
            created_on: now,
        });
        let transaction_id = self.new_uuid();
        self.transactions.push(Transaction {
            id: transaction_id,
            order_id: order_id.clone(),
            customer_id: customer_id.to_owned(),
            transaction_type: "CHARGE",
            status: "success",
            amount_units,
            currency: currency.to_owned(),
            created_on: now,
        });
        order_id
    }

    /// Saves a default card for the customer.
    pub(crate) fn add_payment_method(&mut self, customer_id: &str) {
        let id = i64::try_from(self.payment_methods.len()).unwrap_or(i64::MAX - 1) + 1;
        let now = self.now();
        self.payment_methods.push(PaymentMethod {
            id,
            customer_id: customer_id.to_owned(),
            method_type: "card",
            brand: "visa",
            last4: "4242",
            is_default: true,
            created_on: now,
        });
    }

    /// The customer's default payment method.
    pub(crate) fn default_payment_method(&self, customer_id: &str) -> Option<&PaymentMethod> {
        self.payment_methods
            .iter()
            .find(|method| method.customer_id == customer_id && method.is_default)
    }

    pub(crate) fn order(&self, id: &str) -> Option<&Order> {
        self.orders.iter().find(|order| order.id == id)
    }
}
