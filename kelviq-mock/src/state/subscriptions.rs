//! Subscriptions, and the checkout and portal sessions that lead to them.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};
use serde_json::{Map, Value};

use super::State;
use crate::wire::FeatureLine;

/// A subscription's lifecycle state, as the `status` field spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscriptionStatus {
    Active,
    Trialing,
    Canceled,
}

impl SubscriptionStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Canceled => "canceled",
        }
    }
}

/// A customer's subscription to a plan (or a one-time purchase of one).
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) plan: String,
    pub(crate) charge_period: String,
    pub(crate) status: SubscriptionStatus,
    pub(crate) start_date: Date,
    /// When access ends: set by a cancellation (today, the period end or a chosen date).
    pub(crate) end_date: Option<Date>,
    pub(crate) period_start: Timestamp,
    pub(crate) period_end: Timestamp,
    pub(crate) trial_end: Option<Timestamp>,
    /// Feature quantities chosen at checkout or update.
    pub(crate) features: Vec<FeatureLine>,
    pub(crate) created_on: Timestamp,
    pub(crate) modified_on: Timestamp,
}

impl Subscription {
    /// Whether the subscription grants its plan's features on `today`.
    pub(crate) fn is_active(&self, today: Date) -> bool {
        self.status != SubscriptionStatus::Canceled && self.end_date.is_none_or(|end| end > today)
    }

    /// `SUBSCRIPTION`, or `ONE_TIME` for a one-time purchase.
    pub(crate) fn billing_type(&self) -> &'static str {
        if self.charge_period == "ONE_TIME" {
            "ONE_TIME"
        } else {
            "SUBSCRIPTION"
        }
    }

    /// Whether a trial is running at `now`.
    pub(crate) fn is_trialing(&self, now: Timestamp) -> bool {
        self.trial_end.is_some_and(|end| end > now)
    }

    /// The `status` field on `today`: `canceled` once access has ended, also when it ended
    /// on a scheduled date.
    pub(crate) fn status_on(&self, today: Date) -> &'static str {
        if self.is_active(today) {
            self.status.as_str()
        } else {
            SubscriptionStatus::Canceled.as_str()
        }
    }

    /// `recurrence`, `recurrenceType` and `recurrenceUnit` (`"1 month"`, `"MONTH"`, 1);
    /// `None` for a one-time purchase.
    pub(crate) fn recurrence(&self) -> Option<(&'static str, &'static str, i64)> {
        period(&self.charge_period).map(|(_, text, kind, unit)| (text, kind, unit))
    }

    /// The date the next invoice is due: the end of the current period (or trial). `None`
    /// for a one-time purchase and once the subscription has ended or is scheduled to end.
    pub(crate) fn next_invoice_date(&self, today: Date) -> Option<Date> {
        (self.is_active(today) && self.end_date.is_none() && self.recurrence().is_some())
            .then(|| self.period_end_date())
    }

    /// Whole days left in the trial at `now`, rounded up; 0 without a running trial.
    pub(crate) fn trial_days_remaining(&self, now: Timestamp) -> i64 {
        const DAY: i64 = 86_400;
        let seconds = self
            .trial_end
            .map_or(0, |end| end.as_second() - now.as_second());
        if seconds <= 0 {
            0
        } else {
            (seconds + DAY - 1) / DAY
        }
    }

    /// The (UTC) date the current period ends.
    pub(crate) fn period_end_date(&self) -> Date {
        utc_date(self.period_end)
    }

    /// This subscription after a change of plan, charge period, features or trial at `now`
    /// (`subscriptions.update`), without touching the stored one.
    ///
    /// `trial_end`: a time after `now` (re)starts a trial that ends then; `now` or earlier
    /// ends a running trial; `None` keeps the trial as it is. The billing period restarts
    /// at `now` when a trial ends or the charge period changes; during a trial the period
    /// ends with the trial.
    pub(crate) fn changed(
        &self,
        plan: &str,
        charge_period: &str,
        features: Vec<FeatureLine>,
        trial_end: Option<Timestamp>,
        now: Timestamp,
    ) -> Subscription {
        let mut after = self.clone();
        after.plan = plan.to_owned();
        after.charge_period = charge_period.to_owned();
        after.features = features;
        after.modified_on = now;
        let trial_end = match trial_end {
            Some(end) => (end > now).then_some(end),
            None => self.trial_end.filter(|end| *end > now),
        };
        after.trial_end = trial_end;
        match trial_end {
            Some(end) => {
                after.status = SubscriptionStatus::Trialing;
                after.period_end = end;
            }
            None => {
                after.status = SubscriptionStatus::Active;
                if self.is_trialing(now) || self.charge_period != charge_period {
                    after.period_start = now;
                    after.period_end =
                        period(charge_period).map_or(now, |(span, ..)| add_span(now, span));
                }
            }
        }
        after
    }
}

