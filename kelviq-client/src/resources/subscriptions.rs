//! `kelviq.subscriptions()`: list, retrieve, create, cancel, update and preview an update.

use http::Method;
use serde::Serialize;

use super::{date, positive, require};
use crate::client::Kelviq;
use crate::error::{Error, Result};
use crate::http::{Base, Request, segment};
use crate::models::{
    CancellationType, CancelledSubscription, ChargePeriod, FeatureQuantity, Page, PaymentBehavior,
    ProrationBehavior, Subscription, SubscriptionUpdatePreview, UpdatedSubscription,
};

/// Handle for the subscriptions resource.
#[derive(Debug, Clone, Copy)]
pub struct Subscriptions<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`Subscriptions::list`]: filters (all optional, combined) and the page.
///
/// Dates are `YYYY-MM-DD` and the bounds are inclusive. Unlike the official SDK, which
/// passes them through, a date in another format, or a lower bound after its upper
/// bound, is refused before sending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ListSubscriptions {
    customer_id: Option<String>,
    start_date_after: Option<String>,
    start_date_before: Option<String>,
    modified_on_after: Option<String>,
    modified_on_before: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

impl ListSubscriptions {
    /// Every subscription, first page, the service's default page size.
    pub fn new() -> Self {
        ListSubscriptions::default()
    }

    /// Only this customer's subscriptions (default: every customer's).
    pub fn customer_id(mut self, customer_id: impl Into<String>) -> Self {
        self.customer_id = Some(customer_id.into());
        self
    }

    /// Only subscriptions that started on or after this date (default: no bound).
    pub fn start_date_after(mut self, date: impl Into<String>) -> Self {
        self.start_date_after = Some(date.into());
        self
    }

    /// Only subscriptions that started on or before this date (default: no bound).
    pub fn start_date_before(mut self, date: impl Into<String>) -> Self {
        self.start_date_before = Some(date.into());
        self
    }

    /// Only subscriptions last modified on or after this date (default: no bound).
    pub fn modified_on_after(mut self, date: impl Into<String>) -> Self {
        self.modified_on_after = Some(date.into());
        self
    }

    /// Only subscriptions last modified on or before this date (default: no bound).
    pub fn modified_on_before(mut self, date: impl Into<String>) -> Self {
        self.modified_on_before = Some(date.into());
        self
    }

    /// The page number, from 1 (default: 1).
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    /// How many subscriptions per page (default: the service's).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    fn validate(&self) -> Result<()> {
        if let Some(customer_id) = &self.customer_id {
            require("customer_id", customer_id)?;
        }
        for (field, value) in [
            ("start_date_after", &self.start_date_after),
            ("start_date_before", &self.start_date_before),
            ("modified_on_after", &self.modified_on_after),
            ("modified_on_before", &self.modified_on_before),
        ] {
            if let Some(value) = value {
                date(field, value)?;
            }
        }
        // Zero-padded YYYY-MM-DD now, so text order is date order.
        for (field, after, before) in [
            (
                "start_date_after",
                &self.start_date_after,
                &self.start_date_before,
            ),
            (
                "modified_on_after",
                &self.modified_on_after,
                &self.modified_on_before,
            ),
        ] {
            if let (Some(after), Some(before)) = (after, before)
                && after > before
            {
                return Err(Error::validation(
                    field,
                    format!("{after} is after the matching upper bound {before}"),
                ));
            }
        }
        positive("page", self.page)?;
        positive("page_size", self.page_size)
    }
}

/// Parameters of [`Subscriptions::create`]. Sent snake_case: `plan_identifier`,
/// `charge_period`, `customer_id`, `success_url`, `features`, `ip_address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[must_use]
pub struct CreateSubscription {
    plan_identifier: String,
    charge_period: ChargePeriod,
    customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<Vec<FeatureQuantity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
}

impl CreateSubscription {
    /// Subscribes an existing customer to a plan (both required, non-empty), charged every
    /// `charge_period`.
    pub fn new(
        plan_identifier: impl Into<String>,
        charge_period: ChargePeriod,
        customer_id: impl Into<String>,
    ) -> Self {
        CreateSubscription {
            plan_identifier: plan_identifier.into(),
            charge_period,
            customer_id: customer_id.into(),
            success_url: None,
            features: None,
            ip_address: None,
        }
    }

