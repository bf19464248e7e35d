//! The mock's own control routes, on the API listener under `/_mock/`: changes made "in
//! Kelviq's dashboard", for programs that drive the mock over HTTP (the binary, an example
//! app's embedded mock). Same bearer token as the API; not part of Kelviq's API.
//!
//! - `POST /_mock/customers/{customer_id}/plan` `{"plan": "pro"}` →
//!   `{"subscriptionId": "..."}` ([`MockServer::set_plan`](crate::MockServer::set_plan));
//! - `POST /_mock/customers/{customer_id}/usage` `{"featureId": "api-calls", "value": 3}` →
//!   `{"customerId": ..., "featureId": ..., "value": ...}`
//!   ([`MockServer::set_usage`](crate::MockServer::set_usage)).
//!
//! Unknown customer → 404; unknown plan or bad body → 400.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};

use super::{AppState, PathParam, authorize};
use crate::server::lock;
use crate::state::DashboardError;
use crate::wire::{ApiError, BodyReader};

/// The path of the plan control route.
pub(super) const PLAN_PATH: &str = "/_mock/customers/{customer_id}/plan";

/// The path of the usage control route.
pub(super) const USAGE_PATH: &str = "/_mock/customers/{customer_id}/usage";

pub(super) async fn set_plan(
    State(shared): State<AppState>,
    headers: HeaderMap,
    PathParam(customer_id): PathParam,
    body: Bytes,
) -> Response {
    if let Some(refused) = authorize(&shared, &headers) {
        return refused;
    }
    let answer = (|| {
        let mut body = BodyReader::parse(&body)?;
        let plan = body.req_str("plan");
        body.finish()?;
        lock(&shared.state)
            .set_plan(&customer_id, &plan)
            .map_err(|error| refusal(error, "plan"))
    })();
    match answer {
        Ok(id) => Json(json!({"subscriptionId": id})).into_response(),
        Err(error) => error.into_response(),
    }
}

pub(super) async fn set_usage(
    State(shared): State<AppState>,
    headers: HeaderMap,
    PathParam(customer_id): PathParam,
    body: Bytes,
) -> Response {
    if let Some(refused) = authorize(&shared, &headers) {
        return refused;
    }
    let answer = (|| {
        let mut body = BodyReader::parse(&body)?;
        let feature_id = body.req_str("featureId");
        let value = body.req_int("value");
        body.finish()?;
        lock(&shared.state)
            .set_usage(&customer_id, &feature_id, value)
            .map_err(|error| refusal(error, "featureId"))?;
        Ok::<Value, ApiError>(json!({
            "customerId": customer_id,
            "featureId": feature_id,
            "value": value,
        }))
    })();
    match answer {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

fn refusal(error: DashboardError, field: &str) -> ApiError {
    match error {
        DashboardError::UnknownCustomer => ApiError::not_found(),
        DashboardError::UnknownPlan => ApiError::field(field, "Unknown plan."),
    }
}