/// The UTC calendar date of `at`.
fn utc_date(at: Timestamp) -> Date {
    at.to_zoned(TimeZone::UTC).date()
}

/// The length of one billing period, with its `recurrence` text, `recurrenceType` and
/// `recurrenceUnit`; `None` for `ONE_TIME`.
pub(crate) fn period(charge_period: &str) -> Option<(Span, &'static str, &'static str, i64)> {
    Some(match charge_period {
        "DAILY" => (1.day(), "1 day", "DAY", 1),
        "WEEKLY" => (1.week(), "1 week", "WEEK", 1),
        "TWENTY_EIGHT_DAYS" => (28.days(), "28 days", "DAY", 28),
        "MONTHLY" => (1.month(), "1 month", "MONTH", 1),
        "THREE_MONTHS" => (3.months(), "3 months", "MONTH", 3),
        "SIX_MONTHS" => (6.months(), "6 months", "MONTH", 6),
        "YEARLY" => (1.year(), "1 year", "YEAR", 1),
        _ => return None,
    })
}

/// `at` moved forward by `span` in UTC (unchanged if that overflows).
pub(crate) fn add_span(at: Timestamp, span: Span) -> Timestamp {
    at.to_zoned(TimeZone::UTC)
        .checked_add(span)
        .map_or(at, |zoned| zoned.timestamp())
}

/// A checkout session created through `POST /checkout/`.
#[derive(Debug, Clone)]
pub(crate) struct CheckoutSession {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) plan: String,
    pub(crate) charge_period: String,
    pub(crate) customer_id: Option<String>,
    #[expect(
        dead_code,
        reason = "recorded for inspection; no route or accessor reads it yet"
    )]
    pub(crate) success_url: String,
    pub(crate) trial_period: Option<i64>,
    pub(crate) features: Vec<FeatureLine>,
    #[expect(
        dead_code,
        reason = "recorded for inspection; no route or accessor reads it yet"
    )]
    pub(crate) metadata: Option<Map<String, Value>>,
    /// The subscription created when the session was completed.
    pub(crate) subscription_id: Option<String>,
}

/// A customer portal session created through `POST /portal/session/`.
#[derive(Debug, Clone)]
pub(crate) struct PortalSession {
    pub(crate) token: String,
    #[expect(
        dead_code,
        reason = "recorded for inspection; no route or accessor reads it yet"
    )]
    pub(crate) customer_id: String,
    pub(crate) url: String,
}

