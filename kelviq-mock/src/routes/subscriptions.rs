//! `/subscriptions/`: list, retrieve, create, cancel, update and its preview — plus the
//! subscription object and the body checks that checkout, portal and license share.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use http::{StatusCode, Uri};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value, json};

use super::{AppState, PathParam, absolute_url};
use crate::seed::{FeatureKind, Plan};
use crate::server::lock;
use crate::state::{CHARGE_PERIODS, License, State as Db, Subscription};
use crate::wire::{
    ApiError, BodyReader, FeatureLine, QueryReader, format_date, format_datetime, paginate,
    parse_date, parse_trial_end,
};

// ---------------------------------------------------------------------------------------
// Money and JSON builders shared with checkout, portal and license.

/// Minor units as decimal text, as `amount` carries it (`4900` → `"49.00"`). Every currency
/// is taken to have two decimals.
pub(super) fn decimal_text(units: i64) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let units = units.unsigned_abs();
    format!("{sign}{}.{:02}", units / 100, units % 100)
}

/// Minor units as a JSON float (`4900` → `49.0`).
#[allow(clippy::cast_precision_loss)]
pub(super) fn decimal(units: i64) -> f64 {
    units as f64 / 100.0
}

/// The product a plan belongs to: one per plan, `prod_<plan>`, named as the plan.
pub(super) fn product_json(plan: &Plan) -> Map<String, Value> {
    object([
        ("id", json!(format!("prod_{}", plan.identifier))),
        ("identifier", json!(plan.identifier)),
        ("name", json!(plan.display_name())),
    ])
}

/// A license as the subscription object's `license` array lists it; the license details
/// object of `/license/` extends it.
pub(super) fn license_summary(db: &Db, license: &License) -> Map<String, Value> {
    object([
        ("id", json!(license.id)),
        ("licenseKey", json!(license.license_key)),
        (
            "activatedOn",
            json!(license.first_activated_on().map(format_datetime)),
        ),
        (
            "expiresOn",
            json!(db.license_expires_on(license).map(format_datetime)),
        ),
        ("activationUsage", json!(license.activation_usage())),
        ("activationLimit", json!(license.activation_limit)),
        ("enabled", json!(license.enabled)),
    ])
}

/// The subscription object of `kelviq-api.md` section 4.5, camelCase.
pub(super) fn subscription_json(db: &Db, sub: &Subscription) -> Value {
    let today = db.today();
    let plan = db.plan(&sub.plan);
    let recurrence = sub.recurrence();
    let licenses: Vec<Value> = db
        .licenses
        .iter()
        .filter(|license| license.subscription_id == sub.id)
        .map(|license| Value::Object(license_summary(db, license)))
        .collect();
    Value::Object(object([
        ("id", json!(sub.id)),
        ("startDate", json!(format_date(sub.start_date))),
        ("billingType", json!(sub.billing_type())),
        (
            "trialDaysRemaining",
            json!(sub.trial_days_remaining(db.now())),
        ),
        ("externalSubscriptionId", Value::Null),
        ("endDate", json!(sub.end_date.map(format_date))),
        (
            "billingPeriodStartTime",
            json!(format_datetime(sub.period_start)),
        ),
        (
            "billingPeriodEndTime",
            json!(format_datetime(sub.period_end)),
        ),
        (
            "amount",
            json!(plan.map(|plan| decimal_text(plan.price_units))),
        ),
        ("recurrence", json!(recurrence.map(|(text, ..)| text))),
        ("currency", json!(plan.map(|plan| &plan.currency))),
        ("status", json!(sub.status_on(today))),
        ("recurrenceType", json!(recurrence.map(|(_, kind, _)| kind))),
        ("recurrenceUnit", json!(recurrence.map(|(.., unit)| unit))),
        (
            "nextInvoiceDate",
            json!(sub.next_invoice_date(today).map(format_date)),
        ),
        ("customerId", json!(sub.customer_id)),
        ("product", json!(plan.map(product_json))),
        (
            "plan",
            json!(plan.map(|plan| json!({
                "identifier": plan.identifier,
                "name": plan.display_name(),
            }))),
        ),
        (
            "features",
            json!(plan.map_or_else(Vec::new, |plan| features_json(plan, &sub.features))),
        ),
        ("files", json!([])),
        ("links", json!([])),
        ("license", json!(licenses)),
    ]))
}

