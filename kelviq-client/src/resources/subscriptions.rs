//! `kelviq.subscriptions()`: list, retrieve, create, cancel, update and preview an update.

use http::Method;
use serde::Serialize;

use super::{customer_id, date, positive, require};
use crate::client::Kelviq;
use crate::error::{Error, Result};
use crate::http::{Base, Request, segment};
use crate::models::{
    CancellationType, CancelledSubscription, ChargePeriod, FeatureQuantity, Page, PaymentBehavior,
    ProrationBehavior, Subscription, SubscriptionUpdatePreview, UpdatedSubscription,
};

/// Handle for the subscriptions resource.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionsApi<'a> {
    client: &'a Kelviq,
}

/// A bound on when a subscription last changed, for
/// [`ListSubscriptions::modified_on_after`] and
/// [`ListSubscriptions::modified_on_before`]: a whole day or an instant.
///
/// The service's `modified_on` is a date-time. A day (a [`jiff::civil::Date`], or text
/// `YYYY-MM-DD`) is sent as `YYYY-MM-DD` and bounds whole UTC days, inclusive; an instant
/// (a [`jiff::Timestamp`], a [`jiff::Zoned`], or RFC 3339 text with an offset such as
/// `2025-02-01T00:00:00Z` or `2025-02-01T01:00:00+01:00`) is sent in UTC as
/// `2025-02-01T00:00:00Z`, the form the official SDK sends, and bounds inclusively to the
/// instant. Text is read when the list is sent: anything else, including a date-time
/// without an offset (whose instant is ambiguous), is an [`Error::Validation`] then.
///
/// ```
/// use kelviq_client::{ListSubscriptions, ModifiedOn};
///
/// let day: jiff::civil::Date = "2025-02-01".parse()?;
/// let instant: jiff::Timestamp = "2025-02-01T12:30:00Z".parse()?;
/// let since_midday = ListSubscriptions::new().modified_on_after(instant);
/// let that_day = ListSubscriptions::new()
///     .modified_on_after(day)
///     .modified_on_before(ModifiedOn::from("2025-02-01"));
/// # let _ = (since_midday, that_day);
/// # Ok::<(), jiff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifiedOn(ModifiedOnRepr);

#[derive(Debug, Clone, PartialEq, Eq)]
enum ModifiedOnRepr {
    Date(jiff::civil::Date),
    Timestamp(jiff::Timestamp),
    /// As given; read by `ListSubscriptions::validate`.
    Text(String),
}

impl From<jiff::civil::Date> for ModifiedOn {
    /// The whole UTC day.
    fn from(date: jiff::civil::Date) -> Self {
        ModifiedOn(ModifiedOnRepr::Date(date))
    }
}

impl From<jiff::Timestamp> for ModifiedOn {
    fn from(timestamp: jiff::Timestamp) -> Self {
        ModifiedOn(ModifiedOnRepr::Timestamp(timestamp))
    }
}

impl From<&jiff::Zoned> for ModifiedOn {
    /// The zoned date-time's instant.
    fn from(zoned: &jiff::Zoned) -> Self {
        ModifiedOn::from(zoned.timestamp())
    }
}

impl From<jiff::Zoned> for ModifiedOn {
    /// The zoned date-time's instant.
    fn from(zoned: jiff::Zoned) -> Self {
        ModifiedOn::from(zoned.timestamp())
    }
}

impl From<String> for ModifiedOn {
    /// `YYYY-MM-DD` or an RFC 3339 timestamp with an offset, checked when the list is sent.
    fn from(text: String) -> Self {
        ModifiedOn(ModifiedOnRepr::Text(text))
    }
}

impl From<&str> for ModifiedOn {
    /// `YYYY-MM-DD` or an RFC 3339 timestamp with an offset, checked when the list is sent.
    fn from(text: &str) -> Self {
        ModifiedOn::from(text.to_owned())
    }
}

