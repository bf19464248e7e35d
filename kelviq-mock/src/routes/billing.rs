//! Money: `POST /charges/`, `/refunds/` (list, create, retrieve), `GET /transaction/`
//! (singular, as on the service) and `GET /payment-methods/` — `kelviq-api.md` sections
//! 4.8 to 4.11.
//!
//! Request bodies are snake_case, query parameters snake_case, responses camelCase.
//! Refunds and transactions are listed newest first; payment methods in the order they were
//! saved (oldest first). Amounts: `*Units` fields are integer minor units (cents), `amount`
//! fields of refunds and transactions are floats, the charge's `amount` a decimal string.

use std::net::IpAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use http::{StatusCode, Uri};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use super::{AppState, PathParam, absolute_url};
use crate::seed::Plan;
use crate::server::lock;
use crate::state::{
    CHARGE_PERIODS, Customer, Order, PaymentMethod, Refund, State as MockState, Subscription,
    Transaction,
};
use crate::wire::{
    ApiError, BodyReader, FeatureLine, QueryReader, format_date, format_datetime, paginate,
};

/// The reasons a caller may give; `DASHBOARD_INITIATED` only ever comes back.
const REFUND_REASONS: [&str; 4] = ["DUPLICATE", "FRAUDULENT", "REQUESTED_BY_CUSTOMER", "OTHER"];

/// The values of a refund's `status`, which the list's `status` filter accepts.
const REFUND_STATUSES: [&str; 5] = ["PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELED"];

/// The values of a transaction's `status`, which the list's `status` filter accepts.
const TRANSACTION_STATUSES: [&str; 3] = ["success", "failure", "pending"];

/// The merchant-of-record fee on a charge: this percentage of the amount...
const MOR_FEE_PERCENT: i64 = 5;
/// ...plus this many minor units.
const MOR_FIXED_FEE_UNITS: i64 = 50;

/// The largest amount accepted, in minor units: a decimal of 10 digits, 2 after the point.
const MAX_AMOUNT_UNITS: i64 = 9_999_999_999;

// ---------------------------------------------------------------------------------------
// Money formatting and reading

/// Minor units as a float amount (`4900` → `49.0`).
fn float_amount(units: i64) -> f64 {
    units as f64 / 100.0
}

/// Minor units as a decimal string with two places (`4900` → `"49.00"`).
fn decimal_amount(units: i64) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `percent` % of `units`, rounded half up.
fn percent_of(units: i64, percent: i64) -> i64 {
    let scaled = i128::from(units) * i128::from(percent) + 50;
    i64::try_from(scaled / 100).unwrap_or(i64::MAX)
}

fn currency_symbol(currency: &str) -> &str {
    match currency {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        other => other,
    }
}

/// `visa` → `Visa`.
fn brand_name(brand: &str) -> String {
    let mut chars = brand.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// An optional float amount (`> 0`), converted to minor units by rounding to the cent.
fn read_amount(body: &mut BodyReader, field: &str) -> Option<i64> {
    let amount = body.opt_positive_number(field)?;
    // A float beyond i64 saturates, and is refused below like any too-large amount.
    let units = (amount * 100.0).round() as i64;
    if units < 1 {
        body.error(field, "Ensure this value is greater than or equal to 0.01.");
        return None;
    }
    if units > MAX_AMOUNT_UNITS {
        body.error(
            field,
            format!(
                "Ensure this value is less than or equal to {}.",
                decimal_amount(MAX_AMOUNT_UNITS)
            ),
        );
        return None;
    }
    Some(units)
}

/// An optional ISO 4217 code: three ASCII letters, upper-cased.
fn read_currency(body: &mut BodyReader, field: &str) -> Option<String> {
    let code = body.opt_str(field)?;
    if code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        Some(code.to_ascii_uppercase())
    } else {
        body.error(field, "Enter a valid ISO 4217 currency code.");
        None
    }
}

/// An optional IPv4 or IPv6 address.
fn read_ip(body: &mut BodyReader, field: &str) {
    if let Some(text) = body.opt_str(field)
        && text.parse::<IpAddr>().is_err()
    {
        body.error(field, "Enter a valid IPv4 or IPv6 address.");
    }
}

// ---------------------------------------------------------------------------------------
// List filters