/// The plan's features with their quantity: the one chosen at checkout or update, else
/// the plan's limit (metered) or value (customizable); `null` for on/off features.
fn features_json(plan: &Plan, chosen: &[FeatureLine]) -> Vec<Value> {
    plan.features
        .iter()
        .map(|feature| {
            let (kind, default) = match feature.kind {
                FeatureKind::Boolean => ("BOOLEAN", None),
                FeatureKind::Meter => ("METER", feature.limit),
                FeatureKind::Customizable => ("CUSTOMIZABLE", feature.value),
            };
            let quantity = chosen
                .iter()
                .find(|line| line.identifier == feature.id)
                .map(|line| line.quantity)
                .or(default);
            json!({"identifier": feature.id, "featureType": kind, "quantity": quantity})
        })
        .collect()
}

fn object<const N: usize>(entries: [(&str, Value); N]) -> Map<String, Value> {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Body checks shared with checkout, portal and license.

/// A required plan identifier that must name a plan.
pub(super) fn read_plan(body: &mut BodyReader, db: &Db, field: &str) -> String {
    let plan = body.req_str(field);
    if !body.has_error(field) && db.plan(&plan).is_none() {
        body.error(field, "Plan not found.");
    }
    plan
}

/// A required customer id that must name a live (not archived) customer.
pub(super) fn read_customer(body: &mut BodyReader, db: &Db, field: &str) -> String {
    let customer_id = body.req_str(field);
    if !body.has_error(field) && db.customer(&customer_id).is_none() {
        body.error(field, "Customer not found.");
    }
    customer_id
}

/// An optional `features` array whose identifiers must be features of `plan` (checked
/// only when `plan` exists).
pub(super) fn read_features(
    body: &mut BodyReader,
    db: &Db,
    field: &str,
    plan: &str,
) -> Option<Vec<FeatureLine>> {
    let lines = body.opt_features(field)?;
    if let Some(plan) = db.plan(plan) {
        for (index, line) in lines.iter().enumerate() {
            if !plan
                .features
                .iter()
                .any(|feature| feature.id == line.identifier)
            {
                body.error(
                    field,
                    format!(
                        "Item {index}: \"{}\" is not a feature of plan \"{}\".",
                        line.identifier, plan.identifier
                    ),
                );
            }
        }
    }
    Some(lines)
}

/// An absolute `http` or `https` URL (DRF's `URLField`), required or optional.
pub(super) fn read_url(body: &mut BodyReader, field: &str, required: bool) -> Option<String> {
    let url = if required {
        Some(body.req_str(field)).filter(|_| !body.has_error(field))
    } else {
        body.opt_str(field)
    }?;
    let valid = url.parse::<Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
    });
    if valid {
        Some(url)
    } else {
        body.error(field, "Enter a valid URL.");
        None
    }
}

/// Optional strings the mock accepts and ignores (ids of the service's pricing setup,
/// the buyer's IP address).
pub(super) fn accept_ignored(body: &mut BodyReader, fields: &[&str]) {
    for field in fields {
        body.opt_str(field);
    }
}

// ---------------------------------------------------------------------------------------
// List and retrieve.

/// An inclusive date range from two optional bounds.
fn within(date: Date, after: Option<Date>, before: Option<Date>) -> bool {
    after.is_none_or(|after| date >= after) && before.is_none_or(|before| date <= before)
}

/// Every subscription, oldest first, filtered by customer, start date (inclusive
/// `YYYY-MM-DD` bounds) and last change (inclusive bounds, each a whole UTC day
/// `YYYY-MM-DD` or an instant with an offset, `2025-02-01T00:00:00Z`).
pub(super) async fn list(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let mut query = QueryReader::parse(query.as_deref())?;
    // An empty filter value filters nothing, as with django-filter.
    let customer_id = query.opt_str("customer_id").filter(|id| !id.is_empty());
    let start_after = query.opt_date("start_date_after");
    let start_before = query.opt_date("start_date_before");
    let modified_after = query.opt_day_or_instant("modified_on_after");
    let modified_before = query.opt_day_or_instant("modified_on_before");
    let page = query.page()?;
    query.finish()?;
    let url = absolute_url(&shared, &uri);
    let db = lock(&shared.state);
    let results: Vec<Value> = db
        .subscriptions
        .iter()
        .filter(|sub| customer_id.as_ref().is_none_or(|id| sub.customer_id == *id))
        .filter(|sub| within(sub.start_date, start_after, start_before))
        .filter(|sub| {
            modified_after.is_none_or(|bound| bound.lower_admits(sub.modified_on))
                && modified_before.is_none_or(|bound| bound.upper_admits(sub.modified_on))
        })
        .map(|sub| subscription_json(&db, sub))
        .collect();
    paginate(results, page, &url).map(Json)
}

