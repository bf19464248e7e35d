//! The mock's own control routes, on the API listener under `/_mock/`: changes made "in
//! Kelviq's dashboard", fault injection and the state the console shows, for programs that
//! drive the mock over HTTP (the console, the binary, an example app's embedded mock).
//! Same bearer token as the API; not part of Kelviq's API. The public reference is the
//! [`console`](crate::console) module's documentation.
//!
//! In DRF's order: missing or wrong token → 401; a body that is not `application/json` →
//! 415; a body that is not a JSON object → 400; unknown customer → 404; bad fields
//! (missing, `null`, wrong type, out of range, unknown; an unknown plan, a feature the
//! customer has no usage of) → 400 naming each one.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::json;

use super::{AppState, PathParam, authorize, require_json};
use crate::console::{self, MAX_CONTROL_RULES};
use crate::faults::{Fault, FaultPlan, FaultRule};
use crate::server::{Shared, lock};
use crate::state::DashboardError;
use crate::wire::{ApiError, BodyReader, QueryReader};

/// The path of the plan control route.
pub(super) const PLAN_PATH: &str = "/_mock/customers/{customer_id}/plan";

/// The path of the usage control route.
pub(super) const USAGE_PATH: &str = "/_mock/customers/{customer_id}/usage";

/// The path of the fault control routes.
pub(super) const FAULTS_PATH: &str = "/_mock/faults";

/// The path of the state the console shows.
pub(super) const STATE_PATH: &str = "/_mock/state";

/// The kinds of fault `POST /_mock/faults` adds.
const FAULT_KINDS: [&str; 4] = ["status", "rateLimited", "drop", "latency"];

/// The most requests one fault rule added over HTTP applies to.
const MAX_FAULT_COUNT: i64 = 1_000_000;

/// The longest latency that can be set over HTTP, in milliseconds.
const MAX_LATENCY_MS: i64 = 60_000;

/// The longest `Retry-After` a rate-limit fault added over HTTP sends, in seconds.
const MAX_RETRY_AFTER_SECS: i64 = 3_600;

/// Every control route's shape: the bearer token checked first, then the content type of
/// a `body` (when one was sent), then `handle`'s answer, or its error as Kelviq's error
/// body.
fn controlled(
    shared: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    handle: impl FnOnce() -> Result<Response, ApiError>,
) -> Response {
    if let Some(refused) = authorize(shared, headers) {
        return refused;
    }
    if let Some(refused) = require_json(headers, !body.is_empty()) {
        return refused;
    }
    handle().unwrap_or_else(IntoResponse::into_response)
}

pub(super) async fn set_plan(
    State(shared): State<AppState>,
    headers: HeaderMap,
    PathParam(customer_id): PathParam,
    body: Bytes,
) -> Response {
    controlled(&shared, &headers, &body, || {
        let mut body = BodyReader::parse(&body)?;
        let plan = body.req_str("plan");
        body.finish()?;
        let change = lock(&shared.state)
            .set_plan(&customer_id, &plan)
            .map_err(refusal)?;
        Ok(Json(json!({
            "subscriptionId": change.subscription_id,
            "changed": change.changed,
        }))
        .into_response())
    })
}

pub(super) async fn set_usage(
    State(shared): State<AppState>,
    headers: HeaderMap,
    PathParam(customer_id): PathParam,
    body: Bytes,
) -> Response {
    controlled(&shared, &headers, &body, || {
        let mut body = BodyReader::parse(&body)?;
        let feature_id = body.req_str("featureId");
        let value = body.req_int_range("value", 0, i64::MAX);
        let mut state = lock(&shared.state);
        if !body.has_error("featureId")
            && let Err(error) = state.check_usage_feature(&customer_id, &feature_id)
        {
            // Every bad field at once: the feature beside the value.
            let (field, message) = bad_field(&error).ok_or_else(ApiError::not_found)?;
            body.error(field, message);
        } else if state.customer(&customer_id).is_none() {
            return Err(ApiError::not_found());
        }
        body.finish()?;
        let changed = state
            .set_usage(&customer_id, &feature_id, value)
            .map_err(refusal)?;
        Ok(Json(json!({
            "customerId": customer_id,
            "featureId": feature_id,
            "value": value,
            "changed": changed,
        }))
        .into_response())
    })
}