/// The inclusive `start_date` / `end_date` filter on a creation time (UTC date).
#[derive(Debug, Clone, Copy)]
struct DateRange {
    start: Option<Date>,
    end: Option<Date>,
}

impl DateRange {
    fn read(query: &mut QueryReader) -> Self {
        DateRange {
            start: query.opt_date("start_date"),
            end: query.opt_date("end_date"),
        }
    }

    fn contains(self, at: Timestamp) -> bool {
        let date = at.to_zoned(TimeZone::UTC).date();
        self.start.is_none_or(|start| date >= start) && self.end.is_none_or(|end| date <= end)
    }
}

/// DRF's `SearchFilter`: a case-insensitive substring of any of `fields`; no search
/// matches everything.
fn matches_search(search: Option<&str>, fields: &[&str]) -> bool {
    search.is_none_or(|needle| {
        let needle = needle.to_lowercase();
        fields
            .iter()
            .any(|field| field.to_lowercase().contains(&needle))
    })
}

// ---------------------------------------------------------------------------------------
// JSON objects

/// The order object embedded in refunds and transactions.
fn order_json(order: &Order) -> Value {
    json!({
        "id": order.id,
        "customerId": order.customer_id,
        "planIdentifier": order.plan,
        "amountUnits": order.amount_units,
        "amount": float_amount(order.amount_units),
        "currency": order.currency,
        "refundedUnits": order.refunded_units,
        "refundableUnits": order.refundable_units(),
        "createdOn": format_datetime(order.created_on),
    })
}

/// The order with this id as JSON, `{}` if it is unknown.
fn order_ref_json(state: &MockState, order_id: &str) -> Value {
    state.order(order_id).map_or_else(|| json!({}), order_json)
}

/// The refund object (`RefundResponse`).
fn refund_json(state: &MockState, refund: &Refund) -> Value {
    json!({
        "id": refund.id,
        "reason": refund.reason,
        "amountUnits": refund.amount_units,
        "amount": float_amount(refund.amount_units),
        "currency": refund.currency,
        "internalNote": refund.internal_note,
        "failureReason": null,
        "status": refund.status,
        "order": order_ref_json(state, &refund.order_id),
        "createdOn": format_datetime(refund.created_on),
    })
}

/// The merchant-of-record fee lines of a transaction: `(name, percentage, units)`. Charges
/// pay a percentage and a fixed fee; refunds pay nothing.
fn mor_fees(transaction: &Transaction) -> Vec<(&'static str, Option<String>, i64)> {
    if transaction.transaction_type != "CHARGE" {
        return Vec::new();
    }
    vec![
        (
            "base_fee",
            Some(format!("{MOR_FEE_PERCENT}.00")),
            percent_of(transaction.amount_units, MOR_FEE_PERCENT),
        ),
        ("fixed_fee", None, MOR_FIXED_FEE_UNITS),
    ]
}

/// The card a customer pays with: their default payment method, else the mock's test card.
fn card_of(state: &MockState, customer_id: &str) -> (String, &'static str) {
    state
        .default_payment_method(customer_id)
        .map_or(("Visa".to_owned(), "4242"), |method| {
            (brand_name(method.brand), method.last4)
        })
}

/// The transaction object of `GET /transaction/`.
fn transaction_json(state: &MockState, transaction: &Transaction, now: Timestamp) -> Value {
    let fees = mor_fees(transaction);
    let fee_units: i64 = fees.iter().map(|(_, _, units)| units).sum();
    let breakdown: Vec<Value> = fees
        .into_iter()
        .map(|(name, percentage, units)| {
            json!({
                "name": name,
                "percentage": percentage,
                "valueUnits": units,
                "currency": transaction.currency,
            })
        })
        .collect();
    let available_on = transaction.available_on();
    let (card_name, last4) = card_of(state, &transaction.customer_id);
    json!({
        "id": transaction.id,
        "createdOn": format_datetime(transaction.created_on),
        "currency": transaction.currency,
        "currencySymbol": currency_symbol(&transaction.currency),
        "amountTotal": float_amount(transaction.amount_units),
        "morFee": float_amount(fee_units),
        "collectedTax": 0.0,
        "netPayout": float_amount(transaction.amount_units.saturating_sub(fee_units)),
        "status": transaction.status,
        "transactionType": transaction.transaction_type,
        "paymentMethodType": "card",
        "isSettled": available_on.is_some_and(|at| at <= now),
        "order": order_ref_json(state, &transaction.order_id),
        "morFeeBreakdown": breakdown,
        "availableOn": available_on.map(format_datetime),
        "paymentMethodName": card_name,
        "last4": last4,
    })
}