    /// Where to send the customer after a payment step (default: none).
    pub fn success_url(mut self, url: impl Into<String>) -> Self {
        self.success_url = Some(url.into());
        self
    }

    /// Quantities of the plan's features (default: the plan's).
    pub fn features(mut self, features: Vec<FeatureQuantity>) -> Self {
        self.features = Some(features);
        self
    }

    /// The customer's IP address, for tax location (default: none).
    pub fn ip_address(mut self, ip_address: impl Into<String>) -> Self {
        self.ip_address = Some(ip_address.into());
        self
    }
}

/// Parameters of [`Subscriptions::cancel`]. Sent snake_case: `cancellation_type`,
/// `cancellation_date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[must_use]
pub struct CancelSubscription {
    cancellation_type: CancellationType,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation_date: Option<String>,
}

impl CancelSubscription {
    /// A cancellation of the given type. [`CancellationType::SpecificDate`] needs a
    /// [`cancellation_date`](CancelSubscription::cancellation_date).
    pub fn new(cancellation_type: CancellationType) -> Self {
        CancelSubscription {
            cancellation_type,
            cancellation_date: None,
        }
    }

    /// Access ends now.
    pub fn immediate() -> Self {
        CancelSubscription::new(CancellationType::Immediate)
    }

    /// Access ends with the current billing period.
    pub fn at_period_end() -> Self {
        CancelSubscription::new(CancellationType::CurrentPeriodEnds)
    }

    /// Access ends on `date` (`YYYY-MM-DD`).
    pub fn on_date(date: impl Into<String>) -> Self {
        CancelSubscription::new(CancellationType::SpecificDate).cancellation_date(date)
    }

    /// The last day, `YYYY-MM-DD` (default: none). Required by `SPECIFIC_DATE`; sent as
    /// given with the other types too, as in the official SDK.
    pub fn cancellation_date(mut self, date: impl Into<String>) -> Self {
        self.cancellation_date = Some(date.into());
        self
    }

    fn validate(&self) -> Result<()> {
        match &self.cancellation_date {
            Some(value) => date("cancellation_date", value),
            None if self.cancellation_type == CancellationType::SpecificDate => Err(
                Error::validation("cancellation_date", "is required with SPECIFIC_DATE"),
            ),
            None => Ok(()),
        }
    }
}

/// Parameters of [`Subscriptions::update`]. Sent snake_case — `plan_identifier`,
/// `charge_period`, `proration_behavior`, `probation_behaviour`, `offering_id`,
/// `pricing_table_id`, `rule_id`, `features`, `trial_end`, `payment_behavior` — except the
/// IP address, sent as **`ipAddress`** (camelCase).
///
/// That one camelCase key reproduces the official SDK byte for byte (its update payload
/// has no snake_case alias for it, while create and preview send `ip_address`). It is
/// probably a bug of the SDK and the service may ignore the field; it is kept for wire
/// parity with the SDK the service is used with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[must_use]
pub struct UpdateSubscription {
    plan_identifier: String,
    charge_period: ChargePeriod,
    #[serde(skip_serializing_if = "Option::is_none")]
    proration_behavior: Option<ProrationBehavior>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probation_behaviour: Option<String>,
    #[serde(rename = "ipAddress", skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offering_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pricing_table_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<Vec<FeatureQuantity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trial_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_behavior: Option<PaymentBehavior>,
}

impl UpdateSubscription {
    /// Moves the subscription to a plan (required, non-empty) and charge period.
    pub fn new(plan_identifier: impl Into<String>, charge_period: ChargePeriod) -> Self {
        UpdateSubscription {
            plan_identifier: plan_identifier.into(),
            charge_period,
            proration_behavior: None,
            probation_behaviour: None,
            ip_address: None,
            offering_id: None,
            pricing_table_id: None,
            rule_id: None,
            features: None,
            trial_end: None,
            payment_behavior: None,
        }
    }

    /// What a price difference does (default: the organisation's setting).
    pub fn proration_behavior(mut self, behavior: ProrationBehavior) -> Self {
        self.proration_behavior = Some(behavior);
        self
    }

    /// The deprecated, misspelt predecessor of `proration_behavior`, sent verbatim under
    /// its own key `probation_behaviour` (default: none). It is not translated into
    /// `proration_behavior`, as in the official SDK.
    #[deprecated(note = "use `proration_behavior`")]
    pub fn probation_behaviour(mut self, behaviour: impl Into<String>) -> Self {
        self.probation_behaviour = Some(behaviour.into());
        self
    }

