//! The mock's state: what the real service would keep in its database.
//!
//! One [`State`] lives behind the server's lock. Each entity has its own file; the
//! operations that touch several entities at once (subscribing a customer creates an order,
//! a transaction and maybe a license) are methods of [`State`].
//!
//! Every request names a customer, so customers and their subscriptions are found through
//! indexes by customer id, kept in step with the lists (which only grow: an archived
//! customer keeps its place and its id): a fake seeded with 10,000 customers answers as
//! fast as one with a single customer, so benchmarks measure the client, not the fake.

mod billing;
mod customers;
mod dashboard;
mod entitlements;
mod licenses;
mod reporting;
mod subscriptions;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

pub(crate) use billing::{Order, PaymentMethod, Refund, Transaction};
pub(crate) use customers::Customer;
pub(crate) use dashboard::DashboardError;
pub(crate) use licenses::{Activation, License};
pub use reporting::{StoredEvent, USAGE_REPORT_CAPACITY, UsageReport};
pub(crate) use subscriptions::{CheckoutSession, PortalSession, Subscription};

use crate::seed::{Plan, Seed};
use crate::webhooks::Webhooks;
use crate::wire::format_datetime;

/// The charge periods of `kelviq-api.md` section 3.
pub(crate) const CHARGE_PERIODS: [&str; 8] = [
    "ONE_TIME",
    "MONTHLY",
    "YEARLY",
    "WEEKLY",
    "DAILY",
    "TWENTY_EIGHT_DAYS",
    "THREE_MONTHS",
    "SIX_MONTHS",
];

/// The organisation id the mock answers with (`orgId`).
pub(crate) const ORG_ID: &str = "org_mock";

/// Everything the mock knows.
#[derive(Debug)]
pub(crate) struct State {
    rng: fastrand::Rng,
    /// Base URL of the API listener, for URLs the mock hands out.
    pub(crate) api_url: String,
    pub(crate) plans: Vec<Plan>,
    /// Every customer, archived ones included, oldest first; added to only by
    /// [`State::insert_customer`], which keeps `customer_index` in step.
    pub(crate) customers: Vec<Customer>,
    /// Customer id → position in `customers`.
    customer_index: HashMap<String, usize>,
    /// Every subscription, oldest first; added to only by [`State::subscribe`], which keeps
    /// `customer_subscriptions` in step.
    pub(crate) subscriptions: Vec<Subscription>,
    /// Customer id → positions of its subscriptions in `subscriptions`, oldest first.
    customer_subscriptions: HashMap<String, Vec<usize>>,
    /// The usage per (customer, feature): exact, whatever the log below dropped.
    pub(crate) usage: std::collections::BTreeMap<(String, String), i64>,
    /// The last [`USAGE_REPORT_CAPACITY`] usage reports accepted, oldest first.
    pub(crate) usage_reports: VecDeque<UsageReport>,
    pub(crate) events: Vec<StoredEvent>,
    pub(crate) checkout_sessions: Vec<CheckoutSession>,
    pub(crate) portal_sessions: Vec<PortalSession>,
    pub(crate) licenses: Vec<License>,
    pub(crate) orders: Vec<Order>,
    pub(crate) transactions: Vec<Transaction>,
    pub(crate) refunds: Vec<Refund>,
    pub(crate) payment_methods: Vec<PaymentMethod>,
    /// Where state changes are announced; `None` while seeding (seeded state is no change).
    pub(crate) webhooks: Option<Arc<Webhooks>>,
    /// The end of the usage period, when a test set one: every meter's `resetAt` (else the
    /// start of next month).
    pub(crate) period_end: Option<Timestamp>,
}