/// The payment method object of `GET /payment-methods/`.
fn payment_method_json(method: &PaymentMethod, customer: &Customer) -> Value {
    json!({
        "id": method.id,
        "customer": {
            "customerId": customer.customer_id,
            "name": customer.name,
            "email": customer.email,
            "billingAddress": null,
        },
        "methodType": method.method_type,
        "methodData": {
            "brand": method.brand,
            "last4": method.last4,
            "expMonth": method.exp_month,
            "expYear": method.exp_year,
        },
        "isDefault": method.is_default,
        "status": "succeeded",
        "createdOn": format_datetime(method.created_on),
        "modifiedOn": format_datetime(method.modified_on),
    })
}

/// The `CreateChargeResponse`: the one-time purchase, priced by its order (`0.00` in the
/// plan's currency when a free plan made no order).
fn charge_json(subscription: &Subscription, plan: &Plan, order: Option<&Order>) -> Value {
    let (units, currency) = order.map_or((0, plan.currency.as_str()), |order| {
        (order.amount_units, order.currency.as_str())
    });
    let features: Vec<Value> = subscription
        .features
        .iter()
        .map(|line| json!({"identifier": line.identifier, "quantity": line.quantity}))
        .collect();
    json!({
        "id": subscription.id,
        "startDate": format_date(subscription.start_date),
        "endDate": subscription.end_date.map(format_date),
        "billingPeriodStartTime": format_datetime(subscription.period_start),
        "billingPeriodEndTime": null,
        "amount": decimal_amount(units),
        "recurrence": null,
        "currency": currency,
        "status": subscription.status.as_str(),
        "product": {
            "name": plan.display_name(),
            "id": plan.identifier,
            "identifier": plan.identifier,
        },
        "plan": {"name": plan.display_name(), "identifier": plan.identifier},
        "features": features,
        "trialDaysRemaining": 0,
        "customerId": subscription.customer_id,
        "billingType": subscription.billing_type(),
        "recurrenceUnit": null,
        "recurrenceType": null,
    })
}

// ---------------------------------------------------------------------------------------
// POST /charges/

/// The fields of a charge body.
#[derive(Debug)]
struct ChargeRequest {
    plan: String,
    customer_id: String,
    features: Vec<FeatureLine>,
    currency: Option<String>,
    custom_units: Option<i64>,
}

impl ChargeRequest {
    /// Reads and checks the fields on their own: `charge_period` must be `ONE_TIME` (the
    /// recurring periods are refused with their own message), `custom_amount` needs
    /// `currency_code`. `tax_behavior` and `ip_address` are checked, then ignored.
    fn read(body: &mut BodyReader) -> Self {
        let plan = body.req_str("plan_identifier");
        let charge_period = body.req_choice("charge_period", &CHARGE_PERIODS);
        let customer_id = body.req_str("customer_id");
        let features = body.opt_features("features").unwrap_or_default();
        let currency = read_currency(body, "currency_code");
        let custom_units = read_amount(body, "custom_amount");
        body.opt_choice("tax_behavior", &["INCLUSIVE", "EXCLUSIVE"]);
        read_ip(body, "ip_address");
        if !body.has_error("charge_period") && charge_period != "ONE_TIME" {
            body.error(
                "charge_period",
                format!(
                    "A charge is one-time: chargePeriod must be ONE_TIME, not {charge_period}."
                ),
            );
        }
        if custom_units.is_some() && currency.is_none() && !body.has_error("currency_code") {
            body.error(
                "currency_code",
                "currencyCode is required when customAmount is provided.",
            );
        }
        ChargeRequest {
            plan,
            customer_id,
            features,
            currency,
            custom_units,
        }
    }