/// One subscription, or 404.
pub(super) async fn retrieve(
    State(shared): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let db = lock(&shared.state);
    let sub = db.subscription(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(subscription_json(&db, sub)))
}

// ---------------------------------------------------------------------------------------
// Create and cancel.

/// Subscribes an existing customer to a plan directly (no checkout): 201 with the
/// subscription object. A paid plan is charged at once; a licensed plan issues a key.
pub(super) async fn create(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let mut db = lock(&shared.state);
    let plan = read_plan(&mut body, &db, "plan_identifier");
    let charge_period = body.req_choice("charge_period", &CHARGE_PERIODS);
    let customer_id = read_customer(&mut body, &db, "customer_id");
    read_url(&mut body, "success_url", false);
    let features = read_features(&mut body, &db, "features", &plan);
    accept_ignored(&mut body, &["ip_address"]);
    body.finish()?;
    let id = db.subscribe(
        &customer_id,
        &plan,
        &charge_period,
        features.unwrap_or_default(),
        None,
        None,
    );
    let sub = db.subscription(&id).ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::CREATED, Json(subscription_json(&db, sub))))
}

/// The detail of a 400 for a change to a subscription that has ended.
const ALREADY_CANCELED: &str = "Subscription is already canceled.";

/// Cancels a subscription. `IMMEDIATE` ends access today; `CURRENT_PERIOD_ENDS` keeps it
/// until the period's end date; `SPECIFIC_DATE` until `cancellation_date` (today or
/// earlier ends it at once). A `cancellation_date` sent with another type is ignored.
pub(super) async fn cancel(
    State(shared): State<AppState>,
    PathParam(id): PathParam,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut db = lock(&shared.state);
    let sub = db.subscription(&id).ok_or_else(ApiError::not_found)?;
    let mut body = BodyReader::parse(&body)?;
    let kind = body.req_choice(
        "cancellation_type",
        &["IMMEDIATE", "CURRENT_PERIOD_ENDS", "SPECIFIC_DATE"],
    );
    let date = body
        .opt_str("cancellation_date")
        .and_then(|text| match parse_date(&text) {
            Some(date) => Some(date),
            None => {
                body.error(
                    "cancellation_date",
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                );
                None
            }
        });
    if kind == "SPECIFIC_DATE" && date.is_none() && !body.has_error("cancellation_date") {
        body.error(
            "cancellation_date",
            "This field is required when cancellation_type is SPECIFIC_DATE.",
        );
    }
    body.finish()?;
    let today = db.today();
    if !sub.is_active(today) {
        return Err(ApiError::bad_request(ALREADY_CANCELED));
    }
    let end = match (kind.as_str(), date) {
        ("CURRENT_PERIOD_ENDS", _) => sub.period_end_date(),
        ("SPECIFIC_DATE", Some(date)) => date,
        _ => today,
    };
    db.end_subscription(&id, end);
    Ok(Json(
        json!({"message": "Subscription cancelled successfully."}),
    ))
}

// ---------------------------------------------------------------------------------------
// Update and preview.

/// `proration_behavior`: what a price difference does. Omitted, the organisation default
/// applies, which the mock takes to be `PRORATE_NEXT_INVOICE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProrationBehavior {
    /// An increase is charged at once (a decrease becomes a credit on the next invoice).
    ImmediateCharge,
    /// The difference, up or down, goes on the next invoice.
    ProrateNextInvoice,
    /// Nothing: the new price applies from the next invoice.
    NoProration,
}

impl ProrationBehavior {
    const CHOICES: [&str; 3] = ["IMMEDIATE_CHARGE", "PRORATE_NEXT_INVOICE", "NO_PRORATION"];

