//! Money: orders, transactions, refunds and saved payment methods.
//!
//! Every charge makes an [`Order`] and a `CHARGE` [`Transaction`]; every refund lowers the
//! order's refundable balance and records a `REFUND` transaction with a negative amount.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::State;
use crate::wire::FeatureLine;

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

impl Order {
    /// What can still be refunded, in minor units.
    pub(crate) fn refundable_units(&self) -> i64 {
        self.amount_units.saturating_sub(self.refunded_units)
    }
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
    pub(crate) exp_month: i64,
    pub(crate) exp_year: i64,
    pub(crate) is_default: bool,
    pub(crate) created_on: Timestamp,
    pub(crate) modified_on: Timestamp,
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
        let today = self.today();
        self.payment_methods.push(PaymentMethod {
            id,
            customer_id: customer_id.to_owned(),
            method_type: "card",
            brand: "visa",
            last4: "4242",
            exp_month: 12,
            exp_year: i64::from(today.year()) + 3,
            is_default: true,
            created_on: now,
            modified_on: now,
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

impl State {
    /// A one-time purchase of `plan`: a `ONE_TIME` subscription that grants the plan's
    /// features, and exactly one order with its `CHARGE` transaction — at the plan's price,
    /// or at `custom` (`(units, currency)`) when given. A free plan bought without a custom
    /// price makes no order. The caller checked customer and plan. Returns the subscription
    /// id and the order id.
    pub(crate) fn purchase_once(
        &mut self,
        customer_id: &str,
        plan: &str,
        features: Vec<FeatureLine>,
        custom: Option<(i64, &str)>,
    ) -> (String, Option<String>) {
        let orders_before = self.orders.len();
        let subscription_id = self.subscribe(customer_id, plan, "ONE_TIME", features, None, None);
        let plan_order = self.orders.get(orders_before).map(|order| order.id.clone());
        let order_id = match (custom, plan_order) {
            (Some((units, currency)), Some(order_id)) => {
                self.reprice_order(&order_id, units, currency);
                Some(order_id)
            }
            (Some((units, currency)), None) => {
                Some(self.charge(customer_id, plan, units, currency))
            }
            (None, plan_order) => plan_order,
        };
        (subscription_id, order_id)
    }

    /// Sets the amount of an order and of its `CHARGE` transaction.
    fn reprice_order(&mut self, order_id: &str, amount_units: i64, currency: &str) {
        if let Some(order) = self.orders.iter_mut().find(|order| order.id == order_id) {
            order.amount_units = amount_units;
            currency.clone_into(&mut order.currency);
        }
        for transaction in self
            .transactions
            .iter_mut()
            .filter(|tx| tx.order_id == order_id && tx.transaction_type == "CHARGE")
        {
            transaction.amount_units = amount_units;
            currency.clone_into(&mut transaction.currency);
        }
    }

    /// Refunds `amount_units` of an order (its whole refundable balance when `None`): a
    /// `SUCCEEDED` refund, the order's refunded total raised, and a `REFUND` transaction.
    /// `None` when the order is unknown or the amount is not in `1..=refundable`.
    pub(crate) fn refund(
        &mut self,
        order_id: &str,
        amount_units: Option<i64>,
        reason: Option<String>,
        internal_note: Option<String>,
    ) -> Option<Refund> {
        let refundable = self.order(order_id)?.refundable_units();
        let units = amount_units.unwrap_or(refundable);
        if !(1..=refundable).contains(&units) {
            return None;
        }
        let now = self.now();
        let refund_id = self.new_uuid();
        let transaction_id = self.new_uuid();
        let order = self.orders.iter_mut().find(|order| order.id == order_id)?;
        order.refunded_units += units;
        let refund = Refund {
            id: refund_id,
            order_id: order.id.clone(),
            amount_units: units,
            currency: order.currency.clone(),
            reason,
            internal_note,
            status: "SUCCEEDED",
            created_on: now,
        };
        let transaction = Transaction {
            id: transaction_id,
            order_id: order.id.clone(),
            customer_id: order.customer_id.clone(),
            transaction_type: "REFUND",
            status: "success",
            amount_units: -units,
            currency: order.currency.clone(),
            created_on: now,
        };
        self.transactions.push(transaction);
        self.refunds.push(refund.clone());
        Some(refund)
    }

    pub(crate) fn refund_by_id(&self, id: &str) -> Option<&Refund> {
        self.refunds.iter().find(|refund| refund.id == id)
    }
}

impl Transaction {
    /// When the money becomes available for payout: a week after a charge; refunds are
    /// never paid out.
    pub(crate) fn available_on(&self) -> Option<Timestamp> {
        (self.transaction_type == "CHARGE").then(|| {
            self.created_on
                .to_zoned(TimeZone::UTC)
                .checked_add(7.days())
                .map_or(self.created_on, |zoned| zoned.timestamp())
        })
    }
}