    /// Checks what the body names: a live customer, an existing plan, features of that
    /// plan with a quantity of at least 1, and — without a custom amount — a currency the
    /// plan is priced in.
    fn check_references(&self, state: &MockState, body: &mut BodyReader) {
        if !body.has_error("customer_id") && state.customer(&self.customer_id).is_none() {
            body.error("customer_id", "Customer not found.");
        }
        if body.has_error("plan_identifier") {
            return;
        }
        let Some(plan) = state.plan(&self.plan) else {
            body.error("plan_identifier", "Plan not found.");
            return;
        };
        for line in &self.features {
            if !plan
                .features
                .iter()
                .any(|feature| feature.id == line.identifier)
            {
                body.error(
                    "features",
                    format!(
                        "Plan {} has no feature \"{}\".",
                        plan.identifier, line.identifier
                    ),
                );
            } else if line.quantity < 1 {
                body.error(
                    "features",
                    format!(
                        "{}: ensure the quantity is greater than or equal to 1.",
                        line.identifier
                    ),
                );
            }
        }
        if let Some(currency) = &self.currency
            && self.custom_units.is_none()
            && !body.has_error("custom_amount")
            && *currency != plan.currency
        {
            body.error(
                "currency_code",
                format!("Plan {} is not priced in {currency}.", plan.identifier),
            );
        }
    }
}

/// A one-time charge of the customer's default payment method: a `ONE_TIME` purchase of
/// the plan (its features are granted at once) and one order with its `CHARGE`
/// transaction, at `custom_amount` in `currency_code` when given, else at the plan's price.
/// A customer without a default payment method is a 400 `detail`.
pub(super) async fn create_charge(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let request = ChargeRequest::read(&mut body);
    let mut state = lock(&shared.state);
    request.check_references(&state, &mut body);
    body.finish()?;
    if state.default_payment_method(&request.customer_id).is_none() {
        return Err(ApiError::bad_request(
            "Customer has no default payment method.",
        ));
    }
    let custom = request.custom_units.zip(request.currency.as_deref());
    let (subscription_id, order_id) = state.purchase_once(
        &request.customer_id,
        &request.plan,
        request.features,
        custom,
    );
    let subscription = state.subscription(&subscription_id);
    let plan = state.plan(&request.plan);
    let order = order_id.as_deref().and_then(|id| state.order(id));
    match (subscription, plan) {
        (Some(subscription), Some(plan)) => Ok((
            StatusCode::CREATED,
            Json(charge_json(subscription, plan, order)),
        )),
        _ => Err(ApiError::Detail {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "The purchase was not recorded.".to_owned(),
        }),
    }
}

// ---------------------------------------------------------------------------------------
// /refunds/

/// Records an error when `requested` (from `field`; the whole balance when `None`) cannot
/// be refunded from `order`.
fn check_refundable(order: &Order, requested: Option<i64>, field: &str, body: &mut BodyReader) {
    let refundable = order.refundable_units();
    if refundable == 0 {
        body.error("order_id", "The order has already been fully refunded.");
        return;
    }
    if let Some(units) = requested
        && units > refundable
    {
        let limit = if field == "amount" {
            decimal_amount(refundable)
        } else {
            refundable.to_string()
        };
        body.error(
            field,
            format!("Ensure this value is less than or equal to {limit}, the order's refundable balance."),
        );
    }
}

/// Refunds part or all of an order. `amount_units` (int ≥ 1) and `amount` (float > 0,
/// rounded to the cent) name the same sum: given together they must agree, else a 400
/// under `non_field_errors`; given neither, the whole refundable balance is refunded. An
/// unknown order, a fully refunded one, or a sum above the balance is a 400 field error.
pub(super) async fn create_refund(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let order_id = body.req_str("order_id");
    let amount_units = body.opt_int_min("amount_units", 1);
    let amount = read_amount(&mut body, "amount");
    let reason = body.opt_choice("reason", &REFUND_REASONS);
    let internal_note = body.opt_str("internal_note");
    if let (Some(units), Some(from_amount)) = (amount_units, amount)
        && units != from_amount
    {
        body.error(
            "non_field_errors",
            format!(
                "amount ({}) and amount_units ({units}) must name the same sum.",
                decimal_amount(from_amount)
            ),
        );
    }
    let (requested, field) = match amount_units {
        Some(units) => (Some(units), "amount_units"),
        None => (amount, "amount"),
    };
    let mut state = lock(&shared.state);
    if !body.has_error("order_id") {
        match state.order(&order_id) {
            Some(order) => check_refundable(order, requested, field, &mut body),
            None => body.error("order_id", "Order not found."),
        }
    }
    body.finish()?;
    let refund = state
        .refund(&order_id, requested, reason, internal_note)
        .ok_or_else(|| ApiError::field("order_id", "The order cannot be refunded."))?;
    Ok((StatusCode::CREATED, Json(refund_json(&state, &refund))))
}

