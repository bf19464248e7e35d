//! The mock's state: what the real service would keep in its database.
//!
//! One [`State`] lives behind the server's lock. Each entity has its own file; the
//! operations that touch several entities at once (subscribing a customer creates an order,
//! a transaction and maybe a license) are methods of [`State`].

mod billing;
mod customers;
mod entitlements;
mod licenses;
mod reporting;
mod subscriptions;

use jiff::Timestamp;

pub(crate) use billing::{Order, PaymentMethod, Refund, Transaction};
pub(crate) use customers::Customer;
pub(crate) use licenses::{Activation, License};
pub use reporting::{StoredEvent, UsageReport};
pub(crate) use subscriptions::{CheckoutSession, PortalSession, Subscription};

use crate::seed::{Plan, Seed};

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
    pub(crate) customers: Vec<Customer>,
    pub(crate) subscriptions: Vec<Subscription>,
    pub(crate) usage: std::collections::BTreeMap<(String, String), i64>,
    pub(crate) usage_reports: Vec<UsageReport>,
    pub(crate) events: Vec<StoredEvent>,
    pub(crate) checkout_sessions: Vec<CheckoutSession>,
    pub(crate) portal_sessions: Vec<PortalSession>,
    pub(crate) licenses: Vec<License>,
    pub(crate) orders: Vec<Order>,
    pub(crate) transactions: Vec<Transaction>,
    pub(crate) refunds: Vec<Refund>,
    pub(crate) payment_methods: Vec<PaymentMethod>,
}

impl State {
    /// A state holding what `seed` describes. The seed must have been validated.
    pub(crate) fn from_seed(seed: &Seed, rng_seed: u64, api_url: String) -> Self {
        let mut state = State {
            rng: fastrand::Rng::with_seed(rng_seed),
            api_url,
            plans: seed.plans.clone(),
            customers: Vec::new(),
            subscriptions: Vec::new(),
            usage: std::collections::BTreeMap::new(),
            usage_reports: Vec::new(),
            events: Vec::new(),
            checkout_sessions: Vec::new(),
            portal_sessions: Vec::new(),
            licenses: Vec::new(),
            orders: Vec::new(),
            transactions: Vec::new(),
            refunds: Vec::new(),
            payment_methods: Vec::new(),
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
