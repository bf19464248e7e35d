//! `POST /report/usage/` and `POST /report/event/`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use crate::seed::FeatureKind;
use crate::server::lock;
use crate::state::{ORG_ID, StoredEvent, UsageReport};
use crate::wire::{ApiError, BodyReader, format_event_timestamp, parse_event_timestamp};

/// Applies a usage report (`DELTA` adds, `SET` replaces) for a metered or customizable
/// feature of one of the customer's active subscriptions.
pub(super) async fn report_usage(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let value = body.req_int("value");
    let customer_id = body.req_str("customerId");
    let feature_id = body.req_str("featureId");
    let behaviour = body.req_choice("behaviour", &["SET", "DELTA"]);
    let resource_id = body.opt_str("resourceId");
    let mut state = lock(&shared.state);
    if !body.has_error("customerId") && state.customer(&customer_id).is_none() {
        body.error("customerId", "Customer not found.");
    } else if !body.has_error("featureId") && !body.has_error("customerId") {
        match state.feature_kind(&customer_id, &feature_id) {
            Some(FeatureKind::Meter | FeatureKind::Customizable) => {}
            Some(FeatureKind::Boolean) => {
                body.error(
                    "featureId",
                    "Usage cannot be reported for a boolean feature.",
                );
            }
            None => body.error("featureId", "The customer has no such feature."),
        }
    }
    body.finish()?;
    let now = state.now();
    let report = UsageReport {
        customer_id,
        feature_id,
        value,
        behaviour,
        resource_id,
        idempotency_key: state.new_uuid(),
        timestamp: format_event_timestamp(now),
    };
    let response = json!({
        "value": report.value,
        "customerId": report.customer_id,
        "featureId": report.feature_id,
        "behaviour": report.behaviour,
        "resourceId": report.resource_id,
        "orgId": ORG_ID,
        "eventName": "$usage.reported",
        "idempotencyKey": report.idempotency_key,
        "timestamp": report.timestamp,
    });
    state.apply_usage(report);
    Ok((StatusCode::CREATED, Json(response)))
}

fn event_json(event: &StoredEvent) -> Value {
    json!({
        "customerId": event.customer_id,
        "eventName": event.event_name,
        "idempotencyKey": event.idempotency_key,
        "timestamp": event.timestamp,
        "resourceId": event.resource_id,
        "properties": event.properties,
        "orgId": ORG_ID,
    })
}

/// Stores an event once per idempotency key: a repeated key answers 200 with the event
/// stored the first time, and stores nothing.
pub(super) async fn report_event(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let customer_id = body.req_str("customerId");
    let event_name = body.req_str("eventName");
    let idempotency_key = body.req_str("idempotencyKey");
    let timestamp = body.req_str("timestamp");
    let resource_id = body.opt_str("resourceId");
    let properties = body.opt_object("properties");
    if !body.has_error("timestamp") && parse_event_timestamp(&timestamp).is_none() {
        body.error(
            "timestamp",
            "Timestamp must be in 'YYYY-MM-DD HH:MM:SS.ffffff' format",
        );
    }
    let mut state = lock(&shared.state);
    if !body.has_error("customerId") && state.customer(&customer_id).is_none() {
        body.error("customerId", "Customer not found.");
    }
    body.finish()?;
    if let Some(stored) = state.redeliver_event(&idempotency_key) {
        return Ok((StatusCode::OK, Json(event_json(stored))));
    }
    let event = StoredEvent {
        customer_id,
        event_name,
        idempotency_key,
        timestamp,
        resource_id,
        properties,
        deliveries: 1,
    };
    let response = event_json(&event);
    state.events.push(event);
    Ok((StatusCode::CREATED, Json(response)))
}