/// Lists refunds, newest first. `search` is a case-insensitive substring of the refund id,
/// the order id or the internal note; `status` must be a refund status (400 otherwise).
pub(super) async fn list_refunds(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let mut query = QueryReader::parse(query.as_deref())?;
    let search = query.opt_str("search");
    let status = query.opt_choice("status", &REFUND_STATUSES);
    let dates = DateRange::read(&mut query);
    let page = query.page()?;
    query.finish()?;
    let url = absolute_url(&shared, &uri);
    let state = lock(&shared.state);
    let refunds: Vec<Value> = state
        .refunds
        .iter()
        .rev()
        .filter(|refund| {
            let note = refund.internal_note.as_deref().unwrap_or_default();
            matches_search(search.as_deref(), &[&refund.id, &refund.order_id, note])
                && status
                    .as_deref()
                    .is_none_or(|status| refund.status == status)
                && dates.contains(refund.created_on)
        })
        .map(|refund| refund_json(&state, refund))
        .collect();
    paginate(refunds, page, &url).map(Json)
}

pub(super) async fn retrieve_refund(
    State(shared): State<AppState>,
    PathParam(refund_id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared.state);
    let refund = state
        .refund_by_id(&refund_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(refund_json(&state, refund)))
}

// ---------------------------------------------------------------------------------------
// GET /transaction/ and GET /payment-methods/

/// Lists transactions, newest first. `search` is a case-insensitive substring of the
/// transaction id, the order id or the customer id; `status` must be `success`, `failure`
/// or `pending` (400 otherwise).
pub(super) async fn list_transactions(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let mut query = QueryReader::parse(query.as_deref())?;
    let search = query.opt_str("search");
    let status = query.opt_choice("status", &TRANSACTION_STATUSES);
    let dates = DateRange::read(&mut query);
    let page = query.page()?;
    query.finish()?;
    let url = absolute_url(&shared, &uri);
    let state = lock(&shared.state);
    let now = state.now();
    let transactions: Vec<Value> = state
        .transactions
        .iter()
        .rev()
        .filter(|tx| {
            matches_search(search.as_deref(), &[&tx.id, &tx.order_id, &tx.customer_id])
                && status.as_deref().is_none_or(|status| tx.status == status)
                && dates.contains(tx.created_on)
        })
        .map(|tx| transaction_json(&state, tx, now))
        .collect();
    paginate(transactions, page, &url).map(Json)
}

/// Lists the saved payment methods of live customers, oldest first, optionally of one
/// customer (`customer_id`, exact) or email (`customer_email`, case-insensitive). A filter
/// naming nobody gives an empty page, as a Django filter does.
pub(super) async fn list_payment_methods(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let mut query = QueryReader::parse(query.as_deref())?;
    let customer_id = query.opt_str("customer_id");
    let customer_email = query.opt_str("customer_email");
    let page = query.page()?;
    query.finish()?;
    let url = absolute_url(&shared, &uri);
    let state = lock(&shared.state);
    let methods: Vec<Value> = state
        .payment_methods
        .iter()
        .filter_map(|method| {
            let customer = state.customer(&method.customer_id)?;
            let id_matches = customer_id
                .as_deref()
                .is_none_or(|wanted| customer.customer_id == wanted);
            let email_matches = customer_email.as_deref().is_none_or(|wanted| {
                customer
                    .email
                    .as_deref()
                    .is_some_and(|email| email.eq_ignore_ascii_case(wanted))
            });
            (id_matches && email_matches).then(|| payment_method_json(method, customer))
        })
        .collect();
    paginate(methods, page, &url).map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats() {
        assert_eq!(decimal_amount(4900), "49.00");
        assert_eq!(decimal_amount(5), "0.05");
        assert_eq!(decimal_amount(-1234), "-12.34");
        assert!((float_amount(2450) - 24.5).abs() < f64::EPSILON);
        assert_eq!(percent_of(4900, 5), 245);
        assert_eq!(percent_of(1010, 5), 51);
        assert_eq!(brand_name("visa"), "Visa");
        assert_eq!(currency_symbol("EUR"), "€");
        assert_eq!(currency_symbol("JPY"), "JPY");
    }
}
