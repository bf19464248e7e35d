//! `/customers/`: list, create, retrieve, update (PATCH), archive (DELETE).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use http::{StatusCode, Uri};
use serde_json::{Value, json};

use super::{AppState, PathParam, absolute_url};
use crate::server::lock;
use crate::state::Customer;
use crate::wire::{ApiError, BodyReader, QueryReader, format_datetime, paginate};

/// The customer object, camelCase as the service's documentation shows it.
pub(super) fn customer_json(customer: &Customer) -> Value {
    json!({
        "id": customer.id,
        "customerId": customer.customer_id,
        "email": customer.email,
        "name": customer.name,
        "metadata": customer.metadata,
        "details": null,
        "createdOn": format_datetime(customer.created_on),
        "modifiedOn": format_datetime(customer.modified_on),
    })
}

/// DRF's `EmailField` check, loosely: one `@` with text on both sides and a dot after it.
fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn read_email(body: &mut BodyReader) -> Option<String> {
    let email = body.opt_str("email")?;
    if is_email(&email) {
        Some(email)
    } else {
        body.error("email", "Enter a valid email address.");
        None
    }
}

pub(super) async fn list(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let mut query = QueryReader::parse(query.as_deref())?;
    let page = query.page()?;
    query.finish()?;
    let url = absolute_url(&shared, &uri);
    let state = lock(&shared.state);
    let customers: Vec<Value> = state
        .customers
        .iter()
        .filter(|customer| !customer.archived)
        .map(customer_json)
        .collect();
    paginate(customers, page, &url).map(Json)
}

pub(super) async fn create(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut body = BodyReader::parse(&body)?;
    let name = body.opt_str("name");
    let email = read_email(&mut body);
    let metadata = body.opt_object("metadata");
    let customer_id = body.req_str("customer_id");
    let mut state = lock(&shared.state);
    if !body.has_error("customer_id") && state.customer_id_taken(&customer_id) {
        body.error(
            "customer_id",
            "customer with this customer id already exists.",
        );
    }
    body.finish()?;
    let customer = state.insert_customer(customer_id, email, name, metadata);
    Ok((StatusCode::CREATED, Json(customer_json(customer))))
}

pub(super) async fn retrieve(
    State(shared): State<AppState>,
    PathParam(customer_id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared.state);
    let customer = state
        .customer(&customer_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(customer_json(customer)))
}

pub(super) async fn update(
    State(shared): State<AppState>,
    PathParam(customer_id): PathParam,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut state = lock(&shared.state);
    if state.customer(&customer_id).is_none() {
        return Err(ApiError::not_found());
    }
    let mut body = BodyReader::parse(&body)?;
    let name = body.opt_str("name");
    let email = read_email(&mut body);
    let metadata = body.opt_object("metadata");
    body.finish()?;
    let now = state.now();
    let customer = state
        .customer_mut(&customer_id)
        .ok_or_else(ApiError::not_found)?;
    if let Some(name) = name {
        customer.name = Some(name);
    }
    if let Some(email) = email {
        customer.email = Some(email);
    }
    if let Some(metadata) = metadata {
        customer.metadata = Some(metadata);
    }
    customer.modified_on = now;
    let answer = customer_json(customer);
    state.notify_customer(&customer_id);
    Ok(Json(answer))
}

pub(super) async fn archive(
    State(shared): State<AppState>,
    PathParam(customer_id): PathParam,
) -> Result<StatusCode, ApiError> {
    let mut state = lock(&shared.state);
    let now = state.now();
    let customer = state
        .customer_mut(&customer_id)
        .ok_or_else(ApiError::not_found)?;
    customer.archived = true;
    customer.modified_on = now;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn email_check() {
        assert!(super::is_email("a@b.co"));
        assert!(!super::is_email("a@b"));
        assert!(!super::is_email("@b.co"));
        assert!(!super::is_email("a b@c.co"));
        assert!(!super::is_email("a@@b.co"));
    }
}