    fn read(body: &mut BodyReader) -> Self {
        match body
            .opt_choice("proration_behavior", &Self::CHOICES)
            .as_deref()
        {
            Some("IMMEDIATE_CHARGE") => ProrationBehavior::ImmediateCharge,
            Some("NO_PRORATION") => ProrationBehavior::NoProration,
            _ => ProrationBehavior::ProrateNextInvoice,
        }
    }
}

/// The fields update and preview share, read and checked.
struct ChangeRequest {
    plan: String,
    charge_period: String,
    proration: ProrationBehavior,
    features: Option<Vec<FeatureLine>>,
}

impl ChangeRequest {
    fn read(body: &mut BodyReader, db: &Db) -> Self {
        let plan = read_plan(body, db, "plan_identifier");
        let charge_period = body.req_choice("charge_period", &CHARGE_PERIODS);
        if charge_period == "ONE_TIME" {
            body.error(
                "charge_period",
                "A subscription cannot be changed to ONE_TIME.",
            );
        }
        let proration = ProrationBehavior::read(body);
        let features = read_features(body, db, "features", &plan);
        ChangeRequest {
            plan,
            charge_period,
            proration,
            features,
        }
    }

    /// The subscription after this change at `now`, with the money it moves. Features not
    /// given keep the quantities chosen before, for the features the new plan still has.
    fn apply(self, db: &Db, before: &Subscription, trial_end: Option<Timestamp>) -> Changed {
        let now = db.now();
        let features = self.features.unwrap_or_else(|| {
            let plan = db.plan(&self.plan);
            before
                .features
                .iter()
                .filter(|line| {
                    plan.is_some_and(|plan| {
                        plan.features
                            .iter()
                            .any(|feature| feature.id == line.identifier)
                    })
                })
                .cloned()
                .collect()
        });
        let after = before.changed(&self.plan, &self.charge_period, features, trial_end, now);
        let quote = Quote::new(db, before, &after, self.proration, now);
        Changed { after, quote }
    }
}

/// A subscription after a change, and what the change costs.
struct Changed {
    after: Subscription,
    quote: Quote,
}

/// The money of a plan change (`kelviq-api.md` section 4.5.6), in minor units.
///
/// A running trial that continues moves no money. A trial that the change ends starts a
/// paid period: the new price is charged at once. Otherwise the difference between the
/// two plans' prices (per period) is charged at once, put on the next invoice or dropped,
/// as `proration_behavior` says; the next invoice never goes below zero.
#[derive(Debug)]
struct Quote {
    currency: String,
    recurring: i64,
    charged_now: i64,
    next_invoice: i64,
    next_payment_attempt: Timestamp,
    lines: Vec<(String, i64)>,
}

impl Quote {
    fn new(
        db: &Db,
        before: &Subscription,
        after: &Subscription,
        proration: ProrationBehavior,
        now: Timestamp,
    ) -> Self {
        let old = db.plan(&before.plan);
        let new = db.plan(&after.plan);
        let old_units = old.map_or(0, |plan| plan.price_units);
        let new_units = new.map_or(0, |plan| plan.price_units);
        let old_name = old.map_or(before.plan.as_str(), Plan::display_name);
        let new_name = new.map_or(after.plan.as_str(), Plan::display_name);
        let recurrence = after.recurrence().map_or("one time", |(text, ..)| text);
        let mut lines = Vec::new();
        let mut charged_now = 0;
        let mut adjustment = 0;
        if after.is_trialing(now) {
            // Nothing is paid during a trial.
        } else if before.is_trialing(now) {
            charged_now = new_units;
            lines.push((
                format!("{new_name} ({recurrence}), trial ended, charged now"),
                new_units,
            ));
        } else {
            let difference = new_units - old_units;
            let direction = if difference > 0 {
                "Upgrade"
            } else {
                "Downgrade"
            };
            let change = format!("{direction} from {old_name} to {new_name}");
            match proration {
                _ if difference == 0 => {}
                ProrationBehavior::ImmediateCharge if difference > 0 => {
                    charged_now = difference;
                    lines.push((format!("{change}, charged now"), difference));
                }
                ProrationBehavior::ImmediateCharge | ProrationBehavior::ProrateNextInvoice => {
                    adjustment = difference;
                    lines.push((format!("{change}, on the next invoice"), difference));
                }
                ProrationBehavior::NoProration => {}
            }
        }
        lines.push((format!("{new_name} ({recurrence})"), new_units));
        Quote {
            currency: new.map_or_else(|| "USD".to_owned(), |plan| plan.currency.clone()),
            recurring: new_units,
            charged_now,
            next_invoice: (new_units + adjustment).max(0),
            next_payment_attempt: after.period_end,
            lines,
        }
    }