/// `GET /_mock/state`: everything the console shows. No query parameter is accepted.
pub(super) async fn state(
    State(shared): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    controlled(&shared, &headers, &[], || {
        QueryReader::parse(query.as_deref()).and_then(QueryReader::finish)?;
        Ok(Json(console::snapshot(&shared)).into_response())
    })
}

/// What `POST /_mock/faults` asked for.
enum FaultChange {
    Rule(FaultRule),
    Latency(Duration),
}

/// `POST /_mock/faults`: adds a fault rule or sets the latency.
pub(super) async fn inject_fault(
    State(shared): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    controlled(&shared, &headers, &body, || {
        let change = read_fault(&body)?;
        {
            let mut plan = lock(&shared.faults);
            match change {
                FaultChange::Rule(_) if plan.rule_count() >= MAX_CONTROL_RULES => {
                    return Err(ApiError::bad_request(format!(
                        "At most {MAX_CONTROL_RULES} fault rules can wait at once: clear them first."
                    )));
                }
                FaultChange::Rule(rule) => plan.push(rule),
                FaultChange::Latency(latency) => plan.set_latency(None, latency),
            }
        }
        Ok(faults_answer(&shared))
    })
}

fn read_fault(body: &[u8]) -> Result<FaultChange, ApiError> {
    let mut body = BodyReader::parse(body)?;
    let kind = body.req_choice("kind", &FAULT_KINDS);
    let change = match kind.as_str() {
        "status" => {
            let status = body.req_int_range("status", 400, 599);
            let fault = Fault::status(u16::try_from(status).unwrap_or_default());
            Some(fault_rule(&mut body, fault))
        }
        "rateLimited" => {
            let secs = body.req_int_range("retryAfter", 0, MAX_RETRY_AFTER_SECS);
            let fault = Fault::rate_limited(u64::try_from(secs).unwrap_or_default());
            Some(fault_rule(&mut body, fault))
        }
        "drop" => Some(fault_rule(&mut body, Fault::DropConnection)),
        "latency" => {
            let ms = body.req_int_range("ms", 0, MAX_LATENCY_MS);
            Some(FaultChange::Latency(Duration::from_millis(
                u64::try_from(ms).unwrap_or_default(),
            )))
        }
        // An invalid `kind`, which `finish` refuses.
        _ => None,
    };
    body.finish()?;
    change.ok_or_else(|| ApiError::field("kind", "This field is required."))
}

/// A rule for the next `count` requests, or for every request without a `count`.
fn fault_rule(body: &mut BodyReader, fault: Fault) -> FaultChange {
    FaultChange::Rule(match body.opt_int_range("count", 1, MAX_FAULT_COUNT) {
        Some(count) => FaultRule::next(usize::try_from(count).unwrap_or_default(), fault),
        None => FaultRule::always(fault),
    })
}

/// `DELETE /_mock/faults`: removes every rule, latency and random fault.
pub(super) async fn clear_faults(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    controlled(&shared, &headers, &[], || {
        *lock(&shared.faults) = FaultPlan::default();
        Ok(faults_answer(&shared))
    })
}

/// `{"faults": ...}`: the fault plan now.
fn faults_answer(shared: &Shared) -> Response {
    Json(json!({"faults": lock(&shared.faults).view()})).into_response()
}

/// A refused dashboard change: 404 for an unknown customer, else a 400 naming the field.
fn refusal(error: DashboardError) -> ApiError {
    match bad_field(&error) {
        Some((field, message)) => ApiError::field(field, message),
        None => ApiError::not_found(),
    }
}

/// The body field a refused dashboard change blames, and why (`None`: the customer, in
/// the path, is unknown).
fn bad_field(error: &DashboardError) -> Option<(&'static str, &'static str)> {
    match error {
        DashboardError::UnknownCustomer => None,
        DashboardError::UnknownPlan => Some(("plan", "Unknown plan.")),
        DashboardError::UnknownFeature => Some(("featureId", "The customer has no such feature.")),
        DashboardError::BooleanFeature => {
            Some(("featureId", "Usage cannot be set for a boolean feature."))
        }
        DashboardError::NegativeUsage => {
            Some(("value", "Ensure this value is greater than or equal to 0."))
        }
    }
}
