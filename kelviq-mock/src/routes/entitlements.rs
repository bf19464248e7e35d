//! `GET /entitlements` on the edge listener.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Value, json};

use super::AppState;
use crate::server::lock;
use crate::wire::{ApiError, QueryReader};

pub(super) async fn get(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut query = QueryReader::parse(query.as_deref())?;
    let customer_id = query.req_str("customer_id");
    let feature_id = query.opt_str("feature_id");
    query.finish()?;
    let state = lock(&shared.state);
    if state.customer(&customer_id).is_none() {
        return Err(ApiError::Detail {
            status: http::StatusCode::NOT_FOUND,
            detail: "Customer not found.".to_owned(),
        });
    }
    let entries = state.entitlements(&customer_id, feature_id.as_deref());
    Ok(Json(json!({
        "customerId": customer_id,
        "entitlements": entries,
    })))
}