impl From<&String> for ModifiedOn {
    /// `YYYY-MM-DD` or an RFC 3339 timestamp with an offset, checked when the list is sent.
    fn from(text: &String) -> Self {
        ModifiedOn::from(text.as_str())
    }
}

/// A [`ModifiedOn`] once read: what is sent and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Day(jiff::civil::Date),
    Instant(jiff::Timestamp),
}

impl Bound {
    /// Reads `value`, refusing text that is neither form and years before 1 (the wire has
    /// four-digit years).
    fn read(field: &'static str, value: &ModifiedOn) -> Result<Bound> {
        let bound = match &value.0 {
            ModifiedOnRepr::Date(date) => Bound::Day(*date),
            ModifiedOnRepr::Timestamp(at) => Bound::Instant(*at),
            ModifiedOnRepr::Text(text) => {
                if date(field, text).is_ok() {
                    text.parse()
                        .map(Bound::Day)
                        .map_err(|_| bad_modified_on(field, text))?
                } else {
                    text.parse()
                        .map(Bound::Instant)
                        .map_err(|_| bad_modified_on(field, text))?
                }
            }
        };
        let year = match bound {
            Bound::Day(date) => date.year(),
            Bound::Instant(at) => at.to_zoned(jiff::tz::TimeZone::UTC).year(),
        };
        if year < 1 {
            return Err(Error::validation(field, "must be in year 1 or later"));
        }
        Ok(bound)
    }

    /// The query value: `YYYY-MM-DD`, or RFC 3339 in UTC (`2025-02-01T00:00:00Z`, a
    /// fraction only when there is one).
    fn wire(self) -> String {
        match self {
            Bound::Day(date) => date.strftime("%Y-%m-%d").to_string(),
            Bound::Instant(at) => at.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string(),
        }
    }

    /// The first instant the bound covers.
    fn start(self) -> Option<jiff::Timestamp> {
        match self {
            Bound::Day(date) => midnight_utc(date),
            Bound::Instant(at) => Some(at),
        }
    }

    /// The first instant after what the bound covers (`None` past the end of time).
    fn end_exclusive(self) -> Option<jiff::Timestamp> {
        match self {
            Bound::Day(date) => date.tomorrow().ok().and_then(midnight_utc),
            Bound::Instant(at) => at.checked_add(jiff::SignedDuration::from_nanos(1)).ok(),
        }
    }
}

fn midnight_utc(date: jiff::civil::Date) -> Option<jiff::Timestamp> {
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp())
}

fn bad_modified_on(field: &'static str, text: &str) -> Error {
    Error::validation(
        field,
        format!(
            "\"{text}\" is neither a date in the YYYY-MM-DD format nor an RFC 3339 timestamp \
             with an offset such as 2025-02-01T00:00:00Z"
        ),
    )
}

/// Whether the lower bound `after` starts after everything the upper bound `before` covers.
fn inverted(after: Bound, before: Bound) -> bool {
    match (after, before) {
        (Bound::Day(after), Bound::Day(before)) => after > before,
        (after, before) => match (after.start(), before.end_exclusive()) {
            (Some(start), Some(end)) => start >= end,
            _ => false,
        },
    }
}

