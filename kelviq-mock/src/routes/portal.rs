//! `POST /portal/session/`: a customer portal session.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::subscriptions::read_customer;
use crate::server::lock;
use crate::state::PortalSession;
use crate::wire::{ApiError, BodyReader};

/// Creates a portal session for a live customer (camelCase body): 201 with `token`, the
/// customer's `email` (`""` when it has none) and `customerPortalUrl`.
pub(super) async fn create_session(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let mut db = lock(&shared.state);
    let customer_id = read_customer(&mut body, &db, "customerId");
    body.finish()?;
    let email = db
        .customer(&customer_id)
        .and_then(|customer| customer.email.clone())
        .unwrap_or_default();
    let token = db.new_token();
    let url = format!("{}/mock/portal/{token}", db.api_url);
    let session = PortalSession {
        token,
        customer_id,
        url,
    };
    let response = json!({
        "token": session.token,
        "email": email,
        "customerPortalUrl": session.url,
    });
    db.portal_sessions.push(session);
    Ok((StatusCode::CREATED, Json(response)))
}