impl State {
    /// A state holding what `seed` describes. The seed must have been validated.
    pub(crate) fn from_seed(seed: &Seed, rng_seed: u64, api_url: String) -> Self {
        let mut state = State {
            rng: fastrand::Rng::with_seed(rng_seed),
            api_url,
            plans: seed.plans.clone(),
            customers: Vec::new(),
            customer_index: HashMap::new(),
            subscriptions: Vec::new(),
            customer_subscriptions: HashMap::new(),
            usage: std::collections::BTreeMap::new(),
            usage_reports: VecDeque::new(),
            events: Vec::new(),
            checkout_sessions: Vec::new(),
            portal_sessions: Vec::new(),
            licenses: Vec::new(),
            orders: Vec::new(),
            transactions: Vec::new(),
            refunds: Vec::new(),
            payment_methods: Vec::new(),
            webhooks: None,
            period_end: None,
        };
        for seeded in &seed.customers {
            state.insert_customer(
                seeded.customer_id.clone(),
                seeded.email.clone(),
                seeded.name.clone(),
                None,
            );
            for subscription in &seeded.subscriptions {
                state.subscribe(
                    &seeded.customer_id,
                    &subscription.plan,
                    &subscription.charge_period,
                    Vec::new(),
                    None,
                    subscription.license_key.clone(),
                );
            }
            for (feature, amount) in &seeded.usage {
                state
                    .usage
                    .insert((seeded.customer_id.clone(), feature.clone()), *amount);
            }
            if seeded.payment_method {
                state.add_payment_method(&seeded.customer_id);
            }
        }
        state
    }

    /// A fresh UUID (v4 layout), drawn from the seeded generator so runs repeat.
    pub(crate) fn new_uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        for byte in &mut bytes {
            *byte = self.rng.u8(..);
        }
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A fresh opaque token of 32 hex characters.
    pub(crate) fn new_token(&mut self) -> String {
        (0..32)
            .map(|_| char::from_digit(self.rng.u32(..16), 16).unwrap_or('0'))
            .collect()
    }

    /// The current time (wall-clock UTC). A method of the state, so that a test clock
    /// could replace it in one place.
    #[expect(
        clippy::unused_self,
        reason = "the state is where the mock's clock lives"
    )]
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    /// Today's date in UTC.
    #[expect(
        clippy::unused_self,
        reason = "the state is where the mock's clock lives"
    )]
    pub(crate) fn today(&self) -> jiff::civil::Date {
        crate::wire::today()
    }

    pub(crate) fn plan(&self, identifier: &str) -> Option<&Plan> {
        self.plans.iter().find(|plan| plan.identifier == identifier)
    }
}

impl State {
    /// Announces a change by webhook, when an endpoint is configured.
    pub(crate) fn notify(&self, event_type: &str, customer_id: &str, data: Value) {
        if let Some(webhooks) = &self.webhooks {
            webhooks.notify(event_type, customer_id, data, &format_datetime(self.now()));
        }
    }

    /// Announces a change of the subscription with this id (`subscription.created`, ...).
    pub(crate) fn notify_subscription(&self, event_type: &str, id: &str) {
        if self.webhooks.is_none() {
            return;
        }
        let today = self.today();
        let Some(sub) = self.subscription(id) else {
            return;
        };
        let data = json!({
            "customerId": sub.customer_id,
            "subscriptionId": sub.id,
            "planIdentifier": sub.plan,
            "chargePeriod": sub.charge_period,
            "status": sub.status_on(today),
            "endDate": sub.end_date.map(|date| date.to_string()),
        });
        self.notify(event_type, &sub.customer_id, data);
    }

    /// Announces a change of the customer's fields (`customer.updated`).
    pub(crate) fn notify_customer(&self, customer_id: &str) {
        if self.webhooks.is_none() {
            return;
        }
        let Some(customer) = self.customer(customer_id) else {
            return;
        };
        let data = json!({
            "customerId": customer.customer_id,
            "email": customer.email,
            "name": customer.name,
            "metadata": customer.metadata,
        });
        self.notify("customer.updated", customer_id, data);
    }
}