    fn to_json(&self) -> Value {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|(description, units)| {
                json!({"description": description, "amount": decimal(*units), "amountUnits": units})
            })
            .collect();
        json!({
            "currency": self.currency,
            "recurringAmount": decimal(self.recurring),
            "recurringAmountUnits": self.recurring,
            "amountChargedImmediately": decimal(self.charged_now),
            "amountChargedImmediatelyUnits": self.charged_now,
            "nextInvoice": {
                "amountDue": decimal(self.next_invoice),
                "amountDueUnits": self.next_invoice,
                "nextPaymentAttempt": format_datetime(self.next_payment_attempt),
            },
            "lineItems": lines,
        })
    }
}

/// `trial_end` of an update: `now` or an ISO-8601 date-time strictly in the future.
fn read_trial_end(body: &mut BodyReader, now: Timestamp) -> Option<Timestamp> {
    let text = body.opt_str("trial_end")?;
    match parse_trial_end(&text, now) {
        Some(at) if text == "now" || at > now => Some(at),
        Some(_) => {
            body.error("trial_end", "The trial end must be in the future.");
            None
        }
        None => {
            body.error(
                "trial_end",
                "Enter 'now' or an ISO 8601 date-time such as '2025-12-31 23:59:59'.",
            );
            None
        }
    }
}

/// Changes plan, charge period, features or trial: entitlements follow the new plan at
/// once, and `IMMEDIATE_CHARGE` charges a price increase. Note the body's `ipAddress`,
/// camelCase unlike every other key (`kelviq-api.md` section 4.5.5).
pub(super) async fn update(
    State(shared): State<AppState>,
    PathParam(id): PathParam,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut db = lock(&shared.state);
    let before = db.subscription(&id).ok_or_else(ApiError::not_found)?;
    let mut body = BodyReader::parse(&body)?;
    let request = ChangeRequest::read(&mut body, &db);
    accept_ignored(
        &mut body,
        &[
            "probation_behaviour",
            "ipAddress",
            "offering_id",
            "pricing_table_id",
            "rule_id",
        ],
    );
    let trial_end = read_trial_end(&mut body, db.now());
    body.opt_choice("payment_behavior", &["activate_on_payment"]);
    body.finish()?;
    if !before.is_active(db.today()) {
        return Err(ApiError::bad_request(ALREADY_CANCELED));
    }
    let Changed { after, quote } = request.apply(&db, before, trial_end);
    if quote.charged_now > 0 {
        db.charge(
            &after.customer_id,
            &after.plan,
            quote.charged_now,
            &quote.currency,
        );
    }
    db.replace_subscription(after);
    Ok(Json(json!({"subscriptionId": id})))
}

/// What an update with the same fields would do, without doing it. `trial_end` is taken
/// into account when it parses (`now` or a future date-time) and ignored otherwise.
pub(super) async fn preview_update(
    State(shared): State<AppState>,
    PathParam(id): PathParam,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let db = lock(&shared.state);
    let before = db.subscription(&id).ok_or_else(ApiError::not_found)?;
    let mut body = BodyReader::parse(&body)?;
    let request = ChangeRequest::read(&mut body, &db);
    accept_ignored(&mut body, &["ip_address"]);
    let now = db.now();
    let trial_end = body
        .opt_str("trial_end")
        .and_then(|text| parse_trial_end(&text, now).filter(|at| text == "now" || *at > now));
    body.finish()?;
    if !before.is_active(db.today()) {
        return Err(ApiError::bad_request(ALREADY_CANCELED));
    }
    let Changed { quote, .. } = request.apply(&db, before, trial_end);
    Ok(Json(quote.to_json()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_two_decimals() {
        assert_eq!(decimal_text(4900), "49.00");
        assert_eq!(decimal_text(5), "0.05");
        assert_eq!(decimal_text(-1234), "-12.34");
        assert!((decimal(4950) - 49.5).abs() < f64::EPSILON);
    }
}