/// Parameters of [`SubscriptionsApi::list`]: filters (all optional, combined) and the page.
///
/// Start dates are `YYYY-MM-DD`; the last-change bounds are a day or an instant
/// ([`ModifiedOn`]); every bound is inclusive. Unlike the official SDK, which passes them
/// through, a value in another format, or a lower bound after its upper bound, is refused
/// before sending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ListSubscriptions {
    customer_id: Option<String>,
    start_date_after: Option<String>,
    start_date_before: Option<String>,
    modified_on_after: Option<ModifiedOn>,
    modified_on_before: Option<ModifiedOn>,
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

    /// Only subscriptions last modified on or after this day or at or after this instant
    /// (default: no bound): a [`jiff::civil::Date`], a [`jiff::Timestamp`], or text in
    /// either form (see [`ModifiedOn`]).
    pub fn modified_on_after(mut self, bound: impl Into<ModifiedOn>) -> Self {
        self.modified_on_after = Some(bound.into());
        self
    }

    /// Only subscriptions last modified on or before this day or at or before this instant
    /// (default: no bound): a [`jiff::civil::Date`], a [`jiff::Timestamp`], or text in
    /// either form (see [`ModifiedOn`]).
    pub fn modified_on_before(mut self, bound: impl Into<ModifiedOn>) -> Self {
        self.modified_on_before = Some(bound.into());
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

    /// Checks every parameter; the last-change bounds as they will be sent.
    fn validate(&self) -> Result<(Option<String>, Option<String>)> {
        if let Some(customer_id) = &self.customer_id {
            require("customer_id", customer_id)?;
        }
        for (field, value) in [
            ("start_date_after", &self.start_date_after),
            ("start_date_before", &self.start_date_before),
        ] {
            if let Some(value) = value {
                date(field, value)?;
            }
        }
        // Zero-padded YYYY-MM-DD now, so text order is date order.
        if let (Some(after), Some(before)) = (&self.start_date_after, &self.start_date_before)
            && after > before
        {
            return Err(Error::validation(
                "start_date_after",
                format!("{after} is after the matching upper bound {before}"),
            ));
        }
        let modified_after = self
            .modified_on_after
            .as_ref()
            .map(|value| Bound::read("modified_on_after", value))
            .transpose()?;
        let modified_before = self
            .modified_on_before
            .as_ref()
            .map(|value| Bound::read("modified_on_before", value))
            .transpose()?;
        if let (Some(after), Some(before)) = (modified_after, modified_before)
            && inverted(after, before)
        {
            return Err(Error::validation(
                "modified_on_after",
                format!(
                    "{} is after the matching upper bound {}",
                    after.wire(),
                    before.wire()
                ),
            ));
        }
        positive("page", self.page)?;
        positive("page_size", self.page_size)?;
        Ok((
            modified_after.map(Bound::wire),
            modified_before.map(Bound::wire),
        ))
    }
}

/// Parameters of [`SubscriptionsApi::create`]. Sent snake_case: `plan_identifier`,
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

/// Parameters of [`SubscriptionsApi::cancel`]. Sent snake_case: `cancellation_type`,
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

/// Parameters of [`SubscriptionsApi::update`]. Sent snake_case — `plan_identifier`,
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

/// Parameters of [`SubscriptionsApi::preview_update`]. Sent snake_case: `plan_identifier`,
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