    /// The customer's IP address (default: none). Sent as `ipAddress`, camelCase: see the
    /// type's documentation.
    pub fn ip_address(mut self, ip_address: impl Into<String>) -> Self {
        self.ip_address = Some(ip_address.into());
        self
    }

    /// The offering the new plan is taken from (default: none).
    pub fn offering_id(mut self, offering_id: impl Into<String>) -> Self {
        self.offering_id = Some(offering_id.into());
        self
    }

    /// The pricing table the new plan is taken from (default: none).
    pub fn pricing_table_id(mut self, pricing_table_id: impl Into<String>) -> Self {
        self.pricing_table_id = Some(pricing_table_id.into());
        self
    }

    /// The pricing rule to apply (default: none).
    pub fn rule_id(mut self, rule_id: impl Into<String>) -> Self {
        self.rule_id = Some(rule_id.into());
        self
    }

    /// Quantities of the new plan's features (default: unchanged).
    pub fn features(mut self, features: Vec<FeatureQuantity>) -> Self {
        self.features = Some(features);
        self
    }

    /// When the trial ends: `now` (ends it) or an ISO 8601 date-time strictly in the
    /// future, such as `2030-12-31 23:59:59` or `2030-12-31T23:59:59+02:00`; a value
    /// without an offset is UTC. Checked when sending and sent verbatim (default: the trial
    /// is left as it is).
    pub fn trial_end(mut self, trial_end: impl Into<String>) -> Self {
        self.trial_end = Some(trial_end.into());
        self
    }

    /// When the change takes effect with respect to its payment (default: the service's).
    pub fn payment_behavior(mut self, behavior: PaymentBehavior) -> Self {
        self.payment_behavior = Some(behavior);
        self
    }
}

/// Parameters of [`Subscriptions::preview_update`]. Sent snake_case: `plan_identifier`,
/// `charge_period`, `proration_behavior`, `features`, `ip_address`, `trial_end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[must_use]
pub struct PreviewSubscriptionUpdate {
    plan_identifier: String,
    charge_period: ChargePeriod,
    #[serde(skip_serializing_if = "Option::is_none")]
    proration_behavior: Option<ProrationBehavior>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<Vec<FeatureQuantity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trial_end: Option<String>,
}

impl PreviewSubscriptionUpdate {
    /// A preview of moving the subscription to a plan (required, non-empty) and charge
    /// period.
    pub fn new(plan_identifier: impl Into<String>, charge_period: ChargePeriod) -> Self {
        PreviewSubscriptionUpdate {
            plan_identifier: plan_identifier.into(),
            charge_period,
            proration_behavior: None,
            features: None,
            ip_address: None,
            trial_end: None,
        }
    }

    /// What a price difference does (default: the organisation's setting).
    pub fn proration_behavior(mut self, behavior: ProrationBehavior) -> Self {
        self.proration_behavior = Some(behavior);
        self
    }

    /// Quantities of the new plan's features (default: unchanged).
    pub fn features(mut self, features: Vec<FeatureQuantity>) -> Self {
        self.features = Some(features);
        self
    }

    /// The customer's IP address (default: none). Sent as `ip_address`.
    pub fn ip_address(mut self, ip_address: impl Into<String>) -> Self {
        self.ip_address = Some(ip_address.into());
        self
    }

    /// When the trial would end, as for [`UpdateSubscription::trial_end`] and checked the
    /// same way (the official SDK checks it only on update; a preview of an update that
    /// would be refused answers nothing useful). Default: the trial is left as it is.
    pub fn trial_end(mut self, trial_end: impl Into<String>) -> Self {
        self.trial_end = Some(trial_end.into());
        self
    }
}

/// Reads a `trial_end` other than `now`: an ISO 8601 date-time, with a `T` or a space
/// between date and time, with or without an offset (without: UTC), or a bare date
/// (midnight UTC).
fn parse_trial_end(text: &str) -> Option<jiff::Timestamp> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Some(at);
    }
    let naive = text.parse::<jiff::civil::DateTime>().ok().or_else(|| {
        text.parse::<jiff::civil::Date>()
            .ok()
            .map(|day| day.at(0, 0, 0, 0))
    })?;
    naive
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// Refuses a `trial_end` that is neither `now` nor a date-time strictly after `now`.
fn trial_end(value: &str, now: jiff::Timestamp) -> Result<()> {
    if value == "now" {
        return Ok(());
    }
    match parse_trial_end(value) {
        Some(at) if at > now => Ok(()),
        Some(_) => Err(Error::validation("trial_end", "must be in the future")),
        None => Err(Error::validation(
            "trial_end",
            format!(
                "\"{value}\" is neither \"now\" nor an ISO 8601 date-time such as \
                 \"2030-12-31 23:59:59\""
            ),
        )),
    }
}