impl State {
    /// Subscribes a customer to a plan: the subscription, an order and a successful charge
    /// transaction when the plan costs something and no trial runs, and a license key when
    /// the plan issues them. The caller checked that customer, plan and period exist.
    /// Returns the subscription id.
    pub(crate) fn subscribe(
        &mut self,
        customer_id: &str,
        plan: &str,
        charge_period: &str,
        features: Vec<FeatureLine>,
        trial_days: Option<i64>,
        license_key: Option<String>,
    ) -> String {
        let now = self.now();
        let id = self.new_uuid();
        let (period_end, trial_end, status) = match trial_days {
            Some(days) if days > 0 => {
                let end = add_span(now, days.days());
                (end, Some(end), SubscriptionStatus::Trialing)
            }
            _ => (
                period(charge_period).map_or(now, |(span, ..)| add_span(now, span)),
                None,
                SubscriptionStatus::Active,
            ),
        };
        self.customer_subscriptions
            .entry(customer_id.to_owned())
            .or_default()
            .push(self.subscriptions.len());
        self.subscriptions.push(Subscription {
            id: id.clone(),
            customer_id: customer_id.to_owned(),
            plan: plan.to_owned(),
            charge_period: charge_period.to_owned(),
            status,
            start_date: self.today(),
            end_date: None,
            period_start: now,
            period_end,
            trial_end,
            features,
            created_on: now,
            modified_on: now,
        });
        let (price_units, currency, license_limit) = match self.plan(plan) {
            Some(plan) => (
                plan.price_units,
                plan.currency.clone(),
                plan.license_activation_limit,
            ),
            None => (0, "USD".to_owned(), None),
        };
        if price_units > 0 && trial_end.is_none() {
            self.charge(customer_id, plan, price_units, &currency);
        }
        if let Some(limit) = license_limit {
            self.issue_license(customer_id, plan, &id, limit, license_key);
        }
        self.notify_subscription("subscription.created", &id);
        id
    }

    pub(crate) fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions.iter().find(|sub| sub.id == id)
    }

    pub(crate) fn subscription_mut(&mut self, id: &str) -> Option<&mut Subscription> {
        self.subscriptions.iter_mut().find(|sub| sub.id == id)
    }

    /// Ends a subscription's access on `end`: at once (status `canceled`) when `end` is
    /// today or earlier, else at the start of that day. `false` for an unknown id.
    pub(crate) fn end_subscription(&mut self, id: &str, end: Date) -> bool {
        let now = self.now();
        let today = self.today();
        let Some(sub) = self.subscription_mut(id) else {
            return false;
        };
        sub.end_date = Some(end);
        if end <= today {
            sub.status = SubscriptionStatus::Canceled;
        }
        sub.modified_on = now;
        self.notify_subscription("subscription.cancelled", id);
        true
    }

    /// Stores `changed` (from [`Subscription::changed`]) in place of the subscription with
    /// its id, and brings that subscription's licenses in line with its new plan.
    pub(crate) fn replace_subscription(&mut self, changed: Subscription) {
        let id = changed.id.clone();
        if let Some(sub) = self.subscription_mut(&id) {
            *sub = changed;
            self.sync_licenses(&id);
            self.notify_subscription("subscription.updated", &id);
        }
    }

    /// The customer's subscriptions that grant access today, oldest first.
    pub(crate) fn active_subscriptions(&self, customer_id: &str) -> Vec<&Subscription> {
        let today = self.today();
        self.customer_subscriptions
            .get(customer_id)
            .into_iter()
            .flatten()
            .filter_map(|&position| self.subscriptions.get(position))
            .filter(|sub| sub.is_active(today))
            .collect()
    }
}

impl State {
    /// Completes a checkout session: subscribes its customer (created when missing) to the
    /// session's plan. `None` for an unknown or already completed session.
    pub(crate) fn complete_checkout(&mut self, session_id: &str) -> Option<String> {
        let session = self
            .checkout_sessions
            .iter()
            .find(|session| session.id == session_id && session.subscription_id.is_none())?
            .clone();
        let customer_id = match session.customer_id {
            Some(customer_id) => customer_id,
            None => format!("cus_{}", self.new_token()),
        };
        if self.customer(&customer_id).is_none() {
            if self.customer_id_taken(&customer_id) {
                return None;
            }
            self.insert_customer(customer_id.clone(), None, None, None);
        }
        let subscription_id = self.subscribe(
            &customer_id,
            &session.plan,
            &session.charge_period,
            session.features,
            session.trial_period,
            None,
        );
        if let Some(stored) = self
            .checkout_sessions
            .iter_mut()
            .find(|stored| stored.id == session_id)
        {
            stored.subscription_id = Some(subscription_id.clone());
        }
        Some(subscription_id)
    }
}