impl<'a> SubscriptionsApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        SubscriptionsApi { client }
    }

    /// One page of subscriptions: `GET /subscriptions/?customer_id=&start_date_after=
    /// &start_date_before=&modified_on_after=&modified_on_before=&page=&page_size=`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty customer id, a start date not in the
    /// `YYYY-MM-DD` format, a last-change bound that is neither such a date nor an RFC 3339
    /// timestamp with an offset (or is before year 1), a lower bound after its upper bound,
    /// or a page or page size of 0; otherwise the errors of any call.
    pub async fn list(&self, params: ListSubscriptions) -> Result<Page<Subscription>> {
        let (modified_on_after, modified_on_before) = params.validate()?;
        if let Some(id) = &params.customer_id {
            customer_id(self.client.transport(), id)?;
        }
        let request = Request::new(
            "subscriptions.list",
            Method::GET,
            Base::Api,
            "/subscriptions/",
        )
        .query("customer_id", params.customer_id)
        .query("start_date_after", params.start_date_after)
        .query("start_date_before", params.start_date_before)
        .query("modified_on_after", modified_on_after)
        .query("modified_on_before", modified_on_before)
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
        customer_id(self.client.transport(), &params.customer_id)?;
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

    /// What [`SubscriptionsApi::update`] with the same fields would cost, without changing
    /// anything: `POST /subscriptions/{subscription_id}/update/preview/`.
    ///
    /// # Errors
    ///
    /// As [`SubscriptionsApi::update`].
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

    fn modified_query(params: &ListSubscriptions) -> Result<(Option<String>, Option<String>)> {
        params.validate()
    }

    #[test]
    fn modified_on_takes_a_day_or_an_instant_and_sends_utc() {
        let day: jiff::civil::Date = "2025-02-01".parse().unwrap();
        let at: jiff::Timestamp = "2025-02-01T00:00:00Z".parse().unwrap();
        let cases: [(ModifiedOn, &str); 9] = [
            (day.into(), "2025-02-01"),
            ("2025-02-01".into(), "2025-02-01"),
            (at.into(), "2025-02-01T00:00:00Z"),
            ("2025-02-01T00:00:00Z".into(), "2025-02-01T00:00:00Z"),
            ("2025-02-01T01:00:00+01:00".into(), "2025-02-01T00:00:00Z"),
            (
                "2025-01-31T19:00:00-05:00".to_owned().into(),
                "2025-02-01T00:00:00Z",
            ),
            ("2025-02-01T00:00:00.250Z".into(), "2025-02-01T00:00:00.25Z"),
            (
                at.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(9)))
                    .into(),
                "2025-02-01T00:00:00Z",
            ),
            ((&"0001-01-01".to_owned()).into(), "0001-01-01"),
        ];
        for (bound, wire) in cases {
            let params = ListSubscriptions::new().modified_on_before(bound.clone());
            assert_eq!(
                modified_query(&params).unwrap(),
                (None, Some(wire.to_owned())),
                "{bound:?}"
            );
        }
    }

    #[test]
    fn modified_on_refuses_what_is_neither_form() {
        for bad in [
            "",
            "yesterday",
            "2025-1-01",
            "2025-02-30",
            "2025-01-01T00:00:00",
            "2025-01-01 00:00:00",
            "2025-02-01T25:00:00Z",
            "01/02/2025",
            "1738368000",
        ] {
            let params = ListSubscriptions::new().modified_on_after(bad);
            let Err(Error::Validation { field, .. }) = modified_query(&params) else {
                panic!("{bad:?} was accepted");
            };
            assert_eq!(field, "modified_on_after");
        }
        let before_year_one: jiff::civil::Date = "-000001-01-01".parse().unwrap();
        let params = ListSubscriptions::new().modified_on_before(before_year_one);
        assert!(modified_query(&params).is_err());
    }

    #[test]
    fn modified_on_bounds_are_inclusive_and_mixed_forms_compare_by_instant() {
        let check = |after: &str, before: &str| {
            modified_query(
                &ListSubscriptions::new()
                    .modified_on_after(after)
                    .modified_on_before(before),
            )
            .map(|_| ())
        };
        for (after, before) in [
            ("2025-02-01", "2025-02-01"),
            ("2025-02-01T23:59:59.999Z", "2025-02-01"),
            ("2025-02-01", "2025-02-01T00:00:00Z"),
            ("2025-02-01T10:00:00Z", "2025-02-01T10:00:00Z"),
            ("2025-02-01T11:00:00+01:00", "2025-02-01T10:00:00Z"),
        ] {
            assert!(check(after, before).is_ok(), "{after} .. {before}");
        }
        for (after, before) in [
            ("2025-02-02", "2025-02-01"),
            ("2025-02-02T00:00:00Z", "2025-02-01"),
            ("2025-02-01", "2025-01-31T23:59:59Z"),
            ("2025-02-01T10:00:00.000000001Z", "2025-02-01T10:00:00Z"),
        ] {
            let Err(Error::Validation { field, .. }) = check(after, before) else {
                panic!("{after} .. {before} was accepted");
            };
            assert_eq!(field, "modified_on_after");
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