/// The checks update and preview share.
fn validate_change(plan_identifier: &str, trial: Option<&str>) -> Result<()> {
    require("plan_identifier", plan_identifier)?;
    match trial {
        Some(value) => trial_end(value, jiff::Timestamp::now()),
        None => Ok(()),
    }
}

const ITEM: &str = "/subscriptions/{subscription_id}/";
const CANCEL: &str = "/subscriptions/{subscription_id}/cancel/";
const UPDATE: &str = "/subscriptions/{subscription_id}/update/";
const PREVIEW: &str = "/subscriptions/{subscription_id}/update/preview/";

/// `/subscriptions/{id}/` followed by `tail` (`""`, `"cancel/"`, ...).
fn item_path(subscription_id: &str, tail: &str) -> Result<String> {
    Ok(format!(
        "/subscriptions/{}/{tail}",
        segment("subscription_id", subscription_id)?
    ))
}

impl<'a> Subscriptions<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        Subscriptions { client }
    }

    /// One page of subscriptions: `GET /subscriptions/?customer_id=&start_date_after=
    /// &start_date_before=&modified_on_after=&modified_on_before=&page=&page_size=`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty customer id, a date not in the `YYYY-MM-DD`
    /// format, or a page or page size of 0; otherwise the errors of any call.
    pub async fn list(&self, params: ListSubscriptions) -> Result<Page<Subscription>> {
        params.validate()?;
        let request = Request::new(
            "subscriptions.list",
            Method::GET,
            Base::Api,
            "/subscriptions/",
        )
        .query("customer_id", params.customer_id)
        .query("start_date_after", params.start_date_after)
        .query("start_date_before", params.start_date_before)
        .query("modified_on_after", params.modified_on_after)
        .query("modified_on_before", params.modified_on_before)
        .query("page", params.page)
        .query("page_size", params.page_size);
        self.client.transport().json(request).await
    }

    /// One subscription by id: `GET /subscriptions/{subscription_id}/`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id (or `.`/`..`); [`Error::Api`] with status 404
    /// for an unknown one.
    pub async fn retrieve(&self, subscription_id: &str) -> Result<Subscription> {
        let request = Request::new("subscriptions.retrieve", Method::GET, Base::Api, ITEM)
            .with_path(item_path(subscription_id, "")?);
        self.client.transport().json(request).await
    }

    /// Subscribes an existing customer to a plan, without a checkout:
    /// `POST /subscriptions/create/`.
    ///
    /// The request carries no idempotency key, so it is not replayed when its outcome is
    /// unknown (timeout, dropped connection): list the customer's subscriptions before
    /// trying again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::CreateSubscription;
    /// use kelviq_client::models::ChargePeriod;
    ///
    /// let subscription = kelviq
    ///     .subscriptions()
    ///     .create(CreateSubscription::new("pro", ChargePeriod::Monthly, "cust_free"))
    ///     .await?;
    /// assert_eq!(subscription.customer_id.as_deref(), Some("cust_free"));
    /// assert!(kelviq.entitlements().has_access("cust_free", "reports").await?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty plan identifier or customer id; [`Error::Api`]
    /// with status 400 for an unknown plan or customer or an invalid field.
    pub async fn create(&self, params: CreateSubscription) -> Result<Subscription> {
        require("plan_identifier", &params.plan_identifier)?;
        require("customer_id", &params.customer_id)?;
        let request = Request::new(
            "subscriptions.create",
            Method::POST,
            Base::Api,
            "/subscriptions/create/",
        )
        .json(&params)?;
        self.client.transport().json(request).await
    }

    /// Cancels a subscription: `POST /subscriptions/{subscription_id}/cancel/`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id, a `cancellation_date` not in the
    /// `YYYY-MM-DD` format, or `SPECIFIC_DATE` without a date; [`Error::Api`] with status
    /// 404 for an unknown subscription, 400 for one already cancelled.
    pub async fn cancel(
        &self,
        subscription_id: &str,
        params: CancelSubscription,
    ) -> Result<CancelledSubscription> {
        let path = item_path(subscription_id, "cancel/")?;
        params.validate()?;
        let request = Request::new("subscriptions.cancel", Method::POST, Base::Api, CANCEL)
            .with_path(path)
            .json(&params)?;
        self.client.transport().json(request).await
    }

    /// Changes a subscription's plan, charge period, features or trial:
    /// `POST /subscriptions/{subscription_id}/update/` (a POST, not a PATCH).
    ///
    /// Note the body's `ipAddress`, camelCase unlike every other key (see
    /// [`UpdateSubscription`]). The request is not replayed when its outcome is unknown.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id or plan identifier, or a `trial_end` that is
    /// neither `now` nor an ISO 8601 date-time in the future; [`Error::Api`] with status
    /// 404 for an unknown subscription, 400 for an invalid change.
    pub async fn update(
        &self,
        subscription_id: &str,
        params: UpdateSubscription,
    ) -> Result<UpdatedSubscription> {
        let path = item_path(subscription_id, "update/")?;
        validate_change(&params.plan_identifier, params.trial_end.as_deref())?;
        let request = Request::new("subscriptions.update", Method::POST, Base::Api, UPDATE)
            .with_path(path)
            .json(&params)?;
        self.client.transport().json(request).await
    }

    /// What [`Subscriptions::update`] with the same fields would cost, without changing
    /// anything: `POST /subscriptions/{subscription_id}/update/preview/`.
    ///
    /// # Errors
    ///
    /// As [`Subscriptions::update`].
    pub async fn preview_update(
        &self,
        subscription_id: &str,
        params: PreviewSubscriptionUpdate,
    ) -> Result<SubscriptionUpdatePreview> {
        let path = item_path(subscription_id, "update/preview/")?;
        validate_change(&params.plan_identifier, params.trial_end.as_deref())?;
        let request = Request::new(
            "subscriptions.preview_update",
            Method::POST,
            Base::Api,
            PREVIEW,
        )
        .with_path(path)
        .json(&params)?;
        self.client.transport().json(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_end_is_now_or_a_future_date_time() {
        let now: jiff::Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        for ok in [
            "now",
            "2030-12-31 23:59:59",
            "2030-12-31T23:59:59",
            "2030-12-31T23:59:59Z",
            "2030-12-31T23:59:59.5+02:00",
            "2030-01-01T00:00:01",
            "2030-01-02",
        ] {
            assert!(trial_end(ok, now).is_ok(), "{ok}");
        }
        for past in [
            "2030-01-01 00:00:00",
            "2029-12-31T23:59:59Z",
            "2030-01-01T01:00:00+02:00",
        ] {
            let error = trial_end(past, now).unwrap_err();
            assert!(error.to_string().contains("future"), "{past}: {error}");
        }
        for bad in ["tomorrow", "Now", "", "2030-13-01 00:00:00", "31/12/2030"] {
            let error = trial_end(bad, now).unwrap_err();
            assert!(error.to_string().contains("ISO 8601"), "{bad}: {error}");
        }
    }

    #[test]
    fn update_sends_ip_address_camel_case_and_preview_snake_case() {
        let update = UpdateSubscription::new("pro", ChargePeriod::Yearly).ip_address("1.2.3.4");
        let wire = serde_json::to_value(&update).unwrap();
        assert_eq!(wire["ipAddress"], "1.2.3.4");
        assert!(wire.get("ip_address").is_none());
        let preview =
            PreviewSubscriptionUpdate::new("pro", ChargePeriod::Yearly).ip_address("1.2.3.4");
        let wire = serde_json::to_value(&preview).unwrap();
        assert_eq!(wire["ip_address"], "1.2.3.4");
    }

    #[test]
    fn a_specific_date_cancellation_needs_a_date() {
        assert!(
            CancelSubscription::new(CancellationType::SpecificDate)
                .validate()
                .is_err()
        );
        assert!(CancelSubscription::on_date("2030-01-01").validate().is_ok());
        assert!(CancelSubscription::immediate().validate().is_ok());
        assert!(
            CancelSubscription::at_period_end()
                .cancellation_date("01-01-2030")
                .validate()
                .is_err()
        );
    }
}
